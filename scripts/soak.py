#!/usr/bin/env python3
"""Soak: N messages through a throwaway Dovecot while the SMTP server refuses one send in ten and
the worker (`helpdesk run`, a real process) is SIGKILLed every few seconds; bounded in time.

Prints messages in, messages stored, tickets out, replies due, replies delivered, duplicates
(a Message-ID the SMTP server accepted twice: the accepted-then-killed window) and replies that
differ but answer the same message (must be 0), plus kills and SMTP refusals.

    python scripts/soak.py --messages 2000 --seconds 600 [--postgres]
"""
from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from email import message_from_bytes
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from imapclient import IMAPClient  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from scripts.bench_cycle import generate, throwaway_pg_database  # noqa: E402
from tests.servers import DovecotServer, SmtpServer, write_worker_config  # noqa: E402

PASSWORD_ENV = "HELPDESK_SOAK_IMAP_PASSWORD"
CORPUS = ROOT / "tests" / "messages"


def flaky(server: SmtpServer, every: int) -> Counter:
    """Make the sink refuse every `every`-th DATA with a 451 (temporary): counts refusals."""
    handler, counts = server.handler, Counter()
    accept = handler.handle_DATA

    async def handle_DATA(smtp, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        counts["data"] += 1
        if counts["data"] % every == 0:
            counts["refused"] += 1
            return "451 4.3.0 Soak test: try again later"
        return await accept(smtp, session, envelope)

    handler.handle_DATA = handle_DATA  # type: ignore[method-assign]
    return counts


def deliver(dovecot: DovecotServer, account, messages: list[bytes]) -> None:
    with IMAPClient(dovecot.host, dovecot.plain_port, ssl=False, timeout=30) as client:
        client.login(account.username, account.password)
        for data in messages:
            client.append("INBOX", data)


def inbox_count(dovecot: DovecotServer, account, folder: str = "INBOX") -> int:
    with IMAPClient(dovecot.host, dovecot.plain_port, ssl=False, timeout=30) as client:
        client.login(account.username, account.password)
        if not client.folder_exists(folder):
            return 0
        client.select_folder(folder, readonly=True)
        return len(client.search(["NOT", "DELETED"]))


def rows(url: str, sql: str) -> list[tuple]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql))]
    except Exception:  # noqa: BLE001 - before the first migration there are no tables
        return []
    finally:
        engine.dispose()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--seconds", type=float, default=600, help="give up after this long")
    ap.add_argument("--kill-min", type=float, default=2.0)
    ap.add_argument("--kill-max", type=float, default=6.0)
    ap.add_argument("--fail-every", type=int, default=10, help="SMTP refuses one send in N")
    ap.add_argument("--batch-size", type=int, default=50)
    ap.add_argument("--postgres", action="store_true", help="PostgreSQL store (default SQLite)")
    ap.add_argument("--seed", type=int, default=4)
    args = ap.parse_args()
    rng = random.Random(args.seed)

    work = Path(tempfile.mkdtemp(prefix="helpdesk-soak-"))
    dovecot = DovecotServer.start()
    smtp = SmtpServer.start("plain")
    counts = flaky(smtp, args.fail_every)
    with (throwaway_pg_database() if args.postgres else _sqlite(work)) as db_url:
        account = dovecot.new_account()
        config = write_worker_config(
            work / "config.toml", dovecot, account, smtp, db_url, password_env=PASSWORD_ENV,
            batch_size=args.batch_size,
            extra="[helpdesk]\nreplies_per_sender_per_hour = 100000\n"
                  "[schedule]\npoll_seconds = 1\nsend_seconds = 1\n")
        config.write_text(config.read_text().replace(  # refused replies retried within seconds
            '[outbox]\nkind = "smtp"\n', '[outbox]\nkind = "smtp"\nretry_base_seconds = 1\n'))
        samples = [p.read_bytes() for p in sorted(CORPUS.glob("*.eml"))]
        messages = generate(samples, args.messages)
        started = time.monotonic()
        deliver(dovecot, account, messages)
        print(f"delivered {len(messages)} messages in {time.monotonic() - started:.1f}s",
              flush=True)
        env = {**os.environ, PASSWORD_ENV: account.password}
        env.pop("HELPDESK_DATABASE_URL", None)
        kills = runs = 0
        started = time.monotonic()
        while time.monotonic() - started < args.seconds:
            runs += 1
            proc = subprocess.Popen([sys.executable, "-m", "worker.cli", "run", "--config",
                                     str(config)], env=env, cwd=ROOT,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                proc.wait(timeout=rng.uniform(args.kill_min, args.kill_max))
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                kills += 1
            else:
                print(f"the worker exited by itself with status {proc.returncode}", flush=True)
            waiting = inbox_count(dovecot, account)
            due = rows(db_url, "SELECT count(*) FROM outbox WHERE status IN ('pending','sending')")
            if waiting == 0 and due and due[0][0] == 0:
                break
        elapsed = time.monotonic() - started
        report(db_url, dovecot, account, smtp, counts, len(messages), kills, runs, elapsed)
    smtp.stop()
    dovecot.cleanup()
    return 0


def _sqlite(work: Path):
    from contextlib import nullcontext

    return nullcontext(f"sqlite:///{work / 'soak.sqlite3'}")


def report(db_url, dovecot, account, smtp, counts, sent_in, kills, runs, elapsed) -> None:
    stored = rows(db_url, "SELECT count(*), count(DISTINCT message_key) FROM messages")[0]
    tickets = rows(db_url, "SELECT count(*) FROM tickets")[0][0]
    outbox = dict(rows(db_url, "SELECT status, count(*) FROM outbox GROUP BY status"))
    due = sum(n for s, n in outbox.items() if s in ("pending", "sending", "sent"))
    accepted = Counter(message_from_bytes(m.data)["Message-ID"] for m in smtp.received)
    kinds = rows(db_url, "SELECT ticket_id, kind, count(*) FROM outbox GROUP BY ticket_id, kind "
                         "HAVING count(*) > 1")
    print(f"soak: {elapsed:.0f}s, {runs} worker runs, {kills} SIGKILLs, "
          f"{counts['refused']} of {counts['data']} SMTP DATA refused (451)")
    print(f"messages in:        {sent_in}")
    print(f"messages stored:    {stored[0]} ({stored[1]} distinct); in INBOX "
          f"{inbox_count(dovecot, account)}, Processed {inbox_count(dovecot, account, 'Processed')}"
          f", Failed {inbox_count(dovecot, account, 'Failed')}")
    print(f"tickets out:        {tickets}")
    print(f"replies due:        {due} (outbox by status: {dict(sorted(outbox.items()))})")
    print(f"replies delivered:  {len(accepted)} distinct Message-IDs, "
          f"{sum(accepted.values())} SMTP acceptances")
    print(f"duplicates:         {sum(n - 1 for n in accepted.values())} resends of one "
          f"Message-ID (accepted, then killed before recorded); "
          f"{len(kinds)} tickets with two replies of one kind")
    unknown = set(accepted) - {r[0] for r in rows(db_url, "SELECT message_id FROM outbox")}
    print(f"accepted replies not in the outbox: {len(unknown)}")


if __name__ == "__main__":
    sys.exit(main())
