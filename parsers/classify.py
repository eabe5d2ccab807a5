"""classify(text) -> scored types: weighted cues, never one sample's wording; explainable."""
from __future__ import annotations

import re
from dataclasses import dataclass

from .cues import CONFLICTS, CUES, NEGATIONS, PROFESSIONS
from .evidence import field_evidence
from .model import Cue

__all__ = ["ACTIONABLE", "PROFESSIONS", "Classification", "classify", "score_text"]


def _case_blind(pattern: re.Pattern) -> re.Pattern | None:
    """The same IGNORECASE pattern for lower-cased text, compiled without the flag (None if case matters)."""
    if not pattern.flags & re.I:
        return None
    source = re.sub(r"(\\.)|([A-Z])", lambda m: m.group(1) or m.group(2).lower(), pattern.pattern)
    return re.compile(source, pattern.flags & ~re.I)


CUE_TABLE = [(t, n, p, w, _case_blind(p)) for t, n, p, w in CUES]

ACTIONABLE = ("add_address", "worker_account", "worker_details", "organisation", "professional", "how_do_i",
              "duplicate_record", "remove_lock", "incident", "person_record_change", "design_change",
              "restricted_record")


@dataclass(frozen=True)
class Classification:
    """The best type for a text, its confidence and the cues behind it."""

    type: str
    confidence: float
    scores: dict[str, float]
    cues: tuple[Cue, ...]


# field evidence (parsers/evidence.py) counts for a type the wording has not named already only
# when no other type has this much wording behind it (h42: IDs in an incident report)
EVIDENCE_RIVAL = 2.5
# evidence many kinds of request carry (an address with its postcode): it only tips a type the wording
# already favours, never one it trails (004: a care home as a person's new address)
WEAK_EVIDENCE = frozenset({"field:organisation name + postcode", "field:person ID + street + postcode"})


def _line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def score_text(text: str, subject: str = "") -> tuple[dict[str, float], list[Cue]]:
    """Sum cue weights per type over the text, and the subject's at half weight (full weight
    when the body says next to nothing: 'Please unlock step 12345678' in the subject alone)."""
    scores: dict[str, float] = {}
    cues: list[Cue] = []
    share = 1.0 if len(re.findall(r"[A-Za-z]{2,}", text)) < 8 else 0.5
    low_text, low_subject = text.lower(), subject.lower()
    # lower-cased copies let case-blind cues run without IGNORECASE (about three times faster);
    # a few characters change length when lower-cased, and then the originals are searched
    same = len(low_text) == len(text) and len(low_subject) == len(subject)
    for type_name, name, pattern, weight, fast in CUE_TABLE:
        use, body, head = (fast, low_text, low_subject) if fast is not None and same else (pattern, text, subject)
        m = use.search(body)
        if m:
            scores[type_name] = scores.get(type_name, 0.0) + weight
            cues.append(Cue("type", f"{type_name}:{name}", text[m.start():m.end()][:60], _line_of(text, m.start()), weight))
        if subject and (sm := use.search(head)):
            scores[type_name] = scores.get(type_name, 0.0) + weight * share
            cues.append(Cue("type", f"{type_name}:{name} (subject)", subject[sm.start():sm.end()][:60], None,
                            weight * share))
    for type_name, name, weight, snippet, pos in field_evidence(text):
        rival = max((v for t, v in scores.items() if t != type_name), default=0.0)
        own = scores.get(type_name, 0.0)
        if rival >= EVIDENCE_RIVAL and (not own or (name in WEAK_EVIDENCE and own < rival)):
            continue  # the wording names another kind of request (more clearly): the fields fit it too
        scores[type_name] = scores.get(type_name, 0.0) + weight
        cues.append(Cue("type", f"{type_name}:{name}", snippet[:60], _line_of(text, pos), weight))
    for type_name, pattern, weight in NEGATIONS:
        m = pattern.search(text)
        if m and type_name in scores:
            scores[type_name] = max(0.0, scores[type_name] + weight)
            cues.append(Cue("type", f"{type_name}:negated", m.group(0)[:60], _line_of(text, m.start()), weight))
    matched = {c.rule for c in cues}
    for type_name, rules, weight in CONFLICTS:
        if type_name in scores and matched & rules:
            scores[type_name] = max(0.0, scores[type_name] + weight)
            cues.append(Cue("type", f"{type_name}:outweighed by {sorted(matched & rules)[0]}", "", None, weight))
    return scores, cues


def confidence_of(scores: dict[str, float]) -> tuple[str, float]:
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])
    if not ranked or ranked[0][1] <= 0:
        return "unknown", 0.0
    best, s1 = ranked[0]
    s2 = ranked[1][1] if len(ranked) > 1 else 0.0
    lead = s1 - 0.6 * s2
    return best, max(0.0, min(0.97, lead / (lead + 2.5)))


def classify(text: str, subject: str = "") -> Classification:
    scores, cues = score_text(text, subject)
    best, conf = confidence_of(scores)
    return Classification(best, conf, scores, tuple(c for c in cues if c.rule.startswith(best + ":")))
