"""Real-server fixtures for worker tests: one Dovecot and SMTP sinks per session, a clean mailbox per test."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import DovecotServer, ImapAccount, SmtpServer, TlsFiles, make_self_signed


@pytest.fixture(scope="session")
def dovecot() -> Iterator[DovecotServer]:
    """One Dovecot for the whole run. A missing binary is an error, never a skip."""
    server = DovecotServer.start()
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def imap_account(dovecot: DovecotServer) -> ImapAccount:
    """A fresh user per test: an empty INBOX and no other folders."""
    return dovecot.new_account()


@pytest.fixture
def imap_settings(dovecot: DovecotServer, imap_account: ImapAccount) -> dict:
    """Keyword arguments for ImapMailbox reaching this test's mailbox over TLS, verified by CA file."""
    return {
        "host": dovecot.host, "port": dovecot.tls_port,
        "username": imap_account.username, "password": imap_account.password,
        "security": "tls", "ca_file": str(dovecot.tls.cert), "timeout": 10.0,
    }


@pytest.fixture(scope="session")
def smtp_tls_files(tmp_path_factory) -> TlsFiles:
    return make_self_signed(Path(tmp_path_factory.mktemp("smtp-tls")), "smtp")


@pytest.fixture(scope="session")
def _smtp_plain_server() -> Iterator[SmtpServer]:
    server = SmtpServer.start("plain")
    yield server
    server.stop()


@pytest.fixture
def smtp_server(_smtp_plain_server: SmtpServer) -> SmtpServer:
    """The session's plain SMTP sink, emptied and with no refusals configured."""
    _smtp_plain_server.handler.reset()
    return _smtp_plain_server


@pytest.fixture(scope="session")
def _smtp_starttls_server(smtp_tls_files: TlsFiles) -> Iterator[SmtpServer]:
    server = SmtpServer.start("starttls", smtp_tls_files, credentials=("helpdesk", "smtp-secret"))
    yield server
    server.stop()


@pytest.fixture
def smtp_starttls_server(_smtp_starttls_server: SmtpServer) -> SmtpServer:
    """A sink offering STARTTLS and AUTH (user helpdesk, password smtp-secret) after TLS."""
    _smtp_starttls_server.handler.reset()
    return _smtp_starttls_server


@pytest.fixture(scope="session")
def _smtp_tls_server(smtp_tls_files: TlsFiles) -> Iterator[SmtpServer]:
    server = SmtpServer.start("tls", smtp_tls_files)
    yield server
    server.stop()


@pytest.fixture
def smtp_tls_server(_smtp_tls_server: SmtpServer) -> SmtpServer:
    """A sink speaking implicit TLS (SMTPS)."""
    _smtp_tls_server.handler.reset()
    return _smtp_tls_server
