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
    description      = string
    exposure         = string
    secrets          = optional(map(string), {})
    optional_secrets = optional(map(string), {})
    settings         = optional(list(string), [])
    publishes        = optional(bool, false)
    timeout_seconds  = optional(number, 300)
    memory           = optional(string, "512Mi")
    concurrency      = optional(number, 1)
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
  description = "Values of the plain environment variables the functions list under settings. PUBLIC_BASE_URL defaults to each function's own URL, TWILIO_STATUS_CALLBACK_URL to the twilio_status URL, PROSPECT_UPLOAD_URL to the prospect_upload URL."
  type        = map(string)
  default     = {}

  validation {
    condition = alltrue(flatten([
      for name, f in var.functions : [
        for s in f.settings : contains(["PUBLIC_BASE_URL", "TWILIO_STATUS_CALLBACK_URL", "PROSPECT_UPLOAD_URL"], s) || contains(keys(var.settings), s)
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
    concurrency   = optional(number) # requests per instance; the pool grows with it (docs/deploying.md)
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

variable "pubsub_agent_token_creator" {
  description = "Grant the Pub/Sub service agent Token Creator on the push identity: needed only in projects created before 2021-04-08."
  type        = bool
  default     = false
}

variable "iam_settle_wait" {
  description = "How long the first build waits after the builder's grants (IAM is eventually consistent)."
  type        = string
  default     = "60s"

  validation {
    condition     = can(regex("^[0-9]+s$", var.iam_settle_wait))
    error_message = "iam_settle_wait must be seconds, e.g. 60s."
  }
}

variable "notification_channels" {
  description = "Monitoring notification channel ids (projects/<project>/notificationChannels/<id>) for the alert policies and the budget."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.notification_channels : can(regex("^projects/[^/]+/notificationChannels/[0-9]+$", c))])
    error_message = "notification_channels must be ids of the form projects/<project>/notificationChannels/<number>."
  }
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

variable "delivery_failure_rate_alert" {
  description = "Share of the SMS handed to Twilio in an hour that were rejected or ended failed or undelivered, that alerts (platform 7.6: 5 %)."
  type        = number
  default     = 0.05
}

variable "delivery_failure_min_outcomes" {
  description = "SMS handed to Twilio in the hour below which the delivery-failure share is not judged (one failure of two is not an incident)."
  type        = number
  default     = 20
}

variable "single_llm_call_alert_usd" {
  description = "Cost of one LLM call that alerts (platform 7.6: $0.50)."
  type        = number
  default     = 0.5
}

variable "llm_latency_p99_alert_seconds" {
  description = "p99 latency of LLM calls over 15 minutes that alerts (platform 7.6: 10 s)."
  type        = number
  default     = 10
}

variable "slow_db_query_alert_ms" {
  description = "A database query slower than this alerts (platform 7.6: 1 s)."
  type        = number
  default     = 1000
}

variable "backlog_age_alert_seconds" {
  description = "Per backlog, the age of its oldest waiting item that alerts: unprocessed events, due agent tasks, due message_queue rows, outbound SMS stuck in sending, and in pending."
  type        = map(number)
  default = {
    events        = 600
    agent_tasks   = 600
    message_queue = 1800
    sms_sending   = 900
    sms_pending   = 900
  }

  validation {
    condition     = toset(keys(var.backlog_age_alert_seconds)) == toset(["events", "agent_tasks", "message_queue", "sms_sending", "sms_pending"])
    error_message = "backlog_age_alert_seconds must give events, agent_tasks, message_queue, sms_sending and sms_pending."
  }
}

variable "backlog_report_silence_seconds" {
  description = "How long a backlog may go without any report from its sweep before backlog_reports_stopped alerts: three ticks of the slowest reporter (the 5-minute SMS sweep)."
  type        = number
  default     = 900

  validation {
    condition     = var.backlog_report_silence_seconds >= 900
    error_message = "backlog_report_silence_seconds must cover at least three 5-minute SMS sweep ticks (900)."
  }
}

variable "billing_account" {
  description = "Billing account id (XXXXXX-XXXXXX-XXXXXX) for the budget; null creates none."
  type        = string
  default     = null

  validation {
    condition     = var.billing_account == null || can(regex("^[0-9A-F]{6}-[0-9A-F]{6}-[0-9A-F]{6}$", var.billing_account))
    error_message = "billing_account must be a billing account id such as 012345-6789AB-CDEF01 (gcloud billing accounts list), or null for no budget."
  }
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

variable "enabled_optional_secrets" {
  description = "Optional secret ids (catalog optional_secrets) that have a version in this environment: only these are wired."
  type        = set(string)
  default     = []
}
