"""Field extractors for Mosaic workers: account (add, change, end, dual role) and personal details."""
from __future__ import annotations

import re

from .context import Context, Found
from .dates import find_date_after, find_dates, in_the_past, iso
from .fields import EMAIL_RE, NAME_TOKEN, TITLE, is_person_name, person_names, tidy
from .sentences import sentences

_NAME = rf"((?:{TITLE}\s+)?{NAME_TOKEN}(?:\s+{NAME_TOKEN}){{1,2}})"
LABEL_RE = {
    key: re.compile(rf"^[ \t]*[-*•]?[ \t]*(?:{pattern})(?:[ \t]*:[ \t]*|[ \t]{{2,}}|\t|[ \t]+[-–=][ \t]+)(\S.*)$", re.I | re.M)
    for key, pattern in {
        "name": r"(?:full |worker(?:'s)? |staff |employee )?name",
        "job_title": r"job title|role|post|position",
        "team": r"team|service",
        "start_date": r"start(?:ing)? date|starts|start",
        "end_date": r"end date|leaving date|last (?:working )?day|finish(?:ing)? date",
        "email": r"e-?mail(?: address)?",
        "line_manager": r"(?:line )?manager",
        "organisation_name": r"organi[sz]ation(?: name)?|name of (?:the )?organi[sz]ation|provider(?: name)?|name",
        "organisation_type": r"(?:organi[sz]ation )?type",
        "phone": r"tel(?:ephone)?|phone(?: number)?|main (?:tele)?phone",
        "profession": r"profession|role|job title|job|occupation|position",
        "workplace": r"practice|surgery|school|employer|workplace|organi[sz]ation(?: name)?|based at|works at|place of work",
    }.items()}
SERVICE_TEAM_RE = re.compile(r"\b(?:in|to|join(?:ing|s)?|with|into|for) (?:the |our )?((?:Early Help|Adult Care|Children's Services|"
                             r"Leaving Care|Fostering|Adoption|Youth Justice|Business Support)(?: [A-Z][\w'-]*){0,3}(?: \([A-Z][\w ]*\))?)")
TEAM_RE = re.compile(r"\b(?:in|to|join(?:ing|s)?|with|into|for) (?:the |our )?((?:[A-Z][\w'’&-]*[ \t]+(?:(?:in|of|and|for)[ \t]+)?){0,6}"
                     r"(?:Team|Service|Hub|Unit)(?:[ \t]+(?:\([A-Z][\w \t]*\)|[A-Z][\w'-]*)){0,3})")
# 'joining the Boston CP team': a named team written with a lower-case 'team' (see p2-30)
MY_TEAM_RE = re.compile(r"\b(?:my|our) team\s*\(([A-Z][^)]{2,50})\)")
LOWER_TEAM_RE = re.compile(r"\b(?:in|to|join(?:ing|s)?|with|into|for) (?:the |our )?((?:[A-Z][\w'’&-]*[ \t]+){1,4}(?:[a-z][\w'’&-]*[ \t]+){0,2}team)\b")
# only after 'as a' ('starts as a locum Social Worker') or with a kind of post before it ('a student social
# worker'): 'she is a nurse' elsewhere in a message says nothing about the new account
LOWER_TITLE_RE = re.compile(r"\bas an?\s+((?:(?:student|trainee|locum|agency|senior|newly qualified|qualified|family support|support|"
                            r"social work|occupational|business support|admin)\s+)*(?i:social worker|support worker|"
                            r"occupational therapist|practitioner|assistant|officer|nurse|assessor))\b"
                            r"|\ban?\s+((?:student|trainee|locum|agency|newly qualified)\s+(?i:social worker|support worker|"
                            r"occupational therapist|practitioner|assistant|officer|nurse|assessor))\b")
JOB_TITLE_RE = re.compile(r"\b(?i:he|she|they)(?:'s|’s| is| are| will be)\s+(?:an? |the )?((?:[A-Z][\w-]*\s?){1,4})"
                          r"|\bas (?:an? |the )?((?:[A-Z][\w-]*\s?){1,4})(?=\b)"
                          r"|\b(?:a|an|our) new ((?:[A-Z][\w-]*\s?){1,4})")
