"""The offline brain's reading of a member's text (issue 16 §6, decisions A10): deterministic rules.

With no API key, or with the model down, the Concierge and the Innovator still act on what a
member says. The rules are narrow on purpose; anything they do not recognise is ``OTHER`` and
gets an honest acknowledgment, never a guess:

- "stop asking me about X" / "no longer need X" / "cancel my request about X" → ``CANCEL``;
- "do you know anyone at X" / "I want to meet someone at X" / "can you intro me to someone at X" /
  "can you find me someone who has done X" / "I'm looking for someone with experience in X" /
  "does anyone here have experience with X" / "has anyone hired a CRO" /
  "I'd like an intro to someone who runs procurement at a bank" / "who do you know at Goldman?" /
  "any VCs in the network?", or a person named directly ("introduce me to Sofia", "I'd like to meet
  the CFO of Acme") →
  ``FIND_PERSON`` (a community request, never an intro offer: agents.md §4.3 disambiguation);
- a question about vendors, tools, platforms, software, providers, or a recommendation asked for
  by name ("can you recommend a good customs broker", "any recommendations for a SOC 2 auditor")
  → ``SOLUTION_QUESTION`` (research plus a community request);
- "I know someone at X" / "I can intro you to X" / "let me connect you with X" → ``OFFER_INTRO``
  (an intro offer, when it answers a presented community or connection request);
- for an Innovator only (``innovator=True``; agents.md §5 tools 2 and 4): "here's my list" /
  "upload my prospects" / "send me the upload link" → ``UPLOAD_PROSPECTS``, and "buy 500 credits" /
  "add credits" / "top up my credits" → ``BUY_CREDITS`` (with the number of credits when one is given),
  and "how are my intros going?" / "status of my intros" → ``INTRO_PROGRESS`` (tool 3);
- "how many credits do I have?" / "what's my balance?" → ``BALANCE`` (answered from the member's
  row, no tool);
- "any advice on negotiating a term sheet?" / "I'd love some thoughts on pricing" / "tips for
  hiring a first CRO?" → ``ADVICE`` (a community request for members' quick thoughts); never
  "thanks for the advice on X" or "my thoughts on X";
- "any news?" / "any update on my question?" / "did anyone answer?" → ``STATUS`` (answered from
  the member's own open community requests, no tool);
- anything else → ``OTHER``.

``read_yes_no`` reads a yes or a no to the item presented last, and ``looks_like_answer`` whether a
text can be an expert's answer to a presented community request.

Pure functions, standard library only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from shared.domain.onboarding import normalize_text


class IntentKind(StrEnum):
    CANCEL = "cancel"
    FIND_PERSON = "find_person"
    SOLUTION_QUESTION = "solution_question"
    OFFER_INTRO = "offer_intro"
    UPLOAD_PROSPECTS = "upload_prospects"
    BUY_CREDITS = "buy_credits"
    INTRO_PROGRESS = "intro_progress"
    BALANCE = "balance"
    STATUS = "status"
    ADVICE = "advice"  # a question for members' quick thoughts: "any advice on negotiating a term sheet?"
    OTHER = "other"


@dataclass(frozen=True)
class Intent:
    kind: IntentKind
    topic: str = ""  # what it is about, in the member's words ("SOC 2 automation", "Stripe")
    category: str | None = None  # a coarse area for routing (CATEGORY_WORDS), when one is obvious
    text: str = ""  # the member's text it was read from
    credits: int | None = None  # BUY_CREDITS: how many the member named ("buy 500 credits"), if any
    summary: str = ""  # FIND_PERSON: who is wanted, in a few words ("someone at Stripe")


_TOPIC_ENDS = r"[?.!,;]|\s+(?:any|anyone|please|thanks|thank you|asap)\b|$"  # what may follow a topic
_TOPIC_END = rf"(?={_TOPIC_ENDS})"

_CANCEL = re.compile(
    r"\b(?:stop asking (?:me )?about|(?:i )?no longer need(?: help with| the| that| a| an| my)?|"
    r"(?:i )?don'?t need (?:help with |the |that |a |an |my )?(?P<dont>.+?) any ?more|"
    r"never ?mind (?:about|on)|forget (?:about )?(?:the|my) (?:request|question) (?:about|on|for)|"
    r"cancel (?:the|my) (?:request|question|search) (?:about|on|for))\s*(?P<topic>.*?)" + _TOPIC_END,
    re.IGNORECASE,
)
# Asking to be introduced or to meet: "can you introduce me to", "connect me with", "I'd like to
# meet", "I need an intro to", "who can introduce me to" (what follows is who is wanted).
_MEET_ASK = (
    r"(?:(?:can|could|would|will) you (?:please )?|please |who (?:can|could) |)"
    r"(?:intro(?:duce)?|connect) me (?:to|with)"
    r"|(?:i )?(?:want|would like|'d like|need|hope|am hoping|'m hoping|would love|'d love|"
    r"am trying|'m trying|am looking|'m looking) to "
    r"(?:meet|talk to|speak (?:to|with)|connect with|get an? intro(?:duction)? to|be introduced to|"
    r"be connected (?:to|with))"
    r"|(?:looking for|need|want|get me|like) an? intro(?:duction)? to"
    # several at once, as an Innovator asks: "can you find me intros to CFOs at mid-size banks?"
    r"|(?:(?:find|get|make) (?:me|us)|(?:looking for|need|want|like|love)) (?:some |a few |more )?"
    r"intro(?:duction)?s (?:to|with)"
)
# Asking us to find someone: "can you find me someone", "help me find", "I'm looking for someone".
_FIND_ASK = (
    r"(?:(?:can|could|would|will) you (?:please )?(?:help (?:me |us )?)?|please |help (?:me |us )?)"
    r"find(?: me| us)?"
    r"|(?:(?:i'?m|i am|we'?re|we are) )?(?:looking for|searching for|trying to find|hoping to find)"
)
# Where the person is asked for in: "anyone here at Stripe", "someone in the network who ...".
_IN_NETWORK = r"(?:\s+(?:here|in (?:the|this|our|your) (?:network|group|community)))?"
# Who someone is by what they do or did: "who runs procurement at a bank", "who sold a company",
# "who's hired", "who've done an IPO" (a verb ending in -s or -ed, or a common irregular past).
_WHO_DOES = (
    r"who(?:'s| has| have| is| can|'ve)"
    r"|who(?: also| currently| once| used to)? (?:[a-z]+s|[a-z]+ed|ran|led|built|sold|grew|made|took|"
    r"won|went|knows?|run|lead|build|sell|own|manage|head)"
)
_FIND_PERSON = re.compile(
    r"\b(?:(?:(?:do|does) (?:you|anyone|anybody) )?know (?:anyone|anybody|someone|somebody|people|a person)"
    r"|who (?:do|does|might|would) (?:you|anyone|anybody) know"
    r"|(?:" + _MEET_ASK + r"|" + _FIND_ASK + r") (?:someone|somebody|anyone|people|a person)"
    r"|(?:is there|any) (?:anyone|someone|somebody)"
    r"|^(?:anyone|anybody|someone|somebody))" + _IN_NETWORK + r"\s+"
    r"(?P<via>at|from|in|who works at|who worked at|working at|who knows|with experience (?:in|with)|"
    r"who has done|" + _WHO_DOES + r"|that(?:'s| has| have))\s+"
    r"(?P<topic>.+?)" + _TOPIC_END,
    re.IGNORECASE,
)
# Asking the network whether anyone has done something: "does anyone here have experience raising a
# seed round?", "has anyone in the network hired a CRO?".
_ANYONE_DONE = re.compile(
    r"\b(?:(?:does|do) (?:anyone|anybody|someone|somebody|any of you)"
    r"(?: here| in (?:the|this) (?:network|group))? "
    r"(?:have|has) (?:any )?(?P<experience>experience)(?: (?:in|with))?"
    r"|(?:has|have) (?:anyone|anybody|someone|somebody|any of you)"
    r"(?: here| in (?:the|this) (?:network|group))?(?: ever)? "
    r"(?P<done>done|raised|hired|built|run|sold|launched|implemented|set up|dealt with|gone through|"
    r"been through|used|tried|evaluated|switched to|migrated to|moved to|"
    r"worked (?:with|at|on)|negotiated|scaled|managed))\s+"
    r"(?P<topic>.+?)" + _TOPIC_END,
    re.IGNORECASE,
)
# Members of a kind, asked for by role: "any VCs in the network?", "any CFOs here who've done an
# IPO?". Not what members say about our messages ("any updates here?", "any intros in the network?").
# Only a word that names people by what they do ends the role: "any issues here?", "any events in
# the network?" or "any plans here?" ask for nobody.
_ROLE_WORDS = (
    r"vcs|investors|angels|lps|founders|co-?founders|ceos|ctos|cfos|cmos|coos|cros|cpos|cisos|vps|"
    r"directors|partners|lawyers|attorneys|engineers|designers|marketers|recruiters|bankers|advisors|"
    r"advisers|consultants|operators|executives|execs|product managers|pms|doctors|physicians|"
    r"accountants|experts|economists|analysts|researchers|scientists|builders|sellers|salespeople"
)
_ANY_ROLE = re.compile(
    r"\bany (?P<role>(?:[A-Za-z][\w&-]* ){0,2}(?:" + _ROLE_WORDS + r"))"
    r" (?:here|in (?:the|this|our|your) (?:network|group|community))\b"
    r"(?P<rest>[^?.!;]*)",
    re.IGNORECASE,
)
# Asking for members' thoughts on something: "any advice on negotiating a term sheet?", "I'd love
# some thoughts on pricing", "tips for hiring a first CRO?".
# Only asked for ("any", "some", "your", "need", "would love" ... or opening the text): "thanks for
# the advice on pricing" and "my thoughts on this: ..." ask nothing.
_ADVICE = re.compile(
    r"(?:\b(?:any|some|your|need|want|looking for|would love|'d love|would appreciate|'d appreciate) |^)"
    r"(?:advice|tips|thoughts|pointers|guidance|input|perspectives?) "
    r"(?:on|for|about|regarding|around|re:?) (?P<topic>.+?)" + _TOPIC_END,
    re.IGNORECASE,
)
# The same asks naming who is wanted directly: "introduce me to Sofia", "I'd like to meet the CFO
# of Acme", "I need an intro to a partner at Sequoia". Only a name (a capital) or a determiner
# starts one, so "I'd like to meet for coffee" is no request, and asking for a person to talk to
# here ("a human", "someone", "the team") is none either.
_MEET_TARGET = re.compile(
    r"\b(?:" + _MEET_ASK + r")\s+(?!(?i:a real person|a human|a person|someone|somebody|anyone|anybody|"
    r"people|you|yourself|support|the team|your team|an agent|the operator|an operator|a bot|"
    r"(?:mon|tues|wednes|thurs|fri|satur|sun)day|today|tomorrow|tonight|next|this|later|soon|"
    r"(?:january|february|march|april|may|june|july|august|september|october|november|december)\s+\d)\b)"
    r"(?P<target>(?:(?-i:[A-Z])|(?:a|an|the|some|a few|few|two|three|other|more)\s)[^?.!,;]*?)" + _TOPIC_END,
    re.IGNORECASE,
)
# Hiring, and asking the network for candidates: "I'm hiring a VP of Marketing for a series B SaaS
# company, any candidates you'd recommend?", "we're looking to hire a head of sales, know anyone?".
# A request for people, though the company may be named with a vendor word ("SaaS"): found on the
# local stack, where it was read as a vendor question ("I'll look into VP of Marketing ...").
_HIRING = re.compile(
    r"\b(?:(?:i'?m|i am|we'?re|we are|currently)\s+(?:hiring|looking to hire|trying to hire|recruiting)|"
    r"(?:i|we)\s+(?:want|need|plan|hope|would like|'d like)\s+to\s+hire)"
    r"(?:\s+for)?\s+(?:an?\s+|our\s+|my\s+)?(?:new\s+|first\s+)?(?P<role>[^?.!,;]+?)"
    r"(?=\s+(?:for|at|to|who|that|in|with|and)\b|[?.!,;]|\s+(?:any|anyone|please|thanks|asap)\b|$)",
    re.IGNORECASE,
)
_CANDIDATE_ASK = re.compile(
    r"\b(?:candidates?|recommend|suggest|referrals?|intros?|introduce|know (?:anyone|anybody|someone|of)|"
    r"anyone|anybody|someone|ideas|who)\b|\?",
    re.IGNORECASE,
)
# Asking who to talk to: "who is the best person to talk to about SOC 2 in the network?", "who
# should I talk to about pricing?". Found reading realistic texts against the rules: the honest ack.
_WHO_TO_TALK_TO = re.compile(
    r"\bwho(?:'s| is| would be| should i| could i| can i)(?: the)?(?: best| right)?(?: person| people)?"
    r"(?: (?:i should|to))? (?:talk|speak|chat) (?:to|with) (?:about|on|regarding) (?P<topic>.+?)"
    rf"(?=\s+(?:in|on|at) (?:the|this|our|your) (?:network|group|community)\b|{_TOPIC_ENDS})",
    re.IGNORECASE,
)
# Their own account with us, a matter for the team, not the network.
_ACCOUNT_MATTER = (
    r"(?:(?:my|our) (?:account|membership|data|subscription|credits?|payments?|billing|invoices?|profile)"
    r"|billing|a refund|support|the app)\b"
)
_ABOUT_THEIR_ACCOUNT = re.compile(_ACCOUNT_MATTER, re.IGNORECASE)
# Where who is wanted ends and why begins: "Maya about the SOC 2 answer", "a partner at Sequoia
# for our Series A", "Sofia next week".
_TARGET_END = re.compile(
    r"\s+(?:about|regarding|re|to (?:discuss|talk|chat|learn|ask|hear|get|see)|so|because|since|for|as|"
    r"this|next|tomorrow|today|on (?:mon|tues|wednes|thurs|fri|satur|sun)day)\b.*$",
    re.IGNORECASE,
)
_OFFER_INTRO = re.compile(
    r"\b(?i:i (?:can|could) (?:intro(?:duce)?|connect) you (?:to|with)|let me (?:intro(?:duce)?|connect) you "
    r"(?:to|with)|(?:i'?d be )?happy to (?:intro(?:duce)?|connect) you (?:to|with)|i can make an intro to)"
    r"\s+(?P<topic>.+?)"
    + _TOPIC_END
    + r"|\b(?i:i know)\s+(?P<known>(?i:someone|somebody|a (?:person|few people)|people|"
    r"the (?:cto|ceo|cfo|founder|head of [\w ]+?))(?:\s+(?i:at|from|in|who)\s+.+?)?"
    r"|[A-Z][\w'-]+(?: [A-Z][\w'-]+)?(?:\s+(?i:at|from)\s+.+?)?)" + _TOPIC_END
)
# An Innovator's commerce asks (agents.md §5): a list to upload, credits to buy.
_LIST_WORDS = r"(?:list|lists|prospects?|leads?|csv|spreadsheet|targets?|target accounts?)"
_UPLOAD = re.compile(
    r"\b(?:upload(?:ing)?|here'?s|here is|attach(?:ed|ing)?|send(?:ing)?|share|sharing|import(?:ing)?)\b"
    rf"[^.?!]{{0,40}}?\b{_LIST_WORDS}\b"
    r"|\bupload (?:link|page)\b|\b(?:prospect|lead|target(?: account)?)s? list\b",
    re.IGNORECASE,
)
_BUY_CREDITS = re.compile(
    r"\b(?:buy(?:ing)?|purchas(?:e|ing)|add(?:ing)?|top(?:ping)? ?up|fund(?:ing)?|load|reload|get|more)\b"
    r"[^.?!]{0,25}?\bcredits?\b",
    re.IGNORECASE,
)
_BALANCE = re.compile(
    r"\b(?:how many (?:credits|points)|how much credit|(?:my|what'?s my|what is my|check my|see my) "
    r"(?:credits?(?: balance)?|balance)|credits? (?:do|have) i (?:have|got|earned)|"
    r"(?:credit|points) balance)\b",
    re.IGNORECASE,
)
# Asking how their own questions are going: "any news?", "any update on my question?", "did anyone
# answer?", "have you heard anything?".
_STATUS = re.compile(
    r"\b(?:any (?:news|updates?|word|luck|progress|answers?|replies|responses)|"
    r"(?:what'?s|what is) (?:the )?(?:status|latest)|"
    r"(?:status|update|news|progress) (?:on|of|with) (?:my|the)|"
    r"(?:has|have|did) (?:anyone|anybody|someone|somebody|people|the network) "
    r"(?:answer(?:ed)?|respond(?:ed)?|repl(?:y|ied)|got(?:ten)? back|get back)|"
    r"heard anything|anything new (?:for me|on|from|with)|"
    r"how(?:'s| is| are) (?:my|the) (?:questions?|requests?|asks?)\b(?! (?:for|about|to|on))|"
    r"(?:going|coming along) with my (?:questions?|requests?))\b"
    # Bare, the whole text: "what's new?", "anything new?", "anything for me?" (not "what's new in
    # SOC 2 tooling?", a question about a topic).
    r"|^(?:(?:good|fine|great|not bad|all good)(?:,? thanks?(?: you)?)?[.!,]* )?"
    r"(?:(?:so|ok(?:ay)?|and|hi|hey),? )?(?:what'?s new|anything (?:new|for me))"
    r"(?: (?:with|for) (?:me|you))?(?: today)?[\s?!.]*$",
    re.IGNORECASE,
)
_INTROS = re.compile(r"\bintro(?:s|duction|ductions)?\b", re.IGNORECASE)
# An Innovator asking how their intros are going (agents.md §5 tool 3, check_intro_progress).
_INTRO_PROGRESS = re.compile(
    r"\b(?:how(?:'s| is| are)? (?:my|our|the) intros?(?: going| doing| coming along)?|"
    r"(?:status|progress|update|news)(?: on| of| with)? (?:my|our|the) intros?|"
    r"(?:my|our) intros?(?:'| )?(?:status|progress)|how many intros|intro (?:status|progress))\b",
    re.IGNORECASE,
)
_CREDIT_AMOUNT = re.compile(
    r"\b(\d{1,3}(?:,\d{3})+|\d{1,9})\s*(?:more\s+|extra\s+)?credits?\b", re.IGNORECASE
)
CREDITS_MAX_READ = 100_000  # a larger number is read as this: the tool then answers with the largest pack

# Where a company named after "at" ends: a clause about the person ("who runs ...", ", their ...");
# never "and" ("Procter and Gamble").
_COMPANY_END = re.compile(r"\s+(?:who|that|which|whose)\b|\s*[,;(]", re.IGNORECASE)
_PERSON_AT = re.compile(r"^(?P<name>.+?)\s+(?:at|from)\s+(?P<company>.+)$", re.IGNORECASE)
_YES = re.compile(
    r"^(?:yes|yeah|yep|yup|ya|y|sure|ok|okay|absolutely|definitely|of course|sounds good|please do|go ahead|"
    r"let'?s do it|i'?m in|happy to|i'?d (?:like|love) (?:that|to)|count me in|confirmed?|i confirm)\b",
    re.IGNORECASE,
)
_NO = re.compile(
    r"^(?:no|nope|nah|n|not interested|not now|not really|no thanks|no thank you|i'?ll pass|pass|decline|"
    r"i can'?t|can'?t do it|i don'?t think so|not for me)\b",
    re.IGNORECASE,
)
# A bare thumbs-up or check mark (skin tones and the emoji variation selector allowed), and their
# opposites: how many members answer a yes-or-no question by text.
_TONES = frozenset("\U0001f3fb\U0001f3fc\U0001f3fd\U0001f3fe\U0001f3ff\ufe0f ")
_YES_EMOJI = frozenset("\U0001f44d\U0001f44c\u2705\u2714\u2611")  # 👍 👌 ✅ ✔ ☑
_NO_EMOJI = frozenset("\U0001f44e\u274c\u2716\U0001f6ab")  # 👎 ❌ ✖ 🚫
_SOLUTION_WORDS = (
    r"vendors?|tools?|platforms?|software|solutions?|providers?|agenc(?:y|ies)|apps?|products?|"
    r"services?|firms?|consultants?|saas"
)
_ASKS = re.compile(
    r"\b(?:recommend(?:ation)?s?|suggest(?:ion)?s?|looking for|search(?:ing)? for|need(?:s)? an? |"
    r"what (?:do|does|would|should) (?:you|people|folks|anyone) use|which|who (?:do|does) (?:you|people) use|"
    r"any (?:good )?(?:" + _SOLUTION_WORDS + r")|best)\b|\?",
    re.IGNORECASE,
)
_SOLUTION = re.compile(rf"\b(?:{_SOLUTION_WORDS})\b", re.IGNORECASE)
_SOLUTION_TOPIC = (
    # "a vendor for SOC 2 automation", "tools to manage contracts"
    re.compile(
        rf"\b(?:{_SOLUTION_WORDS})\s+(?:for|to|that|which|around|on)\s+(?P<topic>.+?){_TOPIC_END}", re.I
    ),
    # "for SOC 2 automation vendors", "a good SOC 2 automation vendor"
    re.compile(
        rf"\b(?:good|great|reliable|solid|decent|an?|any|for|the|best|what|which)\s+(?P<topic>[\w][\w\s/&+.-]*?)\s+"
        rf"(?:{_SOLUTION_WORDS})\b",
        re.I,
    ),
)
# A recommendation asked for by name, with no vendor word: "can you recommend a good customs
# broker for ...", "any recommendations for a SOC 2 auditor?", "who do you recommend for payroll?",
# "looking for a good lawyer for ...". Never a recommendation of a person to someone ("recommend me").
_RECOMMEND_ASK = re.compile(
    r"\b(?:(?:can|could|would) (?:you|anyone|anybody|someone) (?:recommend|suggest)|"
    r"(?:any|got any|have any) (?:recommendations?|recs?|suggestions?) (?:for|on)|"
    r"(?:who|what) (?:do|would|should) (?:you|people|folks) (?:recommend|suggest|use) (?:for|to)|"
    r"(?:do you|does anyone|does anybody) know (?:of )?an? (?:good|great|reliable|solid|trusted|decent)|"
    r"(?:looking for|need|want) an? (?:good|great|reliable|solid|trusted|decent))"
    r"\s+(?!(?:me|us|him|her|them|myself)\b)(?P<topic>.+?)" + _TOPIC_END,
    re.IGNORECASE,
)
# A provider asked for with no adjective and no vendor word: "I'm looking for a fractional CFO for a
# 30-person startup", "we need an employment lawyer in NYC". Only a word that names a provider counts,
# so "looking for a new job" or "I need a break" asks nothing.
_PROVIDER_WORDS = (
    r"cfos?|ctos?|cmos?|fractional|bookkeepers?|accountants?|cpas?|lawyers?|attorneys?|counsel|"
    r"recruiters?|headhunters?|executive search|consultants?|consultancy|advisors?|advisers?|brokers?|"
    r"designers?|developers?|dev shop|contractors?|freelancers?|coach(?:es)?|auditors?|bankers?|"
    r"forwarders?|translators?|copywriters?|photographers?|architects?|pr firm|law firm|"
    r"agenc(?:y|ies)|firms?|providers?"
)
_PROVIDER_ASK = re.compile(
    r"\b(?:looking for|searching for|trying to find|in the market for|need|want)\s+an?\s+"
    r"(?P<topic>[^?.!,;]{0,60}?\b(?:" + _PROVIDER_WORDS + r")\b[^?.!,;]*?)" + _TOPIC_END,
    re.IGNORECASE,
)
# A phrase that describes who is buying ("our startup", "a 200-person company", "small businesses").
_BUYER = re.compile(
    r"^(?:(?:a|an|the|our|my|us|we)\b|[\w-]*\d[\w-]*[- ](?:person|people|employee|seat)s?\b|"
    r"(?:small|mid-?size[d]?|large|growing|early-stage|enterprise)\s+(?:business|compan|team|firm|startup|org))",
    re.IGNORECASE,
)
_FILLER = re.compile(
    r"^(?:a|an|the|some|good|great|any|reliable|solid|decent|best|"
    r"(?:recommendations?|suggestions?|recs|ideas|thoughts|advice|tips|input)\s+(?:for|on))\s+",
    re.IGNORECASE,
)
# "the SOC 2 thing", "that CRM question": the words that name the request, not what it is about
_TRAILING_FILLER = re.compile(
    r"\s+(?:thing|stuff|request|question|search|one|anymore|any more)$", re.IGNORECASE
)

# A coarse category per area, by words that name it (routing hints only, never shown to members).
CATEGORY_WORDS: dict[str, tuple[str, ...]] = {
    "security_compliance": (
        "soc 2",
        "soc2",
        "iso 27001",
        "security",
        "compliance",
        "gdpr",
        "hipaa",
        "pen test",
    ),
    "sales": ("sales", "crm", "outbound", "lead gen", "pipeline", "revops"),
    "marketing": ("marketing", "seo", "brand", "advertising", "content", "pr agency"),
    "people": ("hiring", "recruit", "payroll", "hr ", "benefits", "talent"),
    "finance": ("accounting", "finance", "billing", "payments", "tax", "audit", "fp&a"),
    "engineering": ("engineering", "devops", "cloud", "data", "observability", "ai ", "llm", "software"),
    "legal": ("legal", "contract", "lawyer", "counsel"),
}


def category_of(text: str) -> str | None:
    lowered = f" {text.lower()} "
    for category, words in CATEGORY_WORDS.items():
        if any(word in lowered for word in words):
            return category
    return None


def _clean_topic(topic: str) -> str:
    cleaned = " ".join(topic.split()).strip(" .,;:?!\"'")
    while True:
        stripped = _FILLER.sub("", cleaned)
        if stripped == cleaned:
            return cleaned
        cleaned = stripped


def read_credits(text: str) -> int | None:
    """The number of credits a text names ("buy 1,000 credits" -> 1000), None when it names none."""
    match = _CREDIT_AMOUNT.search(text)
    if match is None:
        return None
    credits = int(match.group(1).replace(",", ""))
    return min(credits, CREDITS_MAX_READ) if credits > 0 else None


def _cancel_intent(flat: str) -> Intent | None:
    cancel = _CANCEL.search(flat)
    if cancel is None:
        return None
    topic = _TRAILING_FILLER.sub("", _clean_topic(cancel.group("dont") or cancel.group("topic") or ""))
    return Intent(IntentKind.CANCEL, topic=topic, category=category_of(topic), text=flat)


def _commerce_intent(flat: str) -> Intent | None:
    """An Innovator's ask for credits or for the upload link; None for anything else."""
    if _BUY_CREDITS.search(flat):
        return Intent(IntentKind.BUY_CREDITS, topic="credits", text=flat, credits=read_credits(flat))
    if _UPLOAD.search(flat):
        return Intent(IntentKind.UPLOAD_PROSPECTS, topic="prospect list", text=flat)
    if _INTRO_PROGRESS.search(flat):
        return Intent(IntentKind.INTRO_PROGRESS, topic="intros", text=flat)
    return None


