"""Who may use the dashboard, and what every answer carries.

The model, in order of the checks a request meets:

1. **Access.** With ``auth=None`` the network is never trusted alone: the
   client address, the ``Host`` the browser asked for (which stops DNS
   rebinding) and the absence of any proxy header all have to say "this
   machine", *and* the request must carry the app's access token (random
   per start, unless given): ``?token=`` once, which sets a cookie and
   redirects to the URL without it, then the cookie, or an
   ``Authorization: Bearer`` header. A reverse proxy that rewrites the
   ``Host`` and adds no header (nginx's default) still cannot open it. With
   ``auth=`` a callable decides (``(request) -> bool | Awaitable[bool]``,
   only ``True`` lets in), or a ``("user", "password")`` pair is checked as
   HTTP Basic credentials in constant time (401 with ``WWW-Authenticate``).
   A non-HTTP connection (a websocket) is refused: the dashboard has none.
2. **Writes.** A POST must come from the dashboard's own origin
   (``Sec-Fetch-Site``, then ``Origin``, else ``Referer``, must match the
   ``Host``) *and* carry the CSRF token of the page in the
   ``X-DataQueue-CSRF`` header. The token is an HMAC, under a random secret
   made per app (or given as ``csrf_secret`` where several processes serve
   it), of the browser's session cookie, so each session has its own.
3. **Every answer** carries a Content-Security-Policy that allows only the
   dashboard's own scripts, styles and connections and no framing, plus
   ``nosniff`` and ``Referrer-Policy: same-origin``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import inspect
import ipaddress
import secrets
import socket
from collections.abc import Awaitable, Callable
from typing import TypeAlias
from urllib.parse import urlsplit

from starlette.requests import Request

Auth: TypeAlias = Callable[[Request], bool | Awaitable[bool]] | tuple[str, str]
"""A callable deciding per request, or HTTP Basic ``(user, password)``."""

CSRF_HEADER = "X-DataQueue-CSRF"
BASIC_REALM = 'Basic realm="dataqueue", charset="UTF-8"'

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        "img-src 'self' data:; connect-src 'self'; font-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}

# Headers proxies, load balancers and CDNs add: behind one, the client
# address is the proxy's, so a loopback peer no longer means a local user.
# Any ``X-Forwarded-*`` counts too.
PROXY_HEADERS = frozenset(
    {
        "forwarded",
        "via",
        "x-real-ip",
        "x-client-ip",
        "x-cluster-client-ip",
        "client-ip",
        "true-client-ip",
        "cf-connecting-ip",
        "cf-ray",
        "fastly-client-ip",
        "akamai-origin-hop",
        "x-azure-clientip",
        "x-appengine-user-ip",
        "x-original-forwarded-for",
        "x-proxyuser-ip",
        "forwarded-for",
    }
)
ACCESS_QUERY = "token"
MIN_TOKEN_LENGTH = 16
DEFAULT_PORTS = {"http": 80, "https": 443}


def is_loopback(host: str | None) -> bool:
    """True for ``localhost`` names and loopback addresses (IPv4, IPv6,
    IPv4-mapped IPv6)."""
    if not host:
        return False
    name = host.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def binds_loopback_only(host: str) -> bool:
    """Whether binding ``host`` can only listen on loopback: a loopback
    address literal, or a name that resolves to loopback addresses only.
    A name is resolved, not trusted by its spelling: ``x.localhost`` may
    resolve anywhere, and the address bound is whatever DNS says."""
    name = host.strip("[]")
    try:
        ipaddress.ip_address(name)
    except ValueError:
        pass
    else:
        return is_loopback(name)
    try:
        found = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return False
    return bool(found) and all(is_loopback(str(entry[4][0])) for entry in found)


def require_auth_off_loopback(host: str, auth: Auth | None) -> None:
    """Refuse to serve on ``host`` without ``auth`` unless it binds
    loopback only (``binds_loopback_only``).

    Raises:
        ValueError: ``host`` may bind a non-loopback address and ``auth``
            is None.
    """
    if auth is None and not binds_loopback_only(host):
        raise ValueError(
            f"refusing to serve the dashboard on {host!r} without authentication: "
            "it can cancel, retry and run jobs. Bind a loopback address "
            "(127.0.0.1, ::1, or a name resolving to loopback only) or give "
            "auth= (a callable, or a "
            "(user, password) pair for HTTP Basic)"
        )


def check_auth(auth: object) -> Auth | None:
    """``auth`` as given, after checking its shape."""
    if auth is None or callable(auth):
        return auth
    if (
        isinstance(auth, tuple)
        and len(auth) == 2
        and all(isinstance(part, str) and part for part in auth)
    ):
        return auth[0], auth[1]
    raise TypeError(
        "create_app: auth must be None, a callable (request) -> bool, or a "
        f'("user", "password") pair of non-empty strings, got {type(auth).__name__}'
    )


def loopback_refusal(request: Request) -> str | None:
    """Why a request may not use a dashboard without ``auth``, or None."""
    client = request.client.host if request.client else None
    if client is None:
        # a2wsgi leaves the client out when the WSGI server gives no
        # REMOTE_PORT (wsgiref, test clients); the address is still there.
        client = request.scope.get("wsgi_environ", {}).get("REMOTE_ADDR")
    if not is_loopback(client):
        return (
            f"this dashboard has no auth= and serves loopback clients only "
            f"(request from {client or 'an unknown address'})"
        )
    proxy_header = next(
        (
            name
            for name in request.headers
            if name in PROXY_HEADERS or name.startswith("x-forwarded")
        ),
        None,
    )
    if proxy_header is not None:
        return (
            "this dashboard has no auth= and serves loopback clients only; "
            f"this request came through a proxy ({proxy_header} header). "
            "Give it auth= to serve it behind a proxy"
        )
    if not is_loopback(request.url.hostname):
        return (
            "this dashboard has no auth= and answers only to a loopback host "
            f"name, not {request.url.hostname!r}"
        )
    return None


async def allows(auth: Auth, request: Request) -> bool:
    """Whether ``auth`` lets ``request`` in."""
    if isinstance(auth, tuple):
        return _basic_credentials_match(request, auth)
    verdict = auth(request)
    if inspect.isawaitable(verdict):
        verdict = await verdict
    return verdict is True


def _basic_credentials(request: Request) -> tuple[bytes, bytes] | None:
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    user, colon, password = decoded.partition(b":")
    return (user, password) if colon else None


def basic_user(request: Request) -> str:
    """The user name of the request's HTTP Basic credentials ("" if none)."""
    credentials = _basic_credentials(request)
    return "" if credentials is None else credentials[0].decode(errors="replace")


