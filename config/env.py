"""Typed readers for the environment: each fails loudly on a value it cannot parse.

Secrets may come from ``NAME`` or from a file named by ``NAME_FILE`` (Docker and systemd secrets).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}")


def env_int(name: str, default: int, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {value}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_secret(name: str, default_file: Path | None = None) -> str:
    """``NAME``, else the contents of the file ``NAME_FILE``, else of ``default_file`` if it exists, else ""."""
    if os.environ.get(name):
        return os.environ[name]
    path = os.environ.get(f"{name}_FILE")
    if path:
        try:
            return Path(path).read_text().strip()
        except OSError as error:
            raise ImproperlyConfigured(f"{name}_FILE names {path!r}, which cannot be read: {error}") from None
    if default_file is not None and default_file.exists():
        return default_file.read_text().strip()
    return ""


_ONION = re.compile(r"[a-z2-7]{56}\.onion")


def env_onion(name: str) -> str:
    """A v3 onion host name (the ``hostname`` file of a Tor onion service), or "" if unset."""
    raw = os.environ.get(name, "")
    value = raw.strip().lower()
    if value and not _ONION.fullmatch(value):
        raise ImproperlyConfigured(
            f"{name} must be a v3 onion host name (56 letters and digits, then .onion, no http://), not {raw!r}"
        )
    return value


def env_url(name: str, default: str) -> str:
    """An absolute http or https address: never a ``javascript:`` or ``data:`` one."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ImproperlyConfigured(f"{name} must be an address starting with https:// or http://, not {raw!r}")
    return value