def read_intent(text: str, *, innovator: bool = False) -> Intent:
    """What one member text asks for, by the rules above. ``innovator``: also read the Innovator's
    commerce asks (a Concierge member has no upload or credit tools)."""
    flat = " ".join(text.split())
    if not flat:
        return Intent(IntentKind.OTHER, text=text)
    balance = Intent(IntentKind.BALANCE, text=flat) if _BALANCE.search(flat) else None
    first = _cancel_intent(flat) or (_commerce_intent(flat) if innovator else None) or balance
    if first is not None:
        return first  # a cancellation, (an Innovator's) credits or upload ask, then a balance question
    offer = _OFFER_INTRO.search(flat)
    if offer:
        topic = _clean_topic(offer.group("topic") or offer.group("known") or "")
        if topic:
            return Intent(IntentKind.OFFER_INTRO, topic=topic, category=category_of(topic), text=flat)
    # A status question after a new ask in the same text ("any update? also, know anyone at Stripe?"),
    # before a vendor question ("any update on the vendor question?" asks nothing new); about their
    # intros, not their questions, it is not one (an Innovator's is INTRO_PROGRESS).
    asks_status = _STATUS.search(flat) is not None and _INTROS.search(flat) is None
    status = Intent(IntentKind.STATUS, text=flat) if asks_status else None
    return (
        _find_person_intent(flat)
        or status
        or _advice_intent(flat)
        or _solution_intent(flat)
        or Intent(IntentKind.OTHER, text=flat)
    )