def _basic_credentials_match(request: Request, expected: tuple[str, str]) -> bool:
    credentials = _basic_credentials(request)
    if credentials is None:
        return False
    user, password = credentials
    # Both parts are compared whatever the first gives, in constant time.
    user_ok = hmac.compare_digest(user, expected[0].encode())
    password_ok = hmac.compare_digest(password, expected[1].encode())
    return user_ok and password_ok


def new_csrf_secret(given: str | bytes | None) -> bytes:
    if given is None:
        return secrets.token_bytes(32)
    secret = given.encode() if isinstance(given, str) else given
    if not isinstance(secret, bytes) or len(secret) < 16:
        raise ValueError(
            "create_app: csrf_secret must be at least 16 bytes (a str or bytes), "
            "the same in every process serving the dashboard"
        )
    return secret


def new_access_token(given: str | None) -> str:
    if given is None:
        return secrets.token_urlsafe(32)
    if not isinstance(given, str) or len(given) < MIN_TOKEN_LENGTH:
        raise ValueError(
            f"create_app: access_token must be a str of {MIN_TOKEN_LENGTH} "
            "characters or more (secrets.token_urlsafe(32))"
        )
    return given


def cookie_name(kind: str, secret: str | bytes) -> str:
    """``dataqueue_<kind>_<tag>``: the tag, from the secret, keeps the
    cookies of two dashboards on one host (ports share cookies) apart."""
    key = secret.encode() if isinstance(secret, str) else secret
    tag = hmac.new(key, kind.encode(), hashlib.sha256).hexdigest()[:12]
    return f"dataqueue_{kind}_{tag}"


def carries_token(request: Request, token: str, cookie: str) -> bool:
    """Whether the request shows the access token (cookie or bearer header),
    compared in constant time."""
    scheme, _, sent = request.headers.get("authorization", "").partition(" ")
    shown = sent.strip() if scheme.lower() == "bearer" else ""
    shown = shown or request.cookies.get(cookie, "")
    return hmac.compare_digest(shown.encode(), token.encode())


def new_session() -> str:
    return secrets.token_urlsafe(32)


def csrf_token(secret: bytes, session: str) -> str:
    """The CSRF token of one browser session."""
    message = b"dataqueue-dashboard-csrf\x00" + session.encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def write_refusal(request: Request, token: str | None) -> str | None:
    """Why a state-changing request is refused (cross-origin, or without
    the page's CSRF token), or None."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site != "same-origin":
        return f"cross-origin request refused (Sec-Fetch-Site: {site})"
    origin = request.headers.get("origin")
    referer = request.headers.get("referer")
    if origin is not None:
        if not _same_host(origin, request):
            return f"cross-origin request refused (Origin: {origin})"
    elif referer is not None:
        if not _same_host(referer, request):
            return "cross-origin request refused (Referer from another origin)"
    else:
        return "request refused: it carries neither an Origin nor a Referer header"
    if token is None:
        return "request refused: no dashboard session; load the page first"
    sent = request.headers.get(CSRF_HEADER, "")
    if not hmac.compare_digest(sent.encode(), token.encode()):
        reason = "missing" if not sent else "wrong"
        return f"{reason} CSRF token: send the page's token in {CSRF_HEADER}"
    return None


def _same_host(url: str, request: Request) -> bool:
    """Whether ``url`` names the host and port the request was sent to.

    Schemes are not compared: behind a proxy that ends TLS the request
    arrives over http while the browser's origin is https."""
    try:
        source = urlsplit(url)
        source_port = source.port or DEFAULT_PORTS.get(source.scheme)
        host = request.headers.get("host")
        target = urlsplit(f"//{host}") if host else None
        if target is None or source.hostname is None:
            return False
        target_port = target.port or DEFAULT_PORTS.get(source.scheme)
    except ValueError:  # a malformed port
        return False
    return (source.hostname, source_port) == (target.hostname, target_port)
