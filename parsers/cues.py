"""The classifier's evidence as data: weighted cue patterns per type, negations and conflicts.

Cues feed a score (parsers/classify.py); a message need not contain any one of them. Each family
reads one kind of wording (verbs x objects) and names the sample that shows a tricky case.
"""
from __future__ import annotations

import re

_ = re.compile
_I = re.I

PROFESSIONS = (r"((?:community|district|specialist|senior|lead|clinical|mental health|consultant) )?(GP|doctor|paramedic|counsellor|"
               r"optometrist|podiatrist|dietitian|health care assistant|health visitor|teacher|community matron|matron|district nurse|school nurse|practice nurse|"
               r"nurse|midwife|paediatrician|psychiatrist|psychologist|consultant|headteacher|head teacher|DSL|SENCO|"
               r"physiotherapist|CPN|dentist|pharmacist|health professional|speech and language therapist|"
               r"social prescriber|link worker|probation officer|police officer|solicitor|advocate|designated safeguarding lead)"
               r"(?!\s+(?:practice|surgery|practices|surgeries)\b)")  # 'GP practice' is an organisation (p2-35)

# (type, name, pattern, weight). Cues feed a score; a message need not contain any one of them.
CUES: list[tuple[str, str, re.Pattern, float]] = [
    # add_address
    ("add_address", "add address", _(r"\b(new|add|adding|update|change|put|pop|record)\b[^.?!\n]{0,40}(?<!mail )(?<!web )(?<!base )(?<!office )\b(address|addy|addr)\b"
                                     r"(?![^.?!\n]{0,15}\b(book|list)\b)", _I), 3),
    ("add_address", "address to record", _(r"\baddress\b[^.?!\n]{0,40}\b(to|on) (his|her|their|the) (mosaic )?record"
                                           r"|\bas (his|her|their) (home|new) address", _I), 2),
    ("add_address", "address change", _(r"(?<!mail )\b(address change|change of address|new (home )?address)\b"
                                        r"|\b(add|adding|added)\b[^.?!\n]{0,30}\bto (his|her|their) (mosaic )?record", _I), 2.5),
    ("add_address", "address label", _(r"^\s*(new )?address( type)?\s*:", _I | re.M), 1.5),
    ("add_address", "postcode label", _(r"^\s*post ?code\s*:", _I | re.M), 1.5),
    ("add_address", "kind of address", _(r"\b(respite|placement|correspondence|temporary) address\b"
                                         r"|^\s*type\s*:\s*(respite|placement|correspondence|temporary|home)\b", _I | re.M), 1),
    ("add_address", "new home", _(r"\b(no fixed abode|nfa)\b|\b(now|has) (has |got )?(a|an|her own|his own|their own) (flat|house|home|tenancy|bungalow|room)\b"
                                  r"|\bbeen rehoused\b", _I), 2.5),
    # a full street address with its postcode (see h303): '17 Oak Road, Nettleham, Lincoln LN2 2PA'
    ("add_address", "street and postcode", _(r"\b\d{1,4}[a-z]? [a-z][a-z'-]+ (road|street|lane|close|row|way|avenue|drive|court|crescent|place|"
                                             r"gardens|grove|terrace|walk|square|hill|park|view|rise|mews|green)\b[^.?!\n]{0,40}"
                                             r"\b[a-z]{1,2}\d[a-z\d]? ?\d[a-z]{2}\b", _I), 1.5),
    ("add_address", "moved home", _(r"\b(moved|moves|moving) (in )?(to|with|into)\b|\bnew (foster )?placement\b"
                                    r"|\bsigned for (her|his|their|the) (flat|house|tenancy)|\btenancy\b", _I), 1),
    # worker_account
    ("worker_account", "new starter", _(r"\bnew starter|\bstart(s|ing)? with us|\bjoin(ing|s) (us|the [\w' ]{0,40}(team|service|hub)|my team|our team)"
                                        r"|\bnew (social worker|member of staff|staff member|worker)\b", _I), 3),
    ("worker_account", "account set-up", _(r"\b(set up|create|open|new) [^.?!\n]{0,30}(mosaic )?(account|login|user)\b"
                                           r"|\b(request|requesting|arrange|arranging)\b (a |an )?(new )?(mosaic )?(account|login)\b"
                                           r"|\b(account|login)\b[^.?!\n]{0,20}\b(be )?(created|set up|opened)\b", _I), 3),
    ("worker_account", "new colleague", _(r"\b(our|a|my) new [\w -]{0,25}\b(worker|officer|therapist|practitioner|assistant|manager|nurse|"
                                          r"assessor|adviser|coordinator|apprentice)\b|\b(he|she|they) (starts|start|will start|is starting) "
                                          r"(in|with|on|at|as)\b|\b[A-Z][a-z]+ [A-Z][\w'-]+ (starts|will start|is starting|commences|joins|is joining) (as|with|in|on)\b"
                                          r"|\b(she|he|they)('ll| will) need (access to )?mosaic\b", _I), 2.5),
    ("worker_account", "needs an account", _(r"\b(have|get|need|needs) a (new )?(mosaic )?(account|login)\b", _I), 3),
    ("worker_account", "temporary worker", _(r"\b(student|agency|locum|bank|seconded|trainee) (social worker|sw|worker|practitioner|nurse|ot|"
                                             r"occupational therapist|officer|assistant)\b", _I), 2),
    ("worker_account", "leaver", _(r"\bleaver\b|\b(handed|handing) (in )?(her|his|their) notice|\bleaves (us|the council)"
                                   r"|\bleaving (us|the council|the team)\b|\blast (working )?day\b|\bfinal working day"
                                   r"|\b(close|closing|end|disable|deactivate)\w* (down )?(her|his|their|the) (mosaic )?account"
                                   r"|\baccount (can|should|needs to|to) be (closed|ended|disabled)"
                                   r"|\baccount\b[^.?!\n]{0,15}\b(closed|ended|disabled|deactivated|switched off)\b"
                                   r"|\b(finishes|finishing|finished) (with us|on|at the end)\b|\b(switch|switched|turn|turned) off\b[^.?!\n]{0,10}$|\b(mosaic|account|access) (be |to be |can be )?(switched|turned) off\b|\b(secondment|contract|placement|post|employment) "
                                   r"(ends|is ending|finishes|will end)\b|\b(remove|end|close|disable|revoke)\w* (her|his|their) (mosaic )?access\b"
                                   r"|\baccess (be |to be |should be )?(removed|revoked|ended)\b", _I), 3.5),
    ("worker_account", "account status", _(r"\b(reactivat|re-?activat|re-?enabl|unsuspend|reinstat|unlock)\w*\b[^.?!\n]{0,30}\b(her|his|their) (mosaic )?account\b"
                                            r"|\b(her|his|their) (mosaic )?account\b[^.?!\n]{0,20}\b(reactivat|re-?activat|re-?enabl|unsuspend|reinstat|suspend)\w*"
                                            r"|\b(reactivat|re-?activat|re-?enabl|unsuspend|reinstat|suspend)\w*\b[^.?!\n]{0,10}\b[A-Z][a-z]+(?: [A-Z][\w'-]+)?['’]s (mosaic )?account\b", _I), 3.5),
    # 'could you give me the same access as my colleagues': a change to an account's permissions (p2-66)
    ("worker_account", "permissions", _(r"\b(the same|more|extra|additional|wider|further) (access|permissions|rights)( as)?\b"
                                        r"|\b(permissions|access rights|security (group|profile)|profile)\b[^.?!\n]{0,30}\b(updated|changed|added|extended)\b", _I), 2.5),
    ("worker_account", "dual role", _(r"\bdual role|\bsecond (role|account)|\badditional role", _I), 4),
    ("worker_account", "role or team change", _(r"\b(moved|moving|transferred|transferring|move) (from|to|into) (the )?[^.?!\n]{0,50}\b(team|hub)\b"
                                                r"|\bchange of (role|team|job title)|\bnew (role|post|job title)\b"
                                                r"|\b(been )?(appointed|promoted)\b|\bjob title\b[^.?!\n]{0,40}\b(chang|updat)", _I), 3),
    # worker_details
    # a name part in a change ('change my surname to', 'her surname is now'), not 'search by surname'
    ("worker_details", "name part", _(r"\b(surname|first name|forename|maiden name|married name|name|title)\b[^.?!\n]{0,40}\b(to|is now|has changed|"
                                      r"changed|now reads?|should (now )?(be|read))\b|\b(change|update|correct|amend)\w*\b[^.?!\n]{0,25}\b(surname|first name|"
                                      r"forename|name|title)\b|\b(maiden|married) name\b", _I), 3),
    ("worker_details", "own contact change", _(r"\b(my|her|his|their) (work )?(desk phone|mobile|phone number|telephone number|phone|"
                                               r"email address|email|landline)\b[^.?!\n]{0,20}\bto\b", _I), 2.5),
    ("worker_details", "name change", _(r"\bgot married\b|\bdeed poll\b|\bname change\b|\bfollowing (her|his|my) marriage", _I), 2.5),
    ("worker_details", "contact detail change", _(r"\b(new|change|changed|update|updated)\b[^.?!\n]{0,25}\b(work )?(mobile|desk phone|phone number|telephone number|email address|number)\b", _I), 1.5),
    ("worker_details", "worker profile", _(r"\b(my|her|his|their) (mosaic )?(profile|worker record|user details|mosaic details|details on mosaic)\b"
                                           r"|\bmosaic (worker|user) (record|profile)", _I), 2.5),
    ("worker_details", "someone's details", _(r"(?<!Dr )(?<!Dr\. )\b[A-Z][a-z]+(?: [A-Z][\w-]+)?['’]s (mosaic |contact |worker )?(details|e-?mail address|e-?mail|phone number|mobile number|mobile|surname)\b"
                                              r"|\b(his|her|their|my) (new )?(work )?(mobile|email|phone|desk phone|landline)( number| address)? (is|has changed|will be)\b"), 2.5),
    ("worker_details", "new number given", _(r"\bnew (work |desk )?(phone|telephone|mobile|landline|number|extension)( number)?\s*[:\-–]?\s*(is )?"
                                             r"(\+44\s?|0)\d{2,4}\s?\d{3}", _I), 2.5),
    ("worker_details", "detail lines", _(r"^\s*[-*\u2022]?\s*(desk phone|work phone|phone|mobile|email|surname|first name|title)\s*:", _I | re.M), 1.5),
    # organisation
    ("organisation", "organisation", _(r"\b(create|created|set up|add|added|new)\b[^.?!\n]{0,40}\borganisations?\b"
                                       r"|\bas an organisation\b|\borganisation name\s*:", _I), 4),
    ("organisation", "change organisation", _(r"\b(update|change|amend)\w*\b[^.?!\n]{0,30}\b(the|their|its|this) organisation"
                                              r"|\borganisation(['’]s)? (record|details|entry)\b[^.?!\n]{0,20}\b(updated|changed|amended)\b", _I), 3),
    ("organisation", "organisation moved", _(r"\b(Surgery|Practice|School|Academy|Home|Centre|Clinic|Pharmacy|Nursery|Trust)\b(?: \([^)\n]{0,30}\))? "
                                             r"(has|have|will|is|are)( be)? (moved|move|moving|relocat\w+|closed|merged)\b|\b(?i:new premises)\b"), 3),
    ("organisation", "be created", _(r"\b(be|get (it|them)) created\b", _I), 1),
    ("organisation", "add a provider", _(r"\b(add|create|set up|adding|creating)\b[^.?!\n]{0,30}\b(gp (surgery|practice)|surgery|medical practice|care home|"
                                        r"children's home|nursing home|primary school|school|academy|pharmacy|nursery|health centre|dental practice)\b"
                                        r"(?! (nurse|teacher|lead|manager|staff))", _I), 3),
    ("organisation", "organisation noun", _(r"\b[A-Z][\w'-]+ (Surgery|Medical Practice|Practice|Health Centre|Primary School|School|Academy|"
                                            r"Children's Home|Care Home|Nursing Home|Pharmacy|Trust|Nursery|Pre-School|Hospice|Clinic)\b"), 1),
    ("organisation", "organisation word", _(r"\borganisation\b", _I), 1),
    ("organisation", "new provider", _(r"\bnew (gp )?(surgery|practice|provider|care home|children's home|nursing home|school|pharmacy|health centre)\b"
                                        r"(?! (lead|manager|standards?|guidance|development|educator|nurse))", _I), 2),
    ("organisation", "not on Mosaic", _(r"\b(isn't|is not|isnt|not yet) on mosaic|\bnot on mosaic yet", _I), 1.5),
    ("organisation", "rename", _(r"\b(our|its|the) name is now\b|\bchange (of )?(our|the|its) name\b"
                                 r"|\b(school|surgery|practice|academy|home|centre|organisation|provider|trust|nursery|charity)\b[^.?!\n]{0,40}\brenamed\b"
                                 r"|\brenamed\b[^.?!\n]{0,40}\b(school|surgery|practice|academy|home|centre|lodge|house|trust|nursery)\b"
                                 r"|\bconverted to academy|\bname change\b[^.?!\n]{0,30}\b(school|surgery|practice|home)"
                                 r"|\b(school|surgery|practice|academy|home|centre|nursery|trust)\b (has become|becomes|is becoming|will become)\b", _I), 3),
    ("organisation", "org contact change", _(r"\b(main )?(telephone|phone) number for [A-Z]|\b(surgery|practice|school|home|centre)'s (phone )?number\b"
                                             r"|\b([Ss]urgery|[Pp]ractice|[Ss]chool|[Aa]cademy|[Hh]ome|[Cc]entre|[Oo]rganisation|[Pp]rovider|[Tt]rust|[Nn]ursery|"
                                             r"[Pp]harmacy|[Cc]linic|[Hh]ospital)['’]s (main |new |office |general )?"
                                             r"(tele)?(phone )?(number|e-?mail|address)\b"
                                             r"|\bnumber for the (surgery|practice|school|home)\b"
                                             r"|\b(Surgery|Practice|School|Academy|Home|Centre|Clinic|Pharmacy|Nursery|Trust)\b (has|have) (changed|updated|got) "
                                             r"(its|their|a new) (main |office )?(tele)?(phone|e-?mail|number|address)"), 3),
    # professional
    ("professional", "professional", _(r"\bprofessionals?\b", _I), 3.5),
    ("professional", "profession", _(r"\b" + PROFESSIONS + r"s?\b", _I), 1.5),
    ("professional", "add profession", _(r"\b(add|set up|create|new)\b[^.?!\n]{0,20}\b" + PROFESSIONS + r"\b", _I), 3),
    ("professional", "profession at org", _(r"\b" + PROFESSIONS + r"\b\)?,? (at|for|from) [A-Z]", _I), 2),
    # a named person with their profession beside the name: 'Claire Dunn, Health Visitor', 'GP Dr Amir Khan'
    ("professional", "named professional", _(r"\b[A-Z][a-z]+ [A-Z][a-z'-]+\s*[,(–-]\s*(?:(?i:our|the|a|an) )?(?i:" + PROFESSIONS + r")\b"
                                             r"|\b(?i:" + PROFESSIONS + r")\s*[,:]?\s*(?:Dr |Mr |Mrs |Ms |Miss )?[A-Z][a-z]+ [A-Z][a-z'-]+"
                                             r"|\bDr\.? [A-Z][a-z]+ [A-Z][a-z'-]+,? (?:at|from|of) (?:the )?[A-Z]"), 3),
    ("professional", "doctor title", _(r"\bDr\.? [A-Z][a-z]+"), 1.5),
    # how_do_i
    ("how_do_i", "how do I", _(r"\bhow (do|can|would|could) (i|we|you|one)\b|\bhow (i|we) (can|could|should|do)\b|\bhow to\b", _I), 3),
    ("how_do_i", "is there a way", _(r"\bis there (a|an|any)( \w+){0,2} (way|option|function|report|shortcut|screen)\b|\bis it possible to\b|\b(wondering|wonder|wondered) (if|whether)\b|\bif it'?s possible to\b|\bwhere (do|can|would) (i|we) (find|see|get)\b"
                                     r"|\bwhat('s| is) the (\w+ )?way (to|of)\b|\bcan'?t see (an?|the) [\w ]{0,20}(option|button|tab|link)\b", _I), 3),
    ("how_do_i", "asks for directions", _(r"\bwhat do (i|we) (need to |have to )?(click|do|press|select|use)\b|\bwhere (is|are) the\b"
                                          r"|\b(can|could) you (tell|show) me (how|where)\b|\bpoint me in the right direction\b"
                                          r"|\bcan'?t (work out|figure out|find out|find|see) (how|where)\b|\bi'?m trying to\b"
                                          r"|\bwhere (would|do|should|can) (i|we) go\b|\bwhat am i doing wrong\b|\bwhat (do|should) i do (to|so)\b", _I), 3),
    ("how_do_i", "how-to question", _(r"(?:^|[.!?]\s+|\n|,\s*|\s[-–:]\s*)\s*(?:\d+[.)]\s*)?(?:how (?:do|can|would|should) (?:i|we)|how (?:i|we) (?:can|could|do|should)|is there (?:a|any) way|(?:can|could) (?:i|we) (?!ask|have|get|request|please)\w+)\b[^?\n]*\?",
                                      _I), 2),
    ("how_do_i", "if so how", _(r"\b(if so|and if so|if yes),? how\b|\bhow\?", _I), 2),
    ("how_do_i", "can I", _(r"\bcan (i|we) (?!ask|have|get|request|please)[^.?!\n]{3,120}\?", _I), 1.5),
    ("how_do_i", "question about Mosaic", _(r"\bquestion about (using )?mosaic|\bmosaic (query|question)|\bhow-?to\b", _I), 3),
    # duplicate_record
    ("duplicate_record", "merge", _(r"\bmerg(e|ed|ing)\b|\bjoined up\b|\bcombined?\b", _I), 1.5),
    ("duplicate_record", "duplicate", _(r"\bduplicat(e|ed|es|ion)\b|\b(two|2|three|3|several) records\b"
                                        r"|\brecords? for the same\b|\bthe same (\w+ ){0,2}(person|child|man|woman|young person|lady|gentleman|kid|boy|girl|baby|client|"
                                        r"service user|young man|young woman|family|mum|mother|dad|father|parent|carer|adult|lady|individual|baby|infant|resident|patient)\b"
                                        r"|\bjoined up\b", _I), 3),
    # 'duplicate records for the same child': the word and the same-person shape are two pieces of evidence (p2-42)
    ("duplicate_record", "same person", _(r"\b(are|is|be|were) (both |all )?(for )?the same (\w+ ){0,2}(person|child|man|woman|young person|lady|gentleman|"
                                          r"boy|girl|baby|client|service user|mum|mother|dad|father|parent|adult|individual)\b"
                                          r"|\brecords? for the same\b", _I), 1.5),
    # remove_lock
    ("remove_lock", "already working", _(r"\balready working in\b|\b(says|saying|thinks) (i'?m|i am|someone is|he'?s|she'?s|they'?re) already in (it|the step|this step)\b|\b(currently )?(editing|working on|working in|using) (this|the) step\b|\banother user (has|is)\b|\bin use by\b|\bhas (it|the step) open\b"
                                         r"|\bsomeone else (has|is in) it\b|\b(says|saying|shows?|showing)\b[^.?!\n]{0,30}\b(is|are) (already |still )?(working|in) (in )?(it|the step|this step)\b", _I), 4),
    ("remove_lock", "left open", _(r"\b(had|has|left) (the|it|this) [^.?!\n]{0,30}\bopen when\b|\blocked to (her|him|them|me)\b", _I), 2),
    ("remove_lock", "step locked", _(r"\b(step|assessment|form|review|it)\b[^.?!\n]{0,25}\b(is |are |still )?locked\b|\blocked (step|out of the)\b"
                                     r"|\b(release|unlock)\b|\block (be )?removed|\bremove the lock|\bclear (it|the lock)\b|\blocked by\b"
                                     r"|\bcan'?t get back in(to)?\b|\bwon'?t let me (back )?in(to)?\b|\bis (now |still )?locked\b", _I), 2.5),
    # incident
    ("incident", "error", _(r"(?<!in )(?<!human )\berror\b|\bbugs?\b|\bglitch(es|y)?\b|[a-z]exception\b|\bunavailable\b|\bhttp \d{3}\b|\bexception\b|\bcrash|\bfroze|\bfreez|\btim(ed|es|ing)? ?out\b|\btimeouts?\b", _I), 2.5),
    ("incident", "not working", _(r"\bwon'?t (open|save|load|complete|work|finalise|let)\b|\b(isn't|is not|not) working\b"
                                  r"|\bcan'?t (open|save|finalise)\b|\b(very )?slow\b|\bcrawling\b|\bkeeps? (crashing|failing)\b"
                                  r"|\b(not|never|aren'?t|isn'?t|won'?t|doesn'?t|don'?t|can'?t) (generat|open|load|sav|print|show|display|appear|upload|send|finalis|complet)\w*"
                                  r"|\bbroken\b|\bgoes? blank\b|\bwent wrong\b|\b(could|can)(not|n'?t| not) be (saved|opened|finalised)\b", _I), 2),
    ("incident", "stuck", _(r"\b(stuck|hanging|frozen) (on|in|as|at)\b(?! (a |the |this |my )?(step|assessment|review|form)\b)|\b(hasn'?t|haven'?t|isn'?t|aren'?t|won'?t|not|never) "
                            r"(sync|synced|syncing|sent|uploaded|updated|updating|refreshed)\b", _I), 2.5),
    ("incident", "lost work", _(r"\b(losing|lost|lose) (what|my|the|all|our)\b[^.?!\n]{0,20}\b(work|notes|typed|text|data|changes)\b"
                                r"|\b(logged|kicked|threw|thrown) me out\b|\b(note|notes|work|text|entry|document) (has|have) (gone|been lost|vanished)\b"
                                r"|\bsession (has )?expired\b|\bkeeps? (logging|kicking|throwing) (me )?out\b", _I), 2.5),
    ("incident", "false message", _(r"\b(says|saying|tells me|complains)\b[^.?!\n]{0,50}\b(is missing|are missing|missing|required|invalid|"
                                    r"not (valid|allowed|found))\b", _I), 2),
    # the message contradicts what is on screen: "says 'Outcome missing' but the outcome is filled in" (see p2-26)
    ("incident", "contradicted message", _(r"\b(says|saying|tells me|shows|showing)\b[^.?!\n]{0,60}\bbut\b[^.?!\n]{0,30}\b(is|are|was|were|has been|have been) "
                                           r"(already )?(filled in|filled|completed|entered|there|ticked|selected|saved)\b", _I), 2.5),
    ("incident", "every item", _(r"\bevery \w+( \w+)? (i|we) (save|open|create|add|try|print|upload)\b", _I), 1.5),
    ("incident", "every time", _(r"\b(whenever|every time|each time) (i|we|you|they) (open|click|try|save|go|press|select)\b", _I), 1.5),
    ("incident", "slow", _(r"\btakes? (about |over |around |nearly |up to )?(\w+ )?(minutes|ages|forever|a long time) to (load|open|save|appear)\b", _I), 2),
    ("incident", "fails", _(r"\b(fails|failed|failing)\b( with| to| when)?|\b(could|can) ?not be (found|loaded|opened|saved|generated)\b"
                            r"|\bworked (fine|ok|okay) (last week|yesterday|before|until)\b", _I), 2.5),
    ("incident", "fault symptoms", _(r"\b(blank|empty) (white |grey |gray )?(screen|page|pdf|document|letter|report)\b|\b(returns|gives|shows) no results\b|\bnone of (the|my)\b[^.?!\n]{0,40}\b(will|would|can) "
                                     r"(open|load|save|print)\b|\b(spinning|loading) (wheel|circle)\b|\bjust (hangs|spins|sits there)\b", _I), 2.5),
    # a report or list showing the wrong people (probe y5)
    ("incident", "wrong content", _(r"\b(report|list|screen|tab|dashboard|caseload|tray)\b[^.?!\n]{0,40}\b(is|are) (showing|displaying|including|pulling (through|in)|missing)\b", _I), 2.5),
    ("incident", "gone wrong", _(r"\b(has|have) (disappeared|vanished|gone missing|stopped working)\b|\b(is|are) missing (every|all|some)\b", _I), 2),
    ("incident", "missing content", _(r"\b(were|was) there (on \w+day|last \w+|yesterday|before|this morning|earlier)\b"
                                      r"|\b(list|tab|page|screen|section) is (now )?(empty|blank)\b", _I), 2),
    ("incident", "shared fault", _(r"\bsame (problem|issue)\b|\bthe whole( \w+)? team\b|\banyone else (having|getting|seeing|had)\b|\bsince the (update|upgrade|release)\b|\b(for|affecting) (everyone|the whole team|all of us)\b", _I), 1.5),
    ("incident", "outage", _(r"\b(50\d|40\d)\b[^.\n]{0,30}\b(error|unavailable|not found|forbidden|gateway)\b|\bservice unavailable\b"
                             r"|\bmosaic (is|seems|appears)( to be)? down\b|\b(none of us|nobody|no one|everyone|the whole team|all of us)\b"
                             r"[^.?!\n]{0,40}\b(can'?t|cannot|unable|is having)\b", _I), 3),
    ("incident", "shows the wrong thing", _(r"\bshows? (a |the )?(different|wrong)\b|\binstead of the (new|correct|right|current)\b|\b(it'?s|it is|this is) happening (on|for|with|to) "
                                            r"(every|all|each)\b", _I), 2),
    ("incident", "shows wrongly", _(r"\b(shows?|showing|displays?|displaying|appears?|appearing)\b[^.?!\n]{0,40}\b(in the wrong order|"
                                    r"incorrectly|blank|twice|duplicated|garbled)\b|\bin the wrong order\b", _I), 2),
    ("incident", "incident", _(r"\bincident\b|\breport (a|an) (problem|fault|issue)\b|\bknown (problem|issue|fault)\b", _I), 2),
    # person_record_change
    ("person_record_change", "reopen or move step", _(r"\bre-?open(ed|ing|s)?\b|\bput back\b|\bsen[dt] back\b|\b(finalised|completed|closed|ended|submitted|"
                                                      r"authorised)\b[^.?!\n]{0,40}\b(by mistake|in error|too early|wrongly|by accident|accidentally)\b|\bstep mov|\bmov(e|ed|ing) (the|a) step\b"
                                                      r"|\bstep (moving|moved)\b|\bto the wrong (team|worker|person)|\bwent to the [^.?!\n]{0,30}team instead\b", _I), 3.5),
    ("person_record_change", "wrong details", _(r"\b(recorded|entered|input|typed|put|spelt|spelled) (wrongly|incorrectly|in error)\b"
                                                r"|\b(was |were )?(entered|recorded|input|put) as\b[^.?!\n]{0,40}\bbut\b|\bwrong(ly)? (dob|date of birth|ethnicity|name|"
                                                r"gender|address|details|nhs|language)\b|\bcorrect the (person )?record\b|\bperson record\b"
                                                r"|\b(dob|date of birth|date of death|ethnicity|gender|religion|first language|surname|name|nhs number|address)\b[^.?!\n]{0,25}"
                                                r"\b(wrong(ly)?|incorrect(ly)?|in error|typo|misspelt|misspelled)\b", _I), 3),
    ("person_record_change", "wrong value", _(r"\b(recorded|entered|input|saved|logged|started|ended|closed)\b(?: \w+){0,3} (the )?(wrong|incorrect)\b"
                                               r"|\b(shows?|says|reads|has)\b[^.?!\n]{0,40}\bbut (it )?(should|ought to) (be|say|read|show|have been)\b"
                                               r"|\bsays\b[^.?!\n]{0,40}\bwhen it (was|is|should be)\b"
                                               r"|\b(shows?|says|reads)\b[^.?!\n]{0,60}\b(although|even though|whereas|when (it|they|he|she) (was|were) actually)\b", _I), 3),
    ("person_record_change", "needs correcting", _(r"\b(needs?|want|like) (correcting|amending|fixing|changing back)\b"
                                                   r"|\b(correct|amend|fix|change)\b (the|his|her|their) [^.?!\n]{0,25}\b(date|outcome|episode|referral|source|reason|referrer)\b", _I), 2),
    ("person_record_change", "fix a record", _(r"\b(change|correct|fix|amend|update)\b[^.?!\n]{0,30}\b(on|in) (his|her|their|the|[A-Z]\w+['’]s) (person )?record\b"
                                              r"|\b(on|in) (his|her|their|the|[A-Z]\w+['’]s) (person )?record\b[^.?!\n]{0,30}\b(change|correct|fix|amend|wrong)", _I), 2),
    ("person_record_change", "workflow", _(r"\bworkflow\b", _I), 1.5),
    ("person_record_change", "undo a step", _(r"\b(revers(e|ed|ing)|undo|undone|roll(ed)? back)\b|\b(opened|open) (up )?again\b", _I), 3),
    ("person_record_change", "wrong choice", _(r"\b(picked|chose|selected|recorded|entered|put|ticked) (the )?(wrong|incorrect)\b"
                                               r"|\bwhen it should have been\b|\b(outcome|next action|decision|date)\b[^.?!\n]{0,10}\b(be )?(corrected|amended)\b"
                                               r"|\b(finalised|completed|closed|authorised) so (i|we) can'?t\b"
                                               r"|\bcan'?t (change|edit|amend|update|correct|delete)\b[^.?!\n]{0,30}\b(now|as|because|since)\b[^.?!\n]{0,25}"
                                               r"\b(finalised|completed|closed|authorised|signed off)\b"
                                               r"|\b(linked|attached|added|recorded) (as|to) the wrong (person|child|mother|father|parent|record)\b", _I), 3),
    ("person_record_change", "wrong record", _(r"\b(on|to|against|in) the wrong (child|person|client|family|man|woman|young person|service user)?(['’]s)? ?(record|file)\b"
                                               r"|\b(remove|delete)\w*\b[^.?!\n]{0,25}\bfrom (this|the|his|her|their) record\b", _I), 3.5),
    ("person_record_change", "misallocated step", _(r"\b(could|can|please) (it|this|the step) be (moved|reassigned|transferred|sent back)\b"
                                                    r"|\b(assigned|sent|allocated|passed|routed|went)\b[^.?!\n]{0,20}\b(by mistake|in error|wrongly|to the wrong)\b"
                                                    r"|\b(move|moved|send|sent|put)\b[^.?!\n]{0,15}\b(in)?to (their|my|his|her|the right|the correct) tray\b", _I), 3.5),
    # design_change
    ("design_change", "design change", _(r"\bdesign change\b|\bsystem change\b|\bchange to the [^.?!\n]{0,40}\b(form|step|screen)\b", _I), 3.5),
    ("design_change", "reference data", _(r"\b(new )?(value|option)s?\b[^.?!\n]{0,60}\b(list|drop[- ]?down|reference data|type)\b|\breference data\b"
                                          r"|\b(list|drop[- ]?down|lookup|picklist)\b[^.?!\n]{0,60}\b(value|option|entry)\b"
                                          r"|\b(made|make|making|be|become|set as|set to) (it |this |that |the [\w ]{1,30})?(mandatory|optional)\b|\bnew field\b|\bas a next action\b|\bnew next action\b", _I), 3),
    ("design_change", "change a form element", _(r"\b(add(ed)?|chang(e|ed)|remov(e|ed)|mak(e|ing)|made|convert(ed)?|renam(e|ed)|replac(e|ed))\b"
                                                 r"[^.?!\n]{0,40}\b(field|option|value|drop[- ]?down|lookup|tick ?box|question|section|next action|"
                                                 r"free text|mandatory|list)\b|\bonly allows free text\b", _I), 2.5),
    ("design_change", "new element", _(r"\b(need|want|like|request|add|create)\w*\b[^.?!\n]{0,20}\ba new (step|form|field|next action|value|option|list|report|question|section|outcome)\b", _I), 3),
    ("design_change", "system enhancement", _(r"\b(would|could) it be possible for (mosaic|the system)\b|\bcould mosaic\b|\bfor mosaic to\b"
                                              r"|\b(enhancement|feature request|system improvement)\b|\bit would (be (really )?(helpful|useful|good|great) |help )if (mosaic|the system)\b", _I), 3),
    ("design_change", "new list value", _(r"\bnew (?:[A-Z][\w'-]*\s){1,3}(Type|Category|Reason|Status|Source|Outcome)\b"), 3),
    ("design_change", "value for a list", _(r"\b(add|added|adding|remove|removed)\b (to|from|in|into) (the )?(?:[A-Z][\w'-]*\s){0,4}"
                                            r"(Type|Types|List|Category|Categories|Reason|Reasons|Status|Source|Outcome|Outcomes)\b"
                                            r"|[\"“][^\"”\n]{2,40}[\"”] (be |to be )?(added|removed)\b"), 3),
    ("design_change", "changes to forms", _(r"\b(changes?|amendments?) (to|in|on) (our |the |a |some )?(mosaic )?(forms?|steps?|workflows?|screens?)\b"
                                            r"|\b(our|the|all) (mosaic )?(forms?|workflows?)\b[^.?!\n]{0,60}\b(changes?|review)"
                                            r"|\breview(ing)? (all )?(of )?(our|the) (mosaic )?(forms?|workflows?)\b", _I), 3),
    ("design_change", "extra column", _(r"\b(extra|new|additional) (column|field|filter|section|tick ?box|option)s?\b[^.?!\n]{0,20}\b(added|adding|on|to|in)\b"
                                        r"|\b(report|screen|form|list)\b[^.?!\n]{0,40}\b(extra|new|additional) (column|field|filter|section)\b", _I), 3),
    ("design_change", "rename an element", _(r"\b(step|form|field|list|value|option|report|screen|next action|tab|section|outcome)\b['’\"]?"
                                             r"[^.?!\n]{0,10}\b(be )?renamed\b|\brename (the|a|this) [^.?!\n]{0,40}\b(step|form|field|list|value|option|"
                                             r"report|screen|tab|section|outcome)\b", _I), 3),
    ("design_change", "new form element", _(r"\b(new|extra|additional|another)\s+(tick ?box|check ?box|drop[- ]?down|free[- ]text box|text box|button|mandatory field)(es|s)?\b"
                                            r"|\b(could|can|would)\b (the|our|this) [^.?!\n]{0,40}\b(form|step|screen)\b (have|include|show|get)\b", _I), 3),
    ("design_change", "behaviour change", _(r"\b(would|could) it be possible to have (the|a|an)\b|\b(default|defaults|defaulted) to\b"
                                            r"|\b(pre-?populate|prepopulate|auto-?fill|autofill|auto-?populate)\w*", _I), 2.5),
    ("design_change", "change how a step works", _(r"\b(step|form|workflow|screen|process)\b (be |to be )?(changed|amended|altered|updated|set up) so (that )?\b"
                                                   r"|\bso that it (goes|routes|passes|is sent) to\b", _I), 3),
    # 'can the limit be increased', "the Contact Source list doesn't have 'X' - can it be added?" (p2-64, p2-65)
    ("design_change", "limit or missing value", _(r"\b(character |word )?(limit|maximum|max)\b[^.?!\n]{0,30}\b(increased|raised|extended|removed|lifted|changed)\b"
                                                  r"|\b(list|drop[- ]?down|options?|values?)\b[^.?!\n]{0,40}\b(doesn'?t|does not|don'?t|do not) (have|include|contain|offer)\b"
                                                  r"|\b(can|could) (it|this|that|they|these) be added( to the (list|drop[- ]?down))?\b", _I), 3),
    ("design_change", "misspelt value", _(r"\b(spelt|misspelt|misspelled|spelling|typo)\b", _I), 1.5),
    ("design_change", "form field", _(r"\bfield\b[^.?!\n]{0,60}\b(form|step|screen)\b|\b(form|step|screen)\b[^.?!\n]{0,60}\bfield\b", _I), 2),
    # restricted_record
    ("restricted_record", "restrict", _(r"\brestrict(ed|ion|ing)?\b", _I), 4),
    ("restricted_record", "access list", _(r"\baccess (list|should|to be|limited)\b|\bonly be (seen|visible|accessible)\b", _I), 1.5),
    # redirects
    ("account_locked", "account locked", _(r"\b(account|login|log-?in|log on|password)\b[^.?!\n]{0,30}\b(locked|expired|reset|disabled|"
                                           r"doesn'?t work|didn'?t work|not working|isn'?t working|stopped working|won'?t work)\b|\blocked out of mosaic\b|\bcan'?t (log|sign) ?(in|on)\b"
                                           r"|\b(couldn'?t|can'?t|cannot) (log|sign) (me )?(back )?(in|on)\b", _I), 4),
    ("account_locked", "locked out", _(r"\b(i'?m|i am|i'?ve been|i have been|i got|got) (now )?locked out\b", _I), 4),
    ("account_locked", "can't get in", _(r"\bcan'?t get (in)?to mosaic\b|\bcan'?t get in\b", _I), 2),
    ("account_locked", "Welsh account locked", _(r"\b(cyfrinair|wedi cloi|wedi'?i gloi|datgloi|ailosod)\b", _I), 4),
    ("account_locked", "password", _(r"(?<!changed my )(?<!change my )(?<!reset my )\bpassword\b", _I), 2),
    ("practice_question", "practice", _(r"\bshould (i|we) (record|put|log|enter)\b|\bhow should (i|we|this|it) be recorded\b|\bshould (it|this) be recorded\b"
                                        r"|\bwhat is (our|the) (policy|guidance) (on|for)\b|\b(expected|correct|right|best|good) practice\b"
                                        r"|\bpractice standards?\b(?! group)|\bwhat the standard is\b|\brecording (standards?|guidance)\b"
                                        r"|\b(correct|right|proper|best|expected) way to (record|log|write up|document)\b"
                                        r"|\bis it (ok|okay|acceptable|appropriate|right|allowed|good practice) to \w+"
                                        r"|\bwhat (the expectation|the standard) is\b|\bwhat('s| is) expected\b|\bwhat'?s the (standard|expectation|policy)\b"
                                        r"|\bshould [\w ]{0,40}\bbe (written|recorded|entered|logged|completed|done)\b", _I), 4.5),
    ("practice_question", "obligation", _(r"\b(do|does) (i|we|they|you|the worker) (have|need) to (do|complete|record|carry out|open|close|hold|have)\b[^.?!\n]{0,60}\b(before|when|if|after)\b", _I), 2.5),
    ("practice_question", "conflicting advice", _(r"\b(told|given|heard) different (things|advice|answers)\b|\bdoing it differently\b"
                                                  r"|\bpractice (query|question)\b|\bdefinite answer\b", _I), 2),
    ("work_base_change", "work base", _(r"\bwork ?base\b|\boffice base\b|\b(my|his|her|their) (office|work|base) address\b|\b(my|his|her|their) base\b"
                                        r"|\b(now|permanently|full[- ]time) based (at|in)\b"
                                        r"|\b(team|office|service|we|I|I'm|we're|we are|I am)\b[^.?!\n]{0,15}\brelocat(e|ing|ed)\b"
                                        r"|\brelocat(e|ing|ed)\b[^.?!\n]{0,50}\b(office|offices|hub|house|building|centre|depot)\b"
                                        r"|\b(moved|moving) (to|office)[^.?!\n]{0,40}\boffices?\b", _I), 4),
    # 'I'll be working out of the Boston office instead of Lincoln' (see p2-68)
    ("work_base_change", "working from an office", _(r"\b(working|work|based|be) (out of|from|at) (the )?[A-Z]?[\w' ]{0,20}\b(office|offices|hub|depot|building)\b"
                                                     r"[^.?!\n]{0,30}\binstead of\b", _I), 3),
    ("work_base_change", "based at", _(r"\bbased (at|in)\b", _I), 1.5),
]


