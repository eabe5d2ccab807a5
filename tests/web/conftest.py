"""Fixtures for the staff web app: a store filled by the real worker, `helpdesk serve` on a free
loopback port, a cookie-keeping HTTP client, and headless Debian Chromium."""
from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import SmtpServer
from tests.worker.conftest import _smtp_plain_server, smtp_server  # noqa: F401 - fixtures
from web_setup import (CHROMIUM, CHROMIUM_ARGS, Client, LiveServer, WebEnv, start_server,
                       write_web_config)
from worker.config import load_settings
from worker.migrations import upgrade_database
from worker.store import Store


@pytest.fixture
def web_env(tmp_path: Path, smtp_server: SmtpServer) -> Iterator[WebEnv]:  # noqa: F811
    """Maildir in, the SMTP sink out, a fresh SQLite store; staff alice and bob."""
    config = write_web_config(tmp_path, smtp_server)
    settings = load_settings(config)
    upgrade_database(settings.database.url)
    store = Store(settings.database.url)
    env = WebEnv(root=tmp_path, config=config, settings=settings, store=store)
    env.add_staff("alice")
    env.add_staff("bob")
    try:
        yield env
    finally:
        store.close()


@pytest.fixture
def live_server(web_env: WebEnv) -> Iterator[LiveServer]:
    """`helpdesk serve` in its own process on a free 127.0.0.1 port."""
    server = start_server(web_env)
    try:
        yield server
    finally:
        server.proc.terminate()
        try:
            server.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait(timeout=10)


@pytest.fixture
def client(live_server: LiveServer) -> Client:
    return Client(live_server.url)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Debian's Chromium, headless, driven by Playwright (no browser download)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()
