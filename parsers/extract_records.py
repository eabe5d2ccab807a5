"""Field extractors for record requests: address, duplicate, lock, person record change, restriction."""
from __future__ import annotations

import re

from .context import Context, Found
from .dates import find_date_after, find_dates, in_the_past, iso
from .extract_people import sender_full_name
from .fields import NAME_TOKEN, TITLE, find_address, find_postcodes, person_names, tidy
from .ids import find_bare_ids, find_person_id, find_person_ids, find_workstep_id
from .sentences import sentences, without_greeting, word_count

DOB_BEFORE_RE = re.compile(r"\b(dob|d\.o\.b|date of birth|born)\b[\s:(]*$", re.I)
START_CUE_RE = re.compile(r"\b(from|starting|start(s|ed)?|start date|mov(e|es|ed|ing)|moved in|moving in|as of|effective|with effect|"
                          r"since|keys|signed|w/c|released|discharged|living|will live|staying|going)\b", re.I)
ADDRESS_TYPES = [
    ("placement", re.compile(r"\bplacement\b|\bfoster carers?\b", re.I)),
    ("temporary", re.compile(r"\btemporar(y|ily)\b|\btemp\b", re.I)),
    ("respite", re.compile(r"\brespite\b", re.I)),
    ("correspondence", re.compile(r"\bcorrespondence\b", re.I)),
    ("home", re.compile(r"\bhome address\b|\bas (his|her|their) (new )?home\b|\bnew home\b|\bpermanent\b", re.I)),
]
MOVE_VERB_RE = re.compile(r"\b(moved|moves|moving|move|placed|released|discharged|rehoused)\b", re.I)
OLD_ADDRESS_RE = re.compile(r"\b(old|previous|former|used to live|moved out of|(moved|moving) from)\b", re.I)
ADDRESS_TYPE_SAID_RE = re.compile(r"\baddress type (?:is|should be|will be|=)\s*(home|temporary|placement|respite|correspondence)\b", re.I)
ADDRESS_TYPE_LABEL_RE = re.compile(r"^[ \t]*(?:address type|type of address|type)(?:[ \t]*:[ \t]*|[ \t]{2,}|\t)(\S.*)$", re.I | re.M)


def _ids(ctx: Context) -> tuple[str | None, str | None]:
    """Labelled IDs in the request text; the subject too when the text is the whole message's."""
    prefix = ctx.options.reference_prefix
    person, workstep = find_person_id(ctx.text, prefix), find_workstep_id(ctx.text, prefix)
    if ctx.subject and ctx.text == ctx.whole_text:  # 'Locked workstep 88123409' in the subject
        person = person or find_person_id(ctx.subject, prefix)
        workstep = workstep or find_workstep_id(ctx.subject, prefix)
    return person, workstep


def _new_postcode(text: str) -> str | None:
    """The postcode of the new address: not the one an 'old/previous/moved from' address carries."""
    found = find_postcodes(text)
    for i, (postcode, start, _end) in enumerate(found):
        old = OLD_ADDRESS_RE.search(text[max(0, start - 80):start])
        if not old or i == len(found) - 1:
            return postcode
    return None


def extract_add_address(ctx: Context) -> Found:
    found = Found(ctx.text)
    person_id, _ = _ids(ctx)
    found.set("person_id", person_id, "label:person ID")
    postcode = _new_postcode(ctx.text)
    codes = find_postcodes(ctx.text)
    after_old = next((end for code, _start, end in codes[:-1] if code != postcode and postcode), 0)
    # 'moved from 4 Elm Road, Boston PE21 1AB to 22 Ash Grove ...': the address after the old one
    found.set("address", find_address(ctx.text[after_old:]) or find_address(ctx.text), "address")
    found.set("postcode", postcode, "postcode")
    label = ADDRESS_TYPE_LABEL_RE.search(ctx.text) or ADDRESS_TYPE_SAID_RE.search(ctx.text)
    if label:
        found.set("address_type", tidy(label.group(1)).lower(), "label:address type")
    else:
        # the first kind named that is not denied ('home, not temporary')
        named = [(m.start(), name) for name, pattern in ADDRESS_TYPES for m in pattern.finditer(ctx.text)
                 if not re.search(r"\b(not|n't|no longer)\s+(a\s+)?$", ctx.text[max(0, m.start() - 12):m.start()], re.I)]
        if named:
            found.set("address_type", min(named)[1], f"word:{min(named)[1]}")
    start = find_date_after(ctx.text, START_CUE_RE, ctx.date, window=45, avoid=DOB_BEFORE_RE)
    if start:
        found.set("start_date", iso(in_the_past(start, ctx.text, ctx.date)), "date after start cue", start.text)
    else:  # a date in the sentence that says they moved ('moved ... to new carers at ... on Friday')
        for s in sentences(ctx.text):
            if MOVE_VERB_RE.search(s.text):
                dates = [d for d in find_dates(s.text, ctx.date) if not DOB_BEFORE_RE.search(s.text[max(0, d.start - 25):d.start])]
                if dates:
                    found.set("start_date", iso(in_the_past(dates[0], s.text, ctx.date, window=200)), "date in moving sentence",
                              dates[0].text)
                    break
    return found


