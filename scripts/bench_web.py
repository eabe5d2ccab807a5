#!/usr/bin/env python3
"""Benchmark: the staff app's queue page and search with 100,000 tickets in the store.

Fills a fresh store (SQLite in a temp dir, or --db URL) with N tickets of mixed types, statuses,
ages, IDs and requesters, starts `helpdesk serve` in its own process on a free loopback port, logs
in over HTTP and times, from this (second) process, full page responses:
  queue      the first page of all tickets, oldest first
  triage     the first page of status=triage (the tab staff live on)
  deep       a page 1,000 rows in, reached by the keyset cursor
  search-id   a person ID search (indexed search keys)
  search-mail a requester's address (20 tickets)
  search-who  a requester surname shared by 1 in 16 tickets (about 6,000 matches)
Reports p50/p95/max in milliseconds. Search keys (IDs, requester names) for every ticket:
`serve` builds them in the background at start; the first search waits for that once.
"""
from __future__ import annotations

import argparse
import os
import random
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert, text  # noqa: E402
from sqlmodel import select  # noqa: E402

from tests.servers import free_port  # noqa: E402
from tests.web.web_setup import Client, wait_for_http  # noqa: E402
from worker.migrations import upgrade_database  # noqa: E402
from worker.staff import add_account  # noqa: E402
from worker.store import Store, Ticket  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TYPES = ["add_address", "worker_account", "remove_lock", "incident", "person_record_change",
         "how_do_i", "duplicate_record", "unknown"]
STATUSES = ["triage", "awaiting_details", "ready", "in_progress", "resolved", "redirected",
            "ignored"]
WEIGHTS = [5, 10, 10, 5, 60, 5, 5]
FIRST_NAMES = ["Sam", "Amy", "Chloe", "Tomasz", "Priya", "Gareth", "Helena", "Jo", "Kerry-Ann"]
SURNAMES = ["Jones", "Patel", "Okafor", "Nowak", "Smith", "Brennan", "Marsh", "Evans", "Khan",
            "Whitfield", "Osei", "Rasmussen", "Landry", "Bellingham", "Ainsworth", "Dale"]
PASSWORD = "benchmark password"


def fill(url: str, n: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    start = datetime.now(timezone.utc) - timedelta(days=400)
    st = Store(url)
    try:
        with st.session() as session:
            add_account(session, "bench", PASSWORD, datetime.now(timezone.utc))
        rows = []
        for i in range(1, n + 1):
            type_ = rng.choice(TYPES)
            fields: dict = {}
            if type_ in ("add_address", "person_record_change", "incident"):
                fields["person_id"] = str(rng.randrange(1_000_000, 9_999_999))
            if type_ in ("remove_lock", "person_record_change"):
                fields["workstep_id"] = str(rng.randrange(10_000_000, 99_999_999))
            created = start + timedelta(seconds=i * 340 + rng.randrange(300))
            name = f"{rng.choice(FIRST_NAMES)} {rng.choice(SURNAMES)}"
            rows.append({"reference": f"MDHD-{i:06d}", "type": type_, "action": "ack",
                         "status": rng.choices(STATUSES, WEIGHTS)[0], "fields": fields,
                         "parsed_fields": fields, "edited_fields": [], "missing": [],
                         "cues": [], "notes": [], "confidence": 0.9, "subject": "Mosaic",
                         "requester_email": f"user{i % 5000}@example-council.gov.uk",
                         "requester_name": name, "sensitive": False,
                         "sensitive_kinds": [], "assignee": None,
                         "created_at": created, "updated_at": created})
            if len(rows) == 5000:
                with st.session() as session:
                    session.execute(insert(Ticket), rows)
                rows = []
        if rows:
            with st.session() as session:
                session.execute(insert(Ticket), rows)
        # planner statistics and (PostgreSQL) the visibility map, as autovacuum would leave them
        with st.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE" if url.startswith("postgresql") else "ANALYZE"))
    finally:
        st.close()


def timed(client: Client, path: str, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        reply = client.get(path)
        out.append((time.perf_counter() - t) * 1000)
        assert reply.status == 200, (path, reply.status)
    return out


def summary(name: str, ms: list[float]) -> str:
    ms = sorted(ms)
    p95 = ms[min(len(ms) - 1, int(round(0.95 * (len(ms) - 1))))]
    return (f"{name:<12} n={len(ms):<4} p50 {statistics.median(ms):7.1f} ms   "
            f"p95 {p95:7.1f} ms   max {ms[-1]:7.1f} ms")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tickets", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=100, help="requests timed per page")
    ap.add_argument("--db", help="SQLAlchemy URL of an EMPTY database (default: temp SQLite)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="helpdesk-bench-web-"))
    url = args.db or f"sqlite:///{tmp / 'helpdesk.sqlite3'}"
    config = tmp / "config.toml"
    config.write_text(f'[database]\nurl = "{url}"\n[templates]\ndir = "{REPO / "templates"}"\n'
                      f'[mailbox]\npath = "mailbox"\n[outbox]\npath = "outbox"\n')
    upgrade_database(url)
    t = time.perf_counter()
    fill(url, args.tickets)
    print(f"filled {args.tickets} tickets in {time.perf_counter() - t:.1f}s ({url.split(':')[0]})")

    port = free_port()
    env = dict(os.environ, HELPDESK_SESSION_SECRET=secrets.token_urlsafe(48))
    with open(tmp / "serve.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "worker.cli", "serve", "--config",
                                 str(config), "--port", str(port)], stdout=log,
                                stderr=subprocess.STDOUT, env=env, cwd=REPO)
    try:
        wait_for_http(port, proc)
        client = Client(f"http://127.0.0.1:{port}", timeout=300)
        assert client.login("bench", PASSWORD).status == 303
        t = time.perf_counter()
        client.get("/?q=1234567")  # waits for the search keys `serve` builds at start
        print(f"first search, {time.perf_counter() - t:.1f}s after login (search keys for "
              f"{args.tickets} tickets are built in the background when `serve` starts)")
        path = "/"
        for _ in range(20):  # follow the keyset cursor 1,000 rows in
            path = re.search(r'href="([^"]+)" rel="next"', client.get(path).body).group(1)
            path = path.replace("&amp;", "&")
        st = Store(url)
        with st.session() as session:
            pid = next(f["person_id"] for f in session.exec(select(Ticket.fields).limit(50))
                       if "person_id" in f)
        st.close()
        pages = {"queue": "/", "triage": "/?status=triage", "deep": path,
                 "search-id": f"/?q={pid}", "search-mail": "/?q=user123@example-council.gov.uk",
                 "search-who": "/?q=okafor"}
        for name, p in pages.items():
            timed(client, p, 3)  # warm
            rows = client.get(p).body.count('<a href="/tickets/')
            assert rows, f"{name}: no tickets on the page"  # never time an empty result
            print(summary(name, timed(client, p, args.runs)))
    finally:
        proc.terminate()
        proc.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
