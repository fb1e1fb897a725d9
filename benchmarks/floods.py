"""How the real web server holds up against floods from the witness side, against a baseline measured
in the same run.

    python benchmarks/floods.py [--trickles 20] [--lookups 100]

Starts gunicorn as `make run` does (its own data folder, SQLite, the default limits), then measures:

- page latency: GET / with nothing else going on (the baseline), then while N uploads trickle in at
  1 KB/s; reported as the ratio of their medians and 95th percentiles, with how many pages failed,
  and how many testimonies the cut-off trickles left stored (should be 0);
- memory: resident memory of the gunicorn processes idle, then at the peak of M concurrent status
  look-ups; reported as a ratio, with how many look-ups were answered and how many were told "busy";
- a 2 GB body: how many bytes the server took before it answered, with a declared Content-Length
  and with one that lies (declares little, sends more).

Not a test: it takes about two minutes and its numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
RECEIPT = "abandon ability able about above absent absorb abstract"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def start_server(data_dir: Path, port: int) -> subprocess.Popen:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("INTAKE_", "DATABASE_URL", "REDIS_URL"))},
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "INTAKE_DATA_DIR": str(data_dir),
        "GUNICORN_BIND": f"{HOST}:{port}",
    }
    for command in (["initkeys"], ["migrate", "--noinput", "--verbosity", "0"]):
        subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=env, check=True, capture_output=True)
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--config", "config/gunicorn.py", "config.wsgi"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if get("/")[0] == 200:
                return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("gunicorn did not start")


PORT = 0


def request(raw: bytes, timeout: float = 30.0) -> tuple[int, bytes]:
    with socket.create_connection((HOST, PORT), timeout=timeout) as connection:
        connection.sendall(raw)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else 0
    return status, answer


def get(path: str, timeout: float = 30.0) -> tuple[int, bytes]:
    return request(f"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode(), timeout)


def csrf() -> tuple[str, str]:
    """A CSRF cookie and the token of the witness form."""
    _, answer = get("/")
    cookie = re.search(rb"Set-Cookie: (csrftoken=[^;]+)", answer).group(1).decode()
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', answer).group(1).decode()
    return cookie, token


def post_head(path: str, cookie: str, length: int, content_type: str) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: localhost\r\nOrigin: http://localhost\r\nCookie: {cookie}\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n"
    ).encode()


def resident_mb(master: int) -> float:
    pids = [master]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == master:
                pids.append(int(entry.name))
    total = 0
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        total += int(re.search(r"VmRSS:\s+(\d+)", status).group(1))
    return total / 1024


def page_latencies(seconds: float) -> tuple[list[float], int]:
    times, failures = [], 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        start = time.monotonic()
        try:
            ok = get("/", timeout=60)[0] == 200
        except OSError:
            ok = False
        times.append(time.monotonic() - start)
        failures += not ok
        time.sleep(0.25)
    return times, failures


def trickle(cookie: str, token: str, seconds: float) -> None:
    boundary = "trickle"
    body = form_start(token, boundary) + b"\0" * 200_000
    try:
        with socket.create_connection((HOST, PORT), timeout=90) as connection:
            connection.sendall(post_head("/", cookie, len(body) + 100, f"multipart/form-data; boundary={boundary}"))
            end = time.monotonic() + seconds
            for start in range(0, len(body), 1024):
                if time.monotonic() > end:
                    break
                connection.sendall(body[start : start + 1024])
                time.sleep(1)
    except OSError:
        pass  # the server cut it off


def stored_testimonies(data_dir: Path) -> int:
    import sqlite3

    with sqlite3.connect(data_dir / "db.sqlite3") as db:
        return db.execute("SELECT COUNT(*) FROM intake_submission").fetchone()[0]


def lookup(cookie: str, token: str, results: list[int]) -> None:
    body = f"csrfmiddlewaretoken={token}&receipt={RECEIPT.replace(' ', '+')}".encode()
    try:
        status, _ = request(post_head("/status/", cookie, len(body), "application/x-www-form-urlencoded") + body, 120)
    except OSError:
        status = 0
    results.append(status)


def form_start(token: str, boundary: str) -> bytes:
    """A witness form up to the first bytes of a photo."""
    return (
        f'--{boundary}\r\nContent-Disposition: form-data; name="csrfmiddlewaretoken"\r\n\r\n{token}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="account"\r\n\r\nWhat I saw.\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="images"; filename="a.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    ).encode() + b"\xff\xd8"


def huge_body(cookie: str, token: str, declared: int, send: int) -> int:
    """Bytes the server took of a body before it answered or closed."""
    head = post_head("/", cookie, declared, "multipart/form-data; boundary=huge") + form_start(token, "huge")
    sent = 0
    chunk = b"\0" * (1024 * 1024)
    with socket.create_connection((HOST, PORT), timeout=30) as connection:
        connection.sendall(head)
        sent = len(head)
        connection.setblocking(False)
        while sent < send:
            try:
                if connection.recv(1, socket.MSG_PEEK):
                    break  # an answer has come
            except BlockingIOError:
                pass
            except OSError:
                break
            try:
                sent += connection.send(chunk)
            except BlockingIOError:
                time.sleep(0.01)
            except OSError:
                break
    return sent


def main() -> None:
    global PORT
    parser = argparse.ArgumentParser()
    parser.add_argument("--trickles", type=int, default=20)
    parser.add_argument("--trickle-seconds", type=float, default=60)
    parser.add_argument("--lookups", type=int, default=100)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="intake-bench-") as folder:
        data_dir = Path(folder)
        PORT = free_port()
        server = start_server(data_dir, PORT)
        try:
            cookie, token = csrf()

            baseline, baseline_failures = page_latencies(5)
            threads = [
                threading.Thread(target=trickle, args=(cookie, token, args.trickle_seconds))
                for _ in range(args.trickles)
            ]
            for thread in threads:
                thread.start()
            time.sleep(1)
            loaded, loaded_failures = page_latencies(args.trickle_seconds - 5)
            for thread in threads:
                thread.join()
            stored = stored_testimonies(data_dir)

            def p95(values):
                return statistics.quantiles(values, n=20)[-1] if len(values) > 1 else max(values)

            print(
                f"Pages, idle: median {statistics.median(baseline) * 1000:.0f} ms, "
                f"p95 {p95(baseline) * 1000:.0f} ms, {baseline_failures} failed of {len(baseline)}"
            )
            print(
                f"Pages, {args.trickles} uploads trickling at 1 KB/s: median "
                f"{statistics.median(loaded) / statistics.median(baseline):.1f}x idle, "
                f"p95 {p95(loaded) / p95(baseline):.1f}x idle, {loaded_failures} failed of {len(loaded)}; "
                f"testimonies stored from cut-off trickles: {stored}"
            )

            idle = resident_mb(server.pid)
            results: list[int] = []
            peak = idle
            lookups = [threading.Thread(target=lookup, args=(cookie, token, results)) for _ in range(args.lookups)]
            for thread in lookups:
                thread.start()
            while any(thread.is_alive() for thread in lookups):
                peak = max(peak, resident_mb(server.pid))
                time.sleep(0.05)
            answered, busy = results.count(200), results.count(503)
            other = len(results) - answered - busy
            print(
                f"Memory: idle {idle:.0f} MB; peak under {args.lookups} concurrent look-ups {peak:.0f} MB "
                f"({peak / idle:.2f}x idle); answered {answered}, told busy {busy}, other {other}"
            )

            for declared, send, label in (
                (2000 * 1024 * 1024, 2000 * 1024 * 1024, "2 GB body, declared"),
                (10 * 1024 * 1024, 2000 * 1024 * 1024, "2 GB body, declared as 10 MB"),
            ):
                taken = huge_body(cookie, token, declared, send)
                print(f"{label}: {taken / 1024 / 1024:.1f} MB taken before the answer ({taken / send:.1%} of it)")
        finally:
            os.killpg(server.pid, 15)
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
