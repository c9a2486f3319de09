# One environment: shared identities, the source bucket and image repository, every secret,
# every function, the Pub/Sub routes and the scheduled ticks, composed from the catalogue.

data "google_project" "this" {
  project_id = var.project_id
}

locals {
  labels = merge({ app = "yachtparty", environment = var.environment }, var.labels)

  # cloudresourcemanager and serviceusage must already be on before the first plan (the
  # project lookup and these very resources call them): docs/deploying.md enables them.
  services = setunion(
    toset([
      "artifactregistry.googleapis.com",
      "cloudbuild.googleapis.com",
      "cloudfunctions.googleapis.com",
      "cloudresourcemanager.googleapis.com",
      "cloudscheduler.googleapis.com",
      "iam.googleapis.com",
      "logging.googleapis.com",
      "monitoring.googleapis.com",
      "pubsub.googleapis.com",
      "run.googleapis.com",
      "secretmanager.googleapis.com",
      "serviceusage.googleapis.com",
    ]),
    var.billing_account == null ? toset([]) : toset(["billingbudgets.googleapis.com"]),
  )

  pubsub_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"

  # The only project-level role of the build identity (fn-builder): Cloud Run Builder holds
  # what a function build does - write its logs, push and pull the images, read the source
  # copy in Google's gcf-v2-sources bucket - and no more.
  builder_project_roles = toset(["roles/run.builder"])

  # The cloudfunctions.net URLs are known before deployment, so the functions can be told
  # their own audience and Twilio/pg_net can be configured from outputs.
  base_url     = "https://${var.region}-${var.project_id}.cloudfunctions.net"
  function_url = { for name, f in var.functions : name => "${local.base_url}/${replace(name, "_", "-")}" }

  # A function sees the path "/" when called at its cloudfunctions.net URL, and the Twilio
  # signature is checked against PUBLIC_BASE_URL + path: configure Twilio with the URL plus a
  # trailing slash (docs/deploying.md). A custom domain in var.settings replaces both.
  settings = {
    for name, f in var.functions : name => merge(
      {
        PUBLIC_BASE_URL            = local.function_url[name]
        TWILIO_STATUS_CALLBACK_URL = "${try(local.function_url["twilio_status"], local.base_url)}/"
        PROSPECT_UPLOAD_URL        = "${try(local.function_url["prospect_upload"], local.base_url)}/"
      },
      var.settings,
    )
  }

  # Planned jobs wait for their function.
  scheduled         = { for job, s in var.schedules : job => s if contains(keys(var.functions), s.function) }
  scheduler_targets = toset([for s in values(local.scheduled) : s.function])
  push_targets = setunion(
    toset([for r in values(var.routes) : r.function]),
    length(var.routes) > 0 ? toset([var.dead_letter_recorder]) : toset([]),
  )

  publishers = toset([for name, f in var.functions : name if f.publishes])
  publisher_topics = {
    for pair in setproduct(local.publishers, keys(var.routes)) :
    "${pair[0]}/${pair[1]}" => { function = pair[0], topic = pair[1] }
  }

  secret_ids = toset(flatten([for f in values(var.functions) : concat(values(f.secrets), values(f.optional_secrets))]))
  # A function's secrets plus the optional ones this environment has enabled (given a version).
  function_secrets = {
    for name, f in var.functions : name => merge(
      f.secrets,
      { for env_var, id in f.optional_secrets : env_var => id if contains(var.enabled_optional_secrets, id) },
    )
  }

  ingress = {
    public    = "ALLOW_ALL"
    webhook   = "ALLOW_ALL"
    internal  = "ALLOW_INTERNAL_ONLY"
    operators = var.operator_ingress
  }
}

resource "google_project_service" "this" {
  for_each = local.services

  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}

# --- Shared identities ---------------------------------------------------------------------

# Builds the function images, so the default compute account is never used for builds.
resource "google_service_account" "builder" {
  project      = var.project_id
  account_id   = "fn-builder"
  display_name = "Cloud Build identity for the function images"

  depends_on = [google_project_service.this]
}

