# Log-based metrics, the alert policies of platform 7.6 and the billing budget.
#
# Every alert that reads a log-based metric is a PromQL condition with
# disable_metric_validation: Monitoring otherwise refuses a policy on a metric created in the
# same apply ("Cannot find metric(s) ... could take up to 10 minutes",
# terraform-provider-google#11102). Each metric's filter names the structured log fields it
# reads; docs/operating.md (Alerts) lists them for the code that writes them.

locals {
  # PromQL names of the log-based metrics (logging.googleapis.com/user/<name>).
  promql_metric = "logging_googleapis_com:user_"
  on_functions  = "monitored_resource=\"cloud_run_revision\""

  # Reported by the sweeps with each tick: one log line per backlog with
  # backlog=<key>, backlog_depth and backlog_oldest_age_seconds.
  backlogs = {
    events = {
      what     = "unprocessed events"
      reporter = "event_dispatcher"
    }
    agent_tasks = {
      what     = "due agent tasks (pending and due, or leased past their lease)"
      reporter = "task_sweeper"
    }
    message_queue = {
      what     = "due message_queue rows still queued"
      reporter = "message_orchestrator"
    }
    sms_sending = {
      what     = "outbound SMS claimed (sending) but never handed to Twilio"
      reporter = "sms_sender"
    }
    sms_pending = {
      what     = "outbound SMS still pending"
      reporter = "sms_sender"
    }
  }

  runbook = "docs/operating.md, Alerts"
}

# --- Metrics ---------------------------------------------------------------------------------

resource "google_logging_metric" "dead_letters_recorded" {
  project = var.project_id
  name    = "yachtparty_dead_letters_recorded"
  # One line per dead letter written, whichever path wrote it: Pub/Sub's (dead_letter_recorder),
  # the dispatcher's after its publish attempts, a consumer's permanent failure or malformed
  # delivery, a task out of retries or with an expired lease. Each carries
  # dead_letter_recorded=true (shared/logs.py DEAD_LETTER_RECORDED); tests/infra checks the code.
  filter = "resource.type=\"cloud_run_revision\" AND jsonPayload.dead_letter_recorded=true"

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
    metric_kind = "DELTA"
    value_type  = "DISTRIBUTION"
    # Currency is not a unit of the metric grammar: an annotation on a dimensionless value.
    unit         = "{USD}"
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

# Calls above the single-call ceiling, counted from the same line (cost_usd is a number).
resource "google_logging_metric" "llm_expensive_calls" {
  project = var.project_id
  name    = "yachtparty_llm_expensive_calls"
  filter  = "resource.type=\"cloud_run_revision\" AND jsonPayload.llm_call=true AND jsonPayload.cost_usd>${var.single_llm_call_alert_usd}"

  label_extractors = {
    agent = "EXTRACT(jsonPayload.agent)"
  }

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = format("LLM calls above $%.4g", var.single_llm_call_alert_usd)

    labels {
      key        = "agent"
      value_type = "STRING"
    }
  }

  depends_on = [google_project_service.this]
}

# latency_ms of the same line; calls answered by the offline path log 0 and are left out.
resource "google_logging_metric" "llm_latency_ms" {
  project         = var.project_id
  name            = "yachtparty_llm_latency_ms"
  filter          = "resource.type=\"cloud_run_revision\" AND jsonPayload.llm_call=true AND jsonPayload.latency_ms>0"
  value_extractor = "EXTRACT(jsonPayload.latency_ms)"

  label_extractors = {
    agent = "EXTRACT(jsonPayload.agent)"
  }

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "DISTRIBUTION"
    unit         = "ms"
    display_name = "LLM call latency"

    labels {
      key        = "agent"
      value_type = "STRING"
    }
  }

  bucket_options {
    exponential_buckets {
      num_finite_buckets = 16
      growth_factor      = 2
      scale              = 50
    }
  }

  depends_on = [google_project_service.this]
}

# One line per outcome of an outbound SMS, with sms_outcome: accepted or rejected when
# sms_sender hands it to Twilio, then delivered, undelivered or failed from the status callback.
# A Twilio 21610 (the member unsubscribed), at send or by callback, is opted_out: counted here so
# the dashboard shows opt-outs, and in neither side of the delivery_failures alert.
resource "google_logging_metric" "sms_outcomes" {
  project = var.project_id
  name    = "yachtparty_sms_outcomes"
  filter = join(" ", [
    "resource.type=\"cloud_run_revision\" AND jsonPayload.sms_outcome=(",
    "\"accepted\" OR \"rejected\" OR \"delivered\" OR \"undelivered\" OR \"failed\" OR \"opted_out\")",
  ])

  label_extractors = {
    outcome = "EXTRACT(jsonPayload.sms_outcome)"
  }

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "Outbound SMS outcomes"

    labels {
      key        = "outcome"
      value_type = "STRING"
    }
  }

  depends_on = [google_project_service.this]
}

