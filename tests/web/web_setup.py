"""Helpers for the web app tests: config, store filled by the real worker, serve, HTTP client."""

from __future__ import annotations

import http.cookiejar
import os
import re
import secrets
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path


from tests.servers import SmtpServer, free_port
from worker.config import Settings
from worker.edges import build_context
from worker.maildir import MaildirMailbox
from worker.pipeline import poll_once
from worker.staff import add_account
from worker.store import Store

REPO = Path(__file__).resolve().parents[2]
MESSAGES = Path(__file__).resolve().parent / "messages"
CORPUS = REPO / "tests" / "messages"
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
PASSWORD = "correct horse battery staple"
# the served app runs on the real clock, so the worker in these tests does too
NOW = datetime.now(timezone.utc)


@dataclass
class WebEnv:
    """A config.toml (Maildir in, SMTP out), its migrated SQLite store and the staff accounts."""

    root: Path
    config: Path
    settings: Settings
    store: Store
    staff: dict[str, str] = field(default_factory=dict)

    def deliver_and_poll(self, *names: str) -> None:
        """Put messages in the Maildir inbox and run one real worker poll over them."""
        with MaildirMailbox(self.settings.mailbox.path) as mailbox:
            for name in names:
                path = MESSAGES / name if (MESSAGES / name).exists() else CORPUS / name
                mailbox.deliver(path.read_bytes())
        report = poll_once(build_context(self.settings, self.store), datetime.now(timezone.utc))
        assert report.error is None

    def add_staff(self, name: str, password: str = PASSWORD) -> None:
        with self.store.session() as session:
            add_account(session, name, password, NOW)
        self.staff[name] = password


def write_web_config(root: Path, smtp: SmtpServer | None) -> Path:
    outbox = (f'[outbox]\nkind = "smtp"\n[smtp]\nhost = "{smtp.host}"\nport = {smtp.port}\n'
              f'security = "plain"\ntimeout = 10.0\n') if smtp else '[outbox]\npath = "outbox"\n'
    path = root / "config.toml"
    path.write_text(f"""
[mailbox]
path = "mailbox"
[database]
url = "sqlite:///{root / 'helpdesk.sqlite3'}"
[templates]
dir = "{REPO / 'templates'}"
{outbox}""", encoding="utf-8")
    return path





@dataclass
class LiveServer:
    url: str
    log: Path
    proc: subprocess.Popen

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def start_server(env: WebEnv) -> LiveServer:
    port = free_port()
    log = env.root / "serve.log"
    child_env = dict(os.environ, HELPDESK_SESSION_SECRET=secrets.token_urlsafe(48),
                     PYTHONUNBUFFERED="1")
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "worker.cli", "serve", "--config",
                                 str(env.config), "--host", "127.0.0.1", "--port", str(port)],
                                stdout=out, stderr=subprocess.STDOUT, env=child_env, cwd=REPO)
    try:
        wait_for_http(port, proc)
    except Exception:
        proc.kill()
        proc.wait(10)
        raise
    return LiveServer(url=f"http://127.0.0.1:{port}", log=log, proc=proc)


def wait_for_http(port: int, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    """Poll until uvicorn answers HTTP (wait_for_greeting needs a server that speaks first)."""
    import socket
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"helpdesk serve exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"HEAD /login HTTP/1.0\r\n\r\n")
                if sock.recv(16).startswith(b"HTTP/1.1"):
                    return
        except OSError:
            pass
        time.sleep(0.05)  # polling while the server starts, not a synchronisation point
    raise RuntimeError(f"helpdesk serve did not answer on port {port}")





class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: str


class Client:
    """A browser-less HTTP client with a cookie jar; never follows redirects."""

    def __init__(self, base: str, timeout: float = 20.0) -> None:
        self.base = base
        self.timeout = timeout
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar),
                                                  _NoRedirect)

    def request(self, method: str, path: str, data: dict[str, str] | None = None) -> Reply:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        req = urllib.request.Request(self.base + path, data=body, method=method)
        try:
            with self.opener.open(req, timeout=self.timeout) as resp:
                return Reply(resp.status, {k.lower(): v for k, v in resp.headers.items()},
                             resp.read().decode("utf-8", "replace"))
        except urllib.error.HTTPError as exc:
            with exc:
                return Reply(exc.code, {k.lower(): v for k, v in exc.headers.items()},
                             exc.read().decode("utf-8", "replace"))

    def get(self, path: str) -> Reply:
        return self.request("GET", path)

    def post(self, path: str, data: dict[str, str]) -> Reply:
        return self.request("POST", path, data)

    def csrf(self, path: str = "/login") -> str:
        m = re.search(r'name="csrf" value="([^"]+)"', self.get(path).body)
        assert m, f"no CSRF token on {path}"
        return m.group(1)

    def login(self, name: str, password: str = PASSWORD) -> Reply:
        return self.post("/login", {"csrf": self.csrf(), "name": name, "password": password})

    def cookie(self, name: str = "helpdesk_session") -> str | None:
        return next((c.value for c in self.jar if c.name == name), None)