KEEP_RE = re.compile(r"\b(?:keep|retain|master(?: record)?(?: is| should be)?|main record(?: is)?|merge[^.?!\n\d]{0,20}\binto)\D{0,25}?(\d{4,10})\b"
                     r"|\b(\d{4,10})\b\s*\((?:the |this is the )?(?:correct|right|main|original|real|master)(?: one| record)?\b"
                     r"|\b(\d{4,10})\b[^.?!\n]{0,60}\b(?:should be kept|is the one to keep|to keep|as the master|is the master|"
                     r"(?:the )?(?:one|record) (?:we|to|you|I'?d|I would) (?:should )?keep|"
                     r"is the (?:correct|right|main|original) (?:one|record))\b",
                     re.I)


def extract_duplicate_record(ctx: Context) -> Found:
    found = Found(ctx.text)
    ids = find_person_ids(ctx.text, ctx.options.reference_prefix)
    if len(ids) < 2:
        # the form makes a list of record numbers plain (see 025); still no phone/NHS/dates
        bare = [i for i in find_bare_ids(ctx.text) if i not in ids]
        if len(ids) + len(bare) >= 2:
            ids = ids + bare
    if len(ids) >= 2:
        found.set("person_ids", ids, "label/list of IDs")
    keep = KEEP_RE.search(ctx.text)
    if keep:
        value = keep.group(1) or keep.group(2) or keep.group(3)
        if value in ids:
            found.set("keep_person_id", value, "keep", keep.group(0))
    elif len(ids) >= 2 and (ordinal := _kept_by_position(ctx.text, len(ids))) is not None:
        found.set("keep_person_id", ids[ordinal], "keep by position", ctx.text)
    return found


ORDINALS = {"first": 0, "1st": 0, "second": 1, "2nd": 1, "third": 2, "3rd": 2}
KEEP_ORDINAL_RE = re.compile(r"\bkeep(?:ing)? the (first|1st|second|2nd|third|3rd)\b", re.I)
# 'the first one is the correct record', 'the second is correct' (probe: no noun after 'correct')
RIGHT_ORDINAL_RE = re.compile(r"\bthe (first|1st|second|2nd)(?: one| record| id)? is (?:the )?(?:correct|right|main|original|real|"
                              r"one to keep)(?: one| record)?\b", re.I)
DROP_ORDINAL_RE = re.compile(r"\b(?:delete|remove|close|get rid of|merge)\b[^.?!\n]{0,20}\bthe (first|1st|second|2nd)\b", re.I)


def _kept_by_position(text: str, count: int) -> int | None:
    """'keep the first one' -> 0; 'delete the second one' of two -> 0. None when unsaid."""
    m = KEEP_ORDINAL_RE.search(text)
    if m and ORDINALS[m.group(1).lower()] < count:
        return ORDINALS[m.group(1).lower()]
    m = RIGHT_ORDINAL_RE.search(text)
    if m and ORDINALS[m.group(1).lower()] < count:
        return ORDINALS[m.group(1).lower()]
    m = DROP_ORDINAL_RE.search(text)
    if m and count == 2:
        return 1 - ORDINALS[m.group(1).lower()]
    return None


_NAME = rf"((?:{TITLE}\s+)?{NAME_TOKEN}(?:\s+{NAME_TOKEN}){{1,2}})"
LOCKED_BY_RE = re.compile(
    rf"(?i:locked by|user|held by)[ \t]*:[ \t]*{_NAME}|{_NAME}(?:'s)? (?:is|has been|are|as) (?:already |still |currently )?(?:working|editing|using)|in use by {_NAME}|locked by {_NAME}|"
    rf"with {_NAME}['’]s name|{_NAME} (?:has|had) (?:it|the step) open|says {_NAME} is in it"
    rf"|{_NAME}['’]s name (?:is )?(?:on|against) (?:it|the step|this step)")


LOCKED_BY_LOWER_RE = re.compile(r"\b(?:says|saying|shows?|showing)\s+([a-z][a-z'’-]+ [a-z][a-z'’-]+) (?:is|has been) "
                                r"(?:already |still |currently )?(?:working|editing|using|in)\b")
