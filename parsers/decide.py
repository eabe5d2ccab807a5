"""decide(): a type and its found fields -> one Request with missing fields and an action. Only looks."""
from __future__ import annotations

from .catalogue import REDIRECTS, REQUEST_TYPES, UNKNOWN, action_for
from .context import Found
from .model import Cue, ParseOptions, Request, Requester


def decide(type_name: str, found: Found | None, confidence: float, requester: Requester,
           options: ParseOptions, cues: tuple[Cue, ...] = (), sensitive: tuple[str, ...] = ()) -> Request:
    """The outcome for one request: ack when complete, request_details listing every missing field,
    redirect/triage with no fields. Never raises for odd input."""
    if type_name in REDIRECTS and confidence >= options.triage_below_confidence:
        return Request(type_name, "redirect", {}, (), confidence, requester, cues, sensitive)
    if type_name not in REQUEST_TYPES or confidence < options.triage_below_confidence:
        return Request(UNKNOWN, "triage", {}, (), confidence, requester, cues, sensitive)
    found = found or Found()
    fields = {k: v for k, v in found.fields.items() if v not in (None, "", [], {})}
    missing = REQUEST_TYPES[type_name].missing(fields)
    return Request(type_name, action_for(type_name, missing), fields, missing, confidence, requester,
                   cues + tuple(found.cues), sensitive, tuple(dict.fromkeys(found.notes)))
