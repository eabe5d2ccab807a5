"""Helpers for the fault tests: run `helpdesk` as a real subprocess, read the mailbox and store."""
from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from email import message_from_bytes
from pathlib import Path

from imapclient import IMAPClient
from sqlalchemy import create_engine, text

from tests.servers import DovecotServer, ImapAccount, SmtpServer, write_worker_config

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "tests" / "messages"
PASSWORD_ENV = "HELPDESK_TEST_IMAP_PASSWORD"
# Samples that each become one ticket with one reply (distinct senders, no machine mail).
REPLY_SAMPLES = ["001", "005", "013", "021", "029", "033"]


def sample(prefix: str) -> bytes:
    (path,) = CORPUS.glob(f"{prefix}-*.eml")
    return path.read_bytes()


def deliver(dovecot: DovecotServer, account: ImapAccount, *messages: bytes,
            folder: str = "INBOX") -> None:
    with IMAPClient(dovecot.host, dovecot.plain_port, ssl=False, timeout=10) as client:
        client.login(account.username, account.password)
        for data in messages:
            client.append(folder, data)


def folder_counts(dovecot: DovecotServer, account: ImapAccount) -> dict[str, int]:
    """Undeleted messages per folder."""
    with IMAPClient(dovecot.host, dovecot.plain_port, ssl=False, timeout=10) as client:
        client.login(account.username, account.password)
        out = {}
        for _flags, _sep, name in client.list_folders():
            name = name if isinstance(name, str) else name.decode()
            client.select_folder(name, readonly=True)
            out[name] = len(client.search(["NOT", "DELETED"]))
        return out


def make_config(tmp_path: Path, dovecot: DovecotServer, account: ImapAccount,
                smtp: SmtpServer, db_url: str, *, batch_size: int = 2, extra: str = "") -> Path:
    return write_worker_config(
        tmp_path / "config.toml", dovecot, account, smtp, db_url, password_env=PASSWORD_ENV,
        batch_size=batch_size,
        extra="[helpdesk]\nreplies_per_sender_per_hour = 1000\n" + extra)


def helpdesk(config: Path, account: ImapAccount, *args: str, crash_at: str | None = None,
             crash_after: int = 0, timeout: float = 60, env: dict | None = None,
             wait: bool = True) -> subprocess.CompletedProcess | subprocess.Popen:
    """Run `helpdesk ARGS --config CONFIG` as a real process (optionally killed at a crash point)."""
    full_env = {**os.environ, PASSWORD_ENV: account.password, **(env or {})}
    full_env.pop("HELPDESK_DATABASE_URL", None)
    full_env.pop("HELPDESK_CRASH_AT", None)
    if crash_at:
        full_env["HELPDESK_CRASH_AT"], full_env["HELPDESK_CRASH_AFTER"] = crash_at, str(crash_after)
    cmd = [sys.executable, "-m", "worker.cli", *args, "--config", str(config)]
    if not wait:
        return subprocess.Popen(cmd, env=full_env, cwd=REPO, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
    return subprocess.run(cmd, env=full_env, cwd=REPO, capture_output=True, timeout=timeout)


def store_rows(db_url: str, sql: str) -> list[tuple]:
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql))]
    finally:
        engine.dispose()


def received_ids(smtp: SmtpServer) -> Counter:
    """How many times the SMTP server accepted each Message-ID."""
    return Counter(message_from_bytes(m.data)["Message-ID"] for m in smtp.received)
