"""Who may reach the app, and what they may open: hosts, Origin, invitations (team mode).

Every request goes through ``before_request`` hooks installed by ``init_app``, so any
route or blueprint added later is covered without doing anything:

* **Host allow-list** (both modes).  Only the names in ``ALLOWED_HOSTS`` are served
  (default: ``localhost``, ``127.0.0.1``, ``::1``; ``app.py`` adds its ``--host`` address
  and every ``--allow-host``); any other ``Host`` header gets 400.  This is what stops
  DNS rebinding: a page on ``evil.test`` that rebinds the name to 127.0.0.1 still sends
  ``Host: evil.test``.  ``origin_allowed`` holds the ``Origin`` of a POST to the same list.
* **Access** (``ACCESS = "team"`` only; ``"local"``, the default, lets everyone who can
  reach the port open everything, as suits one annotator on their own machine).  An
  invitation link carries ``?token=...``; the app keeps only its SHA-256 in the
  ``access_token`` table.  Opening the link stores that hash in the (signed) session
  cookie and redirects to the same address without the token.  Each request then looks
  the hashes up, so deleting a token (a new invitation, ``--revoke``) takes effect at
  once.  An annotator token opens the routes of its own ``<task>/<user>`` and the
  task-wide read-only routes of that task (concordances, autocomplete); an owner token
  opens everything.  Routes are classed by their URL variables and by two decorators:
  ``public`` (no token needed) and ``owner_only`` (exports, statistics, overviews).
  Routes with neither ``task`` nor ``user`` and no decorator need an owner token.
"""

import hashlib
import ipaddress
import re
import secrets
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

from flask import abort, current_app, g, redirect, request, session
from sqlalchemy import delete, select

from .db import AccessToken, now

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
MODES = ("local", "team")
MAX_GRANTS = 16  # token hashes kept in one browser session
ROLES = ("annotator", "owner")


def public(fn):
    """Mark a view that anyone who reaches the app may open, in every mode."""
    fn.clime_access = "public"
    return fn


def owner_only(fn):
    """Mark a view that needs an owner token in team mode (exports, statistics, overviews)."""
    fn.clime_access = "owner"
    return fn


# -- hosts ----------------------------------------------------------------------

def normal_host(name):
    """A host name or address as compared: lower case, no brackets, no trailing dot."""
    name = name.strip().lower()
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    return name.rstrip(".")


_HOSTNAME = re.compile(r"^[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_]([a-z0-9_-]{0,62}))*$")


def valid_host(name):
    """A DNS name or an IP address (as ``normal_host`` writes it)."""
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        return len(name) <= 253 and bool(_HOSTNAME.match(name))


def is_wildcard(address):
    try:
        return ipaddress.ip_address(address).is_unspecified
    except ValueError:
        return False


def allowed_hosts(listen=None, extra=()):
    """The default allow-list: the loopback names, the listening address (unless it is a
    wildcard such as 0.0.0.0) and ``extra`` names."""
    names = list(LOOPBACK_NAMES)
    if listen and not is_wildcard(listen):
        names.append(listen)
    names += list(extra)
    out = []
    for n in names:
        n = normal_host(n)
        if n and n not in out:
            out.append(n)
    return out


def split_host(hostport):
    """``'Example.org:5000'`` -> ``('example.org', '5000')``; ``'[::1]:80'`` -> ``('::1', '80')``."""
    hostport = (hostport or "").strip()
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            return None, None
        host, rest = hostport[1:end], hostport[end + 1:]
        port = rest[1:] if rest.startswith(":") else (None if not rest else "")
    elif hostport.count(":") == 1:
        host, port = hostport.split(":")
    else:
        host, port = hostport, None
    if port is not None and not port.isdigit():
        return None, None
    return normal_host(host), port


def _hosts():
    return current_app.config["ALLOWED_HOSTS"]


def served_host(hostport):
    """The allow-listed host that a ``Host`` header names, else None.  The header must be a
    well-formed name or address (one trailing dot at most: ``localhost..``, ``a..b`` and a
    64-character label are not host names) with at most a numeric port."""
    raw = (hostport or "").strip()
    name = raw.rsplit(":", 1)[0] if raw.count(":") == 1 else raw
    if name.endswith(".."):
        return None
    host, _port = split_host(raw)
    if not host or not valid_host(host) or host not in _hosts():
        return None
    return host


def check_host():
    if served_host(request.headers.get("Host", "")) is None:
        abort(400, "this server does not serve that host name (see --allow-host)")


