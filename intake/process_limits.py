"""Limits on the processes that hold plaintext and keys in memory: the web and the worker.

A core dump would write decrypted testimony, images and the keys to disk, where a crash caused by a
hostile file could leave them for whoever later copies the server. The worker also gets an
address-space bound, so that an image that slips past the cleaning engine's own checks fails alone.
"""

import ctypes
import resource
import sys

_PR_SET_DUMPABLE = 4


def forbid_core_dumps() -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if sys.platform.startswith("linux"):
        # Core handlers that are pipes (systemd-coredump, apport) may ignore RLIMIT_CORE; they honour this.
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)


def limit_address_space(megabytes: int) -> None:
    limit = megabytes * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
