terraform {
  required_version = ">= 1.9.0"

  required_providers {
    # 6.13: service-account emails are known at plan (the invoker for_each keys) and alert
    # conditions take disable_metric_validation.
    google = {
      source  = "hashicorp/google"
      version = ">= 6.13, < 8.0"
    }
    archive = {
      source  = "hashicorp/archive"
      version = ">= 2.4, < 3.0"
    }
    # time_sleep: IAM grants settle before the first function build.
    time = {
      source  = "hashicorp/time"
      version = ">= 0.11, < 1.0"
    }
  }

  # The bucket is given at init: terraform init -backend-config="bucket=<state bucket>"
  backend "gcs" {
    prefix = "yachtparty/prod"
  }
}
