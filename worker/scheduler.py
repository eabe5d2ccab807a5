"""The scheduled worker: interval jobs poll_once and send_pending (APScheduler 3), never overlapping."""
from __future__ import annotations

import logging
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from types import FrameType

from apscheduler.schedulers.blocking import BlockingScheduler

from .alerts import check_poll_alert
from .edges import make_mailbox, make_transport, utcnow
from .outbox import SendReport, SentAppender, send_pending
from .pipeline import CycleReport, WorkerContext, poll_once
from .retention import retention_job

log = logging.getLogger(__name__)


@dataclass
class OnceReport:
    poll: CycleReport
    send: SendReport


class PollBackoff:
    """After failed polls, wait longer before the next: poll_seconds, then doubling, at most
    16 intervals or 15 minutes. A success resets it. Monotonic clock: immune to clock changes."""

    MAX_SECONDS = 900.0

    def __init__(self, interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval, self.clock = max(0.0, interval), clock
        self.failures = 0
        self.not_before = 0.0

    def ready(self) -> bool:
        return self.clock() >= self.not_before

    def record(self, ok: bool) -> None:
        if ok:
            self.failures, self.not_before = 0, 0.0
            return
        self.failures += 1
        delay = min(self.interval * 2 ** (self.failures - 1), 16 * self.interval,
                    self.MAX_SECONDS)
        self.not_before = self.clock() + delay
        log.warning("poll failed %d time(s) in a row; next try in %.0fs", self.failures, delay)


def poll_job(ctx: WorkerContext, backoff: PollBackoff | None = None) -> CycleReport | None:
    if backoff is not None and not backoff.ready():
        return None  # backing off after a failure
    report = poll_once(ctx, utcnow())
    if backoff is not None and not report.skipped:
        backoff.record(report.ok)
    if report.fetched or report.error:
        log.info("poll: %d fetched, %d new, %d follow-up, %d duplicate, %d failed, %d replies "
                 "queued in %.2fs%s", report.fetched, report.count("new"),
                 report.count("follow_up"), report.count("duplicate"), report.count("failed"),
                 report.replies_queued, report.seconds, " (error)" if report.error else "")
    return report


def send_job(ctx: WorkerContext) -> SendReport:
    settings = ctx.settings
    appender = SentAppender(lambda: make_mailbox(settings)) if settings.imap.sent_folder else None
    try:
        report = send_pending(ctx.store, make_transport(settings), settings, utcnow(), appender)
    finally:
        if appender is not None:
            appender.__exit__(None, None, None)
    if report.sent or report.failed or report.retrying or report.error:
        log.info("send: %d sent, %d retrying, %d failed, %d held", report.sent, report.retrying,
                 report.failed, report.held)
    try:  # here, not in the poll job: a hanging SMTP server never holds up polling
        check_poll_alert(ctx.store, settings, make_transport(settings), utcnow())
    except Exception as exc:  # noqa: BLE001 - the store may be down; next run tries again
        log.warning("poll alert check failed (%s)", type(exc).__name__)
    return report


def run_once(ctx: WorkerContext) -> OnceReport:
    """One poll then one send: what `helpdesk run --once` and cron use."""
    poll = poll_job(ctx)
    assert poll is not None  # no back-off without one
    return OnceReport(poll=poll, send=send_job(ctx))


def build_scheduler(ctx: WorkerContext) -> BlockingScheduler:
    """Poll every poll_seconds and send every send_seconds; a job never overlaps itself and
    missed runs collapse into one (max_instances=1, coalesce=True)."""
    scheduler = BlockingScheduler(timezone=timezone.utc)
    now = datetime.now(timezone.utc)
    common = {"max_instances": 1, "coalesce": True, "next_run_time": now,
              "misfire_grace_time": None}
    backoff = PollBackoff(ctx.settings.schedule.poll_seconds)
    scheduler.add_job(poll_job, "interval", args=[ctx, backoff], id="poll",
                      seconds=ctx.settings.schedule.poll_seconds, **common)
    scheduler.add_job(send_job, "interval", args=[ctx], id="send",
                      seconds=ctx.settings.schedule.send_seconds, **common)
    scheduler.add_job(retention_job, "interval", args=[ctx], id="retention", hours=6, **common)
    return scheduler


def run_forever(ctx: WorkerContext) -> None:
    """Run the scheduled jobs until SIGINT/SIGTERM (then finish the running jobs and stop)."""
    scheduler = build_scheduler(ctx)

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %d: stopping after the running jobs", signum)
        scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("worker started: poll every %ds, send every %ds", ctx.settings.schedule.poll_seconds,
             ctx.settings.schedule.send_seconds)
    scheduler.start()
