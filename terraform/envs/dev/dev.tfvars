# Development environment. Secret values are never here: add them as Secret Manager versions.
project_id  = "yachtparty-dev"
region      = "us-central1"
environment = "dev"
log_level   = "DEBUG"

settings = {
  TWILIO_FROM_NUMBER           = "+15005550006" # Twilio's magic test number; replace with the dev number
  TWILIO_MESSAGING_SERVICE_SID = ""
  VERIFY_EMAIL_DOMAIN          = "verify-dev.yachtparty.xyz"
  SOLUTION_WEB_SEARCH          = "true" # "false": the Solution Saga runs without web search
}

operators = ["group:yachtparty-operators@yachtparty.xyz"]

# Scale to zero everywhere in dev; cap instances low to protect the database pool.
default_max_instances = 3
function_overrides    = {}
