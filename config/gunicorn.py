"""gunicorn settings. No access log: it would record the address and time of every witness's request."""

import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
# Threads, so that slow uploads over Tor do not hold every worker. Bodies are read by at most
# INTAKE_MAX_CONCURRENT_UPLOADS of them at once (by default two fewer), so that pages still answer, and a
# body that stops coming is cut off (intake.body_guard): gunicorn itself puts no limit on either.
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
timeout = 120
accesslog = None
errorlog = "-"
# gunicorn names the client's address in some warnings ("Invalid request from ip=..."): errors only.
loglevel = "error"
# The client address is never trusted from headers either; the app drops it anyway (intake.middleware).
forwarded_allow_ips = ""
proxy_allow_ips = ""
# No control socket: nothing uses it, and it would be written under $HOME, read-only in the container.
control_socket_disable = True


def post_fork(server, worker):
    """Each web worker holds decrypted testimony in memory: it must never dump it to disk."""
    from intake.process_limits import forbid_core_dumps

    forbid_core_dumps()


def when_ready(server):
    """Say where the app really listens: a port of 0, or a host name, shows here as what was bound."""
    for listener in server.LISTENERS:
        address = str(listener)
        print(f"Serving on {address}/" if address.startswith("http") else f"Serving on {address}", flush=True)
