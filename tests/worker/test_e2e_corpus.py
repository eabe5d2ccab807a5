"""All corpus samples through `helpdesk run --once` against Dovecot and aiosmtpd: stored once, answered right."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from email import message_from_bytes, policy
from pathlib import Path

from imapclient import IMAPClient
from sqlmodel import select

from tests.servers import write_worker_config
from worker import store
from worker.store import StoredMessage, Store

CORPUS = Path(__file__).resolve().parents[1] / "messages"  # the shared corpus, copied in the repo
PASSWORD_ENV = "HELPDESK_TEST_IMAP_PASSWORD"


def header(data: bytes, name: str) -> str | None:
    value = message_from_bytes(data, policy=policy.default)[name]
    return str(value).strip() if value is not None else None


def run_once(config: Path, password: str) -> subprocess.CompletedProcess:
    env = {**os.environ, PASSWORD_ENV: password}
    env.pop("HELPDESK_DATABASE_URL", None)
    return subprocess.run([sys.executable, "-m", "worker.cli", "run", "--once", "--config", str(config)],
                          env=env, capture_output=True, text=True, timeout=240)


def test_every_corpus_sample_through_run_once(tmp_path, dovecot, imap_account, smtp_server, sqlite_url):
    samples = {p.name: p.read_bytes() for p in sorted(CORPUS.glob("[0-9][0-9][0-9]-*.eml"))}
    assert len(samples) == 72
    with IMAPClient(dovecot.host, dovecot.plain_port, ssl=False, timeout=30) as client:
        client.login(imap_account.username, imap_account.password)
        client.multiappend("INBOX", list(samples.values()))
    # The samples repeat a few senders; the per-sender reply cap is not what this test is about.
    config = write_worker_config(tmp_path / "config.toml", dovecot, imap_account, smtp_server, sqlite_url,
                                 password_env=PASSWORD_ENV, sent_folder="Sent",
                                 extra="[helpdesk]\nreplies_per_sender_per_hour = 1000\n")

    started = time.perf_counter()
    first = run_once(config, imap_account.password)
    seconds = time.perf_counter() - started
    assert first.returncode == 0, first.stderr[-3000:]
    poll_seconds = re.search(r"replies queued, ([\d.]+)s", first.stdout)
    print(f"\n72 corpus samples: `helpdesk run --once` took {seconds:.2f}s "
          f"(poll {poll_seconds.group(1) if poll_seconds else '?'}s); {first.stdout.strip()}")
    assert "72 fetched, 72 new" in first.stdout

    st = Store(sqlite_url)
    try:
        with st.session() as session:
            rows = list(session.exec(select(StoredMessage)))
            outcomes = {row.message_id: [t.action for t in store.tickets_of_message(session, row.id)]
                        for row in rows}
    finally:
        st.close()
    assert len(rows) == 72 and len(outcomes) == 72  # each sample stored once, under its Message-ID
    for message_id, actions in outcomes.items():
        assert actions, f"{message_id} has no ticket"
        assert ("ignore" in actions) <= (set(actions) == {"ignore"}), f"{message_id} mixes ignore: {actions}"

    answered = {m.message["In-Reply-To"].strip() for m in smtp_server.received}
    ignored = {mid for mid, actions in outcomes.items() if actions == ["ignore"]}
    assert answered.isdisjoint(ignored), "an ignored message was answered"
    assert answered == set(outcomes) - ignored, "every other message gets its reply"
    for name in ("058", "059", "060"):  # the labelled auto-reply, bounce and newsletter
        (data,) = [d for n, d in samples.items() if n.startswith(name)]
        assert outcomes[header(data, "Message-ID")] == ["ignore"]
    for mail in smtp_server.received:
        assert mail.message["Auto-Submitted"] == "auto-replied"

    with IMAPClient(dovecot.host, dovecot.plain_port, ssl=False, timeout=30) as client:
        client.login(imap_account.username, imap_account.password)
        counts = {f: client.folder_status(f, [b"MESSAGES"])[b"MESSAGES"] for f in ("INBOX", "Processed", "Sent")}
    assert counts == {"INBOX": 0, "Processed": 72, "Sent": len(smtp_server.received)}

    again = run_once(config, imap_account.password)
    assert again.returncode == 0 and "0 fetched" in again.stdout and "send: 0 sent" in again.stdout


def test_replay_returns_failed_mail_to_the_inbox_and_the_next_run_handles_it(
        tmp_path, dovecot, imap_account, smtp_server, sqlite_url):
    lock = next(CORPUS.glob("029-*.eml")).read_bytes()
    with IMAPClient(dovecot.host, dovecot.plain_port, ssl=False, timeout=30) as client:
        client.login(imap_account.username, imap_account.password)
        client.create_folder("Failed")
        client.append("Failed", lock)  # as an earlier cycle would have left it after an outage
    config = write_worker_config(tmp_path / "config.toml", dovecot, imap_account, smtp_server, sqlite_url,
                                 password_env=PASSWORD_ENV)
    env = {**os.environ, PASSWORD_ENV: imap_account.password}
    env.pop("HELPDESK_DATABASE_URL", None)
    replay = subprocess.run([sys.executable, "-m", "worker.cli", "replay", "--config", str(config)],
                            env=env, capture_output=True, text=True, timeout=120)
    assert replay.returncode == 0, replay.stderr[-2000:]
    assert replay.stdout.startswith("1 message(s) moved")
    done = run_once(config, imap_account.password)
    assert done.returncode == 0 and "1 fetched, 1 new" in done.stdout
    assert [m.message["In-Reply-To"].strip() for m in smtp_server.received] == [header(lock, "Message-ID")]
