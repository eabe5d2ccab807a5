"""Field extractors for system requests: incidents, design changes and how-to questions."""
from __future__ import annotations

import re
from datetime import timedelta

from .context import Context, Found
from .dates import find_dates, iso
from .extract_records import DOB_BEFORE_RE, ID_MENTION_RE, _ids
from .fields import tidy
from .sentences import sentences, without_greeting, word_count


GENERIC_REPORT_RE = re.compile(r"\breport (?:an? )?(?:incident|error|problem|issue|fault)(?:\s*/\s*(?:incident|error|problem|issue|fault))*"
                               r"(?: with mosaic)?", re.I)
PROBLEM_RE = re.compile(r"exception\b|\bwhenever i\b|\bunavailable\b|\b(is|was|went|seems|goes) down\b|\b(none of us|nobody|no one)\b|\b(not|never|aren'?t|isn'?t|doesn'?t|don'?t) (generat|open|load|sav|print|show|display|appear|upload|send|finalis|complet)\w*|\berror|\bwon'?t\b|\bwill not\b|\bcan'?t\b|\bcannot\b|\bnot (working|saving|loading|opening)\b|\bslow\b|"
                        r"\bcrawling\b|\bcrash|\bfroze|\bfreez|\btim(ed|ing) out\b|\btimeouts?\b|\bfail|\bbroken\b|\bblank\b|"
                        r"\bdisappear|\bmissing\b|\bstuck\b|\bhang|\bcould not\b|\bcouldn'?t\b|\bunable\b|\bmosaic down\b|\bbad gateway\b", re.I)
# 'I get this error:' then the message on its own line (see tests/messages/h57)
ERROR_LINE_RE = re.compile(r"\b(?:error|message|says|saying|following|this|getting)\b[^\n]{0,60}:[ \t]*\n+[ \t]*([^\n]{5,200})", re.I)
# asking how to report, not reporting (see 034)
PROCESS_RE = re.compile(r"\b(what (information|details|do you need)|is there a form|how (do|should) i report|"
                        r"fill in|get in touch|call me|ring me|let me know)\b", re.I)
QUOTED_RE = re.compile(r"[\"“]([^\"“”\n]{6,200})[\"”]|(?<!\w)['‘]([^'‘’\n]{6,200})['’](?!\w)")


def extract_incident(ctx: Context) -> Found:
    found = Found(ctx.text)
    person_id, workstep = _ids(ctx)
    text = GENERIC_REPORT_RE.sub(" ", ctx.text)
    described = [s.text for s in sentences(without_greeting(text))
                 if PROBLEM_RE.search(s.text) and word_count(s.text) >= 5 and not s.text.rstrip().endswith("?")
                 or (PROBLEM_RE.search(s.text) and word_count(s.text) >= 8)]
    if described:
        found.set("description", " ".join(described[:2]), "sentence with a problem", described[0])
    else:  # 'the chronology shows entries in the wrong order': a statement of what is wrong
        plain = [s.text for s in sentences(without_greeting(text)) if word_count(s.text) >= 8
                 and not s.text.rstrip().endswith("?") and not PROCESS_RE.search(s.text)
                 and not ID_MENTION_RE.fullmatch(s.text.strip())]
        if plain:
            found.set("description", plain[0], "statement in an incident report", plain[0])
        else:  # a short report: 'Is Mosaic down? I'm getting a 503 error.' (see p2-52)
            short = [s.text for s in sentences(without_greeting(text)) if PROBLEM_RE.search(s.text) and word_count(s.text) >= 3]
            if short:
                found.set("description", " ".join(short[:2]), "short report", short[0])
    for m in QUOTED_RE.finditer(ctx.text):
        quoted = (m.group(1) or m.group(2)).strip()
        if word_count(quoted) >= 3 or re.search(r"error|fail|unable|invalid|denied|cannot|can't|not |timed out|exception|\d{3}",
                                                quoted, re.I):
            found.set("error_message", quoted, "quoted error text", quoted)
            break
    else:
        m = ERROR_LINE_RE.search(ctx.text)
        if m:
            found.set("error_message", tidy(m.group(1)), "error text after a colon", m.group(1))
    found.set("workstep_id", workstep, "label:workstep")
    found.set("person_id", person_id, "label:person ID")
    dates = [d for d in find_dates(ctx.text, ctx.date) if not DOB_BEFORE_RE.search(ctx.text[max(0, d.start - 25):d.start])]
    if dates:
        when = dates[0].value
        if ctx.date and when > ctx.date.date() and re.fullmatch(r"(?:\w+\s+)?\w+day", dates[0].text, re.I):
            when -= timedelta(days=7)  # 'since Monday' in a report is the Monday just gone
        found.set("occurred_at", iso(when), "date in report", dates[0].text)
    return found


DESIGN_VERB_RE = re.compile(r"\b(add|added|adding|make|made|making|change|changed|remove|removed|rename|renamed|amend|"
                            r"create|introduce|include|mandatory|new|send|show|display|alert|notify|allow|stop|prevent|"
                            r"default|automatically|correct|corrected|fix|fixed|spelt|misspelt|extra|additional|have|increase|increased|"
                            r"extend|extended|raise|raised)\b", re.I)