NOT_A_LOCKER = {"someone", "somebody", "another", "other", "user", "the", "it", "she", "he", "they", "nobody", "one",
                "else", "worker", "colleague", "this", "that", "step", "person", "my", "a", "an", "i", "i'm"}


def _lower_case_locker(text: str) -> re.Match[str] | None:
    """'says becky lowe is already working in it': a name typed in lower case, read only from the
    lock message itself (heldout 026); 'someone else', 'another user' are nobody."""
    for m in LOCKED_BY_LOWER_RE.finditer(text):
        if not set(m.group(1).lower().split()) & NOT_A_LOCKER:
            return m
    return None


def extract_remove_lock(ctx: Context) -> Found:
    found = Found(ctx.text)
    _, workstep = _ids(ctx)
    found.set("workstep_id", workstep, "label:workstep")
    m = LOCKED_BY_RE.search(ctx.text)
    if m:
        name = next(g for g in m.groups() if g)
        trimmed = person_names(name)  # 'Says Holly Bean' -> 'Holly Bean'
        name = trimmed[0][0] if trimmed else name
        found.set("locked_by", name, "name in lock message", m.group(0))
    elif lower := _lower_case_locker(ctx.text):
        found.set("locked_by", lower.group(1), "lower-case name in lock message", lower.group(0))
    return found


WORKFLOW_RE = re.compile(r"\bre-?open|\bput back\b|\bsen[dt] back\b|\bnext action\b|\bworkflow\b|\bfinalised\b|\bcompleted\b|"
                         r"\bstep (moving|moved)|\bmov(e|ed|ing) (the|a) step\b|\bwrong (team|worker)\b|\binstead of\b|\btray\b|"
                         r"\b(assigned|allocated|reassign\w*)\b", re.I)
PERSON_RECORD_RE = re.compile(r"\bperson record\b|\bdate of death\b|\b(entered|recorded) as\b|\bdob\b|\bdate of birth\b|\bethnicity\b|\bfirst language\b|\bgender\b|"
                              r"\bname\b|\baddress\b|\bnhs number\b|\brecorded wrongly\b|\bdetails\b", re.I)
NEGATED_RE = re.compile(r"\b(nothing|not|no)\b[\w\s]{0,12}$", re.I)
# a labelled explanation in a form-like list: '- What's wrong: I finalised ...' (see p2-01)
EXPLANATION_LABEL_RE = re.compile(r"^[ \t]*(?:[-*\u2022]\s*)?(issue|problem|what'?s wrong|what is wrong|explanation|details|"
                                  r"description|what happened|change needed|what needs (?:to )?(?:be )?chang\w*)[ \t]*:[ \t]*(\S.*)$",
                                  re.I | re.M)
EMPTY_BULLET_RE = re.compile(r"^[ \t]*[-*\u2022][ \t]*$\n?", re.M)
# an ID and the words that only carried it ('for PID 5590123', 'The workstep is 9123456.'): the
# explanation reads on without them
ID_MENTION_RE = re.compile(r"(?:\b(?:for|on|of|in|re|regarding|about)\s+)?(?:\bthe\s+)?\b(?:person\s*id|pid|mosaic\s*id|client\s*id|"
                           r"workstep(?:\s*id)?|work\s*step|ws|step\s*id)\b(?:\s+(?:is|was|number|no\.?))?[\s:#.]*\d+",
                           re.I)
LEFT_OVER_RE = re.compile(r"(?:(?<=^)|(?<=[.!?]\s))\s*[.,]\s*|\s+[-–]\s+[-–]\s+|\(\s*\)")


def _kind_score(pattern: re.Pattern, text: str) -> int:
    return sum(1 for m in pattern.finditer(text) if not NEGATED_RE.search(text[max(0, m.start() - 20):m.start()]))


