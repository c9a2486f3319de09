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

variable "notification_channels" {
  description = "Monitoring notification channel ids."
  type        = list(string)
  default     = []
}

variable "billing_account" {
  description = "Billing account id (XXXXXX-XXXXXX-XXXXXX) for the optional budget; null creates none."
  type        = string
  default     = null
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
