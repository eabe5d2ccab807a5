"""Mailbox edge: new messages in -> RawMessage; mark each processed or failed after the store commit.

`Mailbox` is the protocol the pipeline uses; `ImapMailbox` (IMAP, imapclient) is the production
implementation, `worker.maildir.MaildirMailbox` the embedded default used by `helpdesk demo`.
"""
from __future__ import annotations

import logging
import ssl
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Protocol

from imapclient import DELETED, SEEN, IMAPClient
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError, LoginError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RawMessage:
    """One message as fetched: where it lives and its raw bytes (never logged)."""

    folder: str
    uidvalidity: int
    uid: int
    data: bytes


@dataclass(frozen=True)
class FolderState:
    """What the store remembers per mailbox folder between cycles."""

    uidvalidity: int | None
    last_uid: int


class Mailbox(Protocol):
    """One connection per cycle: use as a context manager around a whole cycle."""

    name: str  # the configured mailbox name (key for FolderState in the store)

    def __enter__(self) -> "Mailbox": ...

    def __exit__(self, *exc: object) -> None: ...

    def uidvalidity(self) -> int:
        """UIDVALIDITY of the inbox folder (a Maildir returns a stable constant)."""
        ...

    def fetch_new(self, state: FolderState, batch_size: int = 100) -> Iterator[RawMessage]:
        """Messages still in the inbox, in UID order, fetched in batches without setting \\Seen.

        With `state.uidvalidity` equal to the folder's, only UIDs > last_uid; otherwise every
        message in the folder (the caller skips those already stored).
        """
        ...

    def mark_processed(self, msg: RawMessage) -> None:
        """Move the message to the processed folder (created if missing)."""
        ...

    def mark_failed(self, msg: RawMessage) -> None:
        """Move the message to the failed folder (created if missing)."""
        ...

    def append_sent(self, data: bytes) -> None:
        """Append a reply we sent to the Sent folder, where one is configured; else no-op."""
        ...

    def count_waiting(self) -> int:
        """Messages currently in the inbox."""
        ...

    def count_failed(self) -> int:
        """Messages in the failed folder (0 when it does not exist yet)."""
        self.flush_moves()
        with self._network(f"status {self.failed_folder}"):
            if not self.client.folder_exists(self.failed_folder):
                return 0
            return int(self.client.folder_status(self.failed_folder, [b"MESSAGES"])[b"MESSAGES"])

    def replay_failed(self) -> int:
        """Move every message in the failed folder back to the inbox; returns how many."""
        ...


class MailboxUnavailableError(ConnectionError):
    """The IMAP server could not be reached, refused the login or dropped the connection."""


class StaleUidError(RuntimeError):
    """A message's UIDVALIDITY no longer matches its folder: its UID may name another message."""


SEARCH_UNDELETED = ["NOT", "DELETED"]  # copy+delete fallback without UIDPLUS leaves \Deleted mail
FETCH_BYTES = 32_000_000  # largest FETCH response we ask for at once (one bigger message goes alone)
MOVE_BATCH = 500  # queued moves sent as one UID MOVE; a round trip per message costs more than parsing


def tls_context(verify_tls: bool, ca_file: str | None) -> ssl.SSLContext:
    """A client TLS context: certificate and host name checked unless verify_tls is False."""
    ctx = ssl.create_default_context(cafile=ca_file or None)
    if not verify_tls:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