# A gen2 build does not read our sources bucket: Cloud Functions copies the zip into Google's
# own gcf-v2-sources-<number>-<region> bucket and the build fetches it from there. That bucket
# appears only with the first deployment, so it cannot be granted on: the builder holds Cloud
# Run Builder on the project instead (terraform-provider-google#20571: "Access to bucket
# gcf-v2-sources-... denied").
resource "google_project_iam_member" "builder" {
  for_each = local.builder_project_roles

  project = var.project_id
  role    = each.value
  member  = "serviceAccount:${google_service_account.builder.email}"
}

# Identity in the OIDC tokens of every push subscription.
resource "google_service_account" "pubsub_push" {
  project      = var.project_id
  account_id   = "pubsub-push"
  display_name = "Pub/Sub push identity (invokes agent functions and the dead-letter recorder)"

  depends_on = [google_project_service.this]
}

# Only projects created before 2021-04-08 need the Pub/Sub service agent to hold Token Creator
# on the push identity; newer projects mint push tokens without it, so it is off by default
# (least privilege). The agent exists once the Pub/Sub API is on.
resource "google_service_account_iam_member" "pubsub_agent_mints_push_tokens" {
  count = var.pubsub_agent_token_creator ? 1 : 0

  service_account_id = google_service_account.pubsub_push.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_agent

  depends_on = [google_project_service.this]
}

# Identity in the OIDC tokens of every scheduler job.
resource "google_service_account" "scheduler" {
  project      = var.project_id
  account_id   = "scheduler-invoker"
  display_name = "Cloud Scheduler identity (sweeps and ticks)"

  depends_on = [google_project_service.this]
}

# --- Source bucket and image repository ----------------------------------------------------

resource "google_storage_bucket" "sources" {
  #checkov:skip=CKV_GCP_62:Holds only content-addressed build inputs written by Terraform; Cloud Audit Logs record access, a second log bucket adds nothing.
  project                     = var.project_id
  name                        = "${var.project_id}-${var.environment}-function-sources"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  labels                      = local.labels

  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 30
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.this]
}

resource "google_artifact_registry_repository" "functions" {
  #checkov:skip=CKV_GCP_84:Google-managed encryption for images built from this public-shape source; no customer key is held for this product.
  project       = var.project_id
  location      = var.region
  repository_id = "functions"
  format        = "DOCKER"
  description   = "Images built from the function bundles."
  labels        = local.labels

  depends_on = [google_project_service.this]
}

resource "google_artifact_registry_repository_iam_member" "builder_writes_images" {
  project    = var.project_id
  location   = google_artifact_registry_repository.functions.location
  repository = google_artifact_registry_repository.functions.name
  role       = "roles/artifactregistry.writer"
  member     = "serviceAccount:${google_service_account.builder.email}"
}

# IAM is eventually consistent: a build started right after the grants can still be refused
# (the provider's own build-account example waits 60 s). Replaced, and so waited for again,
# whenever the builder's roles change.
resource "time_sleep" "builder_iam_settles" {
  create_duration = var.iam_settle_wait

  triggers = {
    builder = google_service_account.builder.email
    roles   = join(",", sort(tolist(local.builder_project_roles)))
  }

  depends_on = [
    google_project_iam_member.builder,
    google_artifact_registry_repository_iam_member.builder_writes_images,
  ]
}

# --- Secrets: containers only; versions are added by an operator (docs/deploying.md) -------

resource "google_secret_manager_secret" "this" {
  for_each = local.secret_ids

  project   = var.project_id
  secret_id = each.value
  labels    = local.labels

  replication {
    auto {}
  }

  depends_on = [google_project_service.this]
}

# --- Functions -----------------------------------------------------------------------------

locals {
  # Requests one instance serves at once: the catalogue's value, or this environment's override.
  concurrency = {
    for name, f in var.functions :
    name => coalesce(try(var.function_overrides[name].concurrency, null), f.concurrency)
  }
  # Main-pool connections one request may hold at once: the consumer's unit of work (its
  # delivery mark), the turn's own transaction and, on an instance's first turn of an agent
  # version, the short transaction that registers it (TURN_CONNECTIONS in
  # shared/adapters/postgres.py, which the local stack sizes its pools with).
  connections_per_request = 3
}

module "function" {
  source   = "../function"
  for_each = var.functions

