"""Every number from the spec, in one place, with where it comes from.

decisions.md wins over agents.md and platform.md; the section is named on each line.
Add new numbers here rather than writing literals in code.
"""

from __future__ import annotations

from datetime import timedelta

# --- SMS channel (agents.md §1, decisions B1, B15) -----------------------------------------
SMS_MAX_BODY_CHARS = 1600  # Twilio's hard limit for one message body
SMS_GSM7_SEGMENT_CHARS = 160  # one GSM-7 segment; concatenated parts carry 153
SMS_GSM7_CONCAT_SEGMENT_CHARS = 153
SMS_UCS2_SEGMENT_CHARS = 70  # one UCS-2 segment; concatenated parts carry 67
SMS_UCS2_CONCAT_SEGMENT_CHARS = 67
INBOUND_BODY_MAX_CHARS = 1600  # longer inbound bodies are refused with 413 (never a 500)
MAX_MMS_MEDIA = 10  # Twilio sends at most 10 MediaUrlN parameters
WEBHOOK_MAX_BODY_BYTES = 64 * 1024  # larger Twilio / database-webhook bodies: 413 before parsing
TWILIO_ERROR_UNSUBSCRIBED = 21610  # Twilio: recipient replied STOP (decisions B15)
SMS_SEND_MAX_ATTEMPTS = 3  # Twilio create-message tries on 429 / 5xx / connection errors, per claim
SMS_SEND_BACKOFF = (timedelta(seconds=0.5), timedelta(seconds=2))  # base waits between those tries
SMS_SEND_JITTER = 0.5  # each wait is the base wait times a random factor in [1 - J, 1 + J]
SMS_RETRY_AFTER_MAX = timedelta(seconds=30)  # a longer Retry-After: give the row back to the sweep
# The longest wait between the Anthropic SDK's retries, whatever the API's retry-after asks: the SDK
# (2.13) waits out any value as given, so a 429 asking for minutes held a turn until its function's
# timeout. Cut to this, the SDK's retries end soon and the turn answers from the offline brain.
LLM_RETRY_AFTER_MAX = timedelta(seconds=10)
SMS_MAX_TOTAL_ATTEMPTS = 9  # tries across claims (3 claims of 3) before a transient error fails the row
SMS_SEND_LEASE = timedelta(minutes=5)  # a 'sending' row older than this is reconciled (stranded sender)
SMS_RECONCILE_CLOCK_SKEW = timedelta(minutes=2)  # Twilio's clock vs ours when matching its message list
SMS_RECONCILE_LIST_LIMIT = 200  # Twilio messages read per reconciliation (To/From/DateSent filtered)
SMS_PENDING_SWEEP_AFTER = timedelta(minutes=2)  # the sender's sweep delivers 'pending' rows older than this
SMS_PENDING_SWEEP_BATCH = 100
# The sender's sweep starts no new row after this long. One single-part row takes at most 3 tries
# at Twilio's 10 s HTTP timeout plus two waits of SMS_RETRY_AFTER_MAX (90 s), so under throttling
# the sweep still ends, and reports its backlogs, inside sms_sender's 180 s timeout (Terraform
# catalog; tests/infra checks the sum). The rows it did not start wait for the next tick.
SMS_SWEEP_START_WITHIN = timedelta(seconds=30)

