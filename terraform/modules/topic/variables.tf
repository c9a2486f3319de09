variable "project_id" {
  description = "Project that hosts the topics."
  type        = string
}

variable "name" {
  description = "Topic id, from shared/routing.py (one topic per consumer, decisions A3)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,200}$", var.name))
    error_message = "name must be a lower-case topic id (letters, digits, hyphens)."
  }
}

variable "ordered" {
  description = "Deliver in publish order per ordering key (the user id) - conversational agents."
  type        = bool
}

variable "push_endpoint" {
  description = "URL of the consumer function."
  type        = string

  validation {
    condition     = startswith(var.push_endpoint, "https://")
    error_message = "push_endpoint must be an https URL."
  }
}

variable "dead_letter_endpoint" {
  description = "URL of the dead_letter_recorder function."
  type        = string

  validation {
    condition     = startswith(var.dead_letter_endpoint, "https://")
    error_message = "dead_letter_endpoint must be an https URL."
  }
}

variable "push_service_account_email" {
  description = "Identity in the OIDC token Pub/Sub attaches to every push (holds run.invoker on the consumers)."
  type        = string
}

variable "project_number" {
  description = "Project number, for the Pub/Sub service agent service-<number>@gcp-sa-pubsub.iam.gserviceaccount.com."
  type        = string

  validation {
    condition     = can(regex("^[0-9]+$", var.project_number))
    error_message = "project_number must be the numeric project number."
  }
}

variable "max_delivery_attempts" {
  description = "Deliveries before a message moves to the dead-letter topic (decisions B6: 5)."
  type        = number
  default     = 5

  validation {
    condition     = var.max_delivery_attempts >= 5 && var.max_delivery_attempts <= 100
    error_message = "Pub/Sub accepts 5 to 100 delivery attempts."
  }
}

variable "minimum_backoff" {
  description = "First retry delay (decisions B6: 10 s)."
  type        = string
  default     = "10s"

  validation {
    condition     = can(regex("^[0-9]+s$", var.minimum_backoff))
    error_message = "minimum_backoff must be seconds, e.g. 10s."
  }
}

variable "maximum_backoff" {
  description = "Longest retry delay (decisions B6: 10 min)."
  type        = string
  default     = "600s"

  validation {
    condition     = can(regex("^[0-9]+s$", var.maximum_backoff))
    error_message = "maximum_backoff must be seconds, e.g. 600s."
  }
}

variable "ack_deadline_seconds" {
  description = "How long a push may take before Pub/Sub retries it; matches the function timeout."
  type        = number
  default     = 300

  validation {
    condition     = var.ack_deadline_seconds >= 10 && var.ack_deadline_seconds <= 600
    error_message = "ack_deadline_seconds must be between 10 and 600."
  }
}

variable "message_retention_duration" {
  description = "How long undelivered messages are kept."
  type        = string
  default     = "604800s"
}

variable "labels" {
  description = "Labels for the topics and subscriptions."
  type        = map(string)
  default     = {}
}
