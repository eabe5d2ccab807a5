"""load_settings(path) -> Settings: config.toml read once into frozen dataclasses."""
from __future__ import annotations

import dataclasses
import logging
import os
import tomllib
from dataclasses import dataclass, field
from datetime import date, time
from pathlib import Path
from typing import Any

from parsers import ParseOptions

log = logging.getLogger(__name__)

DATABASE_URL_ENV = "HELPDESK_DATABASE_URL"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class ConfigError(ValueError):
    """The config file is missing, malformed, or names a key we do not know."""


@dataclass(frozen=True)
class HelpdeskSettings:
    name: str = "MDaS Mosaic Help Desk"
    address: str = "mosaic.helpdesk@example-council.gov.uk"
    reference_prefix: str = "MDHD"
    message_id_domain: str = "helpdesk.example-council.gov.uk"
    opening_days: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri")
    closed_dates: tuple[date, ...] = ()  # bank holidays and other closures, ISO dates
    opening_time: time = time(8, 0)
    closing_time: time = time(17, 30)
    timezone: str = "Europe/London"
    it_service_desk_phone: str = "01522 555000"
    it_service_desk_option: str = "option 2"
    local_support_text: str = ("Please speak to your team manager or your practice lead, "
                               "who can advise on practice and recording standards.")
    min_explanation_words: int = 12
    triage_below_confidence: float = 0.45
    replies_per_sender_per_hour: int = 5
    max_message_bytes: int = 25_000_000
    # automatic replies on one ticket to one address: none again within this many hours unless
    # the sender's mail filled a missing field (a loop with an auto-responder stops at one)
    repeat_reply_hours: int = 24
    # closed tickets (resolved, redirected, ignored, superseded) this long after their last
    # change lose their raw message, texts and personal fields; 0 keeps everything
    retention_days: int = 365
    # when set, mail from other domains becomes an `external` triage ticket, answered without
    # any parsed detail (lower-case domains; a subdomain of one counts)
    allowed_sender_domains: tuple[str, ...] = ()
    # a failing DMARC/SPF/DKIM verdict in Authentication-Results counts as an external sender
    distrust_failed_authentication: bool = True


@dataclass(frozen=True)
class ImapSettings:
    host: str = "localhost"
    port: int = 993
    username: str = ""
    password_env: str = "HELPDESK_IMAP_PASSWORD"
    security: str = "tls"
    inbox: str = "INBOX"
    processed_folder: str = "Processed"
    failed_folder: str = "Failed"
    sent_folder: str | None = None
    timeout: float = 30.0
    verify_tls: bool = True
    ca_file: Path | None = None


@dataclass(frozen=True)
class SmtpSettings:
    host: str = "localhost"
    port: int = 465
    security: str = "tls"
    username: str | None = None
    password_env: str | None = None
    timeout: float = 30.0
    verify_tls: bool = True
    ca_file: Path | None = None


@dataclass(frozen=True)
class MailboxSettings:
    kind: str = "maildir"  # maildir | imap
    name: str = "default"
    path: Path = Path("var/mailbox")
    batch_size: int = 100


@dataclass(frozen=True)
class OutboxSettings:
    kind: str = "maildir"  # maildir | smtp
    path: Path = Path("var/outbox")
    max_attempts: int = 24
    retry_base_seconds: int = 60


@dataclass(frozen=True)
class DatabaseSettings:
    url: str = "sqlite:///var/helpdesk.sqlite3"


@dataclass(frozen=True)
class ScheduleSettings:
    poll_seconds: int = 60
    send_seconds: int = 30


@dataclass(frozen=True)
class AlertSettings:
    staff_address: str = ""  # emailed once when polling has failed for poll_failing_minutes
    poll_failing_minutes: int = 30  # also when `helpdesk status` exits non-zero


@dataclass(frozen=True)
class WebSettings:
    host: str = "127.0.0.1"
    port: int = 8080
    # Host headers the app answers (Starlette TrustedHostMiddleware, against DNS rebinding)
    allowed_hosts: tuple[str, ...] = ("127.0.0.1", "localhost")
    secure_cookies: bool = False


@dataclass(frozen=True)
class TemplatesSettings:
    dir: Path = Path("templates")


@dataclass(frozen=True)
class Settings:
    helpdesk: HelpdeskSettings = field(default_factory=HelpdeskSettings)
    mailbox: MailboxSettings = field(default_factory=MailboxSettings)
    imap: ImapSettings = field(default_factory=ImapSettings)
    outbox: OutboxSettings = field(default_factory=OutboxSettings)
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    schedule: ScheduleSettings = field(default_factory=ScheduleSettings)
    templates: TemplatesSettings = field(default_factory=TemplatesSettings)
    alerts: AlertSettings = field(default_factory=AlertSettings)
    web: WebSettings = field(default_factory=WebSettings)
    path: Path | None = None  # the file these came from

    def parse_options(self) -> ParseOptions:
        """What the pure parser needs from config."""
        h = self.helpdesk
        return ParseOptions(min_explanation_words=h.min_explanation_words,
                            triage_below_confidence=h.triage_below_confidence,
                            reference_prefix=h.reference_prefix,
                            # our address, and our Message-ID domain: our own replies coming
                            # back (a CC, a forwarding loop) are screened, never answered
                            own_addresses=(h.address.lower(), h.message_id_domain.lower()))


