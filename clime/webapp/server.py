"""Serving the app: always through waitress, never Werkzeug's development server.

waitress reads each request whole in its I/O loop before a worker thread sees it, so a
client that announces a body and sends part of it holds no thread; ``threads`` bounds
the worker pool.  Three limits keep slow or half-open clients from locking others out:

* ``timeout``: a connection idle that long (no byte in either direction) is closed;
* ``request_timeout``: a request must arrive *whole* (request line, headers and body)
  within that many seconds of its first byte, else its connection is closed; a client
  that trickles one byte every few seconds resets the idle timer but not this one;
* ``connection_limit``: open connections at most (default 1000, far above what a team
  needs; the socket loop uses ``poll``, which has no 1024-descriptor ceiling, and the
  process's open-file limit is raised to fit).  When the limit is reached anyway, the
  connection whose unfinished request (or idle keep-alive) is oldest is closed to make
  room, so a new client is not left waiting behind half-open ones.

waitress's own error answers (a bad ``Content-Length``, a body over 1 MiB, headers over
64 KiB) are JSON like the app's for ``/api/`` and for every POST.
"""

import json
import logging
import signal
import threading
import time

from ..errors import ClimeError
from .lease import Lease

log = logging.getLogger(__name__)
MAX_BODY = 1 << 20
MAX_HEADERS = 64 << 10


def _classes():
    """waitress's server, channel and error-task classes with the limits above (built on first use)."""
    from waitress.channel import HTTPChannel
    from waitress.server import TcpWSGIServer
    from waitress.task import ErrorTask

    from .views import CSP, wants_json

    class JsonErrorTask(ErrorTask):
        def execute(self):
            req = self.request
            path = getattr(req, "path", None) or ""
            if not wants_json(path, getattr(req, "command", None) or ""):
                return super().execute()
            err = req.error
            body = json.dumps({"error": f"{err.reason}: {err.body}", "status": err.code}).encode()
            self.status = f"{err.code} {err.reason}"
            self.response_headers.extend([("Content-Type", "application/json"),
                                          ("X-Content-Type-Options", "nosniff"),
                                          ("Content-Security-Policy", CSP), ("Cache-Control", "no-store")])
            self.set_close_on_finish()
            self.content_length = len(body)
            self.write(body)

    class Channel(HTTPChannel):
        error_task_class = JsonErrorTask
        request_started = None  # time of the first byte of the request being read, if any

        def received(self, data):
            if data and self.request is None:
                self.request_started = time.time()
            try:
                return super().received(data)
            finally:
                if self.request is None:
                    self.request_started = None

    class Server(TcpWSGIServer):
        channel_class = Channel
        request_timeout = 10

        def maintenance(self, now):
            super().maintenance(now)
            cutoff = now - self.request_timeout
            for channel in list(self.active_channels.values()):
                started = getattr(channel, "request_started", None)
                if started is not None and started < cutoff and not channel.will_close:
                    channel.will_close = True  # the request did not arrive whole in time

        def readable(self):
            if self.accepting and len(self._map) >= self.adj.connection_limit:
                self.make_room()
            return super().readable()

        def make_room(self):
            """At the limit: close the connection that holds a slot longest without a request
            in progress (an unfinished request, or an idle keep-alive), unless one is closing."""
            idle = []
            for channel in self.active_channels.values():
                if channel.will_close or channel.close_when_flushed:
                    return
                if not channel.requests and not channel.total_outbufs_len:  # nothing in service or unsent
                    idle.append((channel.request_started or channel.last_activity, id(channel), channel))
            if idle:
                min(idle)[2].will_close = True

    return Server


def _raise_file_limit(wanted):
    """Raise the soft open-file limit to ``wanted`` descriptors if the hard limit allows;
    returns the limit in force (None where there is no such limit)."""
    try:
        import resource
    except ImportError:  # not on POSIX
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        new = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
            soft = new
        except (ValueError, OSError):
            pass
    return None if soft == resource.RLIM_INFINITY else soft


def make_server(app, host="127.0.0.1", port=0, threads=8, timeout=30, connection_limit=1000,
                request_timeout=10, trusted_proxy=None):
    """A waitress server for ``app`` (not yet running).  ``trusted_proxy``: the address of a
    reverse proxy whose ``X-Forwarded-Proto`` / ``X-Forwarded-For`` are believed."""
    from waitress.adjustments import Adjustments

    files = _raise_file_limit(connection_limit + threads + 64)
    if files is not None and connection_limit + threads + 32 > files:
        limit = max(1, files - threads - 32)
        log.warning("warning: --connection-limit %d lowered to %d (open-file limit %d)", connection_limit, limit, files)
        connection_limit = limit
    proxy = {}
    if trusted_proxy:
        proxy = {"trusted_proxy": trusted_proxy, "trusted_proxy_count": 1,
                 "trusted_proxy_headers": {"x-forwarded-proto", "x-forwarded-for"}}
    try:
        adj = Adjustments(host=host, port=port, threads=threads, channel_timeout=timeout,
                          cleanup_interval=max(1, min(30, timeout, request_timeout) // 2),
                          connection_limit=connection_limit, asyncore_use_poll=True,
                          max_request_body_size=MAX_BODY, max_request_header_size=MAX_HEADERS,
                          ident="clime", expose_tracebacks=False, clear_untrusted_proxy_headers=True,
                          **proxy)
        server = _classes()(app, adj=adj)
    except OSError as err:
        raise ClimeError(f"cannot listen on {host}:{port} ({err.strerror or err})") from None
    server.request_timeout = request_timeout
    return server


def run(app, host, port, base=None, **options):
    """Serve until Ctrl-C or SIGTERM, holding a server lease in the database meanwhile."""
    server = make_server(app, host, port, **options)
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "task queue depth" under load

    def stop(_signum, _frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    base = base or f"http://{host}:{port}"
    lease = Lease(app.extensions["clime"]["Session"], base).start()
    log.info("CLIME annotation app on %s/ (Ctrl-C stops it)", base)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        lease.stop()
    return 0


class Background:
    """The app served on a free loopback port from a daemon thread (tests, screenshots)."""

    def __init__(self, app, threads=4, timeout=10):
        self.server = make_server(app, "127.0.0.1", 0, threads=threads, timeout=timeout)
        self.port = self.server.effective_port
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.run, daemon=True)
        self._thread.start()

    def stop(self):
        self.server.close()
        self.server.task_dispatcher.shutdown()
        self._thread.join(5)
