"""The one exception the engine raises on purpose."""

from intake.cleaning.reasons import Reason


class Refused(Exception):
    """The file cannot be cleaned. ``code`` says why; ``params`` hold the numbers (and the format name)
    its sentence needs. Neither holds content of the file, so both are safe to store and show."""

    def __init__(self, code: Reason, **params: int | str):
        super().__init__(code)
        self.code = code
        self.params = params
