"""Staff field edits: parse and validate a form value like the parser's own output, or say why not.

Values come back normalised as the contract has them: IDs digit strings, postcodes `LN1 1AA`,
dates ISO `YYYY-MM-DD`, e-mail addresses lower-case, `changes` an object, lists as lists.
"""
from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from parsers.catalogue import REDIRECTS, REQUEST_TYPES, UNKNOWN

ID_FIELDS = frozenset({"person_id", "workstep_id", "keep_person_id"})
DATE_FIELDS = frozenset({"start_date", "end_date"})
EMAIL_FIELDS = frozenset({"worker_email", "email"})
PHONE_FIELDS = frozenset({"phone", "mobile"})
LIST_FIELDS = frozenset({"access"})
CHOICES: dict[tuple[str, str], tuple[str, ...]] = {
    ("worker_account", "action"): ("add", "change", "end", "dual_role"),
    ("organisation", "action"): ("create", "change"),
    ("professional", "action"): ("create", "change"),
    ("design_change", "target"): ("form", "step", "system", "reference_data"),
    ("person_record_change", "change_kind"): ("person_record", "workflow"),
}
CHANGE_KEYS = ("surname", "first_name", "title", "phone", "mobile", "email", "organisation_name",
               "professional_name", "address", "postcode", "profession", "organisation_type")
MAX_TEXT = 4000

ID_RE = re.compile(r"^\d{3,12}$")
# UK postcode: outward code (A9, A99, AA9, AA99, A9A, AA9A) + inward code (9AA); GIR 0AA
POSTCODE_RE = re.compile(r"^(GIR ?0AA|[A-Z]{1,2}\d[A-Z\d]? ?\d[ABD-HJLNP-UW-Z]{2})$")
EMAIL_RE = re.compile(r"^[^@\s<>\"',;]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
PHONE_RE = re.compile(r"^\+?[\d ()-]{7,20}$")
UK_DATE_RE = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")


class FieldError(ValueError):
    """A staff-entered value that the parser would never produce."""


def all_types() -> list[str]:
    """Every type a ticket may be given: request types, redirects, and unknown (triage)."""
    return [*REQUEST_TYPES, *REDIRECTS, UNKNOWN]


def fields_of_type(type_name: str, current: dict[str, Any]) -> list[str]:
    """The fields a staff member may fill for this type, required first; plus any present."""
    spec = REQUEST_TYPES.get(type_name)
    names: list[str] = []
    if spec is not None:
        names += list(spec.required)
        for extra in spec.required_for_action.values():
            names += [f for f in extra if f not in names]
        names += [f for f in spec.optional if f not in names]
    names += [f for f in current if f not in names]
    return names


def missing_for(type_name: str, fields: dict[str, Any]) -> list[str]:
    spec = REQUEST_TYPES.get(type_name)
    return list(spec.missing(fields)) if spec is not None else []


def as_form_text(value: Any) -> str:
    """A stored value as the text a staff member edits (the inverse of `parse_value`)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return "\n".join(f"{k}: {v}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)


def _date(text: str) -> str:
    m = UK_DATE_RE.match(text)
    try:
        if m:  # UK order: day first
            return date(int(m.group(3)), int(m.group(2)), int(m.group(1))).isoformat()
        return date.fromisoformat(text).isoformat()
    except ValueError as exc:
        raise FieldError("not a real date (use YYYY-MM-DD or DD/MM/YYYY)") from exc


def _occurred(text: str) -> str:
    try:
        return _date(text)
    except FieldError:
        try:
            return datetime.fromisoformat(text).isoformat(timespec="minutes")
        except ValueError as exc:
            raise FieldError("not a real date or date and time (YYYY-MM-DD[THH:MM])") from exc


def _identifier(text: str) -> str:
    digits = re.sub(r"[\s]", "", text)
    if not ID_RE.match(digits):
        raise FieldError("an ID is 3 to 12 digits and nothing else")
    return digits


def _postcode(text: str) -> str:
    compact = re.sub(r"\s+", "", text.upper())
    if not POSTCODE_RE.match(compact):
        raise FieldError("not a UK postcode (e.g. LN1 1AA)")
    return f"{compact[:-3]} {compact[-3:]}"


def _email(text: str) -> str:
    if not EMAIL_RE.match(text):
        raise FieldError("not an e-mail address")
    return text.lower()


def _phone(text: str) -> str:
    if not PHONE_RE.match(text) or not 7 <= len(re.sub(r"\D", "", text)) <= 15:
        raise FieldError("not a telephone number")
    return re.sub(r"\s+", " ", text)


def _bool(text: str) -> bool:
    low = text.lower()
    if low in ("yes", "y", "true", "1"):
        return True
    if low in ("no", "n", "false", "0"):
        return False
    raise FieldError("answer yes or no")


def _changes(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in filter(None, (ln.strip() for ln in text.splitlines())):
        key, sep, value = line.partition(":")
        key = key.strip().lower().replace(" ", "_")
        if not sep or not value.strip():
            raise FieldError("one change a line: `surname: Okafor`")
        if key not in CHANGE_KEYS:
            raise FieldError(f"unknown change {key!r}; known: {', '.join(CHANGE_KEYS)}")
        out[key] = parse_value("", key, value.strip())  # type: ignore[assignment]
    return out


def parse_value(type_name: str, name: str, text: str) -> Any:
    """The normalised value of field `name` from form text; None when left empty.

    Raises FieldError with a reason a staff member can act on.
    """
    text = (text or "").strip()
    if not text:
        return None
    if len(text) > MAX_TEXT:
        raise FieldError(f"longer than {MAX_TEXT} characters")
    if name in ID_FIELDS:
        return _identifier(text)
    if name == "person_ids":
        ids = list(dict.fromkeys(_identifier(p) for p in re.split(r"[,;\s]+", text) if p))
        if len(ids) < 2:
            raise FieldError("a duplicate needs at least two different person IDs")
        return ids
    if name == "postcode":
        return _postcode(text)
    if name in DATE_FIELDS:
        return _date(text)
    if name == "occurred_at":
        return _occurred(text)
    if name in EMAIL_FIELDS:
        return _email(text)
    if name in PHONE_FIELDS:
        return _phone(text)
    if name == "policy_read":
        return _bool(text)
    if name == "changes":
        return _changes(text)
    if name in LIST_FIELDS:
        return [p.strip() for p in re.split(r"[,;\n]+", text) if p.strip()]
    choices = CHOICES.get((type_name, name))
    if choices is not None:
        value = text.lower().replace(" ", "_")
        if value not in choices:
            raise FieldError(f"one of: {', '.join(choices)}")
        return value
    return re.sub(r"[ \t]+", " ", text)
