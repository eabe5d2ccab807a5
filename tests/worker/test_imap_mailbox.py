"""ImapMailbox against a real Dovecot: fetch only new mail, never mark it seen, move it when done."""
from __future__ import annotations

import ssl

import pytest
from imapclient import IMAPClient

from tests.servers import DovecotServer, ImapAccount
from worker.mailbox import FolderState, ImapMailbox, MailboxUnavailableError, RawMessage, StaleUidError


def sample(n: int, subject: str = "Remove lock") -> bytes:
    return (f"From: Amy Jones <a.jones@example-council.gov.uk>\r\n"
            f"To: mosaic.helpdesk@example-council.gov.uk\r\n"
            f"Subject: {subject} {n}\r\nMessage-ID: <m{n}@example-council.gov.uk>\r\n"
            f"Date: Mon, 04 Jan 2027 09:12:00 +0000\r\n\r\n"
            f"Please remove the lock on workstep 44556{n:02d}.\r\n").encode()


def admin(dovecot: DovecotServer, account: ImapAccount) -> IMAPClient:
    """A second, independent IMAP session on the same mailbox, to look at what the code under test did."""
    client = IMAPClient(dovecot.host, dovecot.plain_port, ssl=False, timeout=10)
    client.login(account.username, account.password)
    return client


def deliver(dovecot: DovecotServer, account: ImapAccount, *messages: bytes, folder: str = "INBOX") -> None:
    with admin(dovecot, account) as client:
        for data in messages:
            client.append(folder, data)


def folder_contents(dovecot: DovecotServer, account: ImapAccount, folder: str) -> dict[int, tuple]:
    """uid -> (flags, raw bytes) of the messages in `folder` ({} if the folder does not exist)."""
    with admin(dovecot, account) as client:
        if not client.folder_exists(folder):
            return {}
        client.select_folder(folder, readonly=True)
        uids = client.search("ALL")
        return {uid: (item[b"FLAGS"], item[b"BODY[]"])
                for uid, item in client.fetch(uids, ["FLAGS", "BODY.PEEK[]"]).items()}


FRESH = FolderState(uidvalidity=None, last_uid=0)


def test_fetches_every_message_in_order_without_marking_it_seen(dovecot, imap_account, imap_settings):
    deliver(dovecot, imap_account, sample(1), sample(2), sample(3))
    with ImapMailbox(**imap_settings) as box:
        got = list(box.fetch_new(FRESH, batch_size=2))
        assert box.count_waiting() == 3
    assert [m.data for m in got] == [sample(1), sample(2), sample(3)]
    assert [m.uid for m in got] == sorted(m.uid for m in got)
    assert {m.folder for m in got} == {"INBOX"}
    inbox = folder_contents(dovecot, imap_account, "INBOX")
    assert all(b"\\Seen" not in flags for flags, _ in inbox.values())


def test_fetches_only_messages_after_the_remembered_uid(dovecot, imap_account, imap_settings):
    deliver(dovecot, imap_account, sample(1), sample(2))
    with ImapMailbox(**imap_settings) as box:
        first = list(box.fetch_new(FRESH))
        state = FolderState(uidvalidity=box.uidvalidity(), last_uid=max(m.uid for m in first))
        # Nothing new: the server's `UID n:*` still answers the highest existing UID.
        assert list(box.fetch_new(state)) == []
    deliver(dovecot, imap_account, sample(3))
    with ImapMailbox(**imap_settings) as box:
        new = list(box.fetch_new(state))
    assert [m.data for m in new] == [sample(3)]


def test_changed_uidvalidity_rescans_the_whole_inbox(dovecot, imap_account, imap_settings):
    deliver(dovecot, imap_account, sample(1), sample(2))
    with ImapMailbox(**imap_settings) as box:
        real = box.uidvalidity()
        stale = FolderState(uidvalidity=real - 1, last_uid=99)
        assert [m.data for m in box.fetch_new(stale)] == [sample(1), sample(2)]


def test_batches_cover_every_message(dovecot, imap_account, imap_settings):
    messages = [sample(n) for n in range(1, 24)]
    deliver(dovecot, imap_account, *messages)
    with ImapMailbox(**imap_settings) as box:
        got = list(box.fetch_new(FRESH, batch_size=5))
    assert [m.data for m in got] == messages


def test_processed_and_failed_moves_create_the_folders(dovecot, imap_account, imap_settings):
    deliver(dovecot, imap_account, sample(1), sample(2), sample(3))
    with ImapMailbox(**imap_settings, processed_folder="Done", failed_folder="Broken") as box:
        one, two, three = box.fetch_new(FRESH)
        box.mark_processed(one)
        box.mark_failed(two)
        box.mark_processed(three)  # the folder now exists: second move into it
        assert box.count_waiting() == 0
    assert folder_contents(dovecot, imap_account, "INBOX") == {}
    assert sorted(b for _, b in folder_contents(dovecot, imap_account, "Done").values()) == [sample(1), sample(3)]
    assert [b for _, b in folder_contents(dovecot, imap_account, "Broken").values()] == [sample(2)]