# --- Send budget and quiet hours (decisions B1, B2) -----------------------------------------
DAILY_PROACTIVE_LIMIT = 5  # per user per local day
HOURLY_PROACTIVE_LIMIT = 2  # per user per rolling hour
HOURLY_BUDGET_WINDOW = timedelta(hours=1)  # the rolling window HOURLY_PROACTIVE_LIMIT counts over
ACTIVE_USER_WINDOW = timedelta(minutes=10)  # inbound in this window: reply is unbudgeted
RUNAWAY_GUARD_MAX_SMS = 10  # never more than this many outbound SMS to one user ...
RUNAWAY_GUARD_WINDOW = timedelta(minutes=10)  # ... within this window
QUIET_HOURS_START_HOUR = 22  # local time
QUIET_HOURS_END_HOUR = 8  # local time
DEFAULT_TIMEZONE = "America/New_York"
DEFAULT_SEND_HOUR = 10  # local hour for delayable messages with no learned best time
MAX_SEQUENCE_PARTS = 5  # a sequence is delivered whole, at most this many SMS
SEQUENCE_PART_DELAY = timedelta(seconds=1)
ORCHESTRATOR_BATCH = 50  # queued rows examined per tick (platform §1.6)
# A tick starts no new user after this long: with the model slow, a user's unit takes a model call
# or two (freshness, then the prose), each up to 3 attempts of 30 s with two waits of at most 10 s
# (110 s). Without it a tick of 50 users could run far past message_orchestrator's 300 s timeout and
# report no backlog. With it, a tick ends inside the timeout unless its last user needs two such
# calls at their worst (tests/infra checks the window plus one). Users it did not start wait for
# the next tick.
ORCHESTRATOR_START_WITHIN = timedelta(seconds=60)
FRESHNESS_LOOKBACK_MESSAGES = 5  # newer messages shown to the freshness classifier (platform §1.7)

# --- Priority order (decisions B3) --------------------------------------------------------------
PRIORITY_RANK = {"urgent": 1, "high": 2, "medium": 3, "low": 4}
# The lanes that wait for the member's best send time (agents.md §1: medium "best send time", low
# "deferred"); urgent goes now and high takes the next available slot, whatever can_delay says.
BEST_SEND_TIME_PRIORITIES = frozenset({"medium", "low"})

# --- Events (decisions B6, platform §2) ---------------------------------------------------------
EVENT_MAX_PUBLISH_ATTEMPTS = 5  # dispatcher publish failures before the dead-letter table
EVENT_RETRY_BASE = timedelta(seconds=10)  # dispatcher backoff: 10 s, 20 s, 40 s ... capped
EVENT_RETRY_MAX = timedelta(minutes=10)
EVENT_DISPATCH_BATCH = 500
PUBSUB_MIN_BACKOFF = timedelta(seconds=10)  # push subscription retry policy
PUBSUB_MAX_BACKOFF = timedelta(minutes=10)
PUBSUB_MAX_DELIVERY_ATTEMPTS = 5
EVENT_MAX_AGE = timedelta(hours=24)  # consumers dead-letter deliveries older than this, with the reason
DEAD_LETTER_ALERT_DEPTH = 10  # platform §2.3
FUNCTION_ERROR_RATE_ALERT = 0.02  # share of 5xx responses per function (platform §7.6)
DAILY_LLM_COST_ALERT_USD = 10  # platform §7.6
DELIVERY_FAILURE_RATE_ALERT = 0.05  # share of SMS failed or undelivered (platform §7.6)
SINGLE_LLM_CALL_ALERT_USD = 0.5  # one LLM call costing more (platform §7.6)
LLM_LATENCY_P99_ALERT = timedelta(seconds=10)  # platform §7.6
SLOW_DB_QUERY_ALERT = timedelta(seconds=1)  # a named query slower than this is logged (platform §7.6)
MONTHLY_COST_ALERT_USD = 300  # platform §7.6
DELIVERY_FAILURE_WINDOW = timedelta(hours=1)  # the delivery-failure rate is judged over this window ...
DELIVERY_FAILURE_MIN_OUTCOMES = 20  # ... and only from this many SMS handed to Twilio in it
LLM_LATENCY_WINDOW = timedelta(minutes=15)  # the p99 LLM latency is taken over this window
DEAD_LETTER_ALERT_WINDOW = timedelta(days=1)  # more than DEAD_LETTER_ALERT_DEPTH recorded in this window
DAILY_LLM_COST_WINDOW = timedelta(hours=24)  # DAILY_LLM_COST_ALERT_USD and SINGLE_LLM_CALL_ALERT_USD
# The age of a backlog's oldest waiting item that alerts (terraform backlog_age_alert_seconds).
BACKLOG_AGE_ALERT = {
    "events": timedelta(minutes=10),
    "agent_tasks": timedelta(minutes=10),
    "message_queue": timedelta(minutes=30),
    "sms_sending": timedelta(minutes=15),  # > SMS_SEND_LEASE + the 5-minute sweep: reconciled by then
    "sms_pending": timedelta(minutes=15),
}
PUBSUB_PUBLISH_TIMEOUT = timedelta(seconds=30)  # the dispatcher waits this long for publish futures
PUBSUB_ACK_DEADLINE = timedelta(seconds=600)  # push subscriptions: a worker may run the function timeout
DISPATCH_MAX_BATCHES_PER_RUN = 20  # one dispatcher / sweeper request drains at most this many batches
DEAD_LETTER_REPLAY_ALL_LIMIT = 1000  # ops `dead-letters replay --all` handles at most this many per run