def _advice_intent(flat: str) -> Intent | None:
    """A question for members' thoughts ("any advice on negotiating a term sheet?"); a vendor
    question asked the same way ("any thoughts on payroll software?") is a solution question."""
    advice = _ADVICE.search(flat)
    if advice is None or _SOLUTION.search(advice.group("topic")):
        return None
    topic = _clean_topic(advice.group("topic"))
    return Intent(IntentKind.ADVICE, topic, category_of(topic), flat) if topic else None


def _find_person_intent(flat: str) -> Intent | None:
    """Someone to meet: "anyone at Stripe" (who, by where or what), or a person named directly."""
    person = _FIND_PERSON.search(flat)
    if person:
        topic = _clean_topic(person.group("topic"))
        if topic:
            said = _as_said(person.group("topic"))  # "runs a family office", not "runs family office"
            summary = _person_summary(person.group("via"), said)
            return Intent(IntentKind.FIND_PERSON, topic, category_of(topic), flat, summary=summary)
    done = _ANYONE_DONE.search(flat)
    if done:
        topic = _clean_topic(done.group("topic"))
        if topic:
            how = (
                "with experience in" if done.group("experience") else f"who has {done.group('done').lower()}"
            )
            said = _as_said(done.group("topic"))  # "hired a CRO", not "hired CRO"
            return Intent(
                IntentKind.FIND_PERSON, topic, category_of(topic), flat, summary=f"someone {how} {said}"
            )
    role = _ANY_ROLE.search(flat)
    if role:
        who = " ".join(role.group("role").split())
        said = _as_said(f"{who} {role.group('rest')}")  # "CFOs who've done an IPO"
        # tagged in the singular, as members' expertise is ("vc", not "vcs")
        return Intent(IntentKind.FIND_PERSON, _singular(who), category_of(said), flat, summary=said)
    wanted = _MEET_TARGET.search(flat)
    if wanted:
        summary = _TARGET_END.split(" ".join(wanted.group("target").split()), maxsplit=1)[0]
        topic = _clean_topic(summary)
        if topic:
            return Intent(IntentKind.FIND_PERSON, topic, category_of(topic), flat, summary=summary)
    return _talk_or_hire_intent(flat)


