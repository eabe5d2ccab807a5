"""Dates as people write them (UK day-first, '4th Jan', 'next Monday') -> ISO dates."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

MONTHS = {m: i for i, names in enumerate(
    [("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"), ("may",),
     ("jun", "june"), ("jul", "july"), ("aug", "august"), ("sep", "sept", "september"),
     ("oct", "october"), ("nov", "november"), ("dec", "december")], start=1) for m in names}
WEEKDAYS = {d: i for i, names in enumerate(
    [("mon", "monday"), ("tue", "tues", "tuesday"), ("wed", "wednesday"), ("thu", "thur", "thurs", "thursday"),
     ("fri", "friday"), ("sat", "saturday"), ("sun", "sunday")]) for d in names}

_MONTH = r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
_WDAY = r"(?:(mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)(?:day|sday|nesday|rsday|urday)?\.?,?\s+)?"
# 01/02/2027, 1-2-27, 01.02.2027 (UK day-first; see 003 'starting 01/02/2027')
NUMERIC_RE = re.compile(r"(?<![\d/.-])" + _WDAY.replace("(mon", "(?:mon") + r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4}|\d{2})(?![\d/-]|\.\d)", re.I)
# 'Monday 4th Jan', '18th Jan', '1 January 2027', '4th of March' (see 001, 004)
DAY_MONTH_RE = re.compile(r"\b" + _WDAY + r"(\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?" + _MONTH
                          + r"\b\.?(?:,?\s+(\d{4}))?", re.I)
# 'January 4th', 'Feb 1, 2027'
MONTH_DAY_RE = re.compile(r"\b" + _WDAY + _MONTH + r"\.?\s+(\d{1,2})(?:st|nd|rd|th)?\b(?:,?\s+(\d{4}))?", re.I)
# 'next Monday', 'this Friday', 'on Tuesday', 'today', 'tomorrow', 'yesterday'
RELATIVE_RE = re.compile(
    r"\b(?:(next|this|last|on|from|coming|since)\s+)(mon|tues?|wed(?:nes)?|thu(?:rs?)?|fri|sat(?:ur)?|sun)day\b"
    r"|\b(today|tomorrow|yesterday|this morning|this afternoon|this evening|last night|tonight|earlier today|"
    r"(?:since|at|after) lunch(?:time)?|first thing)\b", re.I)


# 'at the end of this month', 'end of next month', 'end of March' (see p2-31): the month's last day
MONTH_END_RE = re.compile(r"\bend of (?:(this|the|next) month|" + _MONTH + r")\b", re.I)


@dataclass(frozen=True)
class FoundDate:
    value: date
    start: int
    end: int
    text: str


def _nearest_year(day: int, month: int, ref: date | None) -> date | None:
    """The date with no year written that lies nearest the message's Date header."""
    if ref is None:
        return None
    best = None
    for year in (ref.year - 1, ref.year, ref.year + 1):
        try:
            cand = date(year, month, day)
        except ValueError:
            continue
        if best is None or abs((cand - ref).days) < abs((best - ref).days):
            best = cand
    return best


def _month(name: str) -> int:
    name = name.lower().rstrip(".")
    return MONTHS.get(name) or MONTHS[name[:3]]


def _full_year(text: str) -> int:
    year = int(text)
    return year + 2000 if year < 100 else year


def _make(year: int | None, month: int, day: int, ref: date | None) -> date | None:
    if year is None:
        return _nearest_year(day, month, ref)
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _relative(word: str | None, wday: str | None, special: str | None, ref: date) -> date:
    if special:
        special = special.lower()
        if special == "tomorrow":
            return ref + timedelta(days=1)
        if special in ("yesterday", "last night"):
            return ref - timedelta(days=1)
        return ref
    target = WEEKDAYS[(wday or "mon").lower()[:3]]
    delta = (target - ref.weekday()) % 7
    word = (word or "").lower()
    if word == "since":  # 'since Tuesday' is the Tuesday just gone, or today
        return ref - timedelta(days=(ref.weekday() - target) % 7)
    if word == "last":
        return ref - timedelta(days=(ref.weekday() - target) % 7 or 7)
    if word == "next" and delta == 0:
        delta = 7
    if word == "next" and delta < 7 and ref.weekday() >= 5:
        return ref + timedelta(days=delta)
    return ref + timedelta(days=delta)