# --- Tasks (decisions B7) -----------------------------------------------------------------------
TASK_MAX_RETRIES = 3
TASK_RETRY_BACKOFF_BASE = timedelta(minutes=1)  # 1, 2, 4 minutes
FUNCTION_TIMEOUT = timedelta(seconds=300)  # Cloud Function timeout for workers
TASK_LEASE = timedelta(seconds=600)  # longer than the function timeout
TASK_SWEEP_BATCH = 1000

# --- Scheduler cadence (decisions A2; same locally and in Cloud Scheduler) ---------------------
EVENT_SWEEP_EVERY = timedelta(minutes=1)
TASK_SWEEP_EVERY = timedelta(minutes=1)
ORCHESTRATOR_TICK_EVERY = timedelta(minutes=1)
SMS_SENDER_SWEEP_EVERY = timedelta(minutes=5)
ACCOUNT_MANAGER_REVIEW_EVERY = timedelta(hours=6)  # the Account Manager's review cron (agents.md §6)

# --- Conversation summaries (decisions B12, platform §6.4) ------------------------------------
SUMMARY_EVERY_MESSAGES = 50
SUMMARY_MAX_WORDS = 200
SUMMARY_SOURCE_MAX_MESSAGES = 500  # messages read per summary run (50 expected; a backlog is capped)

# --- Bouncer (decisions B4, agents.md §2) --------------------------------------------------------
BOUNCER_FOLLOWUP_DELAYS = (timedelta(hours=24), timedelta(hours=48))  # after last interaction
BOUNCER_MAX_FOLLOWUPS = 2
REFERRAL_CANDIDATES = 5
REPLY_MAX_PARTS = 5
SPLIT_FALLBACK_OVER_PARTS = 10
TOOL_TIMEOUT = timedelta(seconds=5)
BOUNCER_PAUSE_AFTER_LAST_FOLLOWUP = timedelta(hours=24)  # second follow-up unanswered this long: pause
BOUNCER_HISTORY_USER_MESSAGE = 5  # Call 1 history, user message (agents.md §0.4)
BOUNCER_HISTORY_RE_ENGAGEMENT = 15  # Call 1 history, re-engagement (agents.md §0.4: 10-15)
BOUNCER_NAME_DISAMBIGUATION_MESSAGES = 4  # the extraction step sees the last 4 messages (agents.md §2.3)
REFERRAL_EXACT_MATCH_SCORE = 50  # lookupUserByName: exact first/last match (agents.md §2.4)
REFERRAL_PARTIAL_MATCH_SCORE = 20  # prefix / partial match of one name part
ONBOARDING_FIELD_MAX_CHARS = 120  # longer extracted values are refused by the tools
EMAIL_WEBHOOK_MAX_BYTES = 1_000_000  # larger inbound-email webhook bodies: 413
ADMIN_MAX_BODY_BYTES = 4096  # larger operator requests to the admin function: 413