def _talk_or_hire_intent(flat: str) -> Intent | None:
    """Who to talk to about something ("who is the best person to talk to about SOC 2?"), or
    candidates for a role they are hiring for."""
    talk = _WHO_TO_TALK_TO.search(flat)
    if talk and not _ABOUT_THEIR_ACCOUNT.match(talk.group("topic")):
        topic = _clean_topic(talk.group("topic"))
        if topic:
            said = _as_said(talk.group("topic"))
            return Intent(
                IntentKind.FIND_PERSON,
                topic,
                category_of(topic),
                flat,
                summary=f"someone to talk to about {said}",
            )
    hiring = _HIRING.search(flat)
    # a vendor hired ("an agency for our rebrand") is a vendor question
    if hiring and not _SOLUTION.search(hiring.group("role")) and _CANDIDATE_ASK.search(flat[hiring.end() :]):
        hired = _as_said(hiring.group("role"))
        topic = _clean_topic(hired)
        if topic:
            article = "an" if hired[:1].lower() in "aeiou" else "a"
            return Intent(
                IntentKind.FIND_PERSON, topic, category_of(hired), flat, summary=f"{article} {hired} to hire"
            )
    return None


def _as_said(words: str) -> str:
    """The member's words for a summary, as written (articles kept), single-spaced and unpunctuated
    at the ends; ``_clean_topic`` is the tag made from them."""
    return " ".join(words.split()).strip(" .,;:?!")


