"""Mailbox edge: new messages in -> RawMessage; mark each processed or failed after the store commit.

`Mailbox` is the protocol the pipeline uses; `ImapMailbox` (IMAP, imapclient) is the production
implementation, `worker.maildir.MaildirMailbox` the embedded default used by `helpdesk demo`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Protocol


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

    def replay_failed(self) -> int:
        """Move every message in the failed folder back to the inbox; returns how many."""
        ...