# --- Concierge and Innovator (agents.md §4, §5, §16) --------------------------------------------
CONCIERGE_HISTORY_USER_MESSAGE = 10  # Call 1 history with timestamps (agents.md §4.2, §16)
# The history window's first message moves in steps of this many messages (10-15 shown), so the
# cached conversation prefix is read, not rewritten, on most turns (docs/llm.md, "Prompt caching").
CONCIERGE_HISTORY_STEP = 6
CONCIERGE_PRIORITIES_IN_CONTEXT = 10  # top-10 priorities, not dormant (decisions B9)
CONCIERGE_OPEN_REQUESTS_IN_CONTEXT = 3  # the member's own open community requests (agents.md §4.2)
CONCIERGE_TEXT_MAX_CHARS = 1000  # longest question / goal / description a tool stores
PRIORITY_DORMANT_AFTER_PRESENTATIONS = 2  # the two-strike rule (agents.md §13, decisions B9)
INTRO_OFFER_EXPIRY = timedelta(days=14)  # intro_offers.expires_at (agents.md §12.1)
CONNECTION_REQUEST_EXPIRY = timedelta(days=30)  # connection_requests.expires_at (agents.md §12.1)
# intro_opportunities.expires_at: the spec leaves it open (§12.1). 21 days: longer than an offer (14, the
# connector must reach a third party) and shorter than a connection request (30): an opportunity holds the
# prospect for one connector while its siblings wait paused, so it must not hold them for a month.
INTRO_OPPORTUNITY_EXPIRY = timedelta(days=21)
INTRO_OFFER_REMINDER_AFTER = timedelta(days=3)  # intro.offer_reminder to an unconfirming connector (§12.4)
INTRO_FOLLOWUP_AFTER = timedelta(days=7)  # intro_followup_check: "did you meet?" (agents.md §10, B20)
NOT_MET_REASON_MAX = 500  # characters kept of a "no, we didn't meet" reason (not_met_reason)
INTRO_EXPIRY_BATCH = 500  # rows one expiry run moves per flow (the rest next run)
# request_connection's offer_credits cap: a bounty paid on completion (decisions B20), never charged upfront
CONNECTION_REQUEST_MAX_OFFER_CREDITS = 500
EXPERT_ANSWER_MIN_WORDS = 4  # offline brain: a shorter text to a presented request is not read as an answer

# --- Credits (decisions B8) -------------------------------------------------------------------------
PROSPECT_CONVERSION_CREDITS = 25
EXPERT_ANSWER_MIN_USEFULNESS = 7
EXPERT_ANSWER_BASE_CREDITS = 15
EXPERT_ANSWER_CREDITS_PER_POINT = 10
INTRO_OPPORTUNITY_DEFAULT_BOUNTY = 50
WARM_INTRO_DEFAULT_BOUNTY = 25
LEGACY_INTRO_OFFER_BOUNTY = 10  # platform.md §4.2: the old create_intro_opportunity tool
EXPERT_ANSWER_CREDITS_MENTIONED = 25  # what expert-facing messages say is on offer (agents.md §15)

# --- Community requests (agents.md §7, §8, §16; decisions B18) --------------------------------------
COMMUNITY_REQUEST_EXPIRY = timedelta(days=7)
COMMUNITY_DUPLICATE_WINDOW = timedelta(days=7)  # an open request this recent absorbs the same question
COMMUNITY_MAX_EXPERTS = 5  # experts asked per request
EXPERT_ASKS_PER_LOCAL_DAY = 1  # load cap per expert (decisions B18)
COMMUNITY_CANDIDATE_POOL = 50  # matching experts read per request before the cap and quiet hours
# An expert is a candidate when their overlap with the request (whole tags and their words) is at
# least this share of the best candidate's: a shared "engineering" does not bring in a data engineer
# beside members whose expertise names all of "accounts payable automation".
COMMUNITY_MIN_OVERLAP_SHARE = 0.5
EXPERT_IMPACT_NOTICE_DELAY = timedelta(hours=24)  # notify_expert_of_impact (agents.md §8.13)
COMMUNITY_CLOSURE_EVERY = timedelta(hours=1)  # the closure job (agents.md §8.14)
COMMUNITY_CLOSURE_BATCH = 500  # requests closed per closure run
COMMUNITY_SUMMARY_MAX_CHARS = 1000  # response_text: the 2-3 sentence summary
COMMUNITY_VERBATIM_MAX_CHARS = 4000  # verbatim_answer: the expert's exact words, capped

