"""create_app(settings): the Starlette app, its middleware (session, security headers) and routes."""
from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import wraps
from pathlib import Path
from typing import Any

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from sqlmodel import select

from ..config import Settings
from ..staff import StaffAccount
from ..store import Store
from .search import SearchIndex
from .security import SecurityHeadersMiddleware, csrf_ok, csrf_token, session_secret

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
SESSION_COOKIE = "helpdesk_session"
SESSION_MAX_AGE = 8 * 3600  # one working day
Handler = Callable[..., Awaitable[Response]]


@dataclass
class WebState:
    """What every request handler needs: config, the store, templates, the clock."""

    settings: Settings
    store: Store
    templates: jinja2.Environment
    search: SearchIndex
    clock: Callable[[], datetime]

    def now(self) -> datetime:
        return self.clock()


def web(request: Request) -> WebState:
    return request.app.state.web  # type: ignore[no-any-return]


def render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    """A page from templates/web/, with the session's staff name, CSRF token and flash."""
    state = web(request)
    flash = request.session.pop("flash", None)
    page = state.templates.get_template(name).render(
        context, staff=getattr(request.state, "staff", None), csrf=csrf_token(request),
        flash=flash, helpdesk=state.settings.helpdesk.name)
    return HTMLResponse(page, status_code=status)


def _active_staff(state: WebState, name: object, epoch: object) -> str | None:
    """The session's staff name while the account is active and the session not ended."""
    if not isinstance(name, str) or not isinstance(epoch, int):
        return None
    with state.store.session() as session:
        account = session.exec(select(StaffAccount).where(StaffAccount.name == name)).first()
        if account is None or not account.active or account.session_epoch != epoch:
            return None
        return account.name


def staff_only(handler: Handler) -> Handler:
    """Refuse without a live session: GET goes to the login page, anything else gets 403.
    Unsafe methods must also carry the session's CSRF token in the form."""

    @wraps(handler)
    async def wrapper(request: Request) -> Response:
        staff = await run_in_threadpool(_active_staff, web(request), request.session.get("staff"),
                                        request.session.get("epoch"))
        if staff is None:
            if request.method in ("GET", "HEAD"):
                return RedirectResponse("/login", status_code=303)
            return Response("Log in first.", status_code=403, media_type="text/plain")
        request.state.staff = staff
        if request.method not in ("GET", "HEAD"):
            form = await request.form()
            if not csrf_ok(request, form.get("csrf")):
                log.warning("refused a form without a valid CSRF token (%s)", request.url.path)
                return Response("The form has expired: reload the page and try again.",
                                status_code=403, media_type="text/plain")
            request.state.form = {k: v for k, v in form.items() if isinstance(v, str)}
        return await handler(request)

    return wrapper


def flash(request: Request, text: str) -> None:
    request.session["flash"] = text


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _templates(settings: Settings) -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(settings.templates.dir / "web")),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    from .ticket_view import label, type_title, when_text

    env.filters.update(when=when_text, label=label, type_title=type_title)
    return env


def _build_search_keys(state: WebState) -> None:
    try:
        state.search.sync(state.now())
    except Exception:  # noqa: BLE001 - searches sync again on demand; the app stays up
        log.exception("search keys: initial build failed")


@asynccontextmanager
async def _lifespan(app: Starlette) -> AsyncIterator[None]:
    """Build missing search keys in the background at start, so no search waits for them."""
    threading.Thread(target=_build_search_keys, args=(app.state.web,), daemon=True,
                     name="search-keys").start()
    yield


def create_app(settings: Settings, store: Store | None = None, *, secret: str | None = None,
               clock: Callable[[], datetime] | None = None,
               secure_cookies: bool = False,
               allowed_hosts: tuple[str, ...] | None = None) -> Starlette:
    """The staff web app over the worker's store. `secure_cookies` for HTTPS deployments;
    `allowed_hosts` (`helpdesk serve` passes [web] allowed_hosts) refuses other Host headers
    (DNS rebinding)."""
    from . import pages

    store = store or Store(settings.database.url)
    routes = [
        Route("/login", pages.login_form, methods=["GET"]),
        Route("/login", pages.login, methods=["POST"]),
        Route("/logout", pages.logout, methods=["POST"]),
        Route("/", pages.queue, methods=["GET"]),
        Route("/audit", pages.audit_log, methods=["GET"]),
        Route("/tickets/{reference}", pages.ticket, methods=["GET"]),
        Route("/tickets/{reference}/messages/{message:int}/attachments/{index:int}",
              pages.attachment, methods=["GET"]),
        Route("/tickets/{reference}/{action}", pages.ticket_action, methods=["POST"]),
        Mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static"),
    ]
    middleware = [Middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))] \
        if allowed_hosts else []
    middleware += [
        Middleware(SecurityHeadersMiddleware),
        Middleware(SessionMiddleware, secret_key=secret or session_secret(),
                   session_cookie=SESSION_COOKIE, max_age=SESSION_MAX_AGE, same_site="strict",
                   https_only=secure_cookies),
    ]
    app = Starlette(routes=routes, middleware=middleware, lifespan=_lifespan)
    app.state.web = WebState(settings=settings, store=store, templates=_templates(settings),
                             search=SearchIndex(store),
                             clock=clock or (lambda: datetime.now(timezone.utc)))
    return app
