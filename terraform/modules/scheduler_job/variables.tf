variable "project_id" {
  description = "Project that hosts the job."
  type        = string
}

variable "region" {
  description = "Cloud Scheduler region."
  type        = string
}

variable "name" {
  description = "Job id."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,62}$", var.name))
    error_message = "name must be a lower-case job id (letters, digits, hyphens)."
  }
}

variable "description" {
  description = "What the tick drives."
  type        = string
}

variable "schedule" {
  description = "Cron expression (five fields)."
  type        = string

  validation {
    condition     = length(split(" ", trimspace(var.schedule))) == 5
    error_message = "schedule must be a five-field cron expression."
  }
}

variable "time_zone" {
  description = "IANA time zone of the schedule."
  type        = string
  default     = "Etc/UTC"
}

variable "target_uri" {
  description = "URL of the function the job calls."
  type        = string

  validation {
    condition     = startswith(var.target_uri, "https://")
    error_message = "target_uri must be an https URL."
  }
}

variable "audience" {
  description = "Audience of the OIDC token (the function's URL)."
  type        = string
}

variable "service_account_email" {
  description = "Identity in the OIDC token (the scheduler's own service account)."
  type        = string

  validation {
    condition     = endswith(var.service_account_email, ".iam.gserviceaccount.com")
    error_message = "service_account_email must be a user-managed service account."
  }
}

variable "body" {
  description = "JSON body of the tick (shared/schedules.py)."
  type        = string
  default     = "{}"

  validation {
    condition     = can(jsondecode(var.body))
    error_message = "body must be a JSON document."
  }
}

variable "attempt_deadline" {
  description = "How long the scheduler waits for the function."
  type        = string
  default     = "320s"
}

variable "retry_count" {
  description = "Retries of a failed tick; the next tick is a retry of its own, so none by default."
  type        = number
  default     = 0

  validation {
    condition     = var.retry_count >= 0 && var.retry_count <= 5
    error_message = "retry_count must be between 0 and 5."
  }
}