def origin_allowed(origin):
    """True when ``origin`` (an Origin header) names this very scheme, host and port, and
    that host is on the allow-list (behind a trusted proxy the scheme is the proxy's)."""
    try:
        parts = urlsplit(origin)
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or parts.scheme != request.scheme or parts.path or parts.query:
        return False
    host, port = split_host(parts.netloc)
    want_host, want_port = split_host(request.headers.get("Host", ""))
    default = "443" if parts.scheme == "https" else "80"
    return bool(host) and host in _hosts() and host == want_host and (port or default) == (want_port or default)


# -- tokens -----------------------------------------------------------------------

def token_hash(token):
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def new_token(s, role, task=None, user=None):
    """Create an invitation; returns the token (shown once, stored only hashed).
    It replaces the earlier tokens of the same role, task and user."""
    if role not in ROLES:
        raise ValueError(role)
    revoke(s, role, task, user)
    token = secrets.token_urlsafe(24)
    s.add(AccessToken(token_hash=token_hash(token), role=role, task=task, user=user, created=now()))
    return token


def revoke(s, role, task=None, user=None):
    """Delete the tokens of (role, task, user); returns how many there were."""
    q = delete(AccessToken).where(AccessToken.role == role)
    q = q.where(AccessToken.task.is_(None) if task is None else AccessToken.task == task)
    q = q.where(AccessToken.user.is_(None) if user is None else AccessToken.user == user)
    return s.execute(q).rowcount


@dataclass
class Grants:
    owner: bool = False
    pairs: set = field(default_factory=set)  # (task, user)

    @property
    def tasks(self):
        return {t for t, _ in self.pairs}


def current_grants():
    """What the tokens of this browser session open (looked up once per request)."""
    if "clime_grants" in g:
        return g.clime_grants
    grants = Grants()
    hashes = [h for h in session.get("grants", []) if isinstance(h, str)][:MAX_GRANTS]
    if hashes:
        with current_app.extensions["clime"]["Session"]() as s:
            for t in s.scalars(select(AccessToken).where(AccessToken.token_hash.in_(hashes))):
                if t.role == "owner":
                    grants.owner = True
                else:
                    grants.pairs.add((t.task, t.user))
    g.clime_grants = grants
    return grants


def redeem_token():
    """A GET with ``?token=``: remember the token's hash in the session and redirect to
    the same address without it (so it stays out of history and logs of later pages)."""
    token = request.args.get("token")
    if token is None or request.method not in ("GET", "HEAD"):
        return None
    h = token_hash(token) if 10 <= len(token) <= 200 else None
    with current_app.extensions["clime"]["Session"]() as s:
        found = h is not None and s.scalar(select(AccessToken.id).where(AccessToken.token_hash == h)) is not None
    if not found:
        abort(403, "this invitation link is not valid (mistyped, or replaced by a newer one)")
    kept = [x for x in session.get("grants", []) if isinstance(x, str) and x != h]
    session["grants"] = ([h] + kept)[:MAX_GRANTS]
    session.permanent = True
    g.pop("clime_grants", None)
    rest = [(k, v) for k, v in request.args.items(multi=True) if k != "token"]
    return redirect(request.path + ("?" + urlencode(rest) if rest else ""))


def may_open(endpoint, view_args):
    """True when this request's session may open ``endpoint`` (team mode rules)."""
    if current_app.config["ACCESS"] != "team" or endpoint == "static":
        return True
    level = getattr(current_app.view_functions.get(endpoint), "clime_access", None)
    if level == "public":
        return True
    grants = current_grants()
    if grants.owner:
        return True
    if level == "owner":
        return False
    task, user = (view_args or {}).get("task"), (view_args or {}).get("user")
    if task is not None and user is not None:
        return (task, user) in grants.pairs
    if task is not None:
        return task in grants.tasks
    return False


def check_access():
    if request.endpoint is None:  # no such route: the 404 follows
        return None
    answer = redeem_token()
    if answer is not None:
        return answer
    if not may_open(request.endpoint, request.view_args):
        abort(403, "this page needs the invitation link you were given (team mode)")
    return None


def init_app(app):
    """Install the host check and the access check, in this order, before anything else."""
    mode = app.config.get("ACCESS", "local")
    if mode not in MODES:
        raise ValueError(f"ACCESS must be one of {MODES}, not {mode!r}")
    app.config["ALLOWED_HOSTS"] = [normal_host(h) for h in (app.config.get("ALLOWED_HOSTS") or allowed_hosts())]
    app.before_request(check_host)
    app.before_request(check_access)