DESIGN_OBJECT_RE = re.compile(r"\b(value|option|field|form|step|list|next action|reference data|drop[- ]?down|screen|question|"
                              r"section|report|button|tab|outcome|lookup|look-up|tick ?box|check ?box|free text|mandatory|alert|"
                              r"notification|email|reminder|case note|date|setting)s?\b|\b[A-Z]\w* (Type|Category|Reason|Status|Source)\b", re.I)
SYSTEM_RE = re.compile(r"\b(defaults?|alerts?|notifications?|reminders?|e-?mails?|log-?in|performance|search|dashboard|for mosaic to|"
                       r"the system|mosaic to)\b", re.I)
ITEM_RE = re.compile(r"\b(?:the|a|an|our)\s+((?:[A-Z][\w'&()-]*\s+(?:(?:in|of|and|for|to|on)\s+)?){0,5}[A-Z][\w'&()-]*)\s+"
                     r"(list|form|step|reference data|drop[- ]?down|screen|lookup)\b")
# 'a new Case Note Type of ...': a list named by its own title
LIST_NAME_RE = re.compile(r"\b(?:new|the|a|an|of)\s+((?:[A-Z][\w'-]*\s+){0,3}(?:Types?|Categor(?:y|ies)|Reasons?|Status(?:es)?|Sources?|"
                          r"Outcomes?|Methods?))()\b")
ITEM_LABEL_RE = re.compile(r"^[ \t]*(form|step|screen|list|reference data|drop[- ]?down)(?: name)?(?:[ \t]*:[ \t]*|[ \t]{2,}|\t)(\S.*)$", re.I | re.M)
TARGETS = [("reference_data", re.compile(r"\b(value|option)s?\b|\breference data\b|\blist\b|\bdrop[- ]?down\b|\blookup\b", re.I)),
           ("reference_data", re.compile(r"\b[A-Z]\w* (Type|Types|Category|Categories|Reason|Reasons|Status|Source)\b")),
           # 'section' in lower case: 'Section 47' names a step, not a part of a form (see p2-61)
           ("form", re.compile(r"\b(?i:form|field|question)\b|\bsection\b")),
           ("step", re.compile(r"\bstep\b|\bnext action\b|\bworkflow\b", re.I))]


def extract_design_change(ctx: Context) -> Found:
    found = Found(ctx.text)
    concrete = [s.text for s in sentences(without_greeting(ctx.text))
                if DESIGN_VERB_RE.search(s.text) and DESIGN_OBJECT_RE.search(s.text)]
    if not concrete:
        return found
    found.set("description", " ".join(concrete[:2]), "sentence naming a change", concrete[0])
    joined = " ".join(concrete)
    label = ITEM_LABEL_RE.search(ctx.text)
    item = ITEM_RE.search(joined) or ITEM_RE.search(ctx.text) or LIST_NAME_RE.search(joined)
    kind = None
    if label:
        found.set("item_name", tidy(label.group(2)), "label:" + label.group(1), label.group(0))
        kind = {"form": "form", "screen": "form", "step": "step"}.get(label.group(1).lower(), "reference_data")
    elif item:
        found.set("item_name", item.group(1), "named item", item.group(0))
        word = item.group(2).lower()
        kind = {"list": "reference_data", "reference data": "reference_data", "dropdown": "reference_data",
                "drop-down": "reference_data", "lookup": "reference_data", "form": "form", "screen": "form",
                "step": "step"}.get(word)
        if kind != "reference_data" and re.search(r"\b(value|option)s?\b", joined, re.I) and kind != "step":
            kind = "reference_data"
    if kind is None and SYSTEM_RE.search(joined):
        kind = "system"  # a behaviour of Mosaic as a whole: alerts, search, log-in
    if kind is None:
        kind = next((name for name, pattern in TARGETS if pattern.search(joined)), "system")
    found.set("target", kind, "target word")
    return found


QUESTION_START_RE = re.compile(r"^(how|is there|is it|can i|can we|where|what|which|why|when|do i|do we|does|could i|could you tell)\b",
                               re.I)
CALLBACK_RE = re.compile(r"\b(ring|call|phone|contact) me\b|\bgive me a (ring|call)\b|\bwhat (information|do you need)\b|"
                         r"\b(good|best) time to (call|ring|phone)\b|\bcan (i|we) (call|ring|phone)\b|"
                         r"\bhow to do something\b|\b(help|question|query) (with|about) (something|a few things)\b|"
                         r"\b(done|did) something wrong\b|\bhow to fix it\b", re.I)


def extract_how_do_i(ctx: Context) -> Found:
    found = Found(ctx.text)
    for s in sentences(without_greeting(ctx.text)):
        text = s.text
        if CALLBACK_RE.search(text):
            continue
        if text.rstrip().endswith("?") or (QUESTION_START_RE.match(text) and word_count(text) >= 5) \
                or re.search(r"\b(know|find out|show me|explain|tell me|advise|let me know) (how|where|whether|if)\b", text, re.I):
            found.set("question", text.lstrip("*-•· ").strip(), "question sentence", text)
            break
    subject = ctx.subject.strip()
    if "question" not in found.fields and (subject.endswith("?") or QUESTION_START_RE.match(subject)) \
            and word_count(subject) >= 4:
        found.set("question", subject.rstrip("?").strip() + ("?" if subject.endswith("?") else ""),
                  "question in the subject", subject)  # the body only says 'see subject' (heldout 020)
    return found