  project_id            = var.project_id
  region                = var.region
  name                  = each.key
  description           = each.value.description
  source_dir            = "${var.build_dir}/${each.key}"
  source_bucket         = google_storage_bucket.sources.name
  build_service_account = google_service_account.builder.id
  docker_repository     = google_artifact_registry_repository.functions.id

  ingress               = local.ingress[each.value.exposure]
  allow_unauthenticated = contains(["public", "webhook"], each.value.exposure)
  invoker_members = concat(
    contains(local.push_targets, each.key) ? ["serviceAccount:${google_service_account.pubsub_push.email}"] : [],
    contains(local.scheduler_targets, each.key) ? ["serviceAccount:${google_service_account.scheduler.email}"] : [],
    each.value.exposure == "operators" ? var.operators : [],
  )

  secret_env = { for env_var, id in local.function_secrets[each.key] : env_var => google_secret_manager_secret.this[id].secret_id }
  env = merge(
    {
      GOOGLE_CLOUD_PROJECT   = var.project_id
      LOG_LEVEL              = var.log_level
      YACHTPARTY_ENVIRONMENT = var.environment
    },
    # More than one request per instance: functions-framework's gunicorn runs one thread per
    # request Cloud Run may send at once (THREADS; its default is 4 per vCPU), and the pool holds
    # what those threads may hold together. One request per instance keeps the defaults.
    local.concurrency[each.key] > 1 ? {
      THREADS           = tostring(local.concurrency[each.key])
      DATABASE_POOL_MAX = tostring(local.connections_per_request * local.concurrency[each.key])
    } : {},
    # Webhook targets are public (pg_net has no Google identity) and check the scheduler's
    # OIDC token themselves: they need the expected signer and audience.
    contains(local.scheduler_targets, each.key) ? {
      SCHEDULER_SERVICE_ACCOUNT_EMAIL = google_service_account.scheduler.email
      SCHEDULER_OIDC_AUDIENCE         = local.function_url[each.key]
    } : {},
    # Ordering keys need a regional Pub/Sub endpoint.
    each.value.publishes ? { PUBSUB_API_ENDPOINT = "${var.region}-pubsub.googleapis.com:443" } : {},
    { for s in each.value.settings : s => local.settings[each.key][s] },
  )

  available_memory = coalesce(try(var.function_overrides[each.key].memory, null), each.value.memory)
  timeout_seconds  = each.value.timeout_seconds
  concurrency      = local.concurrency[each.key]
  min_instances    = coalesce(try(var.function_overrides[each.key].min_instances, null), 0)
  max_instances    = coalesce(try(var.function_overrides[each.key].max_instances, null), var.default_max_instances)
  labels           = local.labels

  depends_on = [
    google_project_service.this,
    time_sleep.builder_iam_settles,
  ]
}

# --- Pub/Sub routes (shared/routing.py) ------------------------------------------------------

module "topic" {
  source   = "../topic"
  for_each = var.routes

  project_id                 = var.project_id
  name                       = each.key
  ordered                    = each.value.ordered
  push_endpoint              = module.function[each.value.function].uri
  dead_letter_endpoint       = module.function[var.dead_letter_recorder].uri
  push_service_account_email = google_service_account.pubsub_push.email
  project_number             = data.google_project.this.number
  labels                     = local.labels

  depends_on = [google_service_account_iam_member.pubsub_agent_mints_push_tokens]
}

# The dispatcher and the sweeper publish to every consumer topic, and only to those.
resource "google_pubsub_topic_iam_member" "publisher" {
  for_each = local.publisher_topics

  project = var.project_id
  topic   = module.topic[each.value.topic].topic
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:${module.function[each.value.function].service_account_email}"
}

# --- Scheduled ticks ---------------------------------------------------------------------------

module "schedule" {
  source   = "../scheduler_job"
  for_each = local.scheduled

  project_id            = var.project_id
  region                = var.region
  name                  = each.key
  description           = each.value.description
  schedule              = each.value.schedule
  time_zone             = each.value.time_zone
  body                  = each.value.body
  target_uri            = local.function_url[each.value.function]
  audience              = local.function_url[each.value.function]
  service_account_email = google_service_account.scheduler.email

  depends_on = [module.function]
}