class ImapMailbox:
    """The production Mailbox: one IMAP connection per cycle (imapclient), messages fetched by UID.

    mark_processed/mark_failed queue the move; queued moves go out as one UID MOVE per folder before
    the next fetch batch, before any other folder operation, and at exit (even when the cycle fails).
    If the connection dies with moves queued, exit retries them once on a new connection; failing
    that (or if the process dies), those messages stay in the inbox, already stored: fetch_new does
    not return UIDs <= last_uid again, and fetch_stranded hands them to the next cycle, which finds
    them stored (by key) and only moves them.
    """

    def __init__(self, host: str, port: int, username: str, password: str, *, security: str = "tls",
                 inbox: str = "INBOX", processed_folder: str = "Processed", failed_folder: str = "Failed",
                 sent_folder: str | None = None, timeout: float = 30.0, verify_tls: bool = True,
                 ca_file: str | None = None, name: str = "default") -> None:
        if security not in ("tls", "starttls", "plain"):
            raise ValueError(f"imap security must be tls, starttls or plain, not {security!r}")
        self.host, self.port, self.username, self._password = host, port, username, password
        self.security, self.timeout = security, timeout
        self.inbox, self.processed_folder, self.failed_folder = inbox, processed_folder, failed_folder
        self.sent_folder = sent_folder or None
        self.verify_tls, self.ca_file, self.name = verify_tls, ca_file or None, name
        self._client: IMAPClient | None = None
        self._selected: str | None = None
        self._selected_uidvalidity: int | None = None
        self._known_folders: set[str] = set()
        self._queued: dict[tuple[str, int, str], list[int]] = {}  # (from, its UIDVALIDITY, to) -> uids

    # -- connection -----------------------------------------------------------------------------

    def __enter__(self) -> "ImapMailbox":
        self._connect()
        return self

    def _connect(self) -> None:
        """Open, secure and log in; select the inbox. Failures raise MailboxUnavailableError."""
        with self._network("connect"):
            ctx = tls_context(self.verify_tls, self.ca_file) if self.security != "plain" else None
            client = IMAPClient(self.host, self.port, ssl=self.security == "tls", ssl_context=ctx,
                                timeout=self.timeout)
            try:
                if self.security == "starttls":
                    client.starttls(ctx)
                client.login(self.username, self._password)
            except BaseException:
                client.shutdown()
                raise
        self._client = client
        self._known_folders.clear()
        self._selected = None
        try:
            self._select_now(self.inbox)
        except BaseException:
            self._logout()
            raise
        log.debug("imap %s: connected, inbox uidvalidity %s", self.name, self._selected_uidvalidity)

    def __exit__(self, *exc: object) -> None:
        if self._client is None:
            return
        try:
            try:
                self.flush_moves()
            except MailboxUnavailableError:
                self._retry_moves_on_new_connection()
        except MailboxUnavailableError as err:
            # Stored but not moved: the messages stay in the inbox (see the class docstring).
            log.warning("imap %s: %d queued move(s) not done (%s)", self.name,
                        sum(map(len, self._queued.values())), type(err).__name__)
            self._logout()
            if not exc or exc[0] is None:
                raise
            return
        self._logout()

    def _retry_moves_on_new_connection(self) -> None:
        """The connection died with moves queued for messages already stored: reconnect once for them."""
        log.info("imap %s: connection lost with %d queued move(s); reconnecting once", self.name,
                 sum(map(len, self._queued.values())))
        queued = dict(self._queued)
        self._logout()
        self._connect()
        self._queued = queued
        self.flush_moves()

    def _logout(self) -> None:
        client, self._client, self._selected = self._client, None, None
        self._queued = {}
        if client is None:
            return
        try:
            client.logout()
        except (OSError, IMAPClientError) as err:  # the server may already have dropped us
            log.debug("imap %s: logout failed (%s); closing the socket", self.name, type(err).__name__)
            try:
                client.shutdown()
            except OSError:
                log.debug("imap %s: socket already closed", self.name)

    @contextmanager
    def _network(self, what: str) -> Iterator[None]:
        """Turn connection-level failures into MailboxUnavailableError (protocol errors pass through)."""
        try:
            yield
        except (OSError, IMAPClientAbortError, LoginError) as err:
            raise MailboxUnavailableError(f"imap {self.name}: {what} failed: {type(err).__name__}: {err}") from err

    @property
    def client(self) -> IMAPClient:
        if self._client is None:
            raise RuntimeError("ImapMailbox used outside its `with` block")
        return self._client

    def _select(self, folder: str) -> int:
        """Select `folder` read-write (unless already selected); returns its UIDVALIDITY."""
        if self._selected != folder:
            self.flush_moves()
            self._select_now(folder)
        return self._selected_uidvalidity  # type: ignore[return-value]

    def _select_now(self, folder: str) -> None:
        with self._network(f"select {folder}"):
            info = self.client.select_folder(folder)
            uidvalidity = info.get(b"UIDVALIDITY")
            if uidvalidity is None:  # RFC 3501 requires it in SELECT; a few servers only give STATUS
                uidvalidity = self.client.folder_status(folder, [b"UIDVALIDITY"])[b"UIDVALIDITY"]
        self._selected, self._selected_uidvalidity = folder, int(uidvalidity)

    def _ensure_folder(self, folder: str) -> None:
        """Create `folder` if the server lacks it (another worker creating it at the same time is fine)."""
        if folder in self._known_folders:
            return
        with self._network(f"create {folder}"):
            if not self.client.folder_exists(folder):
                try:
                    self.client.create_folder(folder)
                    log.info("imap %s: created folder %s", self.name, folder)
                except IMAPClientError:
                    if not self.client.folder_exists(folder):
                        raise
        self._known_folders.add(folder)

    def _has(self, capability: str) -> bool:
        return self.client.has_capability(capability)

    # -- the Mailbox protocol ---------------------------------------------------------------------

    def uidvalidity(self) -> int:
        self._select(self.inbox)
        return self._selected_uidvalidity  # type: ignore[return-value]

    def fetch_new(self, state: FolderState, batch_size: int = 100) -> Iterator[RawMessage]:
        self.flush_moves()
        uidvalidity = self._select(self.inbox)
        with self._network("search"):
            if state.uidvalidity == uidvalidity:
                # `UID n:*` always matches the highest UID, even when it is below n (RFC 3501 6.4.8).
                found = self.client.search(["UID", f"{state.last_uid + 1}:*", *SEARCH_UNDELETED])
                uids = sorted(u for u in found if u > state.last_uid)
            else:
                if state.uidvalidity is not None:
                    log.warning("imap %s: UIDVALIDITY changed (%s -> %s); re-scanning the inbox",
                                self.name, state.uidvalidity, uidvalidity)
                uids = sorted(self.client.search(SEARCH_UNDELETED))
        log.info("imap %s: %d new message(s) in %s", self.name, len(uids), self.inbox)
        yield from self._fetch_uids(uids, uidvalidity, batch_size)

    def fetch_stranded(self, state: FolderState, batch_size: int = 100) -> Iterator[RawMessage]:
        """Messages still in the inbox at or below last_uid: stored by an earlier cycle whose
        moves were refused or never sent (the process died). One SEARCH when there are none."""
        self.flush_moves()
        uidvalidity = self._select(self.inbox)
        if state.uidvalidity != uidvalidity or state.last_uid <= 0:
            return  # a changed UIDVALIDITY makes fetch_new re-scan everything anyway
        with self._network("search"):
            found = self.client.search(["UID", f"1:{state.last_uid}", *SEARCH_UNDELETED])
        uids = sorted(u for u in found if u <= state.last_uid)
        if uids:
            log.warning("imap %s: %d message(s) stored earlier but never moved; moving them now",
                        self.name, len(uids))
        yield from self._fetch_uids(uids, uidvalidity, batch_size)

    def _fetch_uids(self, uids: list[int], uidvalidity: int, batch_size: int) -> Iterator[RawMessage]:
        for start in range(0, len(uids), max(1, batch_size)):
            batch = uids[start:start + max(1, batch_size)]
            self.flush_moves()  # the previous batch's moves, in one command
            self._select(self.inbox)  # the caller may have replayed or moved mail in between
            for part in self._by_size(batch):
                with self._network("fetch"):
                    response = self.client.fetch(part, ["BODY.PEEK[]"])
                for uid in part:
                    data = response.get(uid, {}).get(b"BODY[]")
                    if data is None:  # expunged by someone else since the search
                        log.info("imap %s: uid %d vanished before fetch", self.name, uid)
                        continue
                    yield RawMessage(folder=self.inbox, uidvalidity=uidvalidity, uid=uid, data=bytes(data))

    def _by_size(self, batch: list[int]) -> Iterator[list[int]]:
        """Split a batch so one FETCH response stays under FETCH_BYTES (a few huge attachments)."""
        with self._network("fetch sizes"):
            sizes = self.client.fetch(batch, ["RFC822.SIZE"])
        part: list[int] = []
        total = 0
        for uid in batch:
            size = int(sizes.get(uid, {}).get(b"RFC822.SIZE", 0))
            if part and total + size > FETCH_BYTES:
                yield part
                part, total = [], 0
            part.append(uid)
            total += size
        if part:
            yield part

    def mark_processed(self, msg: RawMessage) -> None:
        self._move(msg, self.processed_folder)

    def mark_failed(self, msg: RawMessage) -> None:
        self._move(msg, self.failed_folder)

    def _move(self, msg: RawMessage, folder: str) -> None:
        """Queue the move (see the class docstring); the folder is created now if missing."""
        self._ensure_folder(folder)
        if self._select(msg.folder) != msg.uidvalidity:
            raise StaleUidError(f"imap {self.name}: {msg.folder} UIDVALIDITY changed; uid {msg.uid} not moved")
        queue = self._queued.setdefault((msg.folder, msg.uidvalidity, folder), [])
        queue.append(msg.uid)
        if len(queue) >= MOVE_BATCH:
            self.flush_moves()

    def flush_moves(self) -> None:
        """Send every queued move now (from the selected folder: moves queue only there).

        A server refusal (NO/BAD: quota, permissions) is logged and the messages stay in the
        inbox, already stored; a lost connection raises MailboxUnavailableError.
        """
        while self._queued:
            key = next(iter(self._queued))
            (source, uidvalidity, dest), uids = key, self._queued[key]
            if source != self._selected:  # only after a reconnect: selecting a folder flushes first
                self._select_now(source)
            if self._selected_uidvalidity != uidvalidity:  # the UIDs may name other messages now
                log.warning("imap %s: %s UIDVALIDITY changed; %d queued move(s) dropped", self.name,
                            source, len(uids))
            else:
                try:
                    self._move_uids(uids, dest)  # a lost connection raises with the queue intact
                    log.debug("imap %s: %d message(s) moved to %s", self.name, len(uids), dest)
                except IMAPClientError as err:
                    log.warning("imap %s: %d message(s) not moved to %s (%s)", self.name, len(uids), dest,
                                type(err).__name__)
            del self._queued[key]

    def _move_uids(self, uids: list[int], folder: str) -> None:
        """Move `uids` from the selected folder; those another worker moved meanwhile are skipped."""
        with self._network(f"move to {folder}"):
            try:
                self._transfer(uids, folder)
            except IMAPClientAbortError:
                raise
            except IMAPClientError:
                # A racing worker moved some of them since our fetch (Dovecot: NO [EXPUNGEISSUED]);
                # the server did nothing, so move what is still here.
                wanted = set(uids)
                found = self.client.search(["UID", ",".join(map(str, uids)), *SEARCH_UNDELETED])
                remaining = sorted(u for u in found if u in wanted)
                if remaining == sorted(wanted):
                    raise  # not a race: every message is still here
                log.info("imap %s: %d of %d message(s) already moved by another session",
                         self.name, len(wanted) - len(remaining), len(wanted))
                if remaining:
                    self._transfer(remaining, folder)

    def _transfer(self, uids: list[int], folder: str) -> None:
        """MOVE where the server has it, else COPY + \\Deleted + UID EXPUNGE (UIDPLUS)."""
        if self._has("MOVE"):
            self.client.move(uids, folder)
            return
        self.client.copy(uids, folder)
        self.client.add_flags(uids, [DELETED], silent=True)
        if self._has("UIDPLUS"):
            self.client.uid_expunge(uids)
        else:
            # A plain EXPUNGE would also remove mail others flagged \Deleted: leave ours flagged;
            # fetch_new and count_waiting skip \Deleted messages.
            log.debug("imap %s: no UIDPLUS; %d message(s) left flagged \\Deleted", self.name, len(uids))

    def append_sent(self, data: bytes) -> None:
        if self.sent_folder is None:
            return
        self._ensure_folder(self.sent_folder)
        with self._network(f"append to {self.sent_folder}"):
            self.client.append(self.sent_folder, data, flags=[SEEN])

    def count_waiting(self) -> int:
        self.flush_moves()
        self._select(self.inbox)
        with self._network("search"):
            return len(self.client.search(SEARCH_UNDELETED))

    def count_failed(self) -> int:
        """Messages in the failed folder (0 when it does not exist yet)."""
        self.flush_moves()
        with self._network(f"status {self.failed_folder}"):
            if not self.client.folder_exists(self.failed_folder):
                return 0
            return int(self.client.folder_status(self.failed_folder, [b"MESSAGES"])[b"MESSAGES"])

    def replay_failed(self) -> int:
        self.flush_moves()
        with self._network(f"list {self.failed_folder}"):
            if not self.client.folder_exists(self.failed_folder):
                return 0
        self._select(self.failed_folder)
        with self._network("search"):
            uids = sorted(self.client.search(SEARCH_UNDELETED))
        for start in range(0, len(uids), 500):
            self._move_uids(uids[start:start + 500], self.inbox)
        log.info("imap %s: %d message(s) moved from %s back to %s", self.name, len(uids),
                 self.failed_folder, self.inbox)
        self._select(self.inbox)
        return len(uids)
