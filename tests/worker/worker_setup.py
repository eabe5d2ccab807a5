"""Helpers for the worker-core tests: a config.toml on a Maildir mailbox/outbox in tmp_path."""
from __future__ import annotations

from datetime import datetime, timezone
from collections.abc import Iterator
from pathlib import Path

import pytest

from worker.config import Settings, load_settings
from worker.edges import build_context
from worker.maildir import MaildirMailbox
from worker.migrations import upgrade_database
from worker.pipeline import WorkerContext
from worker.store import Store

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "tests" / "messages"  # the shared labelled corpus, copied into the repo
DEMO = REPO / "worker" / "demo_messages"
# a Tuesday at 10:00 in London: inside opening hours
OPEN_NOW = datetime(2027, 2, 16, 10, 0, tzinfo=timezone.utc)


def write_config(tmp_path: Path, db_url: str, extra: str = "") -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f"""
[mailbox]
path = "mailbox"
[imap]
sent_folder = "Sent"
[outbox]
path = "outbox"
[database]
url = "{db_url}"
[templates]
dir = "{REPO / 'templates'}"
{extra}
""", encoding="utf-8")
    return path


def make_settings(tmp_path: Path, db_url: str, extra: str = "") -> Settings:
    settings = load_settings(write_config(tmp_path, db_url, extra))
    upgrade_database(settings.database.url)
    return settings


_OPEN_STORES: list[Store] = []


@pytest.fixture(autouse=True)
def close_stores() -> Iterator[None]:
    """Import into a test module: disposes every Store the test opened (no leaked connections)."""
    yield
    while _OPEN_STORES:
        _OPEN_STORES.pop().close()


def make_store(settings: Settings) -> Store:
    store = Store(settings.database.url)
    _OPEN_STORES.append(store)
    return store


def make_ctx(settings: Settings) -> WorkerContext:
    return build_context(settings, make_store(settings))


def deliver(settings: Settings, *messages: bytes) -> None:
    with MaildirMailbox(settings.mailbox.path) as mailbox:
        for data in messages:
            mailbox.deliver(data)


def folder_count(settings: Settings, folder: str | None = None) -> int:
    """Messages in the Maildir inbox (folder None) or one of its folders."""
    import mailbox

    root = mailbox.Maildir(settings.mailbox.path, create=True)
    box = root if folder is None else (root.get_folder(folder) if folder in root.list_folders()
                                       else None)
    return 0 if box is None else len(box)


def outbox_files(settings: Settings) -> list[bytes]:
    new = settings.outbox.path / "new"
    return [p.read_bytes() for p in sorted(new.iterdir())] if new.is_dir() else []
