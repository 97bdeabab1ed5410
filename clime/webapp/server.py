"""Serving the app: always through waitress, never Werkzeug's development server.

waitress reads each request whole in its I/O loop before a worker thread sees it, so a
client that announces a body and sends part of it holds no thread; ``timeout`` closes
a connection idle (or half-sent) for that long; ``threads`` bounds the worker pool and
``connection_limit`` the open sockets.
"""

import logging
import signal
import threading

from ..errors import ClimeError
from .lease import Lease

log = logging.getLogger(__name__)


def make_server(app, host="127.0.0.1", port=0, threads=8, timeout=30, connection_limit=100):
    from waitress.server import create_server

    try:
        return create_server(app, host=host, port=port, threads=threads, channel_timeout=timeout,
                             cleanup_interval=max(1, min(30, timeout // 2)), connection_limit=connection_limit,
                             max_request_body_size=1 << 20, max_request_header_size=64 << 10,
                             ident="clime", expose_tracebacks=False, clear_untrusted_proxy_headers=True)
    except OSError as err:
        raise ClimeError(f"cannot listen on {host}:{port} ({err.strerror or err})") from None


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
