variable "project_id" {
  description = "Project of this environment."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a valid project id."
  }
}

variable "region" {
  description = "Region for functions and scheduler jobs."
  type        = string
  default     = "us-central1"
}

variable "environment" {
  description = "Environment name (labels, bucket names)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,9}$", var.environment))
    error_message = "environment must be a short lower-case word such as dev or prod."
  }
}

variable "build_dir" {
  description = "Folder holding build/<function>/ bundles made by tools/bundles/build.py."
  type        = string
}

variable "functions" {
  description = "Every function (modules/catalog): exposure, secrets, settings and sizing."
  type = map(object({
    description     = string
    exposure        = string
    secrets         = optional(map(string), {})
    settings        = optional(list(string), [])
    publishes       = optional(bool, false)
    timeout_seconds = optional(number, 300)
    memory          = optional(string, "512Mi")
    concurrency     = optional(number, 1)
  }))

  validation {
    condition     = alltrue([for name, f in var.functions : contains(["public", "webhook", "internal", "operators"], f.exposure)])
    error_message = "exposure must be public, webhook, internal or operators."
  }

  validation {
    condition     = alltrue([for name, f in var.functions : can(regex("^[a-z][a-z0-9_]{1,25}[a-z0-9]$", name))])
    error_message = "function keys must be folder names under functions/."
  }
}

variable "routes" {
  description = "Topic -> consumer function and ordering (shared/routing.py)."
  type = map(object({
    function = string
    ordered  = bool
  }))

  validation {
    condition     = alltrue([for topic, r in var.routes : contains(keys(var.functions), r.function)])
    error_message = "every route must name a function in var.functions."
  }
}

variable "dead_letter_recorder" {
  description = "Function that receives every dead-letter topic."
  type        = string

  validation {
    condition     = contains(keys(var.functions), var.dead_letter_recorder)
    error_message = "dead_letter_recorder must name a function in var.functions."
  }
}

variable "schedules" {
  description = "Scheduled ticks; a job is created only when its function is in var.functions."
  type = map(object({
    function    = string
    schedule    = string
    time_zone   = optional(string, "Etc/UTC")
    body        = optional(string, "{}")
    description = string
    planned     = optional(bool, false)
  }))
}

variable "settings" {
  description = "Values of the plain environment variables the functions list under settings. PUBLIC_BASE_URL defaults to each function's own URL, TWILIO_STATUS_CALLBACK_URL to the twilio_status URL."
  type        = map(string)
  default     = {}

  validation {
    condition = alltrue(flatten([
      for name, f in var.functions : [
        for s in f.settings : contains(["PUBLIC_BASE_URL", "TWILIO_STATUS_CALLBACK_URL"], s) || contains(keys(var.settings), s)
      ]
    ]))
    error_message = "every setting a function lists must have a value in var.settings."
  }

  # sms_sender cannot send without a sender identity: fail at plan, not at the first SMS.
  validation {
    condition = alltrue([
      for f in values(var.functions) :
      length(setintersection(f.settings, ["TWILIO_FROM_NUMBER", "TWILIO_MESSAGING_SERVICE_SID"])) == 0 ||
      try(var.settings["TWILIO_FROM_NUMBER"], "") != "" ||
      try(var.settings["TWILIO_MESSAGING_SERVICE_SID"], "") != ""
    ])
    error_message = "set TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID in settings (the tfvars file)."
  }
}

variable "function_overrides" {
  description = "Per-environment sizing by function name."
  type = map(object({
    min_instances = optional(number)
    max_instances = optional(number)
    memory        = optional(string)
  }))
  default = {}

  validation {
    condition     = alltrue([for name, o in var.function_overrides : contains(keys(var.functions), name)])
    error_message = "function_overrides may only name functions in var.functions."
  }
}

variable "default_max_instances" {
  description = "Instance cap for functions without an override (bounds database connections)."
  type        = number
  default     = 10
}

variable "operators" {
  description = "Members (group:operators@example.com) allowed to invoke the admin function."
  type        = list(string)

  validation {
    condition     = alltrue([for m in var.operators : can(regex("^(group|user):[^@]+@[^@]+$", m))])
    error_message = "operators must be group: or user: members."
  }
}

variable "operator_ingress" {
  description = "Ingress of operator functions: ALLOW_ALL (IAM decides) or ALLOW_INTERNAL_AND_GCLB behind IAP."
  type        = string
  default     = "ALLOW_ALL"

  validation {
    condition     = contains(["ALLOW_ALL", "ALLOW_INTERNAL_AND_GCLB", "ALLOW_INTERNAL_ONLY"], var.operator_ingress)
    error_message = "operator_ingress must be a Cloud Functions ingress setting."
  }
}

variable "log_level" {
  description = "LOG_LEVEL for every function."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "log_level must be DEBUG, INFO, WARNING or ERROR."
  }
}

variable "notification_channels" {
  description = "Monitoring notification channel ids for the alert policies."
  type        = list(string)
  default     = []
}

variable "dead_letter_alert_depth" {
  description = "Dead letters per day that page someone (platform 2.3: more than 10)."
  type        = number
  default     = 10
}

variable "error_rate_alert" {
  description = "Share of 5xx responses per function that alerts (platform 7.6: 2 %)."
  type        = number
  default     = 0.02
}

variable "daily_llm_cost_alert_usd" {
  description = "Daily LLM spend that alerts (platform 7.6: $10)."
  type        = number
  default     = 10
}

variable "billing_account" {
  description = "Billing account id for the optional budget; null creates none."
  type        = string
  default     = null
}

variable "monthly_budget_usd" {
  description = "Monthly budget in USD (platform 7.6: $300); used only with billing_account."
  type        = number
  default     = 300
}

variable "labels" {
  description = "Labels for every labelled resource."
  type        = map(string)
  default     = {}
}
