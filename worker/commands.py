"""The CLI's worker commands (run, demo, tickets, show, db, replay, status); with cli.py, the only printing."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from email import message_from_bytes
from email.policy import default as default_policy
from typing import TYPE_CHECKING, Any

from .config import ConfigError, Settings, load_settings

if TYPE_CHECKING:  # the store (SQLAlchemy) is imported only by commands that use it, so
    from .store import Store, Ticket  # `helpdesk parse` starts fast

__all__ = ["ConfigError", "add_worker_commands"]


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(args.config)


def _store(settings: Settings) -> Store:
    from .migrations import upgrade_database
    from .store import Store

    upgrade_database(settings.database.url)
    return Store(settings.database.url)


def cmd_run(args: argparse.Namespace) -> int:
    _setup_logging(True)
    from .edges import build_context, make_mailbox, make_transport
    from .scheduler import run_forever, run_once

    settings = _settings(args)
    make_mailbox(settings)  # a missing password variable stops us here, named,
    make_transport(settings)  # not at every poll
    store = _store(settings)
    ctx = build_context(settings, store)
    try:
        if not args.once:
            run_forever(ctx)
            return 0
        once = run_once(ctx)
    finally:
        store.close()
    p, s = once.poll, once.send
    if p.skipped:
        print("poll: skipped, another worker is polling this mailbox")
    print(f"poll: {p.fetched} fetched, {p.count('new')} new, {p.count('follow_up')} follow-up, "
          f"{p.count('duplicate')} already stored, {p.count('failed')} failed, "
          f"{p.replies_queued} replies queued, {p.seconds:.2f}s")
    print(f"send: {s.sent} sent, {s.retrying} to retry, {s.failed} failed, {s.held} held")
    if p.error:
        print(f"poll failed: {p.error}", file=sys.stderr)
    if s.error:
        print(f"send failed: {s.error}", file=sys.stderr)
    return 1 if p.error else 0


def cmd_demo(args: argparse.Namespace) -> int:
    _setup_logging(args.verbose)
    from .demo import run_demo

    report = run_demo(_settings(args))
    p = report.poll
    print(f"Seeded the Maildir inbox with {report.seeded} sample messages; one cycle: "
          f"{p.fetched} fetched, {p.count('new')} new, {p.count('follow_up')} follow-up(s), "
          f"{p.count('duplicate')} already stored, in {p.seconds:.2f}s.\n")
    print(f"{'reference':<12} {'type':<22} {'action':<16} {'status':<17} missing")
    for t in report.tickets:
        note = "  (from an earlier demo run)" if t.earlier else ""
        print(f"{t.reference:<12} {t.type:<22} {t.action:<16} {t.status:<17} "
              f"{', '.join(t.missing) or '-'}{note}")
        for reply in t.replies:
            print(f"{'':<12} reply: {reply}")
    s = report.send
    print(f"\nReplies: {s.sent} sent, {s.held} held, {s.failed} failed, {s.retrying} to retry. "
          f"They are files in the outbox Maildir {report.outbox_path}/new"
          + (f", with a copy in the mailbox's {report.sent_folder} folder." if report.sent_folder
             else "."))
    print("See one ticket with: helpdesk show REFERENCE")
    return 0 if p.ok else 1


def _ticket_row(t: Ticket) -> dict[str, Any]:
    return {"reference": t.reference, "received": t.created_at.isoformat(timespec="seconds"),
            "requester": t.requester_email, "type": t.type, "action": t.action,
            "status": t.status, "missing": list(t.missing)}


def cmd_tickets(args: argparse.Namespace) -> int:
    from .store import list_tickets

    _setup_logging(False)
    store = _store(_settings(args))
    try:
        with store.session() as session:
            rows = [_ticket_row(t) for t in list_tickets(session, args.status, args.type)]
    finally:
        store.close()
    if args.json:
        for row in rows:
            print(json.dumps(row, ensure_ascii=False))
        return 0
    print(f"{'reference':<12} {'received':<20} {'requester':<40} {'type':<22} {'status':<17} "
          "missing")
    for r in rows:
        print(f"{r['reference']:<12} {r['received'][:19]:<20} {(r['requester'] or '-'):<40} "
              f"{r['type']:<22} {r['status']:<17} {', '.join(r['missing']) or '-'}")
    return 0


def _reply_summary(data: bytes) -> dict[str, Any]:
    msg = message_from_bytes(data, policy=default_policy)
    return {"subject": str(msg.get("Subject", "")), "message_id": str(msg.get("Message-ID", ""))}


def ticket_detail(store: Store, reference: str) -> dict[str, Any] | None:
    from .store import messages_of_ticket, replies_of_ticket, ticket_by_reference, tickets_naming

    with store.session() as session:
        t = ticket_by_reference(session, reference)
        if t is None:
            return None
        messages = [{"received": m.received_at.isoformat(timespec="seconds"),
                     "subject": m.subject, "from": m.sender_email, "text": m.masked_text,
                     "parse_error": m.parse_error} for m in messages_of_ticket(session, t.id or 0)]
        replies = [{"kind": r.kind, "status": r.status, "to": r.recipients,
                    "attempts": r.attempts, "sent_at": r.sent_at.isoformat(timespec="seconds")
                    if r.sent_at else None, "last_error": r.last_error,
                    **_reply_summary(r.data)} for r in replies_of_ticket(session, t.id or 0)]
        return {**_ticket_row(t), "fields": t.fields, "parsed_fields": t.parsed_fields,
                "confidence": t.confidence, "cues": t.cues, "notes": t.notes,
                "sensitive": t.sensitive, "sensitive_kinds": t.sensitive_kinds,
                "requester_name": t.requester_name, "requester_team": t.requester_team,
                "requester_phone": t.requester_phone, "messages": messages, "replies": replies,
                "external": t.external, "auth_failures": t.auth_failures,
                "last_reply_error": t.last_reply_error,
                "linked_to": _reference_of(session, t.linked_ticket_id),
                "named_by": [n.reference for n in tickets_naming(session, t.id or 0)],
                "purged_at": t.purged_at.isoformat(timespec="seconds") if t.purged_at else None}


def _reference_of(session: Any, ticket_id: int | None) -> str | None:
    from .store import Ticket

    row = session.get(Ticket, ticket_id) if ticket_id else None
    return row.reference if row is not None else None


def cmd_show(args: argparse.Namespace) -> int:
    _setup_logging(False)
    store = _store(_settings(args))
    try:
        detail = ticket_detail(store, args.reference)
    finally:
        store.close()
    if detail is None:
        print(f"no ticket {args.reference}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(detail, ensure_ascii=False, default=str))
        return 0
    print(f"{detail['reference']}  {detail['type']}  {detail['status']} (action {detail['action']})"
          f"  confidence {detail['confidence']:.2f}{'  SENSITIVE' if detail['sensitive'] else ''}")
    print(f"requester: {detail['requester_name'] or '-'} <{detail['requester'] or '-'}>"
          f"  team: {detail['requester_team'] or '-'}  phone: {detail['requester_phone'] or '-'}")
    if detail["external"] or detail["auth_failures"]:
        why = ("authentication " + ", ".join(detail["auth_failures"])
               if detail["auth_failures"] else "outside the allowed sender domains")
        print(f"EXTERNAL sender: {why}")
    if detail["last_reply_error"]:
        print(f"reply problem: {detail['last_reply_error']}")
    if detail["linked_to"]:
        print(f"linked to: {detail['linked_to']} (named it from outside its conversation)")
    if detail["named_by"]:
        print(f"named by: {', '.join(detail['named_by'])} (mail from outside this conversation "
              "naming this ticket)")
    if detail["purged_at"]:
        print(f"personal data purged (retention) at {detail['purged_at']}")
    print("fields:")
    for k, v in detail["fields"].items():
        print(f"  {k}: {json.dumps(v, ensure_ascii=False) if not isinstance(v, str) else v}")
    print(f"missing: {', '.join(detail['missing']) or '-'}")
    if detail["notes"]:
        print(f"notes: {', '.join(detail['notes'])}")
    print("cues:")
    for c in detail["cues"]:
        print(_cue_line(c))
    for i, m in enumerate(detail["messages"], 1):
        print(f"\n--- message {i}: {m['received']} from {m['from'] or '-'}: {m['subject'] or ''}")
        if m["parse_error"]:
            print(f"(could not be parsed: {m['parse_error']})")
        print((m["text"] or "").rstrip())
    print("\nreplies:")
    for r in detail["replies"] or []:
        print(f"  {r['kind']}: {r['status']} to {', '.join(r['to'])} at {r['sent_at'] or '-'} "
              f"(attempts {r['attempts']}){'  error: ' + r['last_error'] if r['last_error'] else ''}")
    if not detail["replies"]:
        print("  none")
    return 0


def _cue_line(c: dict[str, Any]) -> str:
    """One cue for staff: what it decided, the rule, its weight, the line and words it read."""
    weight = f" {c['weight']:+.2f}" if c.get("weight") else ""
    line = f" (line {c['line']})" if c.get("line") else ""
    text = f": \"{c['text']}\"" if c.get("text") else ""
    return f"  {c.get('target')}: {c.get('rule')}{weight}{line}{text}"


def cmd_reparse(args: argparse.Namespace) -> int:
    _setup_logging(args.verbose)
    from .edges import utcnow
    from .reparse import format_report, reparse_tickets

    settings = _settings(args)
    store = _store(settings)
    try:
        report = reparse_tickets(store, settings.parse_options(), utcnow(),
                                 apply=not args.dry_run, references=args.references or None)
    finally:
        store.close()
    print("\n".join(format_report(report, args.dry_run)))
    return 0


def cmd_db(args: argparse.Namespace) -> int:
    _setup_logging(True)
    from .migrations import current_revision, upgrade_database

    settings = _settings(args)
    upgrade_database(settings.database.url)
    print(f"database at revision {current_revision(settings.database.url)}")
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    _setup_logging(True)
    from .edges import make_mailbox
    from .mailbox import MailboxUnavailableError

    try:
        with make_mailbox(_settings(args)) as mailbox:
            moved = mailbox.replay_failed()
    except MailboxUnavailableError as exc:
        print(f"replay failed: the mailbox is unreachable ({exc}); nothing was moved",
              file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - an IMAP refusal (NO/BAD): clean message, no traceback
        print(f"replay failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(f"{moved} message(s) moved from the failed folder back to the inbox")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """Exit 0 when healthy, 1 when polling has failed too long, 2 when the store is unreachable."""
    _setup_logging(False)
    from .edges import make_mailbox, utcnow
    from .status import collect_status, format_status
    from .store import Store

    settings = _settings(args)
    try:
        store = Store(settings.database.url)
        try:
            status = collect_status(store, settings, utcnow(),
                                    None if args.no_mailbox else lambda: make_mailbox(settings))
        finally:
            store.close()
    except Exception as exc:  # noqa: BLE001 - the store is down: say so, no traceback
        error = type(exc).__name__
        if args.json:
            print(json.dumps({"healthy": False, "store_error": error}))
        else:
            print(f"status: FAILING - the store is unreachable ({error})", file=sys.stderr)
        return 2
    print(json.dumps(status) if args.json else format_status(status))
    return 0 if status["healthy"] else 1


def add_worker_commands(sub: Any) -> None:
    """Register run, demo, tickets, show, db upgrade and replay; each takes --config PATH."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", default="config.toml", metavar="PATH",
                        help="config file (default ./config.toml)")
    p = sub.add_parser("run", parents=[common], help="poll and send on a schedule")
    p.add_argument("--once", action="store_true", help="one poll and one send, then exit")
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("demo", parents=[common],
                       help="seed the local Maildir with samples and run one cycle")
    p.add_argument("-v", "--verbose", action="store_true", help="show the worker's log")
    p.set_defaults(func=cmd_demo)
    p = sub.add_parser("tickets", parents=[common], help="list tickets")
    p.add_argument("--status")
    p.add_argument("--type")
    p.add_argument("--json", action="store_true", help="one JSON line per ticket")
    p.set_defaults(func=cmd_tickets)
    p = sub.add_parser("show", parents=[common], help="one ticket in full")
    p.add_argument("reference")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_show)
    p = sub.add_parser("db", parents=[common], help="database schema")
    p.add_argument("action", choices=["upgrade"])
    p.set_defaults(func=cmd_db)
    p = sub.add_parser("status", parents=[common],
                       help="polling, waiting mail and outbox backlog; non-zero if failing")
    p.add_argument("--json", action="store_true")
    p.add_argument("--no-mailbox", action="store_true",
                   help="do not connect to the mailbox (store only)")
    p.set_defaults(func=cmd_status)
    p = sub.add_parser("reparse", parents=[common],
                       help="re-read stored tickets with the current parser (never replies)")
    p.add_argument("references", nargs="*", metavar="REFERENCE", help="only these tickets")
    p.add_argument("--dry-run", action="store_true", help="list the changes, change nothing")
    p.add_argument("-v", "--verbose", action="store_true", help="show the worker's log")
    p.set_defaults(func=cmd_reparse)
    p = sub.add_parser("replay", parents=[common],
                       help="move failed messages back to the inbox for another try")
    p.set_defaults(func=cmd_replay)
