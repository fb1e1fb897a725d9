"""Throttles that track no one: failed staff logins per typed account name, a global budget of failed
logins, and global rates for the witness side. Nothing here stores a client address.

INTERFACE (the login views rely on exactly this; the bodies are being written):

- ``ThrottledModelBackend``: Django's ModelBackend, refusing while the typed name (or the whole
  service) is locked, and counting each failed password against that name.
- ``refusal(username) -> str | None``: the message to show instead of checking a password or code,
  if one must be shown now; the same whether or not such an account exists.
- ``record_failure(username, user=None)``: a wrong password or second-factor code for that name.
- ``record_success(username)``: both factors done; the name's failures are forgotten.
"""
from __future__ import annotations

from django.contrib.auth.backends import ModelBackend


class ThrottledModelBackend(ModelBackend):
    pass


def refusal(username: str) -> str | None:
    return None


def record_failure(username: str, user=None) -> None:
    return None


def record_success(username: str) -> None:
    return None