def test_moving_while_iterating_batches_loses_nothing(dovecot, imap_account, imap_settings):
    messages = [sample(n) for n in range(1, 12)]
    deliver(dovecot, imap_account, *messages)
    with ImapMailbox(**imap_settings) as box:
        seen = []
        for msg in box.fetch_new(FRESH, batch_size=3):
            seen.append(msg.data)
            box.mark_processed(msg)
    assert seen == messages
    assert len(folder_contents(dovecot, imap_account, "Processed")) == 11


def test_moves_marked_before_a_failure_still_happen(dovecot, imap_account, imap_settings):
    deliver(dovecot, imap_account, sample(1), sample(2))
    with pytest.raises(ZeroDivisionError):
        with ImapMailbox(**imap_settings) as box:
            one, two = box.fetch_new(FRESH)
            box.mark_processed(one)  # stored and committed: must leave the inbox
            1 / 0  # the cycle breaks before `two` is done
    assert [b for _, b in folder_contents(dovecot, imap_account, "INBOX").values()] == [sample(2)]
    assert [b for _, b in folder_contents(dovecot, imap_account, "Processed").values()] == [sample(1)]


def test_messages_another_session_moved_first_are_skipped(dovecot, imap_account, imap_settings):
    deliver(dovecot, imap_account, sample(1), sample(2), sample(3))
    with ImapMailbox(**imap_settings) as late:
        mine = list(late.fetch_new(FRESH))
        with ImapMailbox(**imap_settings) as early:  # a second worker gets to two of them first
            for msg in list(early.fetch_new(FRESH))[:2]:
                early.mark_processed(msg)
        for msg in mine:
            late.mark_processed(msg)
    assert folder_contents(dovecot, imap_account, "INBOX") == {}
    moved = sorted(b for _, b in folder_contents(dovecot, imap_account, "Processed").values())
    assert moved == [sample(1), sample(2), sample(3)]  # each exactly once


def test_a_refused_move_leaves_the_message_in_the_inbox_and_the_cycle_goes_on(dovecot, imap_account,
                                                                               imap_settings, caplog):
    deliver(dovecot, imap_account, sample(1), sample(2))
    with ImapMailbox(**imap_settings) as box:
        fetched = box.fetch_new(FRESH, batch_size=1)
        first = next(fetched)
        box.mark_processed(first)  # creates Processed, queues the move
        with admin(dovecot, imap_account) as client:
            client.delete_folder("Processed")  # someone removes it: the server will refuse the MOVE
        second = next(fetched)  # the queued move is tried here; the refusal does not stop the fetch
        assert second.data == sample(2)
    assert len(folder_contents(dovecot, imap_account, "INBOX")) == 2
    assert "not moved to Processed" in caplog.text


class NoMoveMailbox(ImapMailbox):
    """A client that behaves as against a server without MOVE (RFC 6851), and optionally UIDPLUS."""

    hidden = ("MOVE",)

    def _has(self, capability: str) -> bool:
        return capability not in self.hidden and super()._has(capability)


class NoMoveNoUidplusMailbox(NoMoveMailbox):
    hidden = ("MOVE", "UIDPLUS")


def test_copy_delete_expunge_fallback_without_move(dovecot, imap_account, imap_settings):
    deliver(dovecot, imap_account, sample(1), sample(2))
    with NoMoveMailbox(**imap_settings) as box:
        one, two = box.fetch_new(FRESH)
        box.mark_processed(one)
    inbox = folder_contents(dovecot, imap_account, "INBOX")
    assert [b for _, b in inbox.values()] == [sample(2)]  # only ours expunged
    assert [b for _, b in folder_contents(dovecot, imap_account, "Processed").values()] == [sample(1)]


def test_without_uidplus_the_message_stays_flagged_and_is_not_fetched_again(dovecot, imap_account,
                                                                             imap_settings):
    deliver(dovecot, imap_account, sample(1), sample(2))
    with admin(dovecot, imap_account) as client:  # someone else's deleted mail must survive us
        client.select_folder("INBOX")
        client.add_flags(client.search("ALL")[-1:], [b"\\Deleted"])
    with NoMoveNoUidplusMailbox(**imap_settings) as box:
        (one,) = box.fetch_new(FRESH)
        box.mark_processed(one)
        assert list(box.fetch_new(FRESH)) == []
        assert box.count_waiting() == 0
    assert len(folder_contents(dovecot, imap_account, "INBOX")) == 2
    assert [b for _, b in folder_contents(dovecot, imap_account, "Processed").values()] == [sample(1)]