# --- Solution Saga (agents.md §9, §16; decisions A11) ----------------------------------------------
SAGA_EXPERT_TIMEOUT = timedelta(hours=24)  # solution_workflow_timeout after the community request
SAGA_MIN_EXPERT_RESPONSES = 2  # responses that move a workflow to final evaluation
SAGA_WEB_SEARCH_MAX_USES = 3  # searches the web search server tool may run per workflow
SAGA_WEB_RESULTS_KEPT = 12  # web results stored per workflow (the first found)
SAGA_INNOVATOR_MATCHES = 5  # innovators rows matched per workflow
# An innovator kept for a request names at least this share of what the best match names (its
# categories in common plus the request's words): "automation" alone is no match for "accounts
# payable automation" when another innovator names all three words.
SAGA_INNOVATOR_MIN_SHARE = 0.5
SAGA_REQUEST_MAX_CHARS = 1000  # longest request_description accepted
SAGA_FINDINGS_MAX_VENDORS = 3  # named options in a message to the member ("two or three")
SAGA_SOURCES_LOOKBACK = timedelta(days=30)  # workflows whose sources a reply about research may cite
SAGA_SOURCES_WORKFLOWS = 10  # at most this many recent workflows
# An expert's answer to a follow-up question still reaches the workflow while it waits for answers
# or within this long after it completed (the member then gets one update); past it, the question is
# stale and the expert's reply is an ordinary message.
SAGA_FOLLOW_UP_ANSWER_WINDOW = timedelta(days=7)

# --- Retention (platform §6.6) ----------------------------------------------------------------
MESSAGE_RETENTION = timedelta(days=365)  # message history is purged after 1 year (RETENTION_MESSAGE_DAYS)
EVENT_RETENTION = timedelta(days=90)  # processed events, then archived
COMPLETED_TASK_RETENTION = timedelta(days=30)  # completed and failed tasks, then archived
ACTION_LOG_RETENTION = timedelta(days=365)  # agent_actions_log, then archived (RETENTION_ACTION_LOG_DAYS)
DEAD_LETTER_RETENTION = timedelta(days=90)  # replayed dead letters only, then archived
PUBSUB_MESSAGE_RETENTION = timedelta(days=7)  # subscriptions' message_retention_duration (terraform topic)
# Idempotency marks outlive every possible redelivery: the Pub/Sub retention window, plus a day.
PROCESSED_DELIVERY_RETENTION = PUBSUB_MESSAGE_RETENTION + timedelta(days=1)
RETENTION_BATCH = 500  # rows per archive-then-delete statement (one short transaction each)
RETENTION_MAX_BATCHES_PER_RULE = 200  # per run: a backlog is worked off over several days' runs

# One reply to a burst (issue 16, 1b): a turn waits until the member has been quiet this long
# since their latest text, but never longer than BURST_MAX_WAIT after their first.
BURST_QUIET_GAP = timedelta(seconds=2)
BURST_MAX_WAIT = timedelta(seconds=8)