def _singular(role: str) -> str:
    """ "VCs" -> "VC", "healthcare founders" -> "healthcare founder", "attorneys" -> "attorney"."""
    head, _, last = role.rpartition(" ")
    if last.lower().endswith("ies") and len(last) > 4:
        last = last[:-3] + "y"
    elif last.lower().endswith("s") and not last.lower().endswith("ss"):
        last = last[:-1]
    return f"{head} {last}" if head else last


def _solution_intent(flat: str) -> Intent | None:
    """A vendor question ("any good payroll software?"), or a recommendation asked for by name."""
    if not _SOLUTION.search(flat):
        recommend = _RECOMMEND_ASK.search(flat) or _PROVIDER_ASK.search(flat)
        topic = _clean_topic(recommend.group("topic")) if recommend else ""
        if topic:
            return Intent(IntentKind.SOLUTION_QUESTION, topic=topic, category=category_of(topic), text=flat)
        return None
    if not _ASKS.search(flat):
        return None
    topics = [_clean_topic(m.group("topic")) for p in _SOLUTION_TOPIC if (m := p.search(flat))]
    # "software for a 200-person company", "for our startup": what follows "for" names the buyer,
    # not the need; the words before the vendor word do ("accounts payable automation software").
    named = [t for t in topics if t and not _BUYER.search(t)]
    topic = (named or [t for t in topics if t] or [flat])[0]
    return Intent(IntentKind.SOLUTION_QUESTION, topic=topic, category=category_of(flat), text=flat)


