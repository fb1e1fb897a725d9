"""Tools of the fault drills (tests/test_faults.py): a disk that fills up, raw broker messages, an
unwritable folder, and a TCP proxy that can cut or freeze what passes through it.

Outages are made for real wherever this machine allows it: as root, a small tmpfs mounted over the test's
blob folder fills up like a disk, and a read-only mount cannot be written even by root. Without root,
the same faults are made the nearest way: the worker is started with a hook (tests/fault_hooks) that
fails its blob writes with ENOSPC, and a folder loses its write permission.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path

from tests.conftest import stop_process_group

HOOKS = Path(__file__).resolve().parent / "fault_hooks"


def _mount(*arguments: str) -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    return subprocess.run(["mount", *arguments], capture_output=True).returncode == 0


def _unmount(path: Path) -> None:
    subprocess.run(["umount", "--lazy", str(path)], capture_output=True, check=True)


# --- A disk that fills up ------------------------------------------------------------------------


class SmallDisk:
    """A tmpfs of a few megabytes over a folder, filled and emptied by a file of zeros beside the blobs."""

    def __init__(self, path: Path):
        self.path = path
        self.filler = path / "filler"  # not a blob name: the service never lists or removes it
        self.worker_environment: dict[str, str] = {}

    def fill(self, leave: int = 0) -> None:
        """Fill the disk, leaving about ``leave`` bytes free."""
        with open(self.filler, "ab") as file:
            with contextlib.suppress(OSError):
                while True:
                    file.write(b"\0" * 65536)
                    file.flush()
            with contextlib.suppress(OSError):
                file.flush()
        free = shutil.disk_usage(self.path).free
        size = self.filler.stat().st_size
        os.truncate(self.filler, max(0, size + free - leave))

    def empty(self) -> None:
        self.filler.unlink(missing_ok=True)


class FailingWrites:
    """Where nothing can be mounted: the worker's blob writes fail with ENOSPC while a flag file exists
    (tests/fault_hooks/sitecustomize.py). Writes fail whatever space is left."""

    def __init__(self, path: Path, flag: Path):
        self.path = path
        self.flag = flag
        self.worker_environment = {
            "PYTHONPATH": os.pathsep.join(filter(None, [str(HOOKS), os.environ.get("PYTHONPATH")])),
            "INTAKE_TEST_FULL_DISK_FLAG": str(flag),
        }

    def fill(self, leave: int = 0) -> None:
        self.flag.touch()

    def empty(self) -> None:
        self.flag.unlink(missing_ok=True)


@contextlib.contextmanager
def small_disk(path, megabytes: int):
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    if _mount("-t", "tmpfs", "-o", f"size={megabytes}m,mode=0700", "tmpfs", str(path)):
        try:
            yield SmallDisk(path)
        finally:
            _unmount(path)
    else:
        disk = FailingWrites(path, path.parent / "disk-is-full")
        try:
            yield disk
        finally:
            disk.empty()


@contextlib.contextmanager
def unwritable(path):
    """``path`` (a folder) cannot be written while inside: a read-only mount of itself, or, without root,
    no write permission."""
    path = Path(path)
    if _mount("--bind", str(path), str(path)):
        try:
            if not _mount("-o", "remount,bind,ro", str(path)):
                raise RuntimeError(f"could not make {path} read-only")
            yield
        finally:
            _unmount(path)
    else:
        mode = path.stat().st_mode
        path.chmod(0o500)
        try:
            yield
        finally:
            path.chmod(mode)


# --- Raw broker messages -------------------------------------------------------------------------


def put_raw_messages(settings, messages) -> None:
    """Put ``messages`` (bytes, whatever they hold) straight into the broker's queue, ahead of any other."""
    if settings.REDIS_URL:
        import redis

        client = redis.Redis.from_url(settings.REDIS_URL)
        for message in messages:
            client.lpush("celery", message)
    else:
        folder = Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"])
        for number, message in enumerate(messages):
            (folder / f"{number:013d}_{uuid.uuid4()}.celery.msg").write_bytes(message)


def queued_raw_messages(settings) -> int:
    if settings.REDIS_URL:
        import redis

        return redis.Redis.from_url(settings.REDIS_URL).llen("celery")
    folder = Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"])
    return len(list(folder.glob("*.celery.msg")))


# --- A TCP proxy -----------------------------------------------------------------------------------


