"""A running server announces itself in the database, so that ``clear_db.py`` refuses to
clear under it (annotators still working would be re-created, and their next Finish
would overwrite their feedback file with only the work done after the clear).

``app.py`` holds a ``ServerLease`` row while it serves and refreshes ``seen`` every
``BEAT`` seconds from a daemon thread; it deletes the row when it stops.  A row not
refreshed for ``TTL`` seconds belongs to a server that died (``kill -9``, power loss)
and no longer counts.  This works for every database, several servers included.
"""

import logging
import os
import socket
import threading

from sqlalchemy import delete, select, update

from .db import ServerLease, now

log = logging.getLogger(__name__)
BEAT = 5.0
TTL = 20.0


def active(s, ts=None):
    """The leases of servers seen within the last ``TTL`` seconds."""
    ts = now() if ts is None else ts
    return list(s.scalars(select(ServerLease).where(ServerLease.seen >= ts - TTL).order_by(ServerLease.id)))


def describe(lease, ts=None):
    ts = now() if ts is None else ts
    return (f"pid {lease.pid} on {lease.host} ({lease.address}), last seen {max(0.0, ts - lease.seen):.0f} s ago")


class Lease:
    """Hold a lease while the server runs: ``start()`` then ``stop()`` (also a context manager)."""

    def __init__(self, Session, address, beat=BEAT):
        self.Session, self.address, self.beat = Session, address, beat
        self.id = None
        self._stop = threading.Event()
        self._thread = None

    def start(self):
        ts = now()
        with self.Session() as s, s.begin():
            s.execute(delete(ServerLease).where(ServerLease.seen < ts - TTL))  # dead servers
            row = ServerLease(host=socket.gethostname()[:255], pid=os.getpid(), address=self.address[:300],
                              started=ts, seen=ts)
            s.add(row)
            s.flush()
            self.id = row.id
        self._thread = threading.Thread(target=self._run, name="clime-lease", daemon=True)
        self._thread.start()
        return self

    def _run(self):
        while not self._stop.wait(self.beat):
            try:
                with self.Session() as s, s.begin():
                    s.execute(update(ServerLease).where(ServerLease.id == self.id).values(seen=now()))
            except Exception as err:  # a busy database: try again at the next beat
                log.debug("lease refresh failed: %s", err)

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.beat + 1)
        if self.id is not None:
            with self.Session() as s, s.begin():
                s.execute(delete(ServerLease).where(ServerLease.id == self.id))
            self.id = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
