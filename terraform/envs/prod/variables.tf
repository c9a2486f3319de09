variable "project_id" {
  description = "Project of this environment."
  type        = string
}

variable "region" {
  description = "Region for functions and scheduler jobs."
  type        = string
  default     = "us-central1"
}

variable "environment" {
  description = "Environment name."
  type        = string
}

variable "settings" {
  description = "Plain environment values: TWILIO_FROM_NUMBER, TWILIO_MESSAGING_SERVICE_SID, VERIFY_EMAIL_DOMAIN, SOLUTION_WEB_SEARCH (true or false), optionally PUBLIC_BASE_URL."
  type        = map(string)
}

variable "function_overrides" {
  description = "Per-function sizing for this environment."
  type = map(object({
    min_instances = optional(number)
    max_instances = optional(number)
    memory        = optional(string)
    concurrency   = optional(number) # requests per instance; the pool grows with it (docs/deploying.md)
  }))
  default = {}
}

variable "default_max_instances" {
  description = "Instance cap for functions without an override."
  type        = number
  default     = 10
}

variable "operators" {
  description = "Members allowed to invoke the admin function, e.g. group:operators@example.com."
  type        = list(string)
}

variable "log_level" {
  description = "LOG_LEVEL for every function."
  type        = string
  default     = "INFO"
}

# Production alerts must reach someone, and production spend must have a budget: both are
# required, and an apply without them stops here with the message below.
variable "notification_channels" {
  description = "Monitoring notification channel ids (projects/<project>/notificationChannels/<id>) for every alert policy and the budget."
  type        = list(string)

  validation {
    condition     = length(var.notification_channels) > 0
    error_message = "prod needs at least one notification channel: create one (Monitoring > Alerting > Edit notification channels, or gcloud beta monitoring channels create) and list its id in prod.tfvars as notification_channels = [\"projects/<project>/notificationChannels/<id>\"]."
  }
}

variable "billing_account" {
  description = "Billing account id (XXXXXX-XXXXXX-XXXXXX) that carries the monthly budget."
  type        = string

  validation {
    condition     = can(regex("^[0-9A-F]{6}-[0-9A-F]{6}-[0-9A-F]{6}$", var.billing_account))
    error_message = "prod needs its billing account for the monthly budget: set billing_account in prod.tfvars to the id shown by `gcloud billing projects describe <project>` (XXXXXX-XXXXXX-XXXXXX)."
  }
}

variable "monthly_budget_usd" {
  description = "Monthly budget in USD."
  type        = number
  default     = 300
}

variable "pubsub_agent_token_creator" {
  description = "true only for a project created before 2021-04-08 (gcloud projects describe <project> --format='value(createTime)'): its Pub/Sub service agent then needs Token Creator on the push identity."
  type        = bool
  default     = false
}

variable "enabled_optional_secrets" {
  description = "Optional secret ids with a version in this project (e.g. apify-token): only these are wired to their function."
  type        = set(string)
  default     = []
}