def extract_person_record_change(ctx: Context) -> Found:
    found = Found(ctx.text)
    person_id, workstep = _ids(ctx)
    found.set("workstep_id", workstep, "label:workstep")
    found.set("person_id", person_id, "label:person ID")
    labelled = [m.group(2) for m in EXPLANATION_LABEL_RE.finditer(ctx.text)]
    body = " ".join(labelled) if word_count(" ".join(labelled)) >= ctx.options.min_explanation_words \
        else ID_MENTION_RE.sub(" ", without_greeting(ctx.text))
    body = re.sub(r"\(\s*[,;/]?\s*\)|(?<=\s)[,;/]\s*(?=[,.;/])", "", body)  # '( )' and ', .' left by removed IDs
    body = EMPTY_BULLET_RE.sub("", body)  # '- Person ID: 123' lines leave their bullet behind
    body = LEFT_OVER_RE.sub(lambda m: " - " if "-" in m.group(0) or "–" in m.group(0) else " ", body)
    words = word_count(body)
    if words >= ctx.options.min_explanation_words:
        found.set("explanation", " ".join(body.split()), f"explanation of {words} words")
    workflow, person = _kind_score(WORKFLOW_RE, ctx.text), _kind_score(PERSON_RECORD_RE, ctx.text)
    if workflow or person:
        found.set("change_kind", "workflow" if workflow > person else "person_record",
                  f"kind cues workflow={workflow} person_record={person}")
    return found


ACCESS_CUE_RE = re.compile(
    r"(?:\brestrict(?:ed)? (?:her|his|their|the|this) record to|\brestrict\b[^.?!\n]{0,60}?\d{4,10}\)?\s+to\b(?! (?:see|view|access|do)\b)|\baccess(?: list)?[ \t]*:|\b(?:who )?(?:should|can|will|needs? to) (?:have|be given) access(?: to it)?(?: are| is| will be)?[ \t]*:|access (?:should|needs to|must|will)?\s*(?:now )?be (?:limited|restricted) to|limited to|restricted to|"
    r"access list (?:should|will|needs to)?\s*(?:now )?(?:be|is)|only (?:be )?(?:seen|viewed|visible|accessible|accessed) by|"
    r"so that only|only)\s*:?\s*((?:[^.?!\n]|\n\s*[-*•]\s*)+)", re.I | re.M)
# 'please add Leah Grant to the access list', 'give the Leaving Care Team access' (change of access)
ADD_ACCESS_RE = re.compile(r"\b(?:add|give|grant)\s+((?:the\s+)?(?:[A-Z][\w'’-]+\s?){1,6}(?:(?:,|and|&)\s+(?:the\s+)?(?:[A-Z][\w'’-]+\s?){1,6})*)"
                           r"\s*(?:to the access list|access\b)"
                           # 'could Lucy Brent in the Leaving Care Team be added to the access list' (see p2-54)
                           r"|\b((?:[A-Z][\w'’-]+\s){1,3})(?:(?:in|from) (?:the )?(?:[A-Z][\w'’()-]+\s?){1,6})?\s*(?:be|to be|is|being) "
                           r"added to the access list")
ROLE_IN_PARENS_RE = re.compile(r"\b(manager|worker|adviser|advisor|officer|practitioner|lead|head|director|assistant|"
                               r"coordinator|nurse|therapist|me|myself)\b", re.I)
ACCESS_STOP_RE = re.compile(r"\s+(?:should|can|could|will|would|need|needs|must|are|is|have)\b.*$|\s+(?:to|can) (?:see|view|access)\b.*$"
                            r"|[ \t]+only\b[^\n]*|[ \t]+[-–][ \t]+[^\n]*",
                            re.I | re.S)
POLICY_RE = re.compile(r"\b(read|been through|seen|understood|familiar with|aware of)\b[^.?!\n]{0,50}\bpolic(y|ies)\b|"
                       r"\bpolic(y|ies)\b[^.?!\n]{0,15}\b(read|understood)\b|\bread it\b[^.?!\n]{0,30}\bpolic(y|ies)\b", re.I)
REASON_LABEL_RE = re.compile(r"^[ \t]*(?:[-*\u2022][ \t]*)?(?:reason(?: for (?:the )?restriction)?|why)[ \t]*[:\-–][ \t]*(\S[^\n]*)$",
                             re.I | re.M)
POLICY_LABEL_NO_RE = re.compile(r"^[ \t]*(?:[-*\u2022][ \t]*)?(?:restricted records? )?policy(?: read)?[ \t]*[:\-–][ \t]*(?:no|not yet|n)\b",
                                re.I | re.M)
POLICY_NEGATED_RE = re.compile(r"(\bnot|n['’]t|\bnever|\byet to)\b[^.?!\n]{0,20}$", re.I)
REASON_RE = re.compile(r"\b(reason|because|due to|work(s|ing)? (in|for|at|as)|employee|member of staff|staff member|councillor|"
                       r"(local )?(paper|press|news|media)|high[- ]profile|well[- ]known|relative|related to|family member|"
                       r"sensitive|celebrity|has (mosaic )?access|uses mosaic|works in|"
                       r"(is|are) an? (social worker|mosaic user|member of staff|worker|employee|practitioner|manager|nurse)|"
                       r"(mother|father|mum|dad|parent|aunt|uncle|relative|sister|brother|partner|husband|wife|"
                       r"grandparent|grandmother|grandfather|cousin|stepmother|stepfather) (is|works))\b", re.I)


