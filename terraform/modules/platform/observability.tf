# Log-based metrics, alert policies (platform 7.6) and the optional billing budget.

resource "google_logging_metric" "dead_letters_recorded" {
  project = var.project_id
  name    = "yachtparty_dead_letters_recorded"
  # One line per dead letter: Pub/Sub's (dead_letter_recorder), the dispatcher's after its
  # publish attempts, and a consumer's permanent failure. tests/infra checks the code logs them.
  filter = join(" ", [
    "resource.type=\"cloud_run_revision\" AND severity>=ERROR AND jsonPayload.message=(",
    "\"Pub/Sub dead letter recorded\" OR \"event dead-lettered\" OR",
    "\"permanent failure; dead-lettered and acknowledged\")",
  ])

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "Dead letters recorded"
  }

  depends_on = [google_project_service.this]
}

resource "google_logging_metric" "llm_cost_usd" {
  project = var.project_id
  name    = "yachtparty_llm_cost_usd"
  # shared/adapters/llm.py logs one line per model call: llm_call=true, cost_usd, agent, model.
  filter          = "resource.type=\"cloud_run_revision\" AND jsonPayload.llm_call=true"
  value_extractor = "EXTRACT(jsonPayload.cost_usd)"

  label_extractors = {
    agent = "EXTRACT(jsonPayload.agent)"
    model = "EXTRACT(jsonPayload.model)"
  }

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "DISTRIBUTION"
    unit         = "USD"
    display_name = "LLM cost per call"

    labels {
      key        = "agent"
      value_type = "STRING"
    }

    labels {
      key        = "model"
      value_type = "STRING"
    }
  }

  bucket_options {
    exponential_buckets {
      num_finite_buckets = 24
      growth_factor      = 2
      scale              = 0.0001
    }
  }

  depends_on = [google_project_service.this]
}

resource "google_monitoring_alert_policy" "dead_letters" {
  project               = var.project_id
  display_name          = "yachtparty ${var.environment}: dead letters above ${var.dead_letter_alert_depth}"
  combiner              = "OR"
  notification_channels = var.notification_channels

  conditions {
    display_name = "Dead letters recorded in the last day"

    condition_threshold {
      filter          = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.dead_letters_recorded.name}\" AND resource.type=\"cloud_run_revision\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.dead_letter_alert_depth
      duration        = "0s"

      aggregations {
        alignment_period     = "86400s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }

  conditions {
    display_name = "Dead letters waiting for the recorder"

    condition_threshold {
      filter          = "metric.type=\"pubsub.googleapis.com/subscription/num_undelivered_messages\" AND resource.type=\"pubsub_subscription\" AND resource.labels.subscription_id=ends_with(\"-dead-letter-push\")"
      comparison      = "COMPARISON_GT"
      threshold_value = var.dead_letter_alert_depth
      duration        = "300s"

      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_MAX"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }

  documentation {
    content   = "Dead letters are in event_dead_letters. Inspect and replay them with `make ops ARGS=\"dead-letters\"`."
    mime_type = "text/markdown"
  }
}

resource "google_monitoring_alert_policy" "function_errors" {
  project               = var.project_id
  display_name          = "yachtparty ${var.environment}: function error rate above ${var.error_rate_alert * 100}%"
  combiner              = "OR"
  notification_channels = var.notification_channels

  conditions {
    display_name = "Share of 5xx responses per function"

    condition_prometheus_query_language {
      query               = "sum by (service_name) (rate(run_googleapis_com:request_count{monitored_resource=\"cloud_run_revision\",response_code_class=\"5xx\"}[5m])) / sum by (service_name) (rate(run_googleapis_com:request_count{monitored_resource=\"cloud_run_revision\"}[5m])) > ${var.error_rate_alert}"
      duration            = "300s"
      evaluation_interval = "60s"
    }
  }

  depends_on = [google_project_service.this]
}

resource "google_monitoring_alert_policy" "llm_cost" {
  project               = var.project_id
  display_name          = "yachtparty ${var.environment}: daily LLM cost above $${var.daily_llm_cost_alert_usd}"
  combiner              = "OR"
  notification_channels = var.notification_channels

  conditions {
    display_name = "LLM cost over the last 24 hours"

    condition_prometheus_query_language {
      query               = "sum(increase(logging_googleapis_com:user_${google_logging_metric.llm_cost_usd.name}_sum{monitored_resource=\"cloud_run_revision\"}[1d])) > ${var.daily_llm_cost_alert_usd}"
      duration            = "0s"
      evaluation_interval = "300s"
    }
  }
}

resource "google_billing_budget" "monthly" {
  count = var.billing_account == null ? 0 : 1

  billing_account = var.billing_account
  display_name    = "yachtparty-${var.environment}"

  budget_filter {
    projects = ["projects/${data.google_project.this.number}"]
  }

  amount {
    specified_amount {
      currency_code = "USD"
      units         = tostring(var.monthly_budget_usd)
    }
  }

  threshold_rules {
    threshold_percent = 0.5
  }

  threshold_rules {
    threshold_percent = 0.9
  }

  threshold_rules {
    threshold_percent = 1.0
  }

  all_updates_rule {
    monitoring_notification_channels = var.notification_channels
  }

  # The Budget API also needs a quota project for user credentials (docs/deploying.md).
  depends_on = [google_project_service.this]
}