class TcpProxy:
    """Forwards 127.0.0.1:``port`` to a server, and can cut or freeze what passes through.

    - ``cut()`` closes every connection, as a server restart does; until ``restore()`` every new
      connection is closed at once, as while a server starts again.
    - ``freeze()`` accepts connections and reads from them but forwards nothing, as a server that hangs
      (or a network that drops packets) does; ``thaw()`` forwards what was held and goes on.
    """

    def __init__(self, host: str, port: int):
        self.target = (host, port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._down = False
        self._flowing = threading.Event()
        self._flowing.set()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, url: str) -> str:
        """``url`` (a postgres:// or redis:// URL of the target) with this proxy's address instead."""
        from urllib.parse import urlsplit, urlunsplit

        parts = urlsplit(url)
        credentials = parts.netloc.rpartition("@")[0]
        netloc = f"{credentials}@127.0.0.1:{self.port}" if credentials else f"127.0.0.1:{self.port}"
        return urlunsplit(parts._replace(netloc=netloc))

    def cut(self) -> None:
        with self._lock:
            self._down = True
            for sock in self._sockets:
                _close(sock)
            self._sockets.clear()

    def restore(self) -> None:
        with self._lock:
            self._down = False

    def freeze(self) -> None:
        self._flowing.clear()

    def thaw(self) -> None:
        self._flowing.set()

    def close(self) -> None:
        self._closed = True
        self.thaw()
        self.cut()
        _close(self._listener)

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._connect, args=(client,), daemon=True).start()

    def _connect(self, client: socket.socket) -> None:
        self._flowing.wait()
        with self._lock:
            if self._down or self._closed:
                _close(client)
                return
            try:
                server = socket.create_connection(self.target, timeout=5)
            except OSError:
                _close(client)
                return
            server.settimeout(None)
            self._sockets.update((client, server))
        threading.Thread(target=self._pump, args=(client, server), daemon=True).start()
        threading.Thread(target=self._pump, args=(server, client), daemon=True).start()

    def _pump(self, source: socket.socket, destination: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                self._flowing.wait()
                destination.sendall(data)
        except OSError:
            pass
        self._flowing.wait()
        with self._lock:
            for sock in (source, destination):
                _close(sock)
                self._sockets.discard(sock)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()


@contextlib.contextmanager
def proxy(host: str, port: int):
    running = TcpProxy(host, port)
    try:
        yield running
    finally:
        running.close()


def wait_for(condition, timeout: float, interval: float = 0.1) -> float | None:
    """Seconds until ``condition()`` held, or None if it did not within ``timeout`` (for measurements)."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if condition():
            return time.monotonic() - start
        time.sleep(interval)
    return None


# --- The web app as a server, and a witness using it -------------------------------------------------


@contextlib.contextmanager
def web_server(log_path: Path, **environment: str):
    """gunicorn serving the app as in production (config/gunicorn.py), on a free port; yields its address."""
    import re
    import sys

    root = Path(__file__).resolve().parent.parent
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "GUNICORN_BIND": "127.0.0.1:0",
        "PYTHONUNBUFFERED": "1",
        **environment,
    }
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", "config/gunicorn.py", "config.wsgi"],
            cwd=root,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while not (found := re.search(r"Serving on (http://\S+?)/", log_path.read_text(errors="replace"))):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the web app did not start:\n" + log_path.read_text(errors="replace"))
            time.sleep(0.2)
        yield found.group(1)
    finally:
        stop_process_group(process)


class Witness:
    """A witness's browser, as far as the drills need one: the form's CSRF token, a testimony, a status
    check. Each call is a new visit with a connection of its own."""

    def __init__(self, address: str):
        import urllib3

        self.address = address
        self.http = urllib3.PoolManager(retries=False, timeout=60, maxsize=16)

    def _form(self, path: str) -> tuple[str, dict[str, str]]:
        """The CSRF cookie, and the hidden fields of the page's form (its CSRF and one-time tokens)."""
        import re

        page = self.http.request("GET", self.address + path)
        cookie = page.headers["Set-Cookie"].split(";")[0]
        hidden = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]+)"', page.data.decode())
        return cookie, dict(hidden)

    def _post(self, path: str, fields: dict):
        cookie, hidden = self._form(path)
        response = self.http.request(
            "POST",
            self.address + path,
            fields={**hidden, **fields},
            headers={"Cookie": cookie, "Origin": self.address, "Referer": self.address + path},
        )
        if response.status != 303:
            return response
        # A stored form, or a receipt typed, leads to a page of its own, opened by the cookie just set.
        opened = response.headers["Set-Cookie"].split(";")[0]
        return self.http.request("GET", self.address + response.headers["Location"], headers={"Cookie": opened})

    def submit(self, account: str, photo: bytes):
        """(HTTP status, the receipt's digits or None)."""
        import re

        response = self._post("/", {"account": account, "images": ("photo.jpg", photo, "image/jpeg")})
        groups = re.findall(r"<span>([0-9]{4})</span>", response.data.decode().split('class="receipt"', 1)[-1])
        return response.status, "".join(groups) if response.status == 200 else None

    def status(self, receipt: str):
        """(HTTP status, whether the page shows the testimony's status)."""
        response = self._post("/status/", {"receipt": receipt})
        return response.status, 'class="status-value"' in response.data.decode()
