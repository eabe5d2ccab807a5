"""Find the typed requests in a parsed message: classify, split several requests, extract, decide."""
from __future__ import annotations

import logging
import re
from dataclasses import replace
from typing import Callable

from .classify import ACTIONABLE, Classification, classify, score_text
from .context import Context, Found
from .catalogue import REQUEST_TYPES
from .decide import decide
from .extract_orgs import extract_organisation, extract_professional
from .extract_people import extract_worker_account, extract_worker_details
from .extract_records import (extract_add_address, extract_duplicate_record, extract_person_record_change,
                              extract_remove_lock, extract_restricted_record)
from .extract_system import extract_design_change, extract_how_do_i, extract_incident
from .fields import flip_name, person_names
from .ids import find_person_ids, find_workstep_id
from .model import Cue, ParsedMessage, ParseOptions, Request
from .quoting import Sections, request_text_of, sections_of
from .requester import find_requester
from .sensitive import sensitive_kinds
from .sentences import segments, word_count

__all__ = ["find_requests", "request_text_of", "ticket_refs_in", "requests_for_text"]

log = logging.getLogger(__name__)

EXTRACTORS: dict[str, Callable[[Context], Found]] = {
    "add_address": extract_add_address,
    "worker_account": extract_worker_account,
    "worker_details": extract_worker_details,
    "organisation": extract_organisation,
    "professional": extract_professional,
    "how_do_i": extract_how_do_i,
    "duplicate_record": extract_duplicate_record,
    "remove_lock": extract_remove_lock,
    "incident": extract_incident,
    "person_record_change": extract_person_record_change,
    "design_change": extract_design_change,
    "restricted_record": extract_restricted_record,
}
# types whose required fields are specific (IDs, postcodes, names with changes), so finding them
# all is evidence for the type; free-text forms (how_do_i, incident, design_change) are not here
FIELD_RESCUE_TYPES = frozenset({"add_address", "duplicate_record", "remove_lock", "person_record_change",
                                "restricted_record", "worker_details", "organisation", "professional"})
# a complete form lowers the bar for its type by this much below triage_below_confidence
RESCUE_MARGIN = 0.2
SUBJECT_PREFIX_RE = re.compile(r"^\s*((re|fw|fwd|aw|wg|sv|tr)\s*:\s*|\[[^\]]*\]\s*)+", re.I)
# a segment must carry this much evidence of its own to become a request of its own (064, 065, 066)
SEGMENT_SCORE = 3.5
# a paragraph that opens another request of the same kind: 'Also, Carla Pike leaves us on ...'
ANOTHER_RE = re.compile(r"^\W*(also|separately|secondly|thirdly|additionally|another thing|and also|as well as this|finally|"
                        r"in addition|on another note|one more thing|plus)\b", re.I)
COUNT_RE = re.compile(r"\b(two|three|four|five|six|2|3|4|5|6|both|several|a few|a couple|following|these|below)\b", re.I)
SECOND_SCORE = 2.5
# a reply this short is read with the history it quotes to find its kind of request, when it gives a
# value (an ID, an address, a date) rather than thanks
SHORT_REPLY_WORDS = 15
REPLY_SUBJECT_RE = re.compile(r"^\s*(re|aw|sv|antw)\s*:", re.I)
THANKS_RE = re.compile(r"^\W*(many thanks|thanks|thank you|cheers|ta|great|perfect|brilliant|lovely|all sorted|sorted|that'?s "
                       r"(great|fine|sorted|brilliant|perfect)|that worked|it'?s working)\b", re.I)
GIVES_VALUE_RE = re.compile(r"\d{4,10}|@|\b[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}\b")
BULLET_RE = re.compile(r"^[ \t]*[-*\u2022][ \t]+(?=\S)", re.M)
# more typed segments than this is a list or a newsletter, not a set of requests: read it as one
MAX_REQUESTS = 6
MANAGER_RE = re.compile(r"\bmanager\b|\bhead of\b|\bI manage\b|\bmy team member\b|\bone of my (team|staff|workers)\b", re.I)
OWN_MOVE_RE = re.compile(r"\bmy (work ?)?base\b|\bI(?:'m| am) (now )?based\b|\bI(?:'ve| have) moved\b|\bI(?:'m| am) moving\b",
                         re.I)
PEOPLE_TYPES = {"professional", "worker_account", "worker_details", "organisation"}
BESIDE_RECORD_RE = re.compile(r"['’]?s?\s*[(,:-]?\s*(?:pid|mosaic (?:id|no)|person (?:id|no)|client (?:id|no)|dob|d\.o\.b|"
                              r"date of birth|born|nhs)\b", re.I)
SERVICE_USER_RE = re.compile(r"\b(Mr|Mrs|Ms|Miss|Master)\.? [A-Z][a-z]+(?: [A-Z][\w'’-]+)?")


