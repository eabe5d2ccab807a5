"""Throwaway real servers for tests and benchmarks: Dovecot IMAP and an aiosmtpd SMTP sink on 127.0.0.1."""
from __future__ import annotations

import grp
import itertools
import logging
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session

log = logging.getLogger(__name__)

DOVECOT_BIN = os.environ.get("HELPDESK_TEST_DOVECOT", "/usr/sbin/dovecot")
START_TIMEOUT = 20.0


class ServerStartError(RuntimeError):
    """A test server could not be started (missing binary, bad config, port never opened)."""


def dies_with_us(cmd: list[str]) -> list[str]:
    """`cmd` prefixed so the child gets SIGTERM if this process dies (no orphaned servers after a kill)."""
    setpriv = shutil.which("setpriv")  # util-linux; PR_SET_PDEATHSIG survives the exec
    return [setpriv, "--pdeathsig", "TERM", *cmd] if setpriv else cmd


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_greeting(port: int, prefix: bytes, proc: subprocess.Popen | None = None,
                      timeout: float = START_TIMEOUT, tls: bool = False) -> None:
    """Block until a server on `port` sends a greeting starting with `prefix` (polls, no fixed sleep)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE  # only checking that it answers
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise ServerStartError(f"server exited with status {proc.returncode} before port {port} opened")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as raw:
                sock = ctx.wrap_socket(raw) if tls else raw
                with sock:
                    if sock.recv(64).startswith(prefix):
                        return
        except OSError as exc:
            last_error = exc
        time.sleep(0.02)  # polling interval while the server starts, not a synchronisation point
    raise ServerStartError(f"port {port} did not answer within {timeout}s: {last_error}")


@dataclass(frozen=True)
class TlsFiles:
    """A self-signed certificate for 127.0.0.1/localhost; `cert` doubles as the CA file."""

    cert: Path
    key: Path


def make_self_signed(directory: Path, name: str = "server") -> TlsFiles:
    """Generate a key and a self-signed certificate valid for 127.0.0.1 and localhost."""
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    if shutil.which("openssl") is None:
        raise ServerStartError("openssl not found: install it (scripts/test.sh does)")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )
    return TlsFiles(cert=cert, key=key)


def server_ssl_context(tls: TlsFiles) -> ssl.SSLContext:
    """A server-side TLS context for the in-process SMTP servers."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(tls.cert), str(tls.key))
    return ctx


def _mail_owner() -> tuple[int, int]:
    """Dovecot refuses uid 0 for mail access; as root, store mail as `nobody`."""
    if os.getuid() != 0:
        return os.getuid(), os.getgid()
    entry = pwd.getpwnam("nobody")
    return entry.pw_uid, entry.pw_gid


DOVECOT_CONF = """\
instance_name = helpdesk-test-{instance}
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
disable_plaintext_auth = no
auth_failure_delay = 0
auth_mechanisms = plain login
first_valid_uid = {uid}
first_valid_gid = {gid}
mail_uid = {uid}
mail_gid = {gid}
mail_location = maildir:~/Maildir
mail_fsync = never
{unprivileged}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users/%u
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
# No growing login delay for 127.0.0.1 after the wrong-password tests (Dovecot's auth penalty).
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
  {anvil_chroot}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {plain_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
    ssl = yes
  }}
}}
"""

# A non-root user cannot switch to the dovecot/dovenull users or chroot.
UNPRIVILEGED = """\
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {user}
service imap-login {{
  chroot =
}}
"""


@dataclass(frozen=True)
class ImapAccount:
    """One mail user on the test Dovecot: its own empty mailbox."""

    username: str
    password: str


