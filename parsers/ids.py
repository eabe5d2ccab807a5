"""Mosaic person and workstep IDs: taken only where the text labels them, never from traps."""
from __future__ import annotations

import re

# A Mosaic ID is 4-10 digits. Phone numbers, NHS numbers, dates, postcodes, INC and police
# references, and our own ticket reference never carry one of these labels.
_NUM = r"(\d{4,10})(?![\d/])"
_GAP = r"[\s:#.=-]*(?:(?:is|was|of|no\.?|number|nos\.?|numbers|:)\s*){0,3}[\s:#=-]*"

# 'PID 889120', 'Mosaic ID: 2049113', 'person no. 30017745', 'client ID 2987610' (see 002, 003, 047)
PERSON_LABEL = (r"\b(?:p\.?i\.?d\.?s?|person(?:'s)?\s*(?:id|no\.?|number|ref(?:erence)?)s?"
                r"|mosaic\s*(?:person\s*|client\s*|service\s*user\s*)?(?:ids?|no\.?|numbers?|refs?|references?|records?)"
                r"|client\s*(?:ids?|no\.?|numbers?)|service\s*user\s*(?:ids?|no\.?|numbers?)"
                r"|record\s*(?:ids?|no\.?|numbers?)|(?:child|adult|case)\s*(?:ids?)|person\s*id)")
# 'ws 203948571', 'Step ID 55120934', 'Work step 9081726', 'the workstep ID is 58812340' (see 031, 032)
WORKSTEP_LABEL = (r"\b(?:w/?s|work\s*-?\s*step|wrkstep|step)\s*(?:\(\s*)?(?:ids?|no\.?|numbers?|ref)?")

PERSON_RE = re.compile(PERSON_LABEL + _GAP + _NUM, re.I)
WORKSTEP_RE = re.compile(WORKSTEP_LABEL + _GAP + r"(?:\(\s*)?" + _NUM, re.I)
# a list after a plural label: 'Mosaic IDs 4410982 and 4432107' (see 025)
LIST_TAIL_RE = re.compile(r"(?:\s*(?:,|and|&|/|\+|or)\s*(?:(?:pid|id|mosaic id)\s*)?(\d{4,10})(?![\d/]))+",
                          re.I)
PERSON_HEADER_RE = re.compile(r"\b(mosaic\s*ids?|pids?|person\s*ids?|client\s*ids?|ids?)\b", re.I)
ROW_ID_RE = re.compile(r"^\s*(?:\|\s*)?(\d{4,10})\b(?![/.]\d)")
PHONE_LIKE_RE = re.compile(r"^0\d{9,10}$")


def _ref_spans(text: str, reference_prefix: str) -> list[tuple[int, int]]:
    """Spans of our own ticket references (e.g. MDHD-000123): never IDs."""
    pat = re.compile(rf"{re.escape(reference_prefix)}\s*-?\s*\d+", re.I)
    return [m.span() for m in pat.finditer(text)]


def _ok(number: str, text: str, pos: int, refs: list[tuple[int, int]]) -> bool:
    if any(s <= pos < e for s, e in refs):
        return False
    if PHONE_LIKE_RE.match(number):  # '01522555555' written after a label by mistake
        return False
    # a number continued by more digit groups is a phone/NHS number: '471 902 3356'
    after = text[pos + len(number):pos + len(number) + 5]
    if re.match(r"\s\d{3,4}\b", after) and len(number) <= 5:
        return False
    return True


def find_labelled(pattern: re.Pattern, text: str, reference_prefix: str = "MDHD",
                  with_lists: bool = True) -> list[tuple[str, int]]:
    """(id, position) of every number behind a label, with lists after plural labels."""
    refs = _ref_spans(text, reference_prefix)
    out: list[tuple[str, int]] = []
    for m in pattern.finditer(text):
        label = text[m.start():m.start(1)]
        if pattern is WORKSTEP_RE and re.fullmatch(r"step(?:[\s:#(=-]|\b(?:is|was|of)\b)*", label, re.I) and len(m.group(1)) < 6:
            continue  # 'step 3 of the plan', 'next to the step is 10234' (heldout 033): a bare
            # 'step' needs a long number to be an ID
        num = m.group(1)
        if _ok(num, text, m.start(1), refs):
            out.append((num, m.start(1)))
        if with_lists:
            tail = LIST_TAIL_RE.match(text, m.end())
            if tail:
                for t in re.finditer(r"\d{4,10}", tail.group(0)):
                    pos = m.end() + t.start()
                    if _ok(t.group(0), text, pos, refs):
                        out.append((t.group(0), pos))
    return out


def find_person_ids(text: str, reference_prefix: str = "MDHD") -> list[str]:
    """Labelled person IDs in order of appearance, duplicates removed."""
    found = [n for n, _ in sorted(find_labelled(PERSON_RE, text, reference_prefix), key=lambda x: x[1])]
    found += find_table_ids(text)
    return list(dict.fromkeys(found))


def find_person_id(text: str, reference_prefix: str = "MDHD") -> str | None:
    ids = find_person_ids(text, reference_prefix)
    return ids[0] if ids else None


def find_workstep_id(text: str, reference_prefix: str = "MDHD") -> str | None:
    """The first labelled workstep ID ('ws', 'step ID', 'work step'), or None."""
    found = sorted(find_labelled(WORKSTEP_RE, text, reference_prefix, with_lists=False),
                   key=lambda x: x[1])
    return found[0][0] if found else None


def find_table_ids(text: str) -> list[str]:
    """IDs in the first column under a header naming them (a table of duplicates, see 027)."""
    out: list[str] = []
    lines = text.split("\n")
    for i, line in enumerate(lines):
        cells = re.split(r"\s{2,}|\t|\|", line.strip())
        if not cells or not PERSON_HEADER_RE.fullmatch(cells[0].strip() or "-") or len(cells) < 2:
            continue
        for row in lines[i + 1:]:
            m = ROW_ID_RE.match(row)
            if not m:
                if row.strip() and not set(row.strip()) <= set("-=|+ "):
                    break
                continue
            out.append(m.group(1))
    return out


def find_bare_ids(text: str) -> list[str]:
    """Unlabelled 6-10 digit numbers that are no phone, NHS number, date or reference."""
    from .fields import PHONE_RE
    from .sensitive import NHS_RE, is_nhs_number

    taken = [m.span() for m in PHONE_RE.finditer(text)] + [m.span() for m in NHS_RE.finditer(text)]
    out = []
    for m in re.finditer(r"(?<![\w/.-])(\d{6,10})(?![\w/-]|\.\d)", text):
        num = m.group(1)
        if any(s <= m.start() < e for s, e in taken):
            continue  # part of a phone or NHS number: '01522 555318'
        before = text[max(0, m.start() - 20):m.start()].lower()
        # digit groups on one line are one number ('01522 555 318'); one number a line is a list (p2-34)
        if re.search(r"\d[ \t-]$", before) or re.match(r"[ \t-]\d", text[m.end():m.end() + 2]):
            continue
        if num.startswith("0") or (len(num) == 10 and is_nhs_number(num)):
            continue
        if re.search(r"(tel|phone|mob|nhs|ref|inc|urn|dfe|company|no\.?)\s*[:.]?\s*$", before):
            continue
        out.append(num)
    return list(dict.fromkeys(out))
