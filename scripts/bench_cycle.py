#!/usr/bin/env python3
"""Benchmark: msgs/s of a full worker cycle against fetch-and-parse alone, on one throwaway Dovecot.

Loads N messages (the corpus samples repeated, each copy with a new Message-ID) into a Dovecot the
script starts itself (tests/servers.py), then times on the same mailbox:
  1. fetch-and-parse: ImapMailbox.fetch_new (BODY.PEEK, batches) + parsers.parse, nothing moved;
  2. a full cycle: poll_once (fetch, parse, classify, store, queue replies, move to Processed)
     then send_pending (replies to a local aiosmtpd in its own process, one SMTP connection).
Prints both rates and the ratio of the times (target: full cycle < 2x fetch-and-parse), and the
same ratio for this process's CPU time alone, which a busy machine disturbs less.
"""
from __future__ import annotations

import argparse
import contextlib
import cProfile
import logging
import os
import re
import sys
import tempfile
import time
from datetime import datetime, timezone
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import parsers  # noqa: E402
from imapclient import IMAPClient  # noqa: E402

from tests.servers import DovecotServer, SmtpServer, SmtpSinkProcess, write_worker_config  # noqa: E402
from worker.config import load_settings  # noqa: E402
from worker.edges import build_context, make_transport  # noqa: E402
from worker.mailbox import FolderState, ImapMailbox  # noqa: E402
from worker.migrations import upgrade_database  # noqa: E402
from worker.outbox import send_pending  # noqa: E402
from worker.pipeline import poll_once  # noqa: E402

DEFAULT_CORPUS = Path(__file__).resolve().parents[1] / "tests" / "messages"  # the labelled samples (shared corpus + own cases)
MESSAGE_ID_RE = re.compile(rb"^Message-ID:[^\r\n]*\r?\n(?:[ \t][^\r\n]*\r?\n)*", re.I | re.M)
PASSWORD_ENV = "HELPDESK_BENCH_IMAP_PASSWORD"


def generate(samples: list[bytes], count: int) -> list[bytes]:
    """`count` messages cycling through the samples, each with its own new Message-ID."""
    out = []
    for n in range(count):
        data = samples[n % len(samples)]
        head_end = data.find(b"\r\n\r\n")
        head_end = len(data) if head_end < 0 else head_end
        head, body = data[:head_end + 2], data[head_end + 2:]
        head = MESSAGE_ID_RE.sub(b"", head)
        out.append(head + f"Message-ID: <bench-{n}-{os.urandom(6).hex()}@example.org>\r\n".encode() + body)
    return out


@contextlib.contextmanager
def throwaway_pg_database() -> Iterator[str]:
    """A new empty database on the test PostgreSQL server, dropped afterwards."""
    import psycopg

    admin = os.environ.get("HELPDESK_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
    name = f"helpdesk_bench_{os.urandom(6).hex()}"
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1) + f"/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def load(dovecot: DovecotServer, account, messages: list[bytes]) -> float:
    started = time.perf_counter()
    with IMAPClient(dovecot.host, dovecot.plain_port, ssl=False, timeout=60) as client:
        client.login(account.username, account.password)
        for start in range(0, len(messages), 200):
            client.multiappend("INBOX", messages[start:start + 200])
    return time.perf_counter() - started