def test_replay_failed_returns_messages_to_the_inbox_as_new(dovecot, imap_account, imap_settings):
    deliver(dovecot, imap_account, sample(1), sample(2))
    with ImapMailbox(**imap_settings) as box:
        assert box.replay_failed() == 0  # no Failed folder yet
        msgs = list(box.fetch_new(FRESH))
        for msg in msgs:
            box.mark_failed(msg)
        state = FolderState(box.uidvalidity(), max(m.uid for m in msgs))
        assert box.replay_failed() == 2
        again = list(box.fetch_new(state))
    assert [m.data for m in again] == [sample(1), sample(2)]
    assert folder_contents(dovecot, imap_account, "Failed") == {}


def test_append_sent_stores_a_seen_copy_only_when_configured(dovecot, imap_account, imap_settings):
    reply = sample(9, subject="Re: Remove lock [MDHD-000001]")
    with ImapMailbox(**imap_settings) as box:
        box.append_sent(reply)  # no sent folder configured: nothing happens
    assert folder_contents(dovecot, imap_account, "Sent") == {}
    with ImapMailbox(**imap_settings, sent_folder="Sent") as box:
        box.append_sent(reply)
        assert box.count_waiting() == 0
    ((flags, data),) = folder_contents(dovecot, imap_account, "Sent").values()
    assert data == reply and b"\\Seen" in flags


def test_a_message_whose_folder_was_reset_is_not_moved(dovecot, imap_account, imap_settings):
    deliver(dovecot, imap_account, sample(1))
    with ImapMailbox(**imap_settings) as box:
        (msg,) = box.fetch_new(FRESH)
        stale = RawMessage(msg.folder, msg.uidvalidity + 1, msg.uid, msg.data)
        with pytest.raises(StaleUidError):
            box.mark_processed(stale)
    assert len(folder_contents(dovecot, imap_account, "INBOX")) == 1


def test_starttls_and_plain_connections(dovecot, imap_account, imap_settings):
    deliver(dovecot, imap_account, sample(1))
    for security in ("starttls", "plain"):
        settings = {**imap_settings, "port": dovecot.plain_port, "security": security}
        with ImapMailbox(**settings) as box:
            assert [m.data for m in box.fetch_new(FRESH)] == [sample(1)]


def test_tls_with_the_wrong_ca_is_refused(dovecot, imap_settings, tmp_path):
    from tests.servers import make_self_signed
    other = make_self_signed(tmp_path, "other")
    with pytest.raises(MailboxUnavailableError) as err:
        with ImapMailbox(**{**imap_settings, "ca_file": str(other.cert)}):
            pass
    assert isinstance(err.value.__cause__, ssl.SSLCertVerificationError)
    # Without any CA file the system store does not know our self-signed certificate either.
    with pytest.raises(MailboxUnavailableError):
        with ImapMailbox(**{**imap_settings, "ca_file": None}):
            pass
    # Only an explicit opt-out skips verification.
    with ImapMailbox(**{**imap_settings, "ca_file": None, "verify_tls": False}) as box:
        assert box.count_waiting() == 0


def test_unreachable_server_and_wrong_password_raise_unavailable(imap_settings):
    from tests.servers import free_port
    with pytest.raises(MailboxUnavailableError):
        with ImapMailbox(**{**imap_settings, "port": free_port(), "timeout": 2.0}):
            pass
    with pytest.raises(MailboxUnavailableError, match="LoginError"):
        with ImapMailbox(**{**imap_settings, "password": "wrong"}):
            pass



def test_a_server_that_never_answers_times_out(imap_settings):
    import time

    from tests.servers import SilentServer
    with SilentServer() as silent:
        started = time.monotonic()
        with pytest.raises(MailboxUnavailableError, match="timed out"):
            with ImapMailbox(**{**imap_settings, "host": silent.host, "port": silent.port, "timeout": 0.5}):
                pass
    assert time.monotonic() - started < 5


def test_large_messages_are_fetched_in_smaller_parts(dovecot, imap_account, imap_settings, monkeypatch):
    import worker.mailbox

    big = [sample(n) + b"x" * 4000 + b"\r\n" for n in range(1, 6)]
    deliver(dovecot, imap_account, *big)
    monkeypatch.setattr(worker.mailbox, "FETCH_BYTES", 9000)  # two of these per FETCH
    with ImapMailbox(**imap_settings) as box:
        parts = list(box._by_size(sorted(m.uid for m in box.fetch_new(FRESH))))
        assert [len(p) for p in parts] == [2, 2, 1]
        assert [m.data for m in box.fetch_new(FRESH, batch_size=100)] == big
