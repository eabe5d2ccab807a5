"""Label comparison for tests: the rules of shared/tools/score_corpus.py, replicated so tests stay self-contained."""
from __future__ import annotations

import re
from typing import Any

ID_FIELDS = {"person_id", "workstep_id", "person_ids", "keep_person_id"}
PRESENCE_FIELDS = {"question", "description", "explanation", "reason", "error_message", "details"}


def fold(value: Any) -> str:
    text = re.sub(r"[^\w\s]", " ", str(value).casefold())
    return " ".join(text.split())


def loose_equal(want: Any, got: Any) -> bool:
    if got is None:
        return False
    a, b = fold(want), fold(got)
    if a == b:
        return True
    ta, tb = set(a.split()), set(b.split())
    if not ta or not tb:
        return False
    return len(ta & tb) / len(ta | tb) >= 0.6 or (ta <= tb and len(tb) <= len(ta) + 3)


def digits(value: Any) -> str:
    return re.sub(r"\D", "", str(value))


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def field_ok(name: str, want: Any, got: Any) -> bool:
    if got is None or got == "" or got == []:
        return want in (None, "", [])
    if name in PRESENCE_FIELDS:
        return bool(str(got).strip())
    if name == "person_ids":
        return {digits(x) for x in want} == {digits(x) for x in _as_list(got)}
    if name in ID_FIELDS:
        return digits(want) == digits(got)
    if name == "postcode":
        return fold(want).replace(" ", "") == fold(got).replace(" ", "")
    if name == "access":
        return all(any(loose_equal(w, g) for g in _as_list(got)) for w in _as_list(want))
    if name == "changes":
        if not isinstance(got, dict):
            return False
        for key, value in want.items():
            if key not in got:
                return False
            if key in ("phone", "mobile"):
                if digits(value) != digits(got[key]):
                    return False
            elif key == "email":
                if str(value).lower() != str(got[key]).lower():
                    return False
            elif not loose_equal(value, got[key]):
                return False
        return True
    if isinstance(want, bool):
        return got is want
    if name.endswith("_date") or name == "occurred_at":
        return str(want) == str(got)[: len(str(want))]
    return loose_equal(want, got)


def compare(want: dict, got: dict | None) -> list[str]:
    """Problems with one parsed request against its label ([] when fully correct)."""
    got = got or {}
    problems = []
    if got.get("type") != want["type"]:
        problems.append(f"type {got.get('type')} != {want['type']}")
    if got.get("action") != want["action"]:
        problems.append(f"action {got.get('action')} != {want['action']}")
    gf, wf = got.get("fields") or {}, want.get("fields") or {}
    problems += [f"field {k}" for k, v in wf.items() if not field_ok(k, v, gf.get(k))]
    if sorted(got.get("missing") or []) != sorted(want.get("missing") or []):
        problems.append(f"missing {got.get('missing')} != {want.get('missing')}")
    problems += [f"spurious {k}" for k in ID_FIELDS if k not in wf and gf.get(k) not in (None, "", [])]
    return problems


def spurious_ids(want: dict, got: dict | None) -> list[str]:
    gf, wf = (got or {}).get("fields") or {}, want.get("fields") or {}
    return [k for k in ID_FIELDS if k not in wf and gf.get(k) not in (None, "", [])]


def pair_up(wants: list[dict], gots: list[dict]) -> list[tuple[dict, dict | None]]:
    """Labelled requests matched to parsed ones by type, then by order."""
    left = list(gots)
    pairs = []
    for want in wants:
        match = next((g for g in left if g.get("type") == want["type"]), None)
        if match is None and left and len(wants) == 1:
            match = left[0]
        if match is not None:
            left.remove(match)
        pairs.append((want, match))
    return pairs