_PLACE_CONNECTORS = frozenset({"at", "from", "who works at", "who worked at", "working at"})


def _person_summary(via: str, topic: str) -> str:
    """ "someone at Stripe" for a company, "someone in fintech"; "someone who has set up a warehouse
    in Monterrey", "people who have sold to hospitals" or "someone with experience in SOC 2" for what
    they did or know."""
    how = " ".join(via.lower().split()).replace("who've", "who have")
    if how in _PLACE_CONNECTORS:
        return f"someone at {topic}"
    return f"{'people' if how.endswith(' have') else 'someone'} {how} {topic}"


def read_intents(texts: list[str], *, innovator: bool = False) -> list[Intent]:
    """One intent per text, in order; a burst's later text about the same thing wins (§4.4 step 2)."""
    intents = [read_intent(t, innovator=innovator) for t in texts]
    acted = [i for i in intents if i.kind is not IntentKind.OTHER]
    if not acted:
        return [Intent(IntentKind.OTHER, text=" ".join(texts))] if texts else []
    latest: dict[IntentKind, Intent] = {}
    for intent in acted:
        latest[intent.kind] = intent  # self-correction: the latest message of a kind wins
    return list(latest.values())


# Text aimed at the agent rather than about the member's work (prompt injection): overriding its
# rules, changing its role, asking it to reveal its prompt, or to act on accounts (verify, approve,
# make admin, award credits, change an agent). Deterministic, so a goal or any other stored
# free text can be refused without asking the model that may have been fooled.
_INSTRUCTIONS = (
    re.compile(
        r"\b(?:ignore|disregard|forget|override|bypass|skip)\s+(?:all\s+|any\s+)?(?:of\s+)?"
        r"(?:your|the|my|these|those|previous|prior|above|earlier|system|all)\b[\w\s,]{0,30}?"
        r"\b(?:instructions?|rules?|prompts?|guidelines?|guardrails?|directives?|programming|policies)\b",
        re.IGNORECASE,
    ),
    re.compile(
        r"\b(?:you are now|from now on,? you|act as (?:an?|the) |pretend (?:to be|you are)|new instructions?|"
        r"developer mode|jailbreak|system prompt|your (?:prompt|instructions)|(?:reveal|print|show|repeat) "
        r"(?:me )?(?:your|the) (?:prompt|instructions|rules))",
        re.IGNORECASE,
    ),
    re.compile(
        r"\b(?:mark|set|make|flag|approve)\s+(?:me|him|her|them|this (?:user|member|account)|my account|"
        r"user\s+\S+|\+?\d[\d\s-]{6,})\s+(?:as\s+)?(?:verified|approved|an?\s+admin|admin|vip)\b",
        re.IGNORECASE,
    ),
    re.compile(
        r"\b(?:give|grant|award|add|credit|transfer)\s+(?:me|him|her|them|my account|\S+'s account)?\s*"
        r"\d[\d,]*\s+credits\b|\bchange\s+(?:my|his|her|their|the)\s+(?:agent|poc|point of contact)\b",
        re.IGNORECASE,
    ),
    re.compile(r"\bi'?m (?:an?|the|your) (?:admin|administrator|developer|operator)\b", re.IGNORECASE),
)