# --- Concierge / Innovator re-engagement (decisions B5, agents.md §4.8, §13) ----------------------
RE_ENGAGEMENT_MIN_GAP = timedelta(days=7)  # at most one re-engagement message per 7 days
RE_ENGAGEMENT_PAUSE_WINDOW = timedelta(days=90)  # unanswered re-engagements are counted over 90 days
RE_ENGAGEMENT_PAUSE_AFTER_UNANSWERED = 3  # this many unanswered in the window: pause until a human resumes
RE_ENGAGEMENT_OVERRIDE_SCORE = 90  # a priority scoring above this may skip the 7-day gap (never the pause)
RE_ENGAGEMENT_EXTEND_DAYS = (30, 90)  # no message: check again this many days out (inclusive bounds)
RE_ENGAGEMENT_DEFAULT_EXTEND_DAYS = 60  # the offline brain's "nothing worth saying" horizon
RE_ENGAGEMENT_QUIET_EXTEND_DAYS = 30  # the offline brain: something worth saying later, nothing now
RE_ENGAGEMENT_TOP_CONSIDERED = 3  # the top priorities the decision considers (agents.md §4.8)
RE_ENGAGEMENT_MAX_THREADS = 2  # threads one re-engagement message addresses
RE_ENGAGEMENT_HIGH_VALUE = 70  # value_score above this is "high" (agents.md §4.8)
RE_ENGAGEMENT_FOLLOW_UP = timedelta(days=7)  # a presented item's next check (agents.md §13 timeline)
RE_ENGAGEMENT_HISTORY = 15  # Call 1 history for re-engagement (agents.md §4.2: 15-20)
# agents.md §4.8 "other loop protections": at most this many re-engagements per member in
# RE_ENGAGEMENT_PAUSE_WINDOW (90 days), and the gap after the last one grows with each unanswered
# one in a row: 7 -> 14 -> 30 -> 60 -> 90 days (the first step is B5's 7-day gap).
RE_ENGAGEMENT_MAX_PER_WINDOW = 5
RE_ENGAGEMENT_BACKOFF_DAYS = (7, 14, 30, 60, 90)
# How far back the throttles read sends: the window, or the whole backoff ladder if longer.
RE_ENGAGEMENT_LOOKBACK = max(RE_ENGAGEMENT_PAUSE_WINDOW, timedelta(days=sum(RE_ENGAGEMENT_BACKOFF_DAYS)))
# The sequence structures of one re-engagement (agents.md §4.8): parts and what each carries.
RE_ENGAGEMENT_SEQUENCE_PARTS: dict[str, tuple[str, ...]] = {
    "single": ("single",),
    "sequence_2": ("primary", "secondary"),
    "sequence_3": ("reassurance", "update", "opportunity"),
}
RE_ENGAGEMENT_PRIORITY_UPDATE_DELAY = timedelta(minutes=1)  # priority.update -> a check this soon
# --- Innovator commerce (issue 13; agents.md §5, §15; decisions A11, B19) ---------------------------
PROSPECT_UPLOAD_TOKEN_TTL = timedelta(hours=24)  # the upload link's life; single use
PROSPECT_UPLOAD_TOKEN_BYTES = 32  # secrets.token_urlsafe entropy of the link's token
PROSPECT_UPLOAD_MAX_BYTES = 5 * 1024 * 1024  # one CSV file; larger: a clear page, nothing written
PROSPECT_UPLOAD_MAX_ROWS = 10_000  # data rows per file
PROSPECT_UPLOAD_MAX_FIELD_CHARS = 500  # one cell
PROSPECT_UPLOAD_FORM_OVERHEAD_BYTES = 64 * 1024  # multipart framing and the form's small fields
# The one price table (credits -> price in US cents) request_credit_funding sells from.
CREDIT_PACKS: tuple[tuple[int, int], ...] = ((100, 10_000), (250, 23_750), (500, 45_000), (1_000, 85_000))
CREDIT_CURRENCY = "usd"
STRIPE_WEBHOOK_TOLERANCE_SECONDS = 300  # a signed event older than this is a replay (the SDK's default)
STRIPE_WEBHOOK_MAX_BYTES = 256 * 1024  # Stripe's events are a few KB