# Named queries slower than the ceiling: db_query (its name in the .sql files) and db_query_ms.
resource "google_logging_metric" "slow_db_queries" {
  project = var.project_id
  name    = "yachtparty_slow_db_queries"
  filter  = "resource.type=\"cloud_run_revision\" AND jsonPayload.db_query_ms>${var.slow_db_query_alert_ms}"

  label_extractors = {
    query = "EXTRACT(jsonPayload.db_query)"
  }

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "Database queries slower than ${var.slow_db_query_alert_ms} ms"

    labels {
      key        = "query"
      value_type = "STRING"
    }
  }

  depends_on = [google_project_service.this]
}

# A sweep's report whose oldest waiting item is older than that backlog's threshold.
resource "google_logging_metric" "stale_backlog" {
  for_each = local.backlogs

  project = var.project_id
  name    = "yachtparty_stale_backlog_${each.key}"
  filter = join(" ", [
    "resource.type=\"cloud_run_revision\" AND jsonPayload.backlog=\"${each.key}\"",
    "AND jsonPayload.backlog_oldest_age_seconds>${var.backlog_age_alert_seconds[each.key]}",
  ])

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "Stale backlog reports: ${each.value.what}"
  }

  depends_on = [google_project_service.this]
}

# Every backlog line, stale or not: the sweeps write one per backlog on every tick, so a backlog
# with no line for backlog_report_silence_seconds means its sweep is not running (or cannot reach
# the database), which the stale_backlog alerts cannot see: they count lines.
resource "google_logging_metric" "backlog_reports" {
  project = var.project_id
  name    = "yachtparty_backlog_reports"
  filter  = "resource.type=\"cloud_run_revision\" AND jsonPayload.backlog:*"

  label_extractors = {
    backlog = "EXTRACT(jsonPayload.backlog)"
  }

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "Backlog reports (one per backlog per sweep tick)"

    labels {
      key         = "backlog"
      value_type  = "STRING"
      description = "events, agent_tasks, message_queue, sms_sending or sms_pending"
    }
  }

  depends_on = [google_project_service.this]
}

# --- Alert policies ----------------------------------------------------------------------------

resource "google_monitoring_alert_policy" "dead_letters" {
  project               = var.project_id
  display_name          = "yachtparty ${var.environment}: dead letters above ${var.dead_letter_alert_depth}"
  combiner              = "OR"
  severity              = "ERROR"
  notification_channels = var.notification_channels

  conditions {
    display_name = "Dead letters recorded in the last day"

    condition_prometheus_query_language {
      query                     = "sum(increase(${local.promql_metric}${google_logging_metric.dead_letters_recorded.name}{${local.on_functions}}[1d])) > ${var.dead_letter_alert_depth}"
      duration                  = "0s"
      evaluation_interval       = "300s"
      disable_metric_validation = true
    }
  }

  documentation {
    content   = "Dead letters are in event_dead_letters. Inspect and replay them with `make ops ARGS=\"dead-letters list\"` (${local.runbook})."
    mime_type = "text/markdown"
  }

  depends_on = [google_project_service.this]
}

# Kept apart from the policy above: a PromQL condition is not combined with other condition
# types in one policy.
resource "google_monitoring_alert_policy" "dead_letters_waiting" {
  project               = var.project_id
  display_name          = "yachtparty ${var.environment}: dead letters waiting for the recorder above ${var.dead_letter_alert_depth}"
  combiner              = "OR"
  severity              = "ERROR"
  notification_channels = var.notification_channels

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
    content   = "Pub/Sub holds dead letters that dead_letter_recorder has not stored: the recorder is failing. Read its logs (`gcloud functions logs read dead-letter-recorder`); Pub/Sub keeps retrying for 7 days (${local.runbook})."
    mime_type = "text/markdown"
  }

  depends_on = [google_project_service.this]
}

resource "google_monitoring_alert_policy" "function_errors" {
  project               = var.project_id
  display_name          = format("yachtparty %s: function error rate above %.4g%%", var.environment, var.error_rate_alert * 100)
  combiner              = "OR"
  severity              = "ERROR"
  notification_channels = var.notification_channels

  conditions {
    display_name = "Share of 5xx responses per function"

    condition_prometheus_query_language {
      query               = "sum by (service_name) (rate(run_googleapis_com:request_count{monitored_resource=\"cloud_run_revision\",response_code_class=\"5xx\"}[5m])) / sum by (service_name) (rate(run_googleapis_com:request_count{monitored_resource=\"cloud_run_revision\"}[5m])) > ${var.error_rate_alert}"
      duration            = "300s"
      evaluation_interval = "60s"
    }
  }

  documentation {
    content   = "A function answers 5xx to more than ${format("%.4g", var.error_rate_alert * 100)}% of its requests. Read that function's logs (`gcloud functions logs read <name>`); Pub/Sub and the sweeps retry, so nothing is lost yet (${local.runbook})."
    mime_type = "text/markdown"
  }

  depends_on = [google_project_service.this]
}

