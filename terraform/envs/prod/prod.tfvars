# Production. Secret values are never here: add them as Secret Manager versions.
project_id  = "yachtparty-474117"
region      = "us-central1"
environment = "prod"
log_level   = "INFO"

settings = {
  TWILIO_FROM_NUMBER           = ""
  TWILIO_MESSAGING_SERVICE_SID = "" # set one of the two before the first apply
  VERIFY_EMAIL_DOMAIN          = "verify.yachtparty.xyz"
  # The Solution Saga's web research (Anthropic's web search tool, billed per search): "false"
  # where the organisation has not enabled the tool; the saga then runs offline (docs/solution_saga.md).
  SOLUTION_WEB_SEARCH = "true"
}

operators = ["group:yachtparty-operators@yachtparty.xyz"]

default_max_instances = 10

# Keep the inbound and outbound SMS paths warm (the original's 50-60 s cold start on the
# outbound path must not come back).
function_overrides = {
  twilio_inbound = { min_instances = 1 }
  sms_sender     = { min_instances = 1 }
}

# Required in prod; the plan stops with a message until both are set (docs/deploying.md): a
# Monitoring channel id, projects/yachtparty-474117/notificationChannels/<id>, and the billing
# account id, XXXXXX-XXXXXX-XXXXXX.
notification_channels = []
billing_account       = ""
monthly_budget_usd    = 300