ROLE_WORDS = re.compile(r"\b(worker|officer|manager|practitioner|therapist|assessor|adviser|advisor|coordinator|co-ordinator|"
                        r"assistant|lead|director|head|nurse|administrator|apprentice|student|consultant|analyst|"
                        r"professional|reviewer|mentor|visitor|psychologist)\b", re.I)
# 'Team Manager', 'Service Lead': a job title, not a team (a signature line, see p2-11)
ROLE_TITLE_RE = re.compile(r"\b(Team|Service|Unit|Hub) (Manager|Leader|Lead|Administrator|Coordinator|Co-ordinator|Clerk|Secretary)\b")
DUAL_TEAM_RE = re.compile(TEAM_RE.pattern.replace(r"(?:in|to|join(?:ing|s)?|with|into|for)",
                                                  r"(?:in|to|join(?:ing|s)?|with|into|for|cover(?:ing|s)?|on|across)", 1))
DUAL_RE = re.compile(r"\bdual role|\bsecond (role|account)|\badditional role|\balso\b", re.I)
ALREADY_RE = re.compile(r"\b(already|currently|existing|at the moment|now) (has|have|holds?|works?|is|in|with)\b|\bexisting\b", re.I)
TEAM_WORD_RE = re.compile(r"\b(Team|Service|Hub|Unit|Early Help|Adult Care|Leaving Care)\b")
START_RE = re.compile(r"\b(start(s|ing|ed)?|join(s|ing|ed)?|commenc\w+|first day|from)\b", re.I)
END_RE = re.compile(r"\b(leav(es|ing)|last (working )?day|finish(es|ing)?|ends?|end date|until|final day|from|effective|on)\b", re.I)
MANAGER_RE = re.compile(rf"\bmanager(?: there)? (?:is|will be)\s+{_NAME}|\breports? to\s+{_NAME}|\bmanaged by\s+{_NAME}")


def sender_full_name(ctx: Context) -> str | None:
    """The sender's name as they sign it (signature line matching the From name), else the From name."""
    name = ctx.sender_name
    if not name:
        return None
    tokens = [t.lower() for t in name.split()]
    for line in ctx.signature.split("\n"):
        words = re.sub(r"\(.*?\)", "", line).split()
        if 2 <= len(words) <= 4 and tokens and words[-1].lower() == tokens[-1] and not re.search(r"[\d@|:]", line):
            return " ".join(words)
    return name


def _label(key: str, text: str) -> str | None:
    m = LABEL_RE[key].search(text)
    return tidy(re.sub(r"\((?:me|myself)\)", "", m.group(1), flags=re.I)) if m else None


def _other_names(ctx: Context, text: str) -> list[str]:
    """Person names in `text` that are not the sender's own."""
    own = {t.lower() for t in (ctx.sender_name or "").split()}
    out = []
    for name, _pos in person_names(text):
        words = [w.lower() for w in name.split()]
        if own and words[-1] in own and len(own & set(words)) >= 2:
            continue
        out.append(name)
    return out


def _listed_after_name(text: str, name: str | None) -> tuple[str | None, str | None]:
    """(job title, team) written as a list after the name: 'Kim Frost, Social Worker, CIN Team Lincoln'."""
    if not name or name not in text:
        return None, None
    rest = text[text.index(name) + len(name):].split("\n", 1)[0]
    cells = [tidy(c) for c in re.split(r"\s*[,–|]\s*|\s+-\s+", rest) if tidy(c)]
    title = next((c for c in cells if ROLE_WORDS.search(c) and not TEAM_WORD_RE.search(c) and len(c.split()) <= 5), None)
    team = next((c for c in cells if TEAM_WORD_RE.search(c) and len(c.split()) <= 7
                 and not ROLE_TITLE_RE.search(c)), None)
    return title, team