resource "google_monitoring_alert_policy" "llm_cost" {
  project               = var.project_id
  display_name          = format("yachtparty %s: daily LLM cost above $%.4g", var.environment, var.daily_llm_cost_alert_usd)
  combiner              = "OR"
  severity              = "WARNING"
  notification_channels = var.notification_channels

  conditions {
    display_name = "LLM cost over the last 24 hours"

    condition_prometheus_query_language {
      query                     = "sum(increase(${local.promql_metric}${google_logging_metric.llm_cost_usd.name}_sum{${local.on_functions}}[1d])) > ${var.daily_llm_cost_alert_usd}"
      duration                  = "0s"
      evaluation_interval       = "300s"
      disable_metric_validation = true
    }
  }

  documentation {
    content   = "LLM spend over 24 hours is above ${format("$%.4g", var.daily_llm_cost_alert_usd)}. `make ops ARGS=\"costs --days 2\"` shows which agent spends it (${local.runbook})."
    mime_type = "text/markdown"
  }

  depends_on = [google_project_service.this]
}

resource "google_monitoring_alert_policy" "llm_call_cost" {
  project               = var.project_id
  display_name          = format("yachtparty %s: an LLM call cost more than $%.4g", var.environment, var.single_llm_call_alert_usd)
  combiner              = "OR"
  severity              = "WARNING"
  notification_channels = var.notification_channels

  conditions {
    display_name = "LLM calls above the single-call ceiling"

    condition_prometheus_query_language {
      query                     = "sum by (agent) (increase(${local.promql_metric}${google_logging_metric.llm_expensive_calls.name}{${local.on_functions}}[10m])) > 0"
      duration                  = "0s"
      evaluation_interval       = "60s"
      disable_metric_validation = true
    }
  }

  documentation {
    content   = "One model call cost more than ${format("$%.4g", var.single_llm_call_alert_usd)}: a runaway prompt or history. Find it in agent_actions_log (action_type 'llm_call', highest cost_usd) (${local.runbook})."
    mime_type = "text/markdown"
  }

  depends_on = [google_project_service.this]
}

resource "google_monitoring_alert_policy" "llm_latency" {
  project               = var.project_id
  display_name          = "yachtparty ${var.environment}: LLM p99 latency above ${var.llm_latency_p99_alert_seconds} s"
  combiner              = "OR"
  severity              = "WARNING"
  notification_channels = var.notification_channels

  conditions {
    display_name = "p99 of LLM call latency over 15 minutes"

    condition_prometheus_query_language {
      query                     = "histogram_quantile(0.99, sum by (le) (rate(${local.promql_metric}${google_logging_metric.llm_latency_ms.name}_bucket{${local.on_functions}}[15m]))) > ${var.llm_latency_p99_alert_seconds * 1000}"
      duration                  = "300s"
      evaluation_interval       = "60s"
      disable_metric_validation = true
    }
  }

  documentation {
    content   = "Model calls are slow (p99 above ${var.llm_latency_p99_alert_seconds} s): members wait for replies, and turns near the function timeout fall back to the offline brain. Check the Anthropic status page (${local.runbook})."
    mime_type = "text/markdown"
  }

  depends_on = [google_project_service.this]
}

resource "google_monitoring_alert_policy" "delivery_failures" {
  project               = var.project_id
  display_name          = format("yachtparty %s: SMS delivery failures above %.4g%%", var.environment, var.delivery_failure_rate_alert * 100)
  combiner              = "OR"
  severity              = "CRITICAL"
  notification_channels = var.notification_channels

  conditions {
    display_name = "Rejected, failed or undelivered SMS per SMS handed to Twilio, last hour"

    condition_prometheus_query_language {
      query = join(" ", [
        "(sum(increase(${local.promql_metric}${google_logging_metric.sms_outcomes.name}{${local.on_functions},outcome=~\"rejected|failed|undelivered\"}[1h]))",
        "/ sum(increase(${local.promql_metric}${google_logging_metric.sms_outcomes.name}{${local.on_functions},outcome=~\"accepted|rejected\"}[1h])) > ${var.delivery_failure_rate_alert})",
        "and (sum(increase(${local.promql_metric}${google_logging_metric.sms_outcomes.name}{${local.on_functions},outcome=~\"accepted|rejected\"}[1h])) >= ${var.delivery_failure_min_outcomes})",
      ])
      duration                  = "0s"
      evaluation_interval       = "300s"
      disable_metric_validation = true
    }
  }

  documentation {
    content   = "More than ${format("%.4g", var.delivery_failure_rate_alert * 100)}% of outbound SMS failed in the last hour. Read the error codes: `make ops ARGS=\"status\"`, then messages.error_code (${local.runbook})."
    mime_type = "text/markdown"
  }

  depends_on = [google_project_service.this]
}