def ticket_refs_in(msg: ParsedMessage, options: ParseOptions) -> tuple[str, ...]:
    pattern = re.compile(rf"\[?({re.escape(options.reference_prefix)}-\d+)\]?")
    return tuple(dict.fromkeys(pattern.findall(msg.subject)))


def clean_subject(subject: str) -> str:
    return SUBJECT_PREFIX_RE.sub("", subject or "").strip()


def split_requests(text: str, whole: Classification | None = None) -> list[tuple[str, str, Classification]]:
    """[(type, text, classification)] when segments of the text hold requests of different types."""
    parts, numbered = segments(text)
    bullets = [] if numbered else _bullet_segments(text)
    if len(parts) < 2 and len(bullets) < 3:
        return []
    strong = [t for t, s in (whole.scores.items() if whole else ()) if t in ACTIONABLE and s >= SEGMENT_SCORE]
    # a second kind of request with some wording of its own is worth reading segment by segment: its
    # segment may carry fields that make it strong ('The Castle Practice isn't on Mosaic yet: 2 Castle Hill ...')
    second = [t for t, s in (whole.scores.items() if whole else ()) if t in ACTIONABLE and s >= SECOND_SCORE]
    if whole is not None and not numbered and (len(strong) < 1 or len(second) < 2) and len(strong) < 2 and \
            not any(ANOTHER_RE.match(p) for p in parts[1:] + bullets[1:]):
        return []  # the whole text never shows two kinds of request: no segment will
    typed = _typed_segments(parts, numbered) if len(parts) >= 2 else []
    if len(typed) < 2 and len(bullets) > 2:
        typed = _typed_segments(bullets, False)  # '* Duplicate: ...' / '* Also ... locked' (heldout 059)
    if len(typed) < 2 and numbered:
        return _list_under_intro(parts)
    if len(typed) < 2 or len(typed) > MAX_REQUESTS:
        return []
    return typed


def _typed_segments(parts: list[str], numbered: bool) -> list[tuple[str, str, Classification]]:
    """Segments that carry a request of their own; the others join the request before them."""
    typed: list[tuple[str, str, Classification]] = []
    for part in parts:
        cls = classify(part)
        if cls.type in ACTIONABLE and cls.scores.get(cls.type, 0) >= SEGMENT_SCORE and cls.confidence >= 0.55:
            if typed and typed[-1][0] == cls.type and not numbered and not ANOTHER_RE.match(part):
                typed[-1] = (cls.type, typed[-1][1] + "\n\n" + part, typed[-1][2])
            else:
                typed.append((cls.type, part, cls))
        elif typed:
            typed[-1] = (typed[-1][0], typed[-1][1] + "\n\n" + part, typed[-1][2])
    return typed


def _bullet_segments(text: str) -> list[str]:
    """The text before a bulleted list, each bullet item, and what follows the list."""
    starts = [m.start() for m in BULLET_RE.finditer(text)]
    if len(starts) < 2:
        return []
    parts = [text[:starts[0]]] + [text[a:b] for a, b in zip(starts, starts[1:] + [len(text)])]
    return [p.strip() for p in parts if p.strip()]


def _list_under_intro(parts: list[str]) -> list[tuple[str, str, Classification]]:
    """'Two new starters need accounts: 1. Kim Frost, ... 2. Lee Hart, ...': one request per
    numbered item, of the kind the introduction names, each read together with the introduction."""
    intro, items = parts[0], parts[1:]
    cls = classify(intro)
    if cls.type not in ACTIONABLE or cls.confidence < 0.5 or not 2 <= len(items) <= MAX_REQUESTS:
        return []
    if not COUNT_RE.search(intro):
        return []  # the introduction must announce several of them ('two new starters', 'the following')
    keys = [next(iter([n for n, _ in person_names(item)] + find_person_ids(item)), None) or find_workstep_id(item)
            for item in items]
    if None in keys or len(set(keys)) != len(keys):
        return []  # each item names its own person or record (not steps to reproduce one fault)
    return [(cls.type, f"{intro}\n\n{item}", cls) for item in items]


def _resolve_rules(cls: Classification, text: str, signature: str) -> str:
    """Help-desk rules the cue scores cannot see: a line manager's report of a move is an account change."""
    if cls.type == "work_base_change" and not OWN_MOVE_RE.search(text) and MANAGER_RE.search(signature + "\n" + text):
        return "worker_account"
    return cls.type


def _names_service_user(text: str) -> bool:
    """A person named by title ('Mrs Edna Fairclough') or right beside their record ID or birth date."""
    if SERVICE_USER_RE.search(text):
        return True
    return any(BESIDE_RECORD_RE.match(text, pos + len(name)) for name, pos in person_names(text))


def _sensitive(msg: ParsedMessage, text: str, types: set[str]) -> tuple[str, ...]:
    # worker, professional and organisation names are not sensitive in this sense
    names = not types <= PEOPLE_TYPES and _names_service_user(text)
    return sensitive_kinds(msg.text or text, msg.attachments, service_user_names=names)


