# A periodic HTTP call to a function, authenticated with an OIDC token for the scheduler's
# own service account (decisions A2).

resource "google_cloud_scheduler_job" "this" {
  project          = var.project_id
  region           = var.region
  name             = var.name
  description      = var.description
  schedule         = var.schedule
  time_zone        = var.time_zone
  attempt_deadline = var.attempt_deadline

  retry_config {
    retry_count = var.retry_count
  }

  http_target {
    http_method = "POST"
    uri         = var.target_uri
    body        = base64encode(var.body)
    headers = {
      "Content-Type" = "application/json"
    }

    oidc_token {
      service_account_email = var.service_account_email
      audience              = var.audience
    }
  }
}
