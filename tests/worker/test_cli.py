"""The CLI: demo on a fresh config, tickets/show, run --once exit codes, config errors by name."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from worker.cli import main

from tests.worker.worker_setup import REPO


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the shipped config.toml and templates in an empty folder, as on a fresh clone."""
    shutil.copy(REPO / "config.toml", tmp_path / "config.toml")
    shutil.copytree(REPO / "templates", tmp_path / "templates")
    monkeypatch.delenv("HELPDESK_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_demo_prints_tickets_and_writes_replies(project: Path, capsys) -> None:
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "MDHD-000001" in out
    for words in ("add_address", "person_record_change", "account_locked", "auto_reply",
                  "request_details", "workstep_id", "reply: ack sent to"):
        assert words in out, words
    replies = list((project / "var" / "outbox" / "new").iterdir())
    assert replies and str(project / "var" / "outbox") in out
    assert (project / "var" / "helpdesk.sqlite3").exists()

    assert main(["demo"]) == 0  # the same samples again: nothing is answered twice
    again = capsys.readouterr().out
    assert "from an earlier demo run" in again
    assert len(list((project / "var" / "outbox" / "new").iterdir())) == len(replies)


def test_tickets_and_show(project: Path, capsys) -> None:
    main(["demo"])
    capsys.readouterr()
    assert main(["tickets", "--json", "--type", "add_address"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rows and {r["type"] for r in rows} == {"add_address"}
    ref = rows[0]["reference"]
    assert main(["show", ref, "--json"]) == 0
    detail = json.loads(capsys.readouterr().out)
    assert detail["reference"] == ref and detail["fields"]["person_id"]
    assert detail["messages"][0]["text"] and detail["replies"][0]["status"] == "sent"
    assert main(["show", ref]) == 0
    text = capsys.readouterr().out
    assert "fields:" in text and "replies:" in text
    assert main(["show", "MDHD-999999"]) == 1


def test_unknown_config_key_fails_by_name(project: Path, capsys) -> None:
    cfg = project / "config.toml"
    cfg.write_text(cfg.read_text().replace("[schedule]", "[schedule]\npoll_secs = 5"))
    assert main(["tickets"]) == 2
    assert "poll_secs" in capsys.readouterr().err


def test_run_once_exits_non_zero_when_the_mailbox_is_unreachable(project: Path, capsys,
                                                                monkeypatch) -> None:
    from tests.servers import free_port

    cfg = project / "config.toml"
    text = cfg.read_text().replace('kind = "maildir"            # "maildir" (embedded',
                                   'kind = "imap"            # "maildir" (embedded', 1)
    text = text.replace('host = "imap.example-council.gov.uk"', 'host = "127.0.0.1"')
    text = text.replace("port = 993", f"port = {free_port()}").replace("timeout = 30.0", "timeout = 3.0")
    cfg.write_text(text)
    monkeypatch.setenv("HELPDESK_IMAP_PASSWORD", "not-used")
    assert main(["run", "--once"]) == 1
    assert "poll failed" in capsys.readouterr().err


def test_db_upgrade(project: Path, capsys) -> None:
    from alembic.script import ScriptDirectory

    from worker.migrations import alembic_config

    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert main(["db", "upgrade"]) == 0
    assert f"revision {head}" in capsys.readouterr().out


def test_run_without_the_password_variable_stops_naming_it(project: Path, capsys,
                                                           monkeypatch) -> None:
    cfg = project / "config.toml"
    cfg.write_text(cfg.read_text().replace('kind = "maildir"            # "maildir" (embedded',
                                           'kind = "imap"            # "maildir" (embedded', 1))
    monkeypatch.delenv("HELPDESK_IMAP_PASSWORD", raising=False)
    assert main(["run", "--once"]) == 2
    assert "HELPDESK_IMAP_PASSWORD" in capsys.readouterr().err
