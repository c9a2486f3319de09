variable "project_id" {
  description = "Project that hosts the function."
  type        = string
}

variable "region" {
  description = "Region of the function (and of its Cloud Run service)."
  type        = string
}

variable "name" {
  description = "Folder name under functions/; also the Python entry point. Underscores become hyphens in the deployed name."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{1,25}[a-z0-9]$", var.name))
    error_message = "name must be a lower-case folder name (letters, digits, underscores), 3-27 characters, so that the service account id fits in 30."
  }
}

variable "description" {
  description = "What the function does, in the product's words."
  type        = string
}

variable "source_dir" {
  description = "The staged bundle (build/<name>, made by tools/bundles/build.py)."
  type        = string
}

variable "source_bucket" {
  description = "Bucket that holds the content-addressed source zips."
  type        = string
}

variable "runtime" {
  description = "Cloud Functions runtime."
  type        = string
  default     = "python311"

  validation {
    condition     = can(regex("^python3[0-9]+$", var.runtime))
    error_message = "runtime must be a Python runtime such as python311."
  }
}

variable "build_service_account" {
  description = "Resource id (projects/.../serviceAccounts/...) of the identity Cloud Build uses; never the default compute account."
  type        = string

  validation {
    condition     = can(regex("^projects/[^/]+/serviceAccounts/[^@]+@[^.]+\\.iam\\.gserviceaccount\\.com$", var.build_service_account))
    error_message = "build_service_account must be a user-managed service account resource id."
  }
}

variable "docker_repository" {
  description = "Artifact Registry repository id (projects/.../repositories/...) for the built images."
  type        = string
}

variable "ingress" {
  description = "Who may reach the function over the network."
  type        = string

  validation {
    condition     = contains(["ALLOW_ALL", "ALLOW_INTERNAL_ONLY", "ALLOW_INTERNAL_AND_GCLB"], var.ingress)
    error_message = "ingress must be ALLOW_ALL, ALLOW_INTERNAL_ONLY or ALLOW_INTERNAL_AND_GCLB."
  }
}

variable "allow_unauthenticated" {
  description = "Grant run.invoker to allUsers. Only for endpoints that authenticate every request in code (provider signature or HMAC)."
  type        = bool
  default     = false

  validation {
    condition     = !var.allow_unauthenticated || var.ingress == "ALLOW_ALL"
    error_message = "an unauthenticated function is only meaningful with ingress ALLOW_ALL (its callers are outside Google's network)."
  }
}

variable "invoker_members" {
  description = "Identities granted run.invoker on this function only (e.g. serviceAccount:push@..., group:operators@...)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for m in var.invoker_members : can(regex("^(serviceAccount|group|user):[^@]+@[^@]+$", m))])
    error_message = "invoker_members must be serviceAccount:, group: or user: members; use allow_unauthenticated for public endpoints."
  }
}

variable "secret_env" {
  description = "Environment variable -> Secret Manager secret id (in the same project); always the latest version."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k, v in var.secret_env : can(regex("^[A-Z][A-Z0-9_]*$", k)) && can(regex("^[a-z][a-z0-9-]{0,254}$", v))])
    error_message = "secret_env keys must be UPPER_SNAKE environment variables and values secret ids (lower-case, digits, hyphens)."
  }
}

variable "env" {
  description = "Plain (non-secret) environment variables."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k, v in var.env : can(regex("^[A-Z][A-Z0-9_]*$", k))])
    error_message = "env keys must be UPPER_SNAKE environment variables."
  }
}

variable "available_memory" {
  description = "Memory per instance, e.g. 512Mi."
  type        = string
  default     = "512Mi"

  validation {
    condition     = can(regex("^[0-9]+(Mi|Gi)$", var.available_memory))
    error_message = "available_memory must look like 256Mi or 1Gi."
  }
}

variable "timeout_seconds" {
  description = "Request timeout (decisions B7: workers get 300 s, shorter than the task lease)."
  type        = number
  default     = 300

  validation {
    condition     = var.timeout_seconds >= 1 && var.timeout_seconds <= 3600
    error_message = "timeout_seconds must be between 1 and 3600."
  }
}

variable "min_instances" {
  description = "Instances kept warm (1 on latency-critical paths in prod)."
  type        = number
  default     = 0

  validation {
    condition     = var.min_instances >= 0 && var.min_instances <= 10
    error_message = "min_instances must be between 0 and 10."
  }
}

variable "max_instances" {
  description = "Upper bound on instances (also bounds database connections: instances x pool size)."
  type        = number
  default     = 10

  validation {
    condition     = var.max_instances >= 1 && var.max_instances <= 100
    error_message = "max_instances must be between 1 and 100."
  }
}

variable "concurrency" {
  description = "Concurrent requests per instance."
  type        = number
  default     = 1

  validation {
    condition     = var.concurrency >= 1 && var.concurrency <= 80
    error_message = "concurrency must be between 1 and 80."
  }
}

variable "labels" {
  description = "Labels for every resource of this function."
  type        = map(string)
  default     = {}
}