OWN_ACCESS_RE = re.compile(r"(?:me|myself|I)\s*(?:\(([^)]*)\))?", re.I)


def _access_items(value: str, sender: str | None = None) -> list[str]:
    bullets = re.findall(r"(?:^|\n)\s*[-*•]\s*([^\n]+)", value)
    if bullets:  # 'only the following can see it:' then one bullet each (heldout 039)
        parts = [ACCESS_STOP_RE.sub("", b) for b in bullets]
    else:
        parts = re.split(r"\n\s*[-*•]\s*|,|\band\b|&|;", ACCESS_STOP_RE.sub("", value))
    items = []
    for part in parts:
        own = OWN_ACCESS_RE.fullmatch(part.strip(" .,"))
        if own:  # 'the Duty Team and me', 'myself (Łucja Zielińska)': the sender (heldout 041)
            name = tidy(own.group(1) or "") or sender
            if name:
                items.append(name)
            continue
        # '(Team Manager)' after a name is a role, '(North)' after a team is part of its name
        part = re.sub(r"\s*\(([^)]*)\)", lambda m: "" if ROLE_IN_PARENS_RE.search(m.group(1)) else f" ({m.group(1)})", part)
        part = tidy(part.strip().lstrip("*-•·").strip())
        part += ")" * (part.count("(") - part.count(")"))  # tidy() trims a closing bracket
        part = re.sub(r"^(?:the|our|my|and)\s+", "", part, flags=re.I)
        part = re.sub(r"^(?:[a-z]+\s+)+(?=[A-Z])", "", part)  # 'our head of service, Diane' -> 'Diane'
        if part and part[0].isupper() and not re.fullmatch(r"(?:[a-z]+\s*)+", part):
            items.append(part)
    return items


def extract_restricted_record(ctx: Context) -> Found:
    found = Found(ctx.text)
    person_id, _ = _ids(ctx)
    found.set("person_id", person_id, "label:person ID")
    if not person_id:  # 'could 5520913 be restricted': the record the restriction names (see p2-42)
        for s in sentences(ctx.text):
            bare = find_bare_ids(s.text) if re.search(r"\brestrict", s.text, re.I) else []
            if len(bare) == 1:
                found.set("person_id", bare[0], "the record restricted", s.text)
                break
    access: list[str] = []
    added = ADD_ACCESS_RE.search(ctx.text)
    if added:
        access = _access_items(added.group(1) or added.group(2), sender_full_name(ctx))
        found.set("access", access, "access added", added.group(0))
    for m in [] if access else ACCESS_CUE_RE.finditer(ctx.text):
        access = _access_items(m.group(1), sender_full_name(ctx))
        if access:
            found.set("access", access, "access list", m.group(0))
            break
    policy = POLICY_RE.search(ctx.text)
    if policy and POLICY_LABEL_NO_RE.search(ctx.text):
        policy = None  # 'Policy read: no'
    if policy and not POLICY_NEGATED_RE.search(ctx.text[max(0, policy.start() - 25):policy.start()] + policy.group(0)[:12]):
        found.set("policy_read", True, "policy confirmed", policy.group(0))
    labelled = REASON_LABEL_RE.search(ctx.text)
    if labelled and word_count(labelled.group(1)) >= 3:  # 'Reason: ...' on a line of its own (probe x7)
        found.set("reason", tidy(labelled.group(1)), "label:reason", labelled.group(0))
    for s in [] if labelled else sentences(without_greeting(ctx.text)):
        restricting = re.search(r"\brestrict", s.text, re.I) and not re.search(r"\breason\b", s.text, re.I)
        if REASON_RE.search(s.text) and not POLICY_RE.search(s.text) and not restricting and word_count(s.text) >= 5:
            found.set("reason", s.text, "reason sentence", s.text)
            break
    else:
        for s in sentences(ctx.text):
            if not re.search(r"\brestrict", s.text, re.I):
                continue
            causal = re.search(r"\b(?:because|as|since|due to)\b\s+(.{15,}?)(?:,\s*(?:please|could|can|so)\b|$)", s.text, re.I)
            clauses = re.split(r"\s+[-–]\s+|[,;]|\bso\b", s.text)
            reason = causal.group(1) if causal else next(
                (c for c in clauses[1:] if REASON_RE.search(c) and word_count(c) >= 3), None)
            if reason:
                found.set("reason", tidy(reason), "reason clause", reason)
                break
    return found