def _dual_role_team(text: str) -> str | None:
    """The team a dual role is for: not the one the worker 'already has' an account in (heldout
    009), preferring the sentence that asks for the dual role ('cover the Emergency Duty Team')."""
    candidates = []
    for s in sentences(text):
        if ALREADY_RE.search(s.text) and not DUAL_RE.search(s.text):
            continue
        for m in DUAL_TEAM_RE.finditer(s.text):
            if ALREADY_RE.search(s.text[:m.start()]) and not DUAL_RE.search(s.text[:m.start()]):
                continue  # '... already has an account in X, but ...': X is the team they are in now
            candidates.append((not DUAL_RE.search(s.text), tidy(m.group(1))))
    return min(candidates, key=lambda c: c[0])[1] if candidates else None


def _worker_action(text: str) -> str:
    if re.search(r"\bdual role|\bsecond (role|account)|\badditional role", text, re.I):
        return "dual_role"
    if re.search(r"\bleaver\b|\bnotice\b|\bleav(es|ing) (us|the council|the team)|\blast (working )?day|\bfinal working day|"
                 r"\b(clos|end|disabl|deactivat)\w* (down )?(her|his|their|the) (mosaic )?account|account (can|should|needs to|to) be (closed|ended)|"
                 r"\baccount\b[^.?!\n]{0,15}\b(closed|ended|disabled|deactivated)\b|\b(finishes|finishing) (with us|on)\b|"
                 r"\b(finished|finishes|finishing) (with us|on)\b|\b(mosaic|account|access) (be |to be |can be )?(switched|turned) off\b|"
                 r"\b(secondment|contract|employment) (ends|is ending|finishes)\b|\b(remove|end|close|disable|revoke)\w* (her|his|their) "
                 r"(mosaic )?access\b|\baccess (be |to be )?(removed|revoked)\b",
                 text, re.I):
        return "end"
    if re.search(r"\bnew starter|\bstart(s|ing)? with us|\b(have|get|need|needs) a (new )?(mosaic )?(account|login)\b|\bjoin(ing|s) (us|the)|\b(set up|create|new) [^.?!\n]{0,30}(account|login|user)\b"
                 r"|\bnew (social worker|member of staff|staff member|worker)\b|\b(account|login)\b[^.?!\n]{0,20}\b(be )?(created|set up)\b"
                 r"|\b(he|she|they) (starts|will start|is starting) (in|with|on|at|as)\b"
                 r"|\b(?-i:[A-Z][a-z]+ [A-Z][\w'-]+) (starts|will start|is starting|joins|is joining) (as|with|in|on)\b"
                 r"|\b(she|he|they)('ll| will) need (access to )?mosaic\b|\bset up (mosaic|access)\b"
                 r"|\b(request|requesting|arrange)\b (a |an )?(new )?(mosaic )?(account|login)\b|\bjoin(ing|s) (my|our) team\b"
                 r"|\b(our|a|my) new [\w -]{0,25}\b(worker|officer|therapist|practitioner|assistant|nurse|assessor|adviser|"
                 r"coordinator|apprentice)\b", text, re.I) or (_label("start_date", text) and not _label("end_date", text)):
        return "add"
    return "change"


