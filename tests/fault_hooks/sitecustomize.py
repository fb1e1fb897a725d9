"""Loaded by a worker that a fault drill starts where no small disk can be mounted (tests/faults.py):
while the file named by INTAKE_TEST_FULL_DISK_FLAG exists, every write to a blob fails with ENOSPC, as
on a full disk. Nothing else of the worker is changed."""

import errno
import os

_FLAG = os.environ.get("INTAKE_TEST_FULL_DISK_FLAG")
_BLOBS = os.environ.get("INTAKE_BLOB_DIR")

if _FLAG and _BLOBS:
    _real_open, _real_fdopen = os.open, os.fdopen
    _blob_descriptors = set()

    class _FullDisk:
        def __init__(self, file):
            self._file = file

        def write(self, data):
            if os.path.exists(_FLAG):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return self._file.write(data)

        def __getattr__(self, name):
            return getattr(self._file, name)

    def _open(path, flags, *args, **kwargs):
        descriptor = _real_open(path, flags, *args, **kwargs)
        if flags & os.O_WRONLY and os.fspath(path).startswith(_BLOBS):
            _blob_descriptors.add(descriptor)
        else:
            _blob_descriptors.discard(descriptor)
        return descriptor

    def _fdopen(descriptor, *args, **kwargs):
        file = _real_fdopen(descriptor, *args, **kwargs)
        return _FullDisk(file) if descriptor in _blob_descriptors else file

    os.open, os.fdopen = _open, _fdopen