def fetch_and_parse(settings, batch_size: int) -> tuple[int, float, float]:
    """Fetch every message (read-only in effect: BODY.PEEK, nothing moved) and parse it."""
    imap = settings.imap
    options = settings.parse_options()
    started, cpu = time.perf_counter(), time.process_time()
    n = 0
    with ImapMailbox(imap.host, imap.port, imap.username, os.environ[PASSWORD_ENV],
                     security=imap.security, ca_file=str(imap.ca_file), timeout=imap.timeout) as box:
        for raw in box.fetch_new(FolderState(None, 0), batch_size):
            parsers.parse(raw.data, options)
            n += 1
    return n, time.perf_counter() - started, time.process_time() - cpu


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", "--count", type=int, default=2000, help="messages to load (default 2000)")
    ap.add_argument("--batch-size", type=int, default=100)
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="folder of .eml samples")
    ap.add_argument("--db-url", help="store URL of an empty database (default: a SQLite file in a temp folder)")
    ap.add_argument("--postgres", action="store_true",
                    help="use a throwaway database on the PostgreSQL of HELPDESK_TEST_PG (created and dropped)")
    ap.add_argument("--in-process-smtp", action="store_true",
                    help="use the recording aiosmtpd thread of the tests (competes with the worker for the GIL)")
    ap.add_argument("--profile", type=Path, help="write a cProfile of the full cycle to this file")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    samples = [p.read_bytes() for p in sorted(args.corpus.glob("*.eml"))]
    if not samples:
        ap.error(f"no .eml files in {args.corpus}")
    messages = generate(samples, args.count)
    work = Path(tempfile.mkdtemp(prefix="helpdesk-bench-"))
    dovecot = DovecotServer.start()
    smtp = SmtpServer.start("plain") if args.in_process_smtp else SmtpSinkProcess.start()
    stack = contextlib.ExitStack()
    try:
        account = dovecot.new_account()
        os.environ[PASSWORD_ENV] = account.password
        os.environ.pop("HELPDESK_DATABASE_URL", None)
        db_url = args.db_url or f"sqlite:///{work / 'bench.sqlite3'}"
        if args.postgres:
            db_url = stack.enter_context(throwaway_pg_database())
        config = write_worker_config(work / "config.toml", dovecot, account, smtp, db_url,
                                     password_env=PASSWORD_ENV, batch_size=args.batch_size,
                                     # the samples repeat their senders: lift the per-sender cap
                                     extra="[helpdesk]\nreplies_per_sender_per_hour = 1000000\n")
        upgrade_database(db_url)
        settings = load_settings(config)
        print(f"loading {len(messages)} messages ({sum(map(len, messages)) / 1e6:.1f} MB) "
              f"from {len(samples)} samples: {load(dovecot, account, messages):.1f}s")

        for data in samples:  # warm up (imports, compiled patterns) so neither phase pays for it
            parsers.parse(data, settings.parse_options())
        fetched, fp_seconds, fp_cpu = fetch_and_parse(settings, args.batch_size)
        print(f"fetch+parse : {fetched} msgs in {fp_seconds:.2f}s = {fetched / fp_seconds:.0f} msgs/s")

        ctx = build_context(settings)
        now = datetime.now(timezone.utc)
        profiler = cProfile.Profile() if args.profile else None
        if profiler:
            profiler.enable()
        started, cpu = time.perf_counter(), time.process_time()
        poll = poll_once(ctx, now)
        poll_seconds = time.perf_counter() - started
        sent = send_pending(ctx.store, make_transport(settings), settings, now)
        while sent.ok and sent.sent < poll.replies_queued:  # one outbox run sends at most 1000
            more = send_pending(ctx.store, make_transport(settings), settings, now)
            sent.sent, sent.failed, sent.error = sent.sent + more.sent, sent.failed + more.failed, more.error
            if not more.sent:
                break
        full_seconds, full_cpu = time.perf_counter() - started, time.process_time() - cpu
        if profiler:
            profiler.disable()
            profiler.dump_stats(args.profile)
        ctx.store.close()
        print(f"full cycle  : {poll.fetched} msgs in {full_seconds:.2f}s = {poll.fetched / full_seconds:.0f} msgs/s"
              f"  (poll {poll_seconds:.2f}s, send {full_seconds - poll_seconds:.2f}s: "
              f"{sent.sent} replies accepted by the SMTP server)")
        print(f"stored {poll.count('new')} new, {poll.count('duplicate')} duplicate, {poll.count('failed')} failed;"
              f" error={poll.error or sent.error}")
        ratio = full_seconds / fp_seconds
        print(f"ratio full/fetch+parse time: {ratio:.2f} (target < 2); "
              f"worker CPU {full_cpu:.2f}s / {fp_cpu:.2f}s = {full_cpu / fp_cpu:.2f}")
        ok = poll.ok and sent.ok and poll.fetched == fetched == len(messages)
        return 0 if ok else 1
    finally:
        stack.close()
        smtp.stop()
        dovecot.cleanup()


if __name__ == "__main__":
    sys.exit(main())