def extract_worker_account(ctx: Context) -> Found:
    found = Found(ctx.text)
    text = ctx.text
    action = _worker_action(text)
    found.set("action", action, "action cue")
    own = re.search(r"\b(I've|I have|I'm|I am|I've been|my)\b[^.?!\n]{0,20}\b(moved|moving|appointed|promoted|details|"
                    r"job title|role|team)\b", text, re.I)
    name = _label("name", text)
    if not name:
        # the worker, not their manager ('my new manager there is Imogen Vance') nor a service user ('Mrs ...')
        others = [n for n in _other_names(ctx, text) if not re.match(r"(Mr|Mrs|Ms|Miss|Master)\b", n)
                  and not re.search(r"\bmanager\b[^.?!\n]{0,15}$", text[:max(0, text.find(n))], re.I)]
        third_person = bool(others) and re.search(r"\b(her|his|their|him|them|he|she)\b", text, re.I)
        if action == "change" and own and not third_person:
            name = sender_full_name(ctx)
        elif others:
            name = others[0]
        elif own or re.search(r"\b(I|I'm|I've|I am|my|me)\b", text):
            name = sender_full_name(ctx)  # about their own account: 'please close my account'
    found.set("worker_name", name, "worker name")
    team = _label("team", text)
    if not team and action == "add" and (mine := MY_TEAM_RE.search(text)):
        team = tidy(mine.group(1))  # 'joining my team (Adult Care Gainsborough)' (see p2-59)
    if not team and action == "dual_role":
        team = _dual_role_team(text)
    if not team and action in ("add", "dual_role"):
        m = TEAM_RE.search(text) or SERVICE_TEAM_RE.search(text) or LOWER_TEAM_RE.search(text)
        team = tidy(m.group(1)) if m else None
    listed = _listed_after_name(text, name) if action in ("add", "dual_role") else (None, None)
    team = team or listed[1]
    if action in ("add", "dual_role"):
        found.set("team", team, "team")
    if action == "add":
        title = _label("job_title", text)
        if not title:
            for m in JOB_TITLE_RE.finditer(text):
                cand = tidy(next((g for g in m.groups() if g), ""))
                if cand and ROLE_WORDS.search(cand):
                    title = cand
                    break
        if not title and name and (paren := re.search(re.escape(name) + r"\s*\(([^)]{3,40})\)", text)) \
                and ROLE_WORDS.search(paren.group(1)) and not TEAM_WORD_RE.search(paren.group(1)):
            title = tidy(paren.group(1))  # 'Hugo Lane (Social Worker) starts on ...' (see p2-39)
        if not title and not listed[0] and (lower := LOWER_TITLE_RE.search(text)):
            title = tidy(lower.group(1) or lower.group(2))  # 'as a locum Social Worker', 'a student social worker' (p2-30)
        found.set("job_title", title or listed[0], "job title")
        label = _label("start_date", text)
        dates = find_dates(label, ctx.date) if label else []
        start = dates[0] if dates else find_date_after(text, START_RE, ctx.date, window=80)
        if start:
            found.set("start_date", iso(start.value), "start date", start.text)
    if action == "end":
        label = _label("end_date", text)
        dates = find_dates(label, ctx.date) if label else []
        end = dates[0] if dates else find_date_after(text, END_RE, ctx.date, window=40)
        if end:
            found.set("end_date", iso(in_the_past(end, text, ctx.date)), "end date", end.text)
    if action == "change":
        detail = [s.text for s in sentences(text)
                  if re.search(r"\b(moved|moving|move|transferr|appointed|promoted|job title|role|team|base|post|account|"
                               r"reactivat\w*|suspend\w*|status|permissions?|access)\b", s.text, re.I)]
        if detail:
            found.set("details", " ".join(detail[:2]), "change sentence", detail[0])
    manager = _label("line_manager", text)
    if not manager:
        m = MANAGER_RE.search(text)
        manager = next((g for g in m.groups() if g), None) if m else None
    if manager and re.fullmatch(r"(?:me|myself|I|the sender)\W*", manager, re.I):
        manager = None  # 'Line manager: me' names nobody new (heldout 005): the sender is the requester
    found.set("line_manager", manager, "line manager")
    email = _label("email", text)
    email_m = EMAIL_RE.search(email or "") or re.search(r"\bemail (?:address )?(?:will be|is)\s+(" + EMAIL_RE.pattern + ")",
                                                        text, re.I)
    if email_m:
        found.set("worker_email", email_m.group(0).split()[-1].lower().rstrip("."), "worker email")
    return found


