"""SmtpTransport against a real aiosmtpd server: delivery, connection reuse, error mapping, TLS."""
from __future__ import annotations

import pytest

from tests.servers import free_port, make_self_signed
from worker.smtp import SmtpTransport
from worker.transport import PermanentSendError, TemporarySendError

SENDER = "mosaic.helpdesk@example-council.gov.uk"
AMY = "a.jones@example-council.gov.uk"
BEN = "b.smith@example-council.gov.uk"


def reply(n: int) -> bytes:
    return (f"From: Mosaic Help Desk <{SENDER}>\r\nTo: {AMY}\r\n"
            f"Subject: Re: Remove lock [MDHD-{n:06d}]\r\nAuto-Submitted: auto-replied\r\n"
            f"Message-ID: <r{n}@helpdesk.example-council.gov.uk>\r\n\r\n"
            f"We have your request.\r\n.A line starting with a dot survives.\r\n").encode()


def transport_for(server, **overrides) -> SmtpTransport:
    return SmtpTransport(server.host, server.port, **{"security": server.security, "timeout": 5.0, **overrides})


def test_replies_are_delivered_over_one_connection(smtp_server):
    with transport_for(smtp_server) as transport:
        for n in range(1, 6):
            transport.send(reply(n), SENDER, [AMY])
    assert smtp_server.handler.connections == 1
    assert [m.recipients for m in smtp_server.received] == [[AMY]] * 5
    assert {m.sender for m in smtp_server.received} == {SENDER}
    first = smtp_server.received[0].message
    assert first["Subject"] == "Re: Remove lock [MDHD-000001]"
    assert first["Auto-Submitted"] == "auto-replied"
    assert ".A line starting with a dot survives." in first.get_payload()


def test_nothing_to_send_opens_no_connection(smtp_server):
    with transport_for(smtp_server):
        pass
    assert smtp_server.handler.connections == 0


@pytest.mark.parametrize("answer, error", [
    ("450 4.2.1 Mailbox busy", TemporarySendError),
    ("550 5.1.1 No such user", PermanentSendError),
])
def test_refused_recipient_maps_by_code_and_the_connection_goes_on(smtp_server, answer, error):
    smtp_server.handler.rcpt_replies[AMY] = answer
    with transport_for(smtp_server) as transport:
        with pytest.raises(error):
            transport.send(reply(1), SENDER, [AMY])
        transport.send(reply(2), SENDER, [BEN])  # the same connection still works
    assert [m.recipients for m in smtp_server.received] == [[BEN]]
    assert smtp_server.handler.connections == 1


def test_one_refused_recipient_of_two_still_delivers_to_the_other(smtp_server):
    smtp_server.handler.rcpt_replies[BEN] = "550 5.1.1 No such user"
    with transport_for(smtp_server) as transport:
        transport.send(reply(1), SENDER, [AMY, BEN])  # not an error: resending would duplicate for Amy
    assert [m.recipients for m in smtp_server.received] == [[AMY]]


@pytest.mark.parametrize("stage, answer, error", [
    ("mail", "451 4.3.0 Try again later", TemporarySendError),
    ("mail", "553 5.7.1 Sender not allowed", PermanentSendError),
    ("data", "452 4.3.1 Insufficient storage", TemporarySendError),
    ("data", "554 5.6.0 Message rejected", PermanentSendError),
])
def test_sender_and_data_refusals_map_by_code(smtp_server, stage, answer, error):
    setattr(smtp_server.handler, f"{stage}_reply", answer)
    with transport_for(smtp_server) as transport:
        with pytest.raises(error):
            transport.send(reply(1), SENDER, [AMY])
    assert smtp_server.received == []


def test_server_down_is_temporary_and_later_replies_fail_fast():
    transport = SmtpTransport("127.0.0.1", free_port(), security="plain", timeout=2.0)
    with transport:
        for n in range(3):
            with pytest.raises(TemporarySendError):
                transport.send(reply(n), SENDER, [AMY])
        assert transport._smtp is None


def test_a_connection_dropped_between_sends_is_reopened_once(smtp_server):
    with transport_for(smtp_server) as transport:
        transport.send(reply(1), SENDER, [AMY])
        smtp_server.controller.drop_connections()
        transport.send(reply(2), SENDER, [AMY])
    assert len(smtp_server.received) == 2
    assert smtp_server.handler.connections == 2


def test_a_server_limiting_messages_per_connection_gets_a_new_connection(smtp_server):
    smtp_server.handler.per_connection_limit = 2
    with transport_for(smtp_server) as transport:
        for n in range(5):
            transport.send(reply(n), SENDER, [AMY])
    assert len(smtp_server.received) == 5
    assert smtp_server.handler.connections == 3


def test_a_server_closing_at_once_with_421_is_temporary_for_the_whole_run(smtp_server):
    smtp_server.handler.mail_reply = "421 4.3.2 System shutting down"
    with transport_for(smtp_server) as transport:
        for n in range(3):
            with pytest.raises(TemporarySendError):
                transport.send(reply(n), SENDER, [AMY])
    assert smtp_server.handler.connections == 1  # no reconnect storm against a closing server


def test_starttls_verified_by_ca_file_then_login(smtp_starttls_server, smtp_tls_files):
    settings = {"ca_file": str(smtp_tls_files.cert), "username": "helpdesk", "password": "smtp-secret"}
    with transport_for(smtp_starttls_server, **settings) as transport:
        transport.send(reply(1), SENDER, [AMY])
    assert len(smtp_starttls_server.received) == 1
    with transport_for(smtp_starttls_server, **{**settings, "password": "wrong"}) as transport:
        with pytest.raises(TemporarySendError):  # a configuration problem, not the reply's fault
            transport.send(reply(2), SENDER, [AMY])
    assert len(smtp_starttls_server.received) == 1


def test_tls_with_an_unknown_certificate_is_refused(smtp_tls_server, smtp_tls_files, tmp_path):
    other = make_self_signed(tmp_path, "other")
    with transport_for(smtp_tls_server, ca_file=str(other.cert)) as transport:
        with pytest.raises(TemporarySendError) as err:
            transport.send(reply(1), SENDER, [AMY])
    assert "SSLCertVerificationError" in str(err.value)
    with transport_for(smtp_tls_server, ca_file=str(smtp_tls_files.cert)) as transport:
        transport.send(reply(2), SENDER, [AMY])
    assert [m.message["Subject"] for m in smtp_tls_server.received] == ["Re: Remove lock [MDHD-000002]"]


def test_starttls_required_but_not_offered_sends_nothing_in_clear(smtp_server):
    with transport_for(smtp_server, security="starttls") as transport:
        with pytest.raises(TemporarySendError):
            transport.send(reply(1), SENDER, [AMY])
    assert smtp_server.received == []


def test_a_server_that_never_answers_times_out_as_temporary():
    import time

    from tests.servers import SilentServer
    with SilentServer() as silent:
        started = time.monotonic()
        with SmtpTransport(silent.host, silent.port, security="plain", timeout=0.5) as transport:
            with pytest.raises(TemporarySendError):
                transport.send(reply(1), SENDER, [AMY])
    assert time.monotonic() - started < 5
