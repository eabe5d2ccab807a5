"""Field presence as evidence for a type: what a text holds (labelled IDs), not how it is worded.

The classifier's cues read wording; people who word a request in a way no cue knows still give
its form's fields. Two or more labelled person IDs with no workstep are the duplicate-record
form; a labelled workstep with a labelled person ID and a sentence of explanation is the
person-record-change form. The weights only add to the cues' scores: they decide nothing alone
against a clear cue for another type.
"""
from __future__ import annotations

import re

from .ids import PERSON_RE, WORKSTEP_RE, find_labelled

# a sentence long enough to explain what is wrong (the form asks for a detailed explanation)
_SENTENCE_RE = re.compile(r"[^.?!\n]+")
_WORD_RE = re.compile(r"[A-Za-z][\w'’-]*")
EXPLANATION_WORDS = 10

POSTCODE_RE = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]? ?\d[ABD-HJLNP-UW-Z]{2}\b", re.I)
STREET_RE = re.compile(r"\b\d{1,4}[a-z]?,? (?:[A-Z][a-z'-]+ ){1,3}(?:Road|Street|Lane|Close|Way|Avenue|Drive|Court|Crescent|Place|"
                       r"Gardens|Grove|Terrace|Walk|Square|Hill|Park|View|Rise|Mews|Green|Row)\b")
# an organisation a person is not: a surgery, school or home named with its address (see p2-41)
ORG_NAME_RE = re.compile(r"\b(?:[A-Z][\w'’&-]*\s+){1,4}(?:Surgery|Practice|Medical Centre|Health Centre|Primary School|School|"
                         r"Academy|Nursery|Care Home|Children's Home|Nursing Home|Pharmacy|Hospice|Clinic)\b")
Evidence = tuple[str, str, float, str, int]  # (type, rule, weight, text, position)


def _explains(text: str) -> bool:
    return any(len(_WORD_RE.findall(s.group(0))) >= EXPLANATION_WORDS
               for s in _SENTENCE_RE.finditer(text))


def field_evidence(text: str) -> list[Evidence]:
    """Type evidence from the fields a text carries. Pure and fast: two labelled-ID scans."""
    if not any(ch.isdigit() for ch in text):
        return label_evidence(text)
    people = find_labelled(PERSON_RE, text)
    steps = find_labelled(WORKSTEP_RE, text, with_lists=False)
    distinct = list(dict.fromkeys(n for n, _ in sorted(people, key=lambda p: p[1])))
    step_ids = {n for n, _ in steps}
    out: list[Evidence] = []
    others = [n for n in distinct if n not in step_ids]
    if len(others) >= 2 and not steps:
        pos = min(p for n, p in people if n == others[0])
        out.append(("duplicate_record", "field:several person IDs", 2.5,
                    " & ".join(others[:3]), pos))
    if steps and others and _explains(text):
        out.append(("person_record_change", "field:workstep + person ID + explanation", 2.0,
                    steps[0][0], steps[0][1]))
    postcode = POSTCODE_RE.search(text)
    if postcode and others and not steps and len(others) == 1 and STREET_RE.search(text):
        out.append(("add_address", "field:person ID + street + postcode", 2.0, postcode.group(0), postcode.start()))
    if postcode and not people and (org := ORG_NAME_RE.search(text)):
        out.append(("organisation", "field:organisation name + postcode", 2.0, org.group(0), org.start()))
    return out + label_evidence(text)


# form labels people copy from the web forms ('Access:', 'Reason:', 'Job title:'): each names its form
LABEL_EVIDENCE: tuple[tuple[str, re.Pattern[str]], ...] = tuple((t, re.compile(
    r"^[ \t]*(?:[-*\u2022][ \t]*)?(?:" + labels + r")[ \t]*(?::|[ \t]-[ \t])", re.I | re.M)) for t, labels in (
    ("restricted_record", r"access(?: list)?|who (?:should|can) (?:have )?access|(?:restricted records? )?policy(?: read)?"),
    ("worker_account", r"job title|start(?:ing)? date|line manager|leaving date|end date|last (?:working )?day"),
    ("professional", r"profession|occupation"),
    ("organisation", r"organi[sz]ation(?: name| type)?"),
    ("incident", r"error(?: message)?|what happened"),
))
LABEL_WEIGHT = 1.5  # per distinct label of a form, at most two counted


def label_evidence(text: str) -> list[Evidence]:
    """A form's own labels as evidence for it: two labels of one form weigh like a clear cue."""
    if ":" not in text and " - " not in text:
        return []
    out: list[Evidence] = []
    for type_name, pattern in LABEL_EVIDENCE:
        hits = list(pattern.finditer(text))
        labels = {m.group(0).strip(" \t-*\u2022:").lower() for m in hits}
        if labels:
            out.append((type_name, "field:form labels", LABEL_WEIGHT * min(2, len(labels)),
                        hits[0].group(0).strip(), hits[0].start()))
    return out