@dataclass
class DovecotServer:
    """A Dovecot run in the foreground (`dovecot -F`) from a temporary config and Maildir."""

    root: Path
    plain_port: int
    tls_port: int
    tls: TlsFiles
    proc: subprocess.Popen | None = None
    _counter: itertools.count = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    host = "127.0.0.1"

    @classmethod
    def start(cls, root: Path | None = None) -> "DovecotServer":
        """Write a config into a fresh temp dir, start Dovecot and wait for both ports."""
        if not (os.path.isfile(DOVECOT_BIN) and os.access(DOVECOT_BIN, os.X_OK)):
            raise ServerStartError(f"{DOVECOT_BIN} not found: apt-get install dovecot-imapd")
        root = Path(root or tempfile.mkdtemp(prefix="helpdesk-dovecot-"))
        root.chmod(0o755)  # the mail uid (nobody when we are root) must reach home/
        for sub in ("run", "state", "home", "users"):
            (root / sub).mkdir(exist_ok=True)
        uid, gid = _mail_owner()
        os.chown(root / "home", uid, gid)
        server = cls(root=root, plain_port=free_port(), tls_port=free_port(), tls=make_self_signed(root))
        user = pwd.getpwuid(os.getuid()).pw_name
        (root / "dovecot.conf").write_text(DOVECOT_CONF.format(
            instance=os.getpid(), root=root, cert=server.tls.cert, key=server.tls.key, uid=uid, gid=gid,
            plain_port=server.plain_port, tls_port=server.tls_port,
            unprivileged="" if os.getuid() == 0 else UNPRIVILEGED.format(user=user, group=grp.getgrgid(os.getgid()).gr_name),
            anvil_chroot="" if os.getuid() == 0 else "chroot =",
        ))
        with open(root / "stderr.log", "wb") as stderr:  # the child keeps its own copy of the fd
            server.proc = subprocess.Popen(
                dies_with_us([DOVECOT_BIN, "-F", "-c", str(root / "dovecot.conf")]),
                stdout=subprocess.DEVNULL, stderr=stderr,
            )
        try:
            wait_for_greeting(server.plain_port, b"* OK", server.proc)
            wait_for_greeting(server.tls_port, b"* OK", server.proc, tls=True)
        except ServerStartError as exc:
            tail = server.log_tail()
            server.cleanup()
            raise ServerStartError(f"{exc}\n{tail}") from exc
        return server

    def log_tail(self, lines: int = 30) -> str:
        """The end of Dovecot's log and stderr, for failure messages."""
        out = []
        for name in ("dovecot.log", "stderr.log"):
            path = self.root / name
            if path.exists():
                out += path.read_text(errors="replace").splitlines()[-lines:]
        return "\n".join(out)

    def new_account(self) -> ImapAccount:
        """A fresh user with an empty mailbox: Dovecot re-reads the passwd-file when it changes."""
        with self._lock:
            n = next(self._counter)
            account = ImapAccount(username=f"desk{n}", password=f"pw-{n}-{os.urandom(4).hex()}")
        # One passwd-file per user (the passdb path holds %u): a new file is read on first login,
        # with no reliance on Dovecot noticing that a shared file changed.
        (self.root / "users" / account.username).write_text(
            f"{account.username}:{{PLAIN}}{account.password}::::::\n")
        return account

    def kick(self, username: str) -> None:
        """Drop every open IMAP connection of `username` from the server side (doveadm kick)."""
        doveadm = Path(DOVECOT_BIN).with_name("doveadm")
        if not doveadm.exists():
            doveadm = Path("/usr/bin/doveadm")
        subprocess.run([str(doveadm), "-c", str(self.root / "dovecot.conf"), "kick", username],
                       check=True, capture_output=True, timeout=20)

    def stop(self) -> None:
        """Terminate Dovecot (SIGTERM to the master stops its children) and wait for it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def cleanup(self) -> None:
        """Stop the server and remove its directory."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class ReceivedMail:
    """One accepted SMTP transaction."""

    sender: str
    recipients: list[str]
    data: bytes

    @property
    def message(self) -> Message:
        return message_from_bytes(self.data)


class RecordingHandler:
    """aiosmtpd handler: records accepted envelopes; can refuse chosen recipients or senders."""

    def __init__(self) -> None:
        self.received: list[ReceivedMail] = []
        self.rcpt_replies: dict[str, str] = {}  # lower-case address -> reply, e.g. "450 try later"
        self.mail_reply: str | None = None  # refuse every MAIL FROM with this reply
        self.data_reply: str | None = None  # refuse every DATA with this reply
        self.per_connection_limit: int | None = None  # then MAIL gets 421, like Exchange's limit
        self.connections = 0
        self._per_session: dict[int, int] = {}
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self.received.clear()
            self.rcpt_replies.clear()
            self.mail_reply = self.data_reply = None
            self.per_connection_limit = None
            self.connections = 0
            self._per_session.clear()

    async def handle_MAIL(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          mail_options: list[str]) -> str:
        if self.mail_reply:
            return self.mail_reply
        limit = self.per_connection_limit
        if limit is not None and self._per_session.get(id(session), 0) >= limit:
            return "421 4.7.0 Too many messages on this connection, closing"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        reply = self.rcpt_replies.get(address.lower())
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.data_reply:
            return self.data_reply
        with self._lock:
            self.received.append(ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos),
                                              bytes(envelope.original_content or envelope.content)))
            self._per_session[id(session)] = self._per_session.get(id(session), 0) + 1
        return "250 Message accepted"