def _convert(section: str, key: str, value: Any, default: Any, annotation: str,
             base: Path) -> Any:
    where = f"[{section}] {key}"
    if "Path" in annotation:
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a path string")
        p = Path(value).expanduser()
        return p if p.is_absolute() else base / p
    if annotation == "time":
        try:
            hh, mm = str(value).split(":")
            return time(int(hh), int(mm))
        except ValueError as exc:
            raise ConfigError(f"{where}: expected HH:MM, got {value!r}") from exc
    if annotation == "tuple[date, ...]":
        try:
            return tuple(sorted(date.fromisoformat(str(v)) for v in value))
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{where}: expected a list of YYYY-MM-DD dates") from exc
    if annotation.startswith("tuple"):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where}: expected a list of strings")
        if key == "opening_days":
            return tuple(v.lower()[:3] for v in value)
        return tuple(v.strip().lower().lstrip("@") if key.endswith("domains") else v.strip()
                     for v in value if v.strip())
    if annotation == "bool":
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false")
        return value
    if annotation in ("int", "float"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number")
        return int(value) if annotation == "int" else float(value)
    if value is not None and not isinstance(value, str):
        raise ConfigError(f"{where}: expected a string")
    if value == "" and "None" in annotation:
        return None
    return value


def _section(cls: type, name: str, raw: dict[str, Any], base: Path) -> Any:
    if not isinstance(raw, dict):
        raise ConfigError(f"[{name}] must be a table")
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise ConfigError(f"[{name}] unknown key(s): {', '.join(unknown)}")
    values: dict[str, Any] = {}
    for key, f in known.items():
        default = f.default if f.default is not dataclasses.MISSING else None
        if key in raw:
            values[key] = _convert(name, key, raw[key], default, str(f.type), base)
        elif isinstance(default, Path):
            values[key] = base / default
    return cls(**values)


def _validate(s: Settings) -> None:
    choices = {("mailbox", "kind"): (s.mailbox.kind, ("maildir", "imap")),
               ("outbox", "kind"): (s.outbox.kind, ("maildir", "smtp")),
               ("imap", "security"): (s.imap.security, ("tls", "starttls", "plain")),
               ("smtp", "security"): (s.smtp.security, ("tls", "starttls", "plain"))}
    for (section, key), (value, allowed) in choices.items():
        if value not in allowed:
            raise ConfigError(f"[{section}] {key} must be one of {', '.join(allowed)}")
    bad_days = [d for d in s.helpdesk.opening_days if d not in WEEKDAYS]
    if bad_days:
        raise ConfigError(f"[helpdesk] opening_days: unknown day(s) {', '.join(bad_days)}")
    try:
        from zoneinfo import ZoneInfo
        ZoneInfo(s.helpdesk.timezone)
    except Exception as exc:  # ZoneInfoNotFoundError or a malformed key
        raise ConfigError(f"[helpdesk] timezone: unknown zone {s.helpdesk.timezone!r}") from exc


_CLASSES = {"helpdesk": HelpdeskSettings, "mailbox": MailboxSettings, "imap": ImapSettings,
            "outbox": OutboxSettings, "smtp": SmtpSettings, "database": DatabaseSettings,
            "schedule": ScheduleSettings, "templates": TemplatesSettings,
            "alerts": AlertSettings, "web": WebSettings}


def _sqlite_relative(url: str, base: Path) -> str:
    """A relative SQLite path is relative to the config file, like every other path."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and url != prefix + ":memory:":
        return prefix + str(base / url[len(prefix):])
    return url


def load_settings(path: str | Path) -> Settings:
    """Read config.toml; unknown sections/keys raise ConfigError naming them.

    Relative paths are resolved against the config file's folder. HELPDESK_DATABASE_URL, when
    set, overrides `[database] url`. Never reads a password: only the env var names.
    """
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"config file not found: {path}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    base = path.resolve().parent
    unknown = sorted(set(raw) - set(_CLASSES))
    if unknown:
        raise ConfigError(f"unknown section(s): {', '.join(unknown)}")
    parts = {name: _section(cls, name, raw.get(name, {}), base) for name, cls in _CLASSES.items()}
    db_url = os.environ.get(DATABASE_URL_ENV) or parts["database"].url
    parts["database"] = DatabaseSettings(url=_sqlite_relative(db_url, base))
    settings = Settings(**parts, path=path.resolve())
    _validate(settings)
    return settings


def secret_from_env(name: str | None, what: str) -> str | None:
    """The value of the env var a config key names (None when no name is configured)."""
    if not name:
        return None
    value = os.environ.get(name)
    if value is None:
        raise ConfigError(f"{what}: environment variable {name} is not set")
    return value
