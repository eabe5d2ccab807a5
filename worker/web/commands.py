"""The CLI's web commands: serve, staff add|disable, export-corrections (add_web_commands)."""
from __future__ import annotations

import argparse
import getpass
import logging
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import Settings, load_settings
if TYPE_CHECKING:  # the store (SQLAlchemy, argon2) loads only for commands that use it
    from ..store import Store

log = logging.getLogger(__name__)

class _Default(str):
    """A command-line default: config.toml's [web] value wins over it, an explicit flag not."""


class _DefaultPort(int):
    """The same for the port."""


DEFAULT_HOST = _Default("127.0.0.1")
DEFAULT_PORT = _DefaultPort(8080)


def _setup_logging(level: int) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)


def _open_store(settings: Settings) -> Store:
    from ..migrations import upgrade_database
    from ..store import Store

    upgrade_database(settings.database.url)
    return Store(settings.database.url)


def serve_options(args: argparse.Namespace, settings: Settings
                  ) -> tuple[str, int, bool, tuple[str, ...]]:
    """Host, port, secure cookies and allowed Host headers: the command line where it differs
    from the defaults, else config.toml's [web]; the listening host is always allowed."""
    w = settings.web
    host = w.host if isinstance(args.host, _Default) else args.host
    port = w.port if isinstance(args.port, _DefaultPort) else args.port
    allowed = tuple(dict.fromkeys([*w.allowed_hosts, host]))
    return host, port, bool(args.secure_cookies or w.secure_cookies), allowed


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from .app import create_app

    _setup_logging(logging.INFO)
    settings = load_settings(args.config)
    host, port, secure, allowed = serve_options(args, settings)
    store = _open_store(settings)
    app = create_app(settings, store, secure_cookies=secure, allowed_hosts=allowed)
    print(f"helpdesk: staff app on http://{host}:{port}/ (Ctrl-C stops it)", flush=True)
    try:
        # no access log: query strings carry searched person IDs and requester names
        uvicorn.run(app, host=host, port=port, access_log=False, server_header=False,
                    proxy_headers=False, log_config=None, workers=1)
    finally:
        store.close()
    return 0


def _read_password(args: argparse.Namespace) -> str | None:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        print("helpdesk: the passwords differ", file=sys.stderr)
        return None
    return first


def cmd_staff(args: argparse.Namespace) -> int:
    from ..staff import AccountError, add_account

    _setup_logging(logging.WARNING)
    settings = load_settings(args.config)
    password = _read_password(args)
    if password is None:
        return 1
    store = _open_store(settings)
    try:
        with store.session() as session:
            account = add_account(session, args.name, password, datetime.now(timezone.utc))
            name = account.name
    except AccountError as exc:
        print(f"helpdesk: {exc}", file=sys.stderr)
        return 1
    finally:
        store.close()
    print(f"staff account {name} saved")
    return 0


def cmd_staff_disable(args: argparse.Namespace) -> int:
    from ..staff import disable_account

    _setup_logging(logging.WARNING)
    store = _open_store(load_settings(args.config))
    try:
        with store.session() as session:
            found = disable_account(session, args.name)
    finally:
        store.close()
    if not found:
        print(f"helpdesk: no staff account {args.name}", file=sys.stderr)
        return 1
    print(f"staff account {args.name.strip().lower()} disabled; its sessions have ended")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from .export import export_corrections

    _setup_logging(logging.WARNING)
    settings = load_settings(args.config)
    store = _open_store(settings)
    try:
        report = export_corrections(store, Path(args.directory))
    finally:
        store.close()
    print(f"{len(report.written)} corrected sample(s) written to {args.directory}"
          + (f", {report.skipped} without a stored message skipped" if report.skipped else ""))
    return 0


def add_web_commands(sub: Any) -> None:
    """Register serve, staff add and export-corrections; each takes --config PATH."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", default="config.toml", metavar="PATH",
                        help="config file (default ./config.toml)")
    p = sub.add_parser("serve", parents=[common], help="run the staff web app")
    p.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on ({DEFAULT_HOST})")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port ({DEFAULT_PORT})")
    p.add_argument("--secure-cookies", action="store_true",
                   help="send the session cookie over HTTPS only (behind a TLS proxy)")
    p.set_defaults(func=cmd_serve)
    p = sub.add_parser("staff", help="staff accounts of the web app")
    staff_sub = p.add_subparsers(dest="staff_command", required=True)
    add = staff_sub.add_parser("add", parents=[common],
                               help="create a staff account or set its password")
    add.add_argument("name")
    add.add_argument("--password-stdin", action="store_true",
                     help="read the password from the first line of standard input")
    add.set_defaults(func=cmd_staff)
    off = staff_sub.add_parser("disable", parents=[common],
                               help="stop an account logging in and end its sessions")
    off.add_argument("name")
    off.set_defaults(func=cmd_staff_disable)
    p = sub.add_parser("export-corrections", parents=[common],
                       help="write staff-corrected tickets as labelled samples (NAME.eml + NAME.json)")
    p.add_argument("directory", metavar="DIR")
    p.set_defaults(func=cmd_export)