_THANKS_WORDS = (
    r"(?:thanks|thank you|thank u|thx|ty|tysm|cheers|much appreciated|appreciate it)"
    r"(?:\s+(?:so much|a lot|again|very much))?"
)
# "this is super helpful", "that helps", "exactly what I needed": thanks in other words
_PRAISE_WORDS = (
    r"(?:(?:(?:this|that|it)(?:'s| is| was)\s+)?(?:(?:super|really|very|so|incredibly|extremely)\s+)?"
    r"(?:helpful|useful)|(?:(?:this|that|it)(?:'s| is| was) )?exactly what i needed|"
    r"(?:this|that) helps(?: a lot)?)"
)
_THANKS = re.compile(
    r"^(?:(?:ok(?:ay)?|great|perfect|awesome|cool|got it|nice|wow)[,.!]?\s+)?"
    rf"(?:{_THANKS_WORDS}(?:[,.!]*\s*{_PRAISE_WORDS})?|{_PRAISE_WORDS}(?:[,.!]*\s*{_THANKS_WORDS})?)[\s.!]*$"
    # or only 🙏 / 🙌, with skin tones
    r"|^[\U0001f64f\U0001f64c\U0001f3fb-\U0001f3ff\ufe0f\s]*[\U0001f64f\U0001f64c]"
    r"[\U0001f3fb-\U0001f3ff\ufe0f\s]*$",
    re.IGNORECASE,
)
# Asking for a member's contact details: "what's Grace's email?", "can I get Maya's number?", "send
# me the phone number of the CFO". Never shared before both sides accept an introduction (B17).
_CONTACT_ASK = re.compile(
    r"\b(?:what'?s|what is|what are|can i (?:get|have)|could i (?:get|have)|send me|share|give me|"
    r"do you have|i need|i want)\s+(?:\w[\w.'-]*'s?|her|his|their|the|a|an)\s+"
    r"(?:(?:personal|direct|work|cell|mobile)\s+)?"
    r"(?:phone(?: number)?|number|cell|mobile|email(?: address)?|e-mail|"
    r"contact(?: info| information| details)?|whatsapp|address)\b",
    re.IGNORECASE,
)


_ANYONE_THERE = r"(?:is )?(?:any ?one|any ?body) (?:there|here|home)[\s?!.]*"
_HELLO = re.compile(
    r"^(?:(?:hi|hey|hello|hiya|heya|howdy|yo|(?:good )?(?:morning|afternoon|evening))"
    rf"(?: there| again| all| everyone)?[\s!.,?]*(?:{_ANYONE_THERE})?"
    # "hello?", "anyone there?", a lone "?": checking that someone answers
    rf"|{_ANYONE_THERE}|\?+)$",
    re.IGNORECASE,
)
# "how are you?", "hi, how's it going?": small talk, asking nothing of the network.
_HOW_ARE_YOU = re.compile(
    r"^(?:(?:hi|hey|hello|yo|(?:good )?(?:morning|afternoon|evening))(?: there| again)?[\s!.,]*)?"
    r"(?:how are (?:you|things)(?: doing| going)?(?: today)?|how(?:'s| is) it going|how(?:'s| is) your day"
    r"|how(?:'s| is) everything|how do you do)[\s?!.]*$",
    re.IGNORECASE,
)


def is_hello(text: str) -> bool:
    """A bare greeting ("hey", "hi there!", "morning!", "hi again"), nothing asked or answered (a
    bare "yes" is not one)."""
    return bool(_HELLO.match(" ".join(text.split())))


def is_how_are_you(text: str) -> bool:
    """Small talk ("how are you?", "hi, how's it going?"), with or without a greeting before it."""
    return bool(_HOW_ARE_YOU.match(normalize_text(text)))


_ABOUT_US = re.compile(
    r"^(?:so |ok(?:ay)?,? |hi,? |hey,? )?"
    r"(?:what (?:can|do|could) (?:you|u) (?:do|help with|help me with|offer)|"
    r"how (?:does this|does it|do you|does yachtparty|does this thing|do (?:the )?intros|"
    r"do (?:the )?introductions|does an intro(?:duction)?) work(?: here)?|"
    r"what (?:is|'s) (?:this|yachtparty)|who (?:are|r) (?:you|u)|what are you)\b[^.!?]*[.!?]*$",
    re.IGNORECASE,
)


# Asking for a person, or whether a person is answering: "can I talk to a human?", "I need to speak
# with someone on your team", "are you a bot?". Found on the local stack: each got "Got it. ...".
_PERSON_WANTED = re.compile(
    r"\b(?:(?:talk|speak|chat) (?:to|with) (?:a |an )?(?:human|real person|actual person|live person|person|"
    r"someone (?:on|from|at) (?:your|the) (?:team|company)|the team|your team|support|customer support|"
    r"an? (?:operator|agent|representative|rep))(?=[\s?.!,]*$|\s+(?:please|now|asap|today|instead|"
    r"about|regarding)\b)|"
    r"(?:is this|are you|am i (?:talking|texting|speaking|chatting) (?:to|with)) (?:a |an )?"
    r"(?:bot|robot|ai|real person|human|person|machine|computer|automated)\b|"
    r"(?:are you|is this) (?:real|automated|human)\b|"
    r"who(?:'s| is| do| should| can| could)(?: i)?(?: the)?(?: best| right)?(?: person)?"
    r"(?: (?:i should|to))? (?:talk|speak|chat) (?:to|with) (?:about|on|regarding) " + _ACCOUNT_MATTER + ")",
    re.IGNORECASE,
)


# Their data (agents.md §2.3: export and deletion supported, CCPA/GDPR): "delete my data", "what do
# you know about me?". Found reading realistic texts against the rules: each got the honest ack.
_DATA_REQUEST = re.compile(
    r"\b(?:(?:delete|remove|erase|wipe|export|download)(?: all)? (?:of )?my (?:data|account|information|"
    r"info|details|messages|history|profile)|"
    r"(?:send|give) me (?:a copy of )?(?:all )?my (?:data|information|info)|"
    r"what (?:data|information|info) do you (?:have|keep|store|hold|collect) (?:on|about) me|"
    r"what do you know about me)\b",
    re.IGNORECASE,
)


def asks_about_their_data(text: str) -> bool:
    """Asking for a copy of their data, or for it to be deleted."""
    return bool(_DATA_REQUEST.search(" ".join(text.split())))


def asks_for_a_person(text: str) -> bool:
    """Asking to reach a person on the team, or whether a person is answering."""
    return bool(_PERSON_WANTED.search(" ".join(text.split())))


def asks_what_we_do(text: str) -> bool:
    """A question about the service itself: "what can you do?", "how does this work?", "who are you?"."""
    return bool(_ABOUT_US.match(" ".join(text.split())))