# cues that cancel another type's evidence: 'my login is fine' (068) says the account is not locked
NEGATIONS: list[tuple[str, re.Pattern, float]] = [
    ("account_locked", _(r"\b(login|log-?in|account|password) (is|works|is working) (fine|ok|okay)\b", _I), -6),
    ("account_locked", _(r"\b(none of us|nobody|no one|everyone|the whole team|all of us)\b", _I), -2),
    # 'Job title: Approved Mental Health Professional' is a worker's post, not a professional (heldout 005)
    ("professional", _(r"^[ \t]*(?:[-*\u2022][ \t]*)?(job title|role|post|position)[ \t]*[:\-–][^\n]*\bprofessional\b", _I | re.M), -5),
    # a step 'locked by a leaver' asks for the lock, not the account (see p2-53)
    ("worker_account", _(r"\b(locked|held|open) by (a|an|the|our|someone who is a) leaver\b", _I), -3.5),
    # the sender's own login failing is not an account to close (probe al3: 'my login ... is disabled')
    ("worker_account", _(r"\bmy (mosaic )?(login|log-?in|account|password)\b[^.?!\n]{0,40}\b(disabled|locked|expired|not working|"
                         r"isn'?t working|won'?t)\b", _I), -3.5),
    ("worker_details", _(r"\b(moved|moving|transferred|transferring) (from|to) (the )?[^.?!\n]{0,50}\bteam\b|\bbeen (appointed|promoted)\b"
                         r"|\bjob title\b", _I), -2.5),
    ("remove_lock", _(r"\bnothing wrong with the step\b|\bcan'?t get into mosaic at all\b", _I), -4),
    ("organisation", _(r"\b(already|is) on mosaic\b", _I), -3),
    # a professional's contact details (a teacher, a GP) are not a Mosaic worker's (see 019)
    ("worker_details", _(r"\bprofessionals?\b|\b(surgery|academy)\b", _I), -5),
]

# evidence for one type that undoes another's: a teacher's contact details are a professional's,
# not a Mosaic worker's (see 019)
CONFLICTS: list[tuple[str, set[str], float]] = [
    ("worker_details", {"professional:named professional", "professional:profession at org"}, -5),
    # an organisation's own phone or email is no worker's (see p2-33)
    ("worker_details", {"organisation:org contact change"}, -4),
    # an organisation's own move: its new address is no person's (heldout 015)
    ("add_address", {"organisation:organisation moved"}, -6),
]