def requests_for_text(msg: ParsedMessage, sections: Sections, text: str, options: ParseOptions,
                      forced_type: str | None = None) -> list[Request]:
    """Classify and extract the request(s) in `text` (the message's request text, or a conversation's)."""
    requester = find_requester(msg, sections.signature)
    subject = " ".join(s for s in (clean_subject(msg.subject), sections.forwarded_subject) if s)
    if _thanks_only(msg.subject, text):
        subject = ""  # 'RE: Locked step' above 'Thanks, all sorted!' asks for nothing again
    if subject and len(re.findall(r"[A-Za-z]{2,}", text)) < 8:
        text = f"{subject}\n\n{text}".strip()  # the request is in the subject line ('PID 1234567 new address ...')
    base = Context(text=text, subject=subject, date=msg.date, sender_name=flip_name(msg.sender.name),
                   sender_email=msg.sender.email, signature=sections.signature, whole_text=text, options=options,
                   forwarded_signature=sections.forwarded_signature)
    if forced_type is None:
        cls = classify(text, subject)
        parts = split_requests(text, cls)
        if parts:
            sensitive = _sensitive(msg, text, {t for t, _, _ in parts})
            built = [_build(t, replace(base, text=part), part_cls.confidence, part_cls.cues, requester,
                            options, sensitive) for t, part, part_cls in parts]
            if any(r.type == "organisation" for r in built):  # the same mail asks for it (064)
                built = [replace(r, notes=tuple(n for n in r.notes if n != "organisation_request_needed"))
                         for r in built]
            return built
        if cls.confidence < options.triage_below_confidence and word_count(text) < SHORT_REPLY_WORDS:
            cls = _typed_by_history(cls, msg, text, subject, options)
        type_name, confidence, cues = _resolve_rules(cls, text, sections.signature), cls.confidence, cls.cues
    else:
        scores, cue_list = score_text(text, subject)
        type_name, confidence = forced_type, 1.0
        cues = tuple(c for c in cue_list if c.rule.startswith(forced_type + ":")) + (
            Cue("type", "thread:ticket type kept", forced_type),)
    sensitive = _sensitive(msg, text, {type_name})
    return [_build(type_name, base, confidence, cues, requester, options, sensitive)]


def _thanks_only(subject: str, text: str) -> bool:
    """'RE: Locked step' / 'Thanks, all sorted now!': a reply that thanks asks for nothing (p2-57)."""
    return bool(REPLY_SUBJECT_RE.match(subject or "")) and bool(THANKS_RE.match(text.strip())) \
        and not GIVES_VALUE_RE.search(text) and "?" not in text


def _typed_by_history(cls: Classification, msg: ParsedMessage, text: str, subject: str,
                      options: ParseOptions) -> Classification:
    """'It's ws 55667788 - thanks!' above the quoted history: the kind of request comes from what the
    reply quotes (its own earlier mail), the fields still only from the new words (see p2-56)."""
    history = msg.text.replace(text.split("\n\n")[-1], "", 1) if msg.text else ""
    if word_count(history) < 5 or not GIVES_VALUE_RE.search(text):
        return cls  # 'Thanks, all sorted!' above a quoted request asks for nothing new
    quoted = classify(history, subject)
    if quoted.type not in ACTIONABLE or quoted.confidence < options.triage_below_confidence:
        return cls
    cue = Cue("type", f"{quoted.type}:the quoted history", "", None, 0.0)
    return Classification(quoted.type, quoted.confidence * 0.9, quoted.scores, quoted.cues + (cue,))


def _build(type_name: str, ctx: Context, confidence: float, cues: tuple[Cue, ...], requester,
           options: ParseOptions, sensitive: tuple[str, ...]) -> Request:
    extractor = EXTRACTORS.get(type_name)
    threshold = options.triage_below_confidence
    found = None
    if extractor and confidence >= threshold:
        found = extractor(ctx)
    elif extractor and type_name in FIELD_RESCUE_TYPES and confidence >= threshold - RESCUE_MARGIN:
        # a form filled in completely is evidence of its own: the wording was not enough, the
        # fields are (see tests/messages/p2-01): accepted at the threshold, never above it
        found = extractor(ctx)
        if REQUEST_TYPES[type_name].missing(found.fields):
            found = None
        else:
            confidence = threshold
            cues += (Cue("type", f"{type_name}:every required field found", "", None, 0.0),)
    return decide(type_name, found, confidence, requester, options, cues, sensitive)


def find_requests(msg: ParsedMessage, text: str, screen: str | None,
                  options: ParseOptions, sections: Sections | None = None) -> list[Request]:
    """Every request in one message: one ignore Request for screened mail, else typed requests."""
    sections = sections or sections_of(msg)
    if screen:
        requester = find_requester(msg, sections.signature)
        return [Request(screen, "ignore", {}, (), 1.0, requester, (Cue("type", f"screen:{screen}"),))]
    return requests_for_text(msg, sections, text, options)
