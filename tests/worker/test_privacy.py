"""Privacy: a cycle's logs (every record, DEBUG and up) over every labelled sample carry none
of their personal details; NHS and NI numbers are stored masked in every text and JSON column."""
from __future__ import annotations

import json
import logging
import re
from email import message_from_bytes, policy
from email.utils import getaddresses
from pathlib import Path

import pytest

from tests.worker.policy_setup import mail, store_dump
from tests.worker.worker_setup import (CORPUS, OPEN_NOW, close_stores, deliver,  # noqa: F401
                                       make_ctx, make_settings)
from worker.edges import make_transport
from worker.outbox import send_pending
from worker.pipeline import poll_once

SAMPLES = sorted(CORPUS.glob("*.eml"))
# catalogue values, not anybody's details (and too common to search logs for)
NOT_PERSONAL = {"action", "address_type", "change_kind", "target", "policy_read",
                "organisation_type", "start_date", "end_date", "occurred_at", "profession",
                "item_name", "access"}
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


def _values(value: object) -> list[str]:
    if isinstance(value, dict):
        return [v for item in value.values() for v in _values(item)]
    if isinstance(value, (list, tuple)):
        return [v for item in value for v in _values(item)]
    return [str(value)] if isinstance(value, str) else []


def personal_details(eml: Path) -> set[str]:
    """What a log must never show of one sample: its labelled field values, who sent it (name
    and address), everyone it was addressed to, its Message-ID."""
    found: set[str] = set()
    labels = json.loads(eml.with_suffix(".json").read_text(encoding="utf-8"))
    for name, value in labels.get("fields", {}).items():
        if name not in NOT_PERSONAL:
            found |= {v.strip() for v in _values(value) if not _ISO_DATE.match(v.strip())}
    msg = message_from_bytes(eml.read_bytes(), policy=policy.compat32)
    for header in ("From", "Reply-To", "To", "Cc"):
        for display, address in getaddresses([str(v) for v in msg.get_all(header) or []]):
            found |= {display.strip().strip('"'), address.strip()}
    found.add(str(msg.get("Message-ID") or "").strip().strip("<>"))
    desk = {"mosaic.helpdesk@example-council.gov.uk", "helpdesk@example-council.gov.uk"}
    # at least 5 characters: shorter strings ("Sam", "LN6") occur by chance in any log text
    return {v for v in found if len(v) >= 5 and v.lower() not in desk and "help desk" not in
            v.lower() and "helpdesk" not in v.lower()}


def test_cycle_logs_over_every_labelled_sample_hold_no_personal_detail(
        tmp_path: Path, sqlite_url: str, caplog: pytest.LogCaptureFixture) -> None:
    settings = make_settings(tmp_path, sqlite_url,
                             "[helpdesk]\nreplies_per_sender_per_hour = 1\n")
    ctx = make_ctx(settings)
    deliver(settings, *(p.read_bytes() for p in SAMPLES))
    caplog.set_level(logging.DEBUG)  # every logger, every level

    report = poll_once(ctx, OPEN_NOW)
    sent = send_pending(ctx.store, make_transport(settings), settings, OPEN_NOW, None)

    assert report.ok and report.fetched == len(SAMPLES) and sent.sent > 0
    assert sent.held > 0  # the held-reply warning path is logged too
    logged = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    assert "outcome=" in logged  # the worker did log every message's outcome
    leaks, searched = {}, 0
    for eml in SAMPLES:
        searched += len(personal_details(eml))
        hits = sorted(v for v in personal_details(eml) if v.lower() in logged.lower())
        if hits:
            leaks[eml.name] = hits
    assert leaks == {} and searched > 3 * len(SAMPLES)


NHS = ("485 777 3456", "4857773456", "485-777-3456", "943 476 5919", "9434765919")
NI = ("AB 12 34 56 C", "AB123456C", "AB123456")


def test_nhs_and_ni_numbers_are_masked_in_every_stored_text_and_json(tmp_path: Path,
                                                                     db_url: str) -> None:
    ctx = make_ctx(make_settings(tmp_path, db_url))
    deliver(ctx.settings,
            (CORPUS / "h263-add_address-nhs-in-body-sensitive.eml").read_bytes(),
            mail("Please add a new home address for NHS number 485-777-3456 (NI AB123456C): "
                 "7 Linden Avenue, Louth LN11 8AA, from 1st June. Mosaic ID 8181818.",
                 subject="Address for NHS 4857773456 / NI AB 12 34 56 C"),
            mail("The lock is on workstep 4455667, locked by Sam Jones; it is about "
                 "9434765919. NI number AB 12 34 56 C.", subject="Re: lock 943 476 5919"))

    report = poll_once(ctx, OPEN_NOW)
    dump = store_dump(ctx, skip=frozenset({("messages", "raw")}))

    assert report.ok and report.count("new") == 3
    assert "*******456" in dump and "******56C" in dump  # masked: last three kept
    for number in NHS + NI:
        assert number not in dump
    assert "8181818" in dump  # Mosaic IDs are not masked
