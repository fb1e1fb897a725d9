"""The one exception the engine raises on purpose."""


class Refused(Exception):
    """The file cannot be cleaned; ``reason`` is safe to show to a reviewer (no file content)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason
