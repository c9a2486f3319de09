# The deployment catalogue: every function, the Pub/Sub routes and the scheduled ticks.
# It is the same for every environment; envs/* only size it. tests/infra checks it against
# the code: functions/ folders, shared/routing.py, the scheduler cadence constants and the
# settings each function's code path requires.

locals {
  # exposure:
  #   public    - callers outside Google (Twilio, the email provider, Stripe, innovators' browsers);
  #               signature, shared secret or single-use link token checked in code
  #   webhook   - called by pg_net (cannot mint OIDC tokens) and Cloud Scheduler; HMAC and
  #               the scheduler's OIDC token checked in code
  #   internal  - ingress internal only; run.invoker for the identity that calls it
  #   operators - run.invoker for the operators' group only
  # secrets: environment variable -> Secret Manager secret id.
  # optional_secrets: the same, for a feature that runs disabled without its credential: the container
  #   is always created, the function reads it only in environments that list the id in
  #   enabled_optional_secrets (a revision whose secret has no version would not start).
  # settings: plain environment variables whose values come from the environment's tfvars;
  #   PUBLIC_BASE_URL (the function's own URL) and TWILIO_STATUS_CALLBACK_URL are derived.
  functions = {
    twilio_inbound = {
      description     = "Twilio inbound SMS webhook: records the message and its event in one transaction."
      exposure        = "public"
      secrets         = { DATABASE_URL = "database-url", TWILIO_AUTH_TOKEN = "twilio-auth-token" }
      settings        = ["PUBLIC_BASE_URL"]
      publishes       = false
      timeout_seconds = 60
    }
    twilio_status = {
      description     = "Twilio delivery-status callbacks: moves outbound messages forward only."
      exposure        = "public"
      secrets         = { DATABASE_URL = "database-url", TWILIO_AUTH_TOKEN = "twilio-auth-token" }
      settings        = ["PUBLIC_BASE_URL"]
      publishes       = false
      timeout_seconds = 60
    }
    email_inbound = {
      description     = "Inbound verification email webhook (shared secret)."
      exposure        = "public"
      secrets         = { DATABASE_URL = "database-url", EMAIL_WEBHOOK_SECRET = "email-webhook-secret" }
      settings        = ["VERIFY_EMAIL_DOMAIN"]
      publishes       = false
      timeout_seconds = 60
    }
    prospect_upload = {
      description     = "The innovators' prospect list upload page (single-use link, CSRF, preview then confirm)."
      exposure        = "public"
      secrets         = { DATABASE_URL = "database-url" }
      settings        = []
      publishes       = false
      timeout_seconds = 120
    }
    stripe_webhook = {
      description     = "Stripe events: a paid Checkout Session credits the buyer once (signature checked in code)."
      exposure        = "public"
      secrets         = { DATABASE_URL = "database-url", STRIPE_WEBHOOK_SECRET = "stripe-webhook-secret" }
      settings        = []
      publishes       = false
      timeout_seconds = 60
    }
    sms_sender = {
      description     = "Sends pending outbound messages through Twilio (database webhook, HMAC)."
      exposure        = "webhook"
      secrets         = { DATABASE_URL = "database-url", TWILIO_ACCOUNT_SID = "twilio-account-sid", TWILIO_AUTH_TOKEN = "twilio-auth-token", WEBHOOK_SIGNING_SECRET = "webhook-signing-secret" }
      settings        = ["TWILIO_FROM_NUMBER", "TWILIO_MESSAGING_SERVICE_SID", "TWILIO_STATUS_CALLBACK_URL"]
      publishes       = false
      timeout_seconds = 180
    }
    event_dispatcher = {
      description     = "Claims unprocessed events and publishes each to its consumer's topic (webhook and tick)."
      exposure        = "webhook"
      secrets         = { DATABASE_URL = "database-url", WEBHOOK_SIGNING_SECRET = "webhook-signing-secret" }
      settings        = []
      publishes       = true
      timeout_seconds = 300
    }
    task_sweeper = {
      description     = "Publishes due agent tasks to their agent's topic and requeues expired leases (webhook and tick)."
      exposure        = "webhook"
      secrets         = { DATABASE_URL = "database-url", WEBHOOK_SIGNING_SECRET = "webhook-signing-secret" }
      settings        = []
      publishes       = true
      timeout_seconds = 300
    }
    # ANTHROPIC_API_KEY: the orchestrator's freshness check and the point of contact's rendering of queued data.
    message_orchestrator = {
      description     = "Releases queued proactive messages within budgets and quiet hours (webhook and tick)."
      exposure        = "webhook"
      secrets         = { DATABASE_URL = "database-url", WEBHOOK_SIGNING_SECRET = "webhook-signing-secret", ANTHROPIC_API_KEY = "anthropic-api-key" }
      settings        = []
      publishes       = false
      timeout_seconds = 300
    }
    dead_letter_recorder = {
      description     = "Stores messages that exhausted their deliveries in event_dead_letters."
      exposure        = "internal"
      secrets         = { DATABASE_URL = "database-url" }
      settings        = []
      publishes       = false
      timeout_seconds = 60
    }
    agent_bouncer = {
      description     = "The Bouncer: onboards and screens newcomers."
      exposure        = "internal"
      secrets         = { DATABASE_URL = "database-url", ANTHROPIC_API_KEY = "anthropic-api-key" }
      settings        = ["VERIFY_EMAIL_DOMAIN"]
      publishes       = false
      timeout_seconds = 300
    }
    agent_concierge = {
      description     = "The Concierge: point of contact for verified members."
      exposure        = "internal"
      secrets         = { DATABASE_URL = "database-url", ANTHROPIC_API_KEY = "anthropic-api-key" }
      settings        = []
      publishes       = false
      timeout_seconds = 300
    }
    agent_innovator = {
      description     = "The Innovator: point of contact for members who sell solutions."
      exposure        = "internal"
      secrets         = { DATABASE_URL = "database-url", ANTHROPIC_API_KEY = "anthropic-api-key", STRIPE_SECRET_KEY = "stripe-secret-key" }
      settings        = ["PROSPECT_UPLOAD_URL"]
      publishes       = false
      timeout_seconds = 300
    }
    agent_summarizer = {
      description     = "Rolling conversation summaries for every member (create_conversation_summary)."
      exposure        = "internal"
      secrets         = { DATABASE_URL = "database-url", ANTHROPIC_API_KEY = "anthropic-api-key" }
      settings        = []
      publishes       = false
      timeout_seconds = 300
    }
    agent_intro = {
      description     = "The Intro agent: talking points, contact exchange after double opt-in, +7-day follow-up."
      exposure        = "internal"
      secrets         = { DATABASE_URL = "database-url", ANTHROPIC_API_KEY = "anthropic-api-key" }
      settings        = []
      publishes       = false
      timeout_seconds = 300
    }
    agent_social_butterfly = {
      description = "The Social Butterfly: mutual LinkedIn connections of prospects via Apify (disabled without a token)."
      exposure    = "internal"
      secrets     = { DATABASE_URL = "database-url" }
      # Wired only once an operator has added a version and listed it in enabled_optional_secrets.
      optional_secrets = { APIFY_TOKEN = "apify-token" }
      settings         = []
      publishes        = false
      timeout_seconds  = 300
    }
    agent_account_manager = {
      description     = "The Account Manager: each member's ranked priorities (events, community tasks, reviews)."
      exposure        = "internal"
      secrets         = { DATABASE_URL = "database-url", ANTHROPIC_API_KEY = "anthropic-api-key" }
      settings        = []
      publishes       = false
      timeout_seconds = 300
    }
    agent_of_humans = {
      description     = "Agent of Humans: routes community questions to experts, scores answers, pays credits."
      exposure        = "internal"
      secrets         = { DATABASE_URL = "database-url", ANTHROPIC_API_KEY = "anthropic-api-key" }
      settings        = []
      publishes       = false
      timeout_seconds = 300
    }
    agent_solution_saga = {
      description     = "Solution Saga: vendor research (web search, innovators, an expert round) as a workflow."
      exposure        = "internal"
      secrets         = { DATABASE_URL = "database-url", ANTHROPIC_API_KEY = "anthropic-api-key" }
      settings        = ["SOLUTION_WEB_SEARCH"] # "false" turns Anthropic's web search tool off
      publishes       = false
      timeout_seconds = 300
    }
    community_closer = {
      description     = "Hourly closure of expired or fully answered community requests (scheduler, OIDC)."
      exposure        = "internal"
      secrets         = { DATABASE_URL = "database-url", WEBHOOK_SIGNING_SECRET = "webhook-signing-secret" }
      settings        = []
      publishes       = false
      timeout_seconds = 300
    }
    retention = {
      description     = "Daily retention: archives, then deletes, old events, tasks, dead letters, logs and history (scheduler, OIDC)."
      exposure        = "internal"
      secrets         = { DATABASE_URL = "database-url", WEBHOOK_SIGNING_SECRET = "webhook-signing-secret" }
      settings        = []
      publishes       = false
      timeout_seconds = 540
    }
    admin = {
      description     = "Operator approval of onboarded users (IAM-protected)."
      exposure        = "operators"
      secrets         = { DATABASE_URL = "database-url" }
      settings        = []
      publishes       = false
      timeout_seconds = 60
    }
  }

  # topic -> consumer function; exactly shared.routing.all_topics(). Each topic gets a
  # dead-letter topic "<topic>-dead-letter" pushed to dead_letter_recorder.
  routes = {
    "agent-bouncer"          = { function = "agent_bouncer", ordered = true }
    "agent-concierge"        = { function = "agent_concierge", ordered = true }
    "agent-innovator"        = { function = "agent_innovator", ordered = true }
    "agent-summarizer"       = { function = "agent_summarizer", ordered = false }
    "agent-of-humans"        = { function = "agent_of_humans", ordered = false }
    "agent-account-manager"  = { function = "agent_account_manager", ordered = false }
    "agent-solution-saga"    = { function = "agent_solution_saga", ordered = false }
    "agent-intro"            = { function = "agent_intro", ordered = false }
    "agent-social-butterfly" = { function = "agent_social_butterfly", ordered = false }
  }

  dead_letter_recorder = "dead_letter_recorder"

  # Exactly shared/schedules.py (tests/infra checks it). Jobs whose function is not deployed
  # yet are skipped by the platform (planned = true); they start with the first apply after
  # their function folder and catalogue entry exist. body is the JSON the job POSTs.
  schedules = {
    "event-sweep" = {
      function    = "event_dispatcher"
      schedule    = "* * * * *"
      time_zone   = "Etc/UTC"
      body        = "{\"sweep\": true}"
      description = "Safety-net sweep of unprocessed events (EVENT_SWEEP_EVERY)."
      planned     = false
    }
    "task-sweep" = {
      function    = "task_sweeper"
      schedule    = "* * * * *"
      time_zone   = "Etc/UTC"
      body        = "{\"sweep\": true}"
      description = "Due agent tasks and expired leases (TASK_SWEEP_EVERY)."
      planned     = false
    }
    "orchestrator-tick" = {
      function    = "message_orchestrator"
      schedule    = "* * * * *"
      time_zone   = "Etc/UTC"
      body        = "{\"sweep\": true}"
      description = "Releases due queued messages (ORCHESTRATOR_TICK_EVERY)."
      planned     = false
    }
    "sms-sender-sweep" = {
      function    = "sms_sender"
      schedule    = "*/5 * * * *"
      time_zone   = "Etc/UTC"
      body        = "{\"sweep\": true}"
      description = "Pending outbound messages whose webhook call was lost."
      planned     = false
    }
    "account-manager-review" = {
      function    = "task_sweeper"
      schedule    = "0 */6 * * *"
      time_zone   = "Etc/UTC"
      body        = "{\"job\": \"account_manager_review\"}"
      description = "The Account Manager's 6-hourly review: a review task per member with news (agent_account_manager runs them)."
      planned     = false
    }
    "intro-expiry" = {
      function    = "task_sweeper"
      schedule    = "15 * * * *"
      time_zone   = "Etc/UTC"
      body        = "{\"job\": \"intro_expiry\"}"
      description = "Hourly: expired intro-flow rows and the 3-day reminder to unconfirmed connectors."
      planned     = false
    }
    "community-request-closure" = {
      function    = "community_closer"
      schedule    = "0 * * * *"
      time_zone   = "America/Los_Angeles"
      body        = "{\"job\": \"close_expired_requests\"}"
      description = "Hourly closure of expired or fully answered community requests (COMMUNITY_CLOSURE_EVERY)."
      planned     = false
    }
    "retention" = {
      function    = "retention"
      schedule    = "30 3 * * *"
      time_zone   = "Etc/UTC"
      body        = "{\"job\": \"retention\"}"
      description = "Daily retention (platform 6.6): archive then delete processed events, finished tasks, replayed dead letters, old logs and history, in small batches."
      planned     = false
    }
  }
}

output "functions" {
  description = "Every function: exposure, secrets, settings, sizing."
  value       = local.functions
}

output "routes" {
  description = "Topic -> consumer function."
  value       = local.routes
}

output "dead_letter_recorder" {
  description = "The function that records dead letters."
  value       = local.dead_letter_recorder
}

output "schedules" {
  description = "Scheduled ticks, including planned ones."
  value       = local.schedules
}
