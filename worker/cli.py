"""Command line: parse, run, demo, tickets, show, status, reparse, replay, db, serve, staff. Only the CLI prints."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from parsers import ParseOptions, ParseResult, parse

from .commands import ConfigError, add_worker_commands
from .web.commands import add_web_commands


def message_json(result: ParseResult) -> dict:
    msg = result.message
    if msg is None:
        return {}
    return {
        "message_id": msg.message_id,
        "subject": msg.subject,
        "date": msg.date.isoformat() if msg.date else None,
        "from": msg.sender.as_json(),
        "text": msg.text,
        "request_text": result.request_text,
        "attachments": [a.as_json() for a in msg.attachments]
        + [c.as_json() for a in msg.attachments for c in a.contained],
        "screen": result.screen,
        "defects": list(msg.defects),
    }


def parse_line(name: str, data: bytes, options: ParseOptions, with_message: bool,
               explain: bool = False) -> dict:
    """One `parse --json` output line for one file, as the catalogue describes."""
    try:
        result = parse(data, options)
    except Exception as exc:  # noqa: BLE001 - a parser bug must not lose the other files' lines
        return {"file": name, "error": f"{type(exc).__name__}: {exc}"}
    row: dict = {"file": name}
    if result.error:
        row["error"] = result.error
    else:
        row["requests"] = [r.as_json(explain=explain) for r in result.requests]
    if with_message:
        row["message"] = message_json(result)
    return row


def cmd_parse(args: argparse.Namespace) -> int:
    options = ParseOptions()
    status = 0
    for name in args.files:
        try:
            data = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
        except OSError as exc:
            row = {"file": name, "error": f"cannot read: {exc.strerror}"}
            status = 1
        else:
            row = parse_line(name, data, options, args.message, args.explain)
        if args.json:
            print(json.dumps(row, ensure_ascii=False, default=str), flush=True)
        else:
            for req in row.get("requests", []):
                print(f"{name}: {req['type']} {req['action']} missing={','.join(req['missing']) or '-'}")
            if "error" in row:
                print(f"{name}: error {row['error']}")
    return status


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="helpdesk", description=__doc__)
    sub = ap.add_subparsers(dest="command", required=True)
    add_worker_commands(sub)
    add_web_commands(sub)
    p = sub.add_parser("parse", help="parse .eml files offline (no server, no database)")
    p.add_argument("--json", action="store_true", help="one JSON line per file")
    p.add_argument("--message", action="store_true", help="include the normalised message")
    p.add_argument("--explain", action="store_true", help="include the cues behind each decision")
    p.add_argument("files", nargs="+")
    p.set_defaults(func=cmd_parse)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as exc:
        print(f"helpdesk: config: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
