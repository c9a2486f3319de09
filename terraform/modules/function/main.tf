# One Cloud Function (2nd gen) with its own runtime identity, a content-addressed source zip,
# its secrets from Secret Manager, and invoker bindings on the function's own service only.

locals {
  deployed_name = replace(var.name, "_", "-")
  # The only project-level roles a function identity may hold: writing its own logs and
  # traces. Nothing in the code writes custom metrics (Cloud Run records request metrics
  # itself), so no metricWriter. Everything else (secrets, topics, invokers) is granted on
  # the resource.
  project_roles = toset([
    "roles/logging.logWriter",
    "roles/cloudtrace.agent",
  ])
  secret_ids = toset(values(var.secret_env))
  # Functions that take concurrent requests need a whole vCPU.
  available_cpu = var.concurrency > 1 ? "1" : null
}

resource "google_service_account" "runtime" {
  project      = var.project_id
  account_id   = "fn-${local.deployed_name}"
  display_name = "Runtime identity of the ${var.name} function"
  description  = var.description
}

resource "google_project_iam_member" "telemetry" {
  for_each = local.project_roles

  project = var.project_id
  role    = each.value
  member  = "serviceAccount:${google_service_account.runtime.email}"
}

resource "google_secret_manager_secret_iam_member" "access" {
  for_each = local.secret_ids

  project   = var.project_id
  secret_id = each.value
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.runtime.email}"
}

# Fixed file modes (and the archive provider's fixed timestamps) make the zip's hash depend on
# content only, so an unchanged bundle is never re-uploaded or redeployed.
data "archive_file" "source" {
  type             = "zip"
  source_dir       = var.source_dir
  output_path      = "${path.root}/.terraform/bundles/${var.name}.zip"
  output_file_mode = "0644"
}

resource "google_storage_bucket_object" "source" {
  bucket       = var.source_bucket
  name         = "${var.name}/${data.archive_file.source.output_sha256}.zip"
  source       = data.archive_file.source.output_path
  content_type = "application/zip"
}

resource "google_cloudfunctions2_function" "this" {
  #checkov:skip=CKV_GCP_124:Ingress is a typed input: internal functions get ALLOW_INTERNAL_ONLY; Twilio, the email provider and pg_net call from outside Google, and the admin function is IAM-protected (docs/deploying.md, Exposure).
  project     = var.project_id
  location    = var.region
  name        = local.deployed_name
  description = var.description
  labels      = var.labels

  build_config {
    runtime           = var.runtime
    entry_point       = var.name
    service_account   = var.build_service_account
    docker_repository = var.docker_repository

    source {
      storage_source {
        bucket = var.source_bucket
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    service_account_email            = google_service_account.runtime.email
    ingress_settings                 = var.ingress
    all_traffic_on_latest_revision   = true
    available_memory                 = var.available_memory
    available_cpu                    = local.available_cpu
    timeout_seconds                  = var.timeout_seconds
    min_instance_count               = var.min_instances
    max_instance_count               = var.max_instances
    max_instance_request_concurrency = var.concurrency
    environment_variables            = var.env

    dynamic "secret_environment_variables" {
      for_each = var.secret_env

      content {
        key        = secret_environment_variables.key
        project_id = var.project_id
        secret     = secret_environment_variables.value
        version    = "latest"
      }
    }
  }

  # A revision that cannot read its secrets fails to start: grant access first.
  depends_on = [google_secret_manager_secret_iam_member.access]
}

resource "google_cloud_run_service_iam_member" "invoker" {
  for_each = toset(var.invoker_members)

  project  = var.project_id
  location = var.region
  service  = google_cloudfunctions2_function.this.service_config[0].service
  role     = "roles/run.invoker"
  member   = each.value
}

resource "google_cloud_run_service_iam_member" "public" {
  #checkov:skip=CKV_GCP_102:Public on purpose: Twilio, the email provider and pg_net cannot present Google identity tokens; each such function verifies the provider signature or the HMAC webhook signature on every request (docs/deploying.md, Exposure).
  count = var.allow_unauthenticated ? 1 : 0

  project  = var.project_id
  location = var.region
  service  = google_cloudfunctions2_function.this.service_config[0].service
  role     = "roles/run.invoker"
  member   = "allUsers"
}
