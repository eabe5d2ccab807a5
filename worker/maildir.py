"""The embedded default edges: a Maildir as the mailbox and a Maildir as the outbox (no servers).

Maildir has no UIDs, so MaildirMailbox keeps its own in `helpdesk-uidlist.json` at the Maildir's
root (like Dovecot's dovecot-uidlist): each message key gets the next UID the first time it is
seen, so the pipeline's FolderState logic is the same as on IMAP.
"""
from __future__ import annotations

import json
import logging
import mailbox
import os
import time
from collections.abc import Iterator
from pathlib import Path

from .mailbox import FolderState, RawMessage
from .transport import TemporarySendError

log = logging.getLogger(__name__)

UIDLIST = "helpdesk-uidlist.json"


class MaildirMailbox:
    """A local Maildir++ tree: INBOX at `path`, folders `.Processed`, `.Failed`, `.Sent`."""

    def __init__(self, path: str | Path, *, processed_folder: str = "Processed",
                 failed_folder: str = "Failed", sent_folder: str | None = None,
                 name: str = "default") -> None:
        self.path = Path(path)
        self.name = name
        self.folder = "INBOX"
        self.processed_folder = processed_folder
        self.failed_folder = failed_folder
        self.sent_folder = sent_folder
        self._box: mailbox.Maildir | None = None
        self._uids: dict = {}
        self._by_uid: dict[int, str] = {}
        self._files: dict[str, Path] = {}

    # -- context -------------------------------------------------------------------------
    def __enter__(self) -> "MaildirMailbox":
        self._box = mailbox.Maildir(self.path, factory=None, create=True)
        self._uids = self._load_uids()
        return self

    def __exit__(self, *exc: object) -> None:
        self._save_uids()
        self._box = None

    @property
    def box(self) -> mailbox.Maildir:
        if self._box is None:
            raise RuntimeError("MaildirMailbox used outside its `with` block")
        return self._box

    # -- UIDs ----------------------------------------------------------------------------
    def _load_uids(self) -> dict:
        try:
            data = json.loads((self.path / UIDLIST).read_text(encoding="utf-8"))
        except FileNotFoundError:
            data = {}
        data.setdefault("uidvalidity", int(time.time()))
        data.setdefault("next_uid", 1)
        data.setdefault("uids", {})
        return data

    def _save_uids(self) -> None:
        present = set(self.box.keys()) if self._box is not None else None
        if present is not None:  # forget messages that left the inbox
            self._uids["uids"] = {k: v for k, v in self._uids["uids"].items() if k in present}
        tmp = self.path / (UIDLIST + ".tmp")
        tmp.write_text(json.dumps(self._uids), encoding="utf-8")
        os.replace(tmp, self.path / UIDLIST)

    def _uid_of(self, key: str) -> int:
        uids = self._uids["uids"]
        if key not in uids:
            uids[key] = self._uids["next_uid"]
            self._uids["next_uid"] += 1
        return int(uids[key])

    def _keys_in_order(self) -> list[str]:
        """Inbox keys in UID order; new keys (named by delivery time) get the next UIDs."""
        known = self._uids["uids"]
        delivered = self._delivery_times()
        keys = sorted(self.box.keys(),
                      key=lambda k: (k not in known, known.get(k, 0), delivered.get(k, 0), k))
        fresh = [k for k in keys if k not in known]
        for key in keys:
            self._uid_of(key)
        if fresh:  # saved before anything is fetched: a crash must not hand these UIDs out again
            self._save_uids()
        self._by_uid = {int(uid): key for key, uid in known.items()}
        return keys

    def _delivery_times(self) -> dict[str, int]:
        """Key -> file mtime (ns): an MTA's delivery order for messages without a UID yet.
        Also remembers each key's file, for moving it by rename."""
        times: dict[str, int] = {}
        self._files = {}
        for sub in ("new", "cur"):
            try:
                entries = list(os.scandir(self.path / sub))
            except FileNotFoundError:
                continue
            for entry in entries:
                key = entry.name.split(self.box.colon)[0]
                times[key] = entry.stat().st_mtime_ns
                self._files[key] = Path(entry.path)
        return times

    # -- Mailbox protocol ----------------------------------------------------------------
    def uidvalidity(self) -> int:
        return int(self._uids["uidvalidity"])

    def fetch_new(self, state: FolderState, batch_size: int = 100) -> Iterator[RawMessage]:
        since = state.last_uid if state.uidvalidity == self.uidvalidity() else 0
        for key in self._keys_in_order():
            uid = self._uid_of(key)
            if uid <= since:
                continue
            try:
                data = self.box.get_bytes(key)
            except KeyError:  # removed meanwhile
                continue
            yield RawMessage(folder=self.folder, uidvalidity=self.uidvalidity(), uid=uid,
                             data=data)

    def _key_of(self, msg: RawMessage) -> str | None:
        return self._by_uid.get(msg.uid)

    def _move(self, msg: RawMessage, folder: str) -> None:
        """One rename into the folder's cur/ (atomic, no copy), as Maildir intends."""
        key = self._key_of(msg)
        source = self._files.get(key) if key is not None else None
        if key is None or source is None:
            return
        self._folder(folder)
        target = self.path / f".{folder}" / "cur" / source.name
        try:
            os.rename(source, target)
        except FileNotFoundError:  # moved meanwhile
            return
        self._uids["uids"].pop(key, None)
        self._files.pop(key, None)

    def _folder(self, name: str) -> mailbox.Maildir:
        try:
            return self.box.get_folder(name)
        except mailbox.NoSuchMailboxError:
            return self.box.add_folder(name)

    def mark_processed(self, msg: RawMessage) -> None:
        self._move(msg, self.processed_folder)

    def mark_failed(self, msg: RawMessage) -> None:
        self._move(msg, self.failed_folder)

    def append_sent(self, data: bytes) -> None:
        if self.sent_folder:
            self._folder(self.sent_folder).add(data)

    def count_waiting(self) -> int:
        return len(self.box)

    def replay_failed(self) -> int:
        failed = self._folder(self.failed_folder)
        moved = 0
        for key in list(failed.keys()):
            self.box.add(failed.get_bytes(key))
            failed.discard(key)
            moved += 1
        return moved

    def deliver(self, data: bytes) -> int:
        """Put a message into the inbox (what an MTA would do) and give it the next UID."""
        return self._uid_of(self.box.add(data))


class MaildirTransport:
    """Writes each reply as a file into a Maildir: the demo's stand-in for SMTP."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._box: mailbox.Maildir | None = None

    def __enter__(self) -> "MaildirTransport":
        self._box = mailbox.Maildir(self.path, factory=None, create=True)
        return self

    def __exit__(self, *exc: object) -> None:
        self._box = None

    def send(self, data: bytes, sender: str, recipients: list[str]) -> None:
        if self._box is None:
            raise RuntimeError("MaildirTransport used outside its `with` block")
        try:
            self._box.add(data)
        except OSError as exc:
            raise TemporarySendError(f"cannot write to the outbox Maildir: {exc.strerror}") from exc