_WHO_IS_HERE = re.compile(
    r"^(?:so |ok(?:ay)?,? |hi,? |hey,? )?"
    r"(?:who(?:'s| is| else is| are| else are| all is| else)? (?:in|on|part of) (?:the |this |your )?"
    r"(?:network|group|yachtparty|club)|"
    r"who (?:else )?(?:is|are) (?:here|the (?:other )?members|members)|"
    r"(?:can|could|may) (?:i|you) (?:see|get|have|share|send(?: me)?) (?:the |a |your )?"
    r"(?:member(?:ship)?|members) (?:list|directory)|"
    r"(?:is there|do you have) (?:a |the )?(?:member(?:ship)?|members) (?:list|directory))\b[^.!?]*[.!?]*$",
    re.IGNORECASE,
)


def asks_who_is_here(text: str) -> bool:
    """A question about who the members are: "who else is in the network?", "can I see the member
    list?". The list is not shared: members meet through asks and double opt-in introductions
    (decisions B17)."""
    return bool(_WHO_IS_HERE.match(" ".join(text.split())))


def asks_for_contact(text: str) -> bool:
    """A member asking for another member's phone number, email or other contact detail."""
    return bool(_CONTACT_ASK.search(" ".join(text.split())))


def is_thanks(text: str) -> bool:
    """A bare thank-you ("thanks", "great, thank you!", "this is super helpful, thanks!"), with
    nothing asked."""
    return bool(_THANKS.match(normalize_text(text)))


def reads_as_instructions(text: str) -> bool:
    """True when a member's text tries to instruct the agent (override its rules, change its role,
    act on accounts or credits) instead of saying something about the member's own work."""
    flat = " ".join(text.split())
    return any(p.search(flat) for p in _INSTRUCTIONS)


def looks_like_goal(text: str) -> bool:
    """An answer to "what are you working on?" that states a goal: not a question to us, not a
    request to find someone, not a cancellation, and not instructions aimed at the agent."""
    flat = " ".join(text.split())
    if not flat or flat.endswith("?") or reads_as_instructions(flat):
        return False
    return read_intent(flat).kind not in (IntentKind.FIND_PERSON, IntentKind.ADVICE, IntentKind.CANCEL)


def split_prospect(topic: str) -> tuple[str, str | None]:
    """ "Jim Park at Stripe" -> ("Jim Park", "Stripe");
    "someone at Stripe" -> ("someone at Stripe", "Stripe"); the company ends where a clause about
    the person begins: "someone at Pictet who runs their family office desk" -> (..., "Pictet")."""
    match = _PERSON_AT.match(topic)
    if match is None:
        return topic, None
    said = _COMPANY_END.split(match.group("company"), maxsplit=1)[0]
    name, company = match.group("name").strip(), _clean_topic(said)
    if name.lower() in ("someone", "somebody", "a person", "people", "a few people"):
        return topic, company or None
    return name, company or None


def read_yes_no(text: str) -> bool | None:
    """True for a yes, False for a no, None for anything else (what a bare reply to the item presented
    last means). A yes that goes on ("yes, I know Tony") is still a yes."""
    flat = " ".join(text.split()).strip(" .!")
    if _NO.match(flat):
        return False
    if _YES.match(flat):
        return True
    emoji = set(flat) - _TONES
    if emoji and emoji <= _YES_EMOJI:
        return True
    if emoji and emoji <= _NO_EMOJI:
        return False
    return None


# A question a bare yes or no answers: an auxiliary verb first ("Do you have a contact at Vanta?").
_CLOSED_QUESTION = re.compile(
    r"^(?:do|does|did|is|are|was|were|have|has|had|can|could|would|will|should|may|might|shall)\b[^?]*\?$",
    re.IGNORECASE,
)
_ALTERNATIVES = re.compile(r"\bor\b", re.IGNORECASE)
# The yes and no words that answer such a question; "ok", "go ahead" and "sounds good" agree to
# something offered, and say nothing about a fact.
_YES_NO_ANSWER = re.compile(
    r"^(?:yes|yeah|yep|yup|ya|sure|absolutely|definitely|of course|no|nope|nah|not really|"
    r"i don'?t think so)\b",
    re.IGNORECASE,
)


def answers_closed_question(question: str, text: str) -> bool:
    """True when ``text`` is a yes or a no and ``question`` (its last sentence) is one a yes or a no
    answers: "yes" to "Do you have a contact at Vanta?"; not to "Which vendor did you pick?" or
    "Did you pick Drata or Vanta?", and not "ok", which agrees rather than answers."""
    flat = " ".join(question.split())
    asked = re.split(r"(?<=[.!?])\s+", flat)[-1]
    if not _CLOSED_QUESTION.match(asked) or _ALTERNATIVES.search(asked):
        return False
    return read_yes_no(text) is not None and bool(_YES_NO_ANSWER.match(" ".join(text.split())))


def looks_like_answer(text: str, *, min_words: int) -> bool:
    """A text long enough to be an expert's answer to a presented question, not a question back."""
    flat = " ".join(text.split())
    return len(flat.split()) >= min_words and not flat.endswith("?")


# An offer to help with no help in it yet: "happy to help", "I can help with that", "sure, I know
# this area well". The expert is told to go ahead, not recorded as having answered.
_OFFER_TO_HELP = re.compile(
    r"^(?:(?:i'?d be|i'?m|i am|i would be|would be|more than|always) )?(?:happy|glad|keen|willing|able) to "
    r"|^(?:i )?(?:can|could) (?:help|answer|share|speak to|chat)\b"
    r"|^(?:i )?know (?:a bit|a lot|a thing or two|something|this|that|about)\b"
    r"|^(?:sure|of course|absolutely|definitely|certainly|ok|okay|sounds good)\b",
    re.IGNORECASE,
)
_BUT = re.compile(r"^but\b", re.IGNORECASE)


def answer_after_yes_or_no(text: str, *, min_words: int) -> bool:
    """Whether a reply that opens with a yes or a no goes on to answer a presented question by
    itself: "Yes, I ran ops at a forwarder there for 6 years ..." or "No, but we used DHL and ..."
    do; a bare "yes", "yes, happy to help", "yes I can help with that", and a no that is not
    followed by "but" ("no, sorry, not my area") do not. ``min_words``: what follows the yes or no
    needs twice that many words (an offer to help is short; an answer is not)."""
    flat = " ".join(text.split())
    no = _NO.match(flat)
    opening = no or _YES.match(flat)
    if opening is None:
        return False
    rest = flat[opening.end() :].lstrip(" ,.!;:-—")
    if no and not _BUT.match(rest):
        return False
    return looks_like_answer(rest, min_words=2 * min_words) and not _OFFER_TO_HELP.match(rest)