def _month_end(word: str | None, month_name: str | None, ref: date) -> date:
    """The last day of this/next month, or of the named month nearest `ref`."""
    if month_name:
        month = _month(month_name)
        year = ref.year + (1 if month < ref.month - 6 else -1 if month > ref.month + 6 else 0)
    else:
        month, year = ref.month + (1 if (word or "").lower() == "next" else 0), ref.year
        if month > 12:
            month, year = 1, year + 1
    first_of_next = date(year + month // 12, month % 12 + 1, 1)
    return first_of_next - timedelta(days=1)


def find_dates(text: str, ref: datetime | date | None) -> list[FoundDate]:
    """Every date written in `text`, in order; years and weekdays resolved against `ref`.

    Without `ref` (a message with no Date header) only dates written with their year are
    found: the parser never reads the clock."""
    ref_day: date | None = ref.date() if isinstance(ref, datetime) else ref
    found: list[FoundDate] = []
    taken: list[tuple[int, int]] = []

    def add(m: re.Match, value: date | None) -> None:
        if value is None or any(s < m.end() and m.start() < e for s, e in taken):
            return
        taken.append((m.start(), m.end()))
        found.append(FoundDate(value, m.start(), m.end(), m.group(0)))

    for m in NUMERIC_RE.finditer(text):
        day, month, year = int(m.group(1)), int(m.group(2)), _full_year(m.group(3))
        if 1 <= month <= 12:
            add(m, _make(year, month, day, ref_day))
    for m in DAY_MONTH_RE.finditer(text):
        year = int(m.group(4)) if m.group(4) else None
        add(m, _make(year, _month(m.group(3)), int(m.group(2)), ref_day))
    for m in MONTH_DAY_RE.finditer(text):
        year = int(m.group(4)) if m.group(4) else None
        add(m, _make(year, _month(m.group(2)), int(m.group(3)), ref_day))
    for m in MONTH_END_RE.finditer(text) if ref_day else ():
        add(m, _month_end(m.group(1), m.group(2), ref_day))
    for m in RELATIVE_RE.finditer(text) if ref_day else ():
        add(m, _relative(m.group(1), m.group(2), m.group(3), ref_day))
    return sorted(found, key=lambda f: f.start)


def find_date_after(text: str, cue: re.Pattern, ref: datetime | date | None,
                    window: int = 60, avoid: re.Pattern | None = None) -> FoundDate | None:
    """The first date written within `window` characters after a cue (e.g. 'from', 'starting')."""
    dates = find_dates(text, ref)
    for cm in cue.finditer(text):
        for d in dates:
            if cm.start() <= d.start <= cm.end() + window:
                before = text[max(0, d.start - 25):d.start]
                if avoid is not None and avoid.search(before):
                    continue
                return d
    return None


PAST_TENSE_RE = re.compile(r"\b(moved|went|was|were|started|happened|left|finished|began|signed|occurred|since|last|placed|"
                           r"released|discharged)\b[^.?!\n]{0,200}$",
                           re.I)


def in_the_past(found: FoundDate, text: str, ref: datetime | date | None, window: int = 40) -> date:
    """A bare weekday after a past-tense verb ('he moved on Saturday') is the one just gone."""
    ref_day = ref.date() if isinstance(ref, datetime) else ref
    if ref_day and found.value > ref_day and re.fullmatch(r"(?:\w+\s+)?\w+day", found.text, re.I) \
            and PAST_TENSE_RE.search(text[max(0, found.start - window):found.start]):
        return found.value - timedelta(days=7)
    return found.value


def iso(value: date | None) -> str | None:
    return value.isoformat() if value else None
