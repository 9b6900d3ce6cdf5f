"""Who may use the dashboard, and what every answer carries.

The model, in order of the checks a request meets:

1. **Access.** With ``auth=None`` only loopback is served: the client
   address, the ``Host`` the browser asked for (which stops DNS rebinding)
   and the absence of proxy headers all have to say "this machine". With
   ``auth=`` a callable decides (``(request) -> bool | Awaitable[bool]``,
   403 when false), or a ``("user", "password")`` pair is checked as HTTP
   Basic credentials in constant time (401 with ``WWW-Authenticate``).
2. **Writes.** A POST must come from the dashboard's own origin
   (``Sec-Fetch-Site``, then ``Origin``, else ``Referer``, must match the
   ``Host``) *and* carry the CSRF token of the page in the
   ``X-DataQueue-CSRF`` header. The token is an HMAC of a random secret made
   per app (or given as ``csrf_secret`` where several processes serve it).
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

# Headers a reverse proxy adds: behind one, the client address is the
# proxy's, so a loopback peer no longer means a local user.
PROXY_HEADERS = ("forwarded", "x-forwarded-for", "x-forwarded-host", "x-real-ip")
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


def require_auth_off_loopback(host: str, auth: Auth | None) -> None:
    """Refuse to serve on ``host`` without ``auth`` unless it is loopback.

    Raises:
        ValueError: ``host`` is not a loopback address and ``auth`` is None.
    """
    if auth is None and not is_loopback(host):
        raise ValueError(
            f"refusing to serve the dashboard on {host!r} without authentication: "
            "it can cancel, retry and run jobs. Bind a loopback host "
            "(127.0.0.1, ::1, localhost) or give auth= (a callable, or a "
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
    if any(name in request.headers for name in PROXY_HEADERS):
        return (
            "this dashboard has no auth= and serves loopback clients only; "
            "this request came through a proxy"
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


def _basic_credentials_match(request: Request, expected: tuple[str, str]) -> bool:
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    user, colon, password = decoded.partition(b":")
    # Both parts are compared whatever the first gives, in constant time.
    user_ok = hmac.compare_digest(user, expected[0].encode())
    password_ok = hmac.compare_digest(password, expected[1].encode())
    return bool(colon) and user_ok and password_ok


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


def csrf_token(secret: bytes) -> str:
    return hmac.new(secret, b"dataqueue-dashboard-csrf", hashlib.sha256).hexdigest()


def write_refusal(request: Request, token: str) -> str | None:
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