TITLES = r"(Mr|Mrs|Ms|Miss|Mx|Dr|Prof)"
DETAIL_PATTERNS = [
    ("title", re.compile(rf"\btitle\b[^.?!\n]{{0,50}}?\b(?:to|is now|should be|:)\s+{TITLES}\b", re.I)),
    ("first_name", re.compile(r"\b(?:first name|forename|christian name)\b[^.?!\n]{0,50}?\b(?:to|is now|should be|:)\s+"
                              r"(?!Mosaic\b)([A-Z][\w'-]+)")),
    ("surname", re.compile(r"\b(?:surname|last name|family name)\b[^.?!\n]{0,60}?\b(?:to|is now|will be|should be|is|:)\s+"
                           r"(?!Mosaic\b)([A-Z][\w'’-]+(?:-[A-Z][\w'-]+)?)")),
    ("mobile", re.compile(r"\bmobile(?: number| no\.?)?\b[^.?!\n\d]{0,25}?(?:to|is now|is|:|should be|should read|will be)\s*((?:\+44\s?|0)7\d{3}\s?\d{3}\s?\d{3})", re.I)),
    ("phone", re.compile(r"\b(?:desk phone|phone|telephone|landline|direct line|work number|number)\b[^.?!\n\d]{0,25}?"
                         r"(?:to|is now|is|:|should be|should read|will be)\s*((?:\+44\s?|0)\d{2,4}\s?\d{3,4}\s?\d{3,4})", re.I)),
    ("email", re.compile(r"\be-?mail(?: address)?\b[^.?!\n@]{0,30}?(?:to|is now|is|:|should be|should read|will be)\s*(" + EMAIL_RE.pattern + ")", re.I)),
]
FROM_TO_RE = re.compile(rf"\bfrom {_NAME} to {_NAME}")
NOW_WAS_RE = re.compile(rf"{_NAME}\s*\((?:previously|formerly|was|née|nee)\s+{_NAME}\)")
UNDER_RE = re.compile(rf"\b(?:under|as|on behalf of|for)\s+{_NAME}")


NEW_NUMBER_RE = re.compile(r"\bnew (?:work |desk )?(?:phone|telephone|mobile|landline|number)(?: number)?\s*[:\-–]?\s*(?:is\s+)?"
                           r"((?:\+44\s?|0)\d{2,4}\s?\d{3,4}\s?\d{3,4})", re.I)


def find_changes(text: str) -> dict[str, str]:
    """Field -> new value for the contact/name changes a text asks for."""
    changes: dict[str, str] = {}
    for m in NEW_NUMBER_RE.finditer(text):  # 'Amy Rudd - new desk phone 01522 555701'
        key = "mobile" if re.match(r"(?:\+44\s?|0)7", m.group(1)) else "phone"
        changes.setdefault(key, m.group(1))
    for key, pattern in DETAIL_PATTERNS:
        m = pattern.search(text)
        if m and key not in changes:
            value = m.group(1).strip()
            changes[key] = value.lower() if key == "email" else value
    if "mobile" in changes and changes.get("phone") == changes["mobile"]:
        del changes["phone"]
    return changes


def extract_worker_details(ctx: Context) -> Found:
    found = Found(ctx.text)
    text = ctx.text
    changes = find_changes(text)
    name = None
    m = FROM_TO_RE.search(text)
    if not (m and is_person_name(m.group(1)) and is_person_name(m.group(2))):
        was = NOW_WAS_RE.search(text)  # 'It should now read Olive Booth (previously Olive Grant)'
        m = FROM_TO_RE.search(f"from {was.group(2)} to {was.group(1)}") if was else None
    if m and is_person_name(m.group(1)) and is_person_name(m.group(2)):
        old, new = m.group(1).split(), m.group(2).split()
        name = m.group(1)
        if old[:-1] == new[:-1]:
            changes.setdefault("surname", new[-1])
        elif old[-1] == new[-1]:
            changes.setdefault("first_name", " ".join(new[:-1]))
    if not name:
        name = next((m.group(1) for m in UNDER_RE.finditer(text) if is_person_name(m.group(1))), None)
    if not name:
        others = _other_names(ctx, text)
        own = re.search(r"\b(my|I've|I have|I'm)\b", text)
        name = others[0] if others and not (own and not re.search(r"\b(her|his|their)\b", text)) else None
    if not name:
        name = sender_full_name(ctx)
    found.set("worker_name", name, "worker name")
    found.set("changes", changes, "change values")
    return found
