"""Security edges of the web app: response headers, the session secret, CSRF tokens."""
from __future__ import annotations

import hmac
import logging
import os
import secrets

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

SESSION_SECRET_ENV = "HELPDESK_SESSION_SECRET"
CSRF_FIELD = "csrf"

# No script at all; no remote anything; images only from us or inline data: URIs.
CSP = ("default-src 'none'; script-src 'none'; style-src 'self'; img-src 'self' data:; "
       "font-src 'none'; connect-src 'none'; media-src 'none'; object-src 'none'; "
       "frame-src 'none'; child-src 'none'; form-action 'self'; base-uri 'none'; "
       "frame-ancestors 'none'")
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
]
NO_STORE = (b"cache-control", b"no-store")


class SecurityHeadersMiddleware:
    """Adds the security headers to every HTTP response; pages are never cached."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope.get("path", "").startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                headers = list(message.get("headers", []))
                headers += [h for h in SECURITY_HEADERS if h[0] not in names]
                if not static and b"cache-control" not in names:
                    headers.append(NO_STORE)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def session_secret() -> str:
    """The cookie-signing secret from the environment; a random one (sessions end with the
    process) with a warning when it is unset."""
    secret = os.environ.get(SESSION_SECRET_ENV)
    if secret:
        if len(secret) < 32:
            log.warning("%s is shorter than 32 characters: use a long random value",
                        SESSION_SECRET_ENV)
        return secret
    log.warning("%s is not set: using a random secret, so sessions end when the app stops",
                SESSION_SECRET_ENV)
    return secrets.token_urlsafe(48)


def csrf_token(request: Request) -> str:
    """This session's CSRF token, created on first use."""
    token = request.session.get(CSRF_FIELD)
    if not isinstance(token, str) or len(token) < 32:
        token = secrets.token_urlsafe(32)
        request.session[CSRF_FIELD] = token
    return token


def csrf_ok(request: Request, submitted: object) -> bool:
    """The submitted token matches the session's (constant-time)."""
    expected = request.session.get(CSRF_FIELD)
    return (isinstance(expected, str) and isinstance(submitted, str) and bool(submitted)
            and hmac.compare_digest(expected.encode(), submitted.encode()))
