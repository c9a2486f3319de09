# A consumer's topic, its dead-letter topic, and push subscriptions to the consumer and to the
# dead_letter_recorder, both authenticated with an OIDC token (decisions A3, B6).

locals {
  # Must equal shared.routing.dead_letter_topic(name); tests/infra checks it.
  dead_letter_topic = "${var.name}-dead-letter"
  pubsub_agent      = "serviceAccount:service-${var.project_number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

resource "google_pubsub_topic" "main" {
  #checkov:skip=CKV_GCP_83:Google-managed encryption; payloads are ids and event envelopes, the data itself stays in Postgres.
  project                    = var.project_id
  name                       = var.name
  labels                     = var.labels
  message_retention_duration = var.message_retention_duration
}

resource "google_pubsub_topic" "dead_letter" {
  #checkov:skip=CKV_GCP_83:Google-managed encryption; payloads are ids and event envelopes, the data itself stays in Postgres.
  project                    = var.project_id
  name                       = local.dead_letter_topic
  labels                     = var.labels
  message_retention_duration = var.message_retention_duration
}

resource "google_pubsub_subscription" "push" {
  project                    = var.project_id
  name                       = "${var.name}-push"
  topic                      = google_pubsub_topic.main.id
  labels                     = var.labels
  ack_deadline_seconds       = var.ack_deadline_seconds
  message_retention_duration = var.message_retention_duration
  enable_message_ordering    = var.ordered

  push_config {
    push_endpoint = var.push_endpoint

    oidc_token {
      service_account_email = var.push_service_account_email
      audience              = var.push_endpoint
    }
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter.id
    max_delivery_attempts = var.max_delivery_attempts
  }

  retry_policy {
    minimum_backoff = var.minimum_backoff
    maximum_backoff = var.maximum_backoff
  }

  expiration_policy {
    ttl = ""
  }
}

# The recorder stores each dead letter in event_dead_letters; if it fails, Pub/Sub keeps
# retrying with backoff for the retention period (and the dead-letter alert fires).
resource "google_pubsub_subscription" "dead_letter" {
  project                    = var.project_id
  name                       = "${local.dead_letter_topic}-push"
  topic                      = google_pubsub_topic.dead_letter.id
  labels                     = var.labels
  ack_deadline_seconds       = var.ack_deadline_seconds
  message_retention_duration = var.message_retention_duration

  push_config {
    push_endpoint = var.dead_letter_endpoint

    oidc_token {
      service_account_email = var.push_service_account_email
      audience              = var.dead_letter_endpoint
    }
  }

  retry_policy {
    minimum_backoff = var.minimum_backoff
    maximum_backoff = var.maximum_backoff
  }

  expiration_policy {
    ttl = ""
  }
}

# Pub/Sub moves undeliverable messages itself: its service agent must publish to the
# dead-letter topic and acknowledge on the source subscription.
resource "google_pubsub_topic_iam_member" "agent_publishes_dead_letters" {
  project = var.project_id
  topic   = google_pubsub_topic.dead_letter.name
  role    = "roles/pubsub.publisher"
  member  = local.pubsub_agent
}

resource "google_pubsub_subscription_iam_member" "agent_subscribes" {
  project      = var.project_id
  subscription = google_pubsub_subscription.push.name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_agent
}
