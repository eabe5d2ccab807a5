"""`helpdesk run`'s scheduler: its jobs run on their own, never overlapping; mail gets answered."""
from __future__ import annotations

import threading
import time
from pathlib import Path

from worker.scheduler import build_scheduler

from tests.worker.worker_setup import (CORPUS, close_stores, deliver, folder_count,  # noqa: F401
                                       make_ctx, make_settings, outbox_files)


def test_scheduled_worker_polls_and_sends_until_stopped(tmp_path: Path, sqlite_url: str) -> None:
    settings = make_settings(tmp_path, sqlite_url, "[schedule]\npoll_seconds = 1\nsend_seconds = 1\n")
    ctx = make_ctx(settings)
    scheduler = build_scheduler(ctx)
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert set(jobs) == {"poll", "send", "retention"}  # retention: issue 4 purge job
    assert all(j.max_instances == 1 and j.coalesce for j in jobs.values())
    deliver(settings, (CORPUS / "001-add_address-foster-placement-clean.eml").read_bytes())
    runner = threading.Thread(target=scheduler.start, daemon=True)
    runner.start()
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not outbox_files(settings):
            time.sleep(0.1)  # polling for the worker's result, not synchronising with it
        deliver(settings, (CORPUS / "049-account_locked-too-many-attempts.eml").read_bytes())
        while time.monotonic() < deadline and len(outbox_files(settings)) < 2:
            time.sleep(0.1)
    finally:
        scheduler.shutdown(wait=True)
        runner.join(10)
    assert len(outbox_files(settings)) == 2
    assert folder_count(settings) == 0 and folder_count(settings, "Processed") == 2