resource "google_monitoring_alert_policy" "slow_db_queries" {
  project               = var.project_id
  display_name          = "yachtparty ${var.environment}: database query slower than ${var.slow_db_query_alert_ms} ms"
  combiner              = "OR"
  severity              = "WARNING"
  notification_channels = var.notification_channels

  conditions {
    display_name = "Queries over the ceiling in the last 15 minutes"

    condition_prometheus_query_language {
      query                     = "sum by (query) (increase(${local.promql_metric}${google_logging_metric.slow_db_queries.name}{${local.on_functions}}[15m])) > 0"
      duration                  = "0s"
      evaluation_interval       = "60s"
      disable_metric_validation = true
    }
  }

  documentation {
    content   = "A named query took longer than ${var.slow_db_query_alert_ms} ms. The label names it; look for a missing index or a lock held too long (Supabase dashboard, Query performance) (${local.runbook})."
    mime_type = "text/markdown"
  }

  depends_on = [google_project_service.this]
}

resource "google_monitoring_alert_policy" "stale_backlog" {
  for_each = local.backlogs

  project               = var.project_id
  display_name          = format("yachtparty %s: %s backlog older than %.4g min", var.environment, each.key, var.backlog_age_alert_seconds[each.key] / 60)
  combiner              = "OR"
  severity              = startswith(each.key, "sms_") ? "CRITICAL" : "ERROR"
  notification_channels = var.notification_channels

  conditions {
    display_name = "Oldest of the ${each.value.what}, as ${each.value.reporter} reports it"

    condition_prometheus_query_language {
      query                     = "sum(increase(${local.promql_metric}${google_logging_metric.stale_backlog[each.key].name}{${local.on_functions}}[10m])) > 0"
      duration                  = "0s"
      evaluation_interval       = "60s"
      disable_metric_validation = true
    }
  }

  documentation {
    content   = "The oldest of the ${each.value.what} has waited more than ${format("%.4g", var.backlog_age_alert_seconds[each.key] / 60)} minutes. `make ops ARGS=\"status\"` shows the backlog; read the ${each.value.reporter} logs (${local.runbook})."
    mime_type = "text/markdown"
  }

  depends_on = [google_project_service.this]
}

# A sweep that stopped reports nothing, so no stale_backlog alert can fire for its backlogs:
# this one fires when a backlog has had no report at all for backlog_report_silence_seconds.
resource "google_monitoring_alert_policy" "backlog_reports_stopped" {
  for_each = local.backlogs

  project               = var.project_id
  display_name          = format("yachtparty %s: no %s backlog report for %.4g min", var.environment, each.key, var.backlog_report_silence_seconds / 60)
  combiner              = "OR"
  severity              = startswith(each.key, "sms_") ? "CRITICAL" : "ERROR"
  notification_channels = var.notification_channels

  conditions {
    display_name = "No report of the ${each.value.what} from ${each.value.reporter}"

    # PromQL, as the other log-metric policies: a condition on a metric created in the same
    # apply must skip validation (tests/infra/test_first_apply.py). absent_over_time is 1 only
    # when no series of the selector has a point in the window, so a deploy's new revision is
    # not a silence.
    condition_prometheus_query_language {
      query                     = "absent_over_time(${local.promql_metric}${google_logging_metric.backlog_reports.name}{${local.on_functions},backlog=\"${each.key}\"}[${var.backlog_report_silence_seconds}s])"
      duration                  = "0s"
      evaluation_interval       = "60s"
      disable_metric_validation = true
    }
  }

  documentation {
    content   = "${each.value.reporter} has not reported the ${each.value.what} for ${format("%.4g", var.backlog_report_silence_seconds / 60)} minutes: its scheduler job is not running or the function fails before reporting. `gcloud scheduler jobs list`; read the ${each.value.reporter} logs; `make ops ARGS=\"status\"` still shows the backlog (${local.runbook})."
    mime_type = "text/markdown"
  }

  depends_on = [google_project_service.this]
}

# --- Budget ------------------------------------------------------------------------------------

# Needs the Billing Budget API called with a quota project: the environment roots set
# billing_project and user_project_override on the provider (docs/deploying.md).
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

  # Budgets have no daily period: a day at platform 7.6's $50 forecasts far past the month's
  # budget, so the forecast rule is the early warning for a runaway day.
  threshold_rules {
    threshold_percent = 1.0
    spend_basis       = "FORECASTED_SPEND"
  }

  all_updates_rule {
    monitoring_notification_channels = var.notification_channels
  }

  depends_on = [google_project_service.this]
}