class TrackingController(Controller):
    """A Controller that remembers its live sessions so a test can drop them (server hangs up)."""

    def __init__(self, handler: RecordingHandler, **kwargs) -> None:
        super().__init__(handler, **kwargs)
        self.sessions: list[SMTP] = []

    def factory(self) -> SMTP:
        smtp = super().factory()
        self.sessions.append(smtp)
        self.handler.connections += 1
        return smtp

    def drop_connections(self) -> None:
        """Close every open client connection from the server side, and wait until done."""
        done = threading.Event()

        def close_all() -> None:
            for smtp in self.sessions:
                if smtp.transport is not None:
                    smtp.transport.close()
            done.set()

        self.loop.call_soon_threadsafe(close_all)
        if not done.wait(5):
            raise RuntimeError("SMTP server did not drop its connections")


@dataclass
class SmtpServer:
    """An aiosmtpd sink on 127.0.0.1; `security` is the SmtpTransport setting that reaches it."""

    controller: TrackingController
    handler: RecordingHandler
    security: str
    host = "127.0.0.1"

    @property
    def port(self) -> int:
        return self.controller.port

    @property
    def received(self) -> list[ReceivedMail]:
        return self.handler.received

    @classmethod
    def start(cls, security: str = "plain", tls: TlsFiles | None = None,
              credentials: tuple[str, str] | None = None) -> "SmtpServer":
        """Start a sink: "plain", "starttls" (offers STARTTLS) or "tls" (implicit TLS), optional AUTH."""
        handler = RecordingHandler()
        kwargs: dict = {"hostname": "127.0.0.1", "port": free_port(), "ready_timeout": START_TIMEOUT}
        server_kwargs: dict = {}
        if security in ("starttls", "tls"):
            if tls is None:
                raise ValueError("a TLS SMTP server needs TlsFiles")
            if security == "tls":
                kwargs["ssl_context"] = server_ssl_context(tls)
            else:
                server_kwargs["tls_context"] = server_ssl_context(tls)
                server_kwargs["require_starttls"] = False
        if credentials is not None:
            def authenticate(server, session, envelope, mechanism, auth_data) -> AuthResult:
                ok = (auth_data.login.decode(), auth_data.password.decode()) == credentials
                return AuthResult(success=ok, handled=False)  # failure answers 535
            server_kwargs["authenticator"] = authenticate
            server_kwargs["auth_require_tls"] = security != "plain"
        controller = TrackingController(handler, server_kwargs=server_kwargs, **kwargs)
        controller.start()
        return cls(controller=controller, handler=handler, security=security)

    def stop(self) -> None:
        self.controller.stop()


@dataclass
class SmtpSinkProcess:
    """aiosmtpd's discarding Sink in its own process: a benchmark's SMTP server that takes no GIL from us."""

    proc: subprocess.Popen
    port: int
    host = "127.0.0.1"
    security = "plain"

    @classmethod
    def start(cls) -> "SmtpSinkProcess":
        port = free_port()
        proc = subprocess.Popen(
            dies_with_us([sys.executable, "-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Sink",
                          "-l", f"127.0.0.1:{port}"]),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for_greeting(port, b"220", proc)
        except ServerStartError:
            proc.kill()
            proc.wait(timeout=10)
            raise
        return cls(proc=proc, port=port)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


def write_worker_config(path: Path, dovecot: DovecotServer, account: ImapAccount,
                        smtp: SmtpServer | SmtpSinkProcess,
                        db_url: str, *, password_env: str = "HELPDESK_TEST_IMAP_PASSWORD",
                        batch_size: int = 100, sent_folder: str = "", extra: str = "") -> Path:
    """A worker config.toml reaching this Dovecot account (TLS, CA file) and SMTP sink (plain).

    The IMAP password is not written: the caller sets the environment variable `password_env`.
    Templates come from the repository's templates/ folder; `extra` is appended TOML (more sections).
    """
    templates = Path(__file__).resolve().parents[1] / "templates"
    path.write_text(f"""\
[mailbox]
kind = "imap"
name = "e2e"
batch_size = {batch_size}

[imap]
host = "{dovecot.host}"
port = {dovecot.tls_port}
username = "{account.username}"
password_env = "{password_env}"
security = "tls"
ca_file = "{dovecot.tls.cert}"
sent_folder = "{sent_folder}"
timeout = 20.0

[outbox]
kind = "smtp"

[smtp]
host = "{smtp.host}"
port = {smtp.port}
security = "{smtp.security}"
timeout = 20.0

[database]
url = "{db_url}"

[templates]
dir = "{templates}"
{extra}""")
    return path


class SilentServer:
    """A TCP port that accepts connections and never says a word: for timeout tests."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)  # the kernel completes the handshake; nobody ever reads or writes
        self.host, self.port = "127.0.0.1", self.sock.getsockname()[1]

    def __enter__(self) -> "SilentServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()
