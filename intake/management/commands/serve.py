"""``manage.py serve``: the web app (gunicorn) and the worker (Celery with its sweep), until Ctrl-C. What
``make run`` runs.

Each runs in a process group of its own, so that Ctrl-C reaches this command only, and not every process
of the two (a shell's ``kill 0`` also signalled itself, and the worker, signalled over and over, hung in
its shutdown). This command then stops both: a warm shutdown, and a kill after ``--stop-seconds``.
Nothing is lost by the kill: an image cut short is still pending, and its message is delivered again or
the sweep enqueues it (``acks_late``). A worker that dies on its own is reported and started again.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

# A worker that ran at least this long before it died is started again at once; sooner, after a pause
# that doubles each time, so that one that cannot start does not spin.
STEADY_SECONDS = 60
MAX_PAUSE_SECONDS = 30


def web_command() -> list[str]:
    return [sys.executable, "-m", "gunicorn", "--config", "config/gunicorn.py", "config.wsgi"]


def worker_command() -> list[str]:
    # WARNING, not INFO: Celery logs every task it receives, and the time of that line is when a
    # witness submitted.
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "config",
        "worker",
        "--beat",
        "--concurrency",
        "2",
        "--loglevel",
        "WARNING",
    ]


def worker_environment() -> dict[str, str]:
    """The web's environment, with the worker's share of the keys as its keys: the file and matching keys only."""
    keys_file = os.environ.get("INTAKE_WORKER_KEYS_FILE") or str(Path(settings.DATA_DIR) / "keys" / "worker-keys.json")
    return {**os.environ, "INTAKE_KEYS": os.environ.get("INTAKE_WORKER_KEYS", ""), "INTAKE_KEYS_FILE": keys_file}


def describe(returncode: int) -> str:
    if returncode < 0:
        return f"killed by {signal.Signals(-returncode).name}"
    return f"exit code {returncode}"


class Command(BaseCommand):
    help = "Serve the web app and run the worker until Ctrl-C; a worker that dies is started again."
    requires_system_checks: list = []

    def add_arguments(self, parser):
        parser.add_argument(
            "--stop-seconds",
            type=float,
            default=10.0,
            help="How long each may take to stop before it is killed (default 10).",
        )

    def handle(self, *args, stop_seconds: float, **options):
        stopping = threading.Event()
        for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(number, lambda *_: stopping.set())

        self.stdout.write("Starting the web app and the worker. Ctrl-C stops both.")
        web = self._start(web_command(), dict(os.environ))
        worker = self._start(worker_command(), worker_environment())
        started, pause = time.monotonic(), 0.5
        exit_code = 0
        while not stopping.wait(0.2):
            if web.poll() is not None:
                self.stderr.write(f"The web app stopped ({describe(web.returncode)}); see its message above.")
                exit_code = 1
                break
            if worker.poll() is None:
                continue
            with contextlib.suppress(ProcessLookupError):
                os.killpg(worker.pid, signal.SIGKILL)  # what it left: its pool and its beat
            pause = 1.0 if time.monotonic() - started >= STEADY_SECONDS else min(pause * 2, MAX_PAUSE_SECONDS)
            self.stderr.write(
                f"The worker stopped unexpectedly ({describe(worker.returncode)}). Photos wait, safely, until "
                f"it is back: starting it again in {pause:.0f} s."
            )
            if stopping.wait(pause):
                break
            worker = self._start(worker_command(), worker_environment())
            started = time.monotonic()
            self.stdout.write("The worker is running again.")

        self.stdout.write("Stopping the web app and the worker...")
        self._stop({"web app": web, "worker": worker}, stop_seconds)
        self.stdout.write("Stopped.")
        if exit_code:
            sys.exit(exit_code)

    def _start(self, command: list[str], environment: dict[str, str]) -> subprocess.Popen:
        # A fixed argument list of our own, no shell.
        return subprocess.Popen(command, cwd=settings.BASE_DIR, env=environment, start_new_session=True)  # noqa: S603

    def _stop(self, processes: dict[str, subprocess.Popen], seconds: float) -> None:
        """A warm shutdown for each (gunicorn finishes its requests, Celery its tasks), then a kill of all
        that remains of it (its workers and children too) once ``seconds`` have passed."""
        for process in processes.values():
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + seconds
        for name, process in processes.items():
            try:
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.stderr.write(f"The {name} did not stop within {seconds:.0f} s: killed.")
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # its children, if any outlived it
            process.wait()
