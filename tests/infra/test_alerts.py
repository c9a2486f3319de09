"""Alerts that reach someone (issue 15, section 5): every platform 7.6 signal has a policy, every
policy notifies the environment's channels, prod cannot be applied without channels and a
billing account, and every log field a metric reads is one the code writes (or is awaited from
it, listed below and in docs/operating.md).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import hcl2

from shared import schedules
from shared.domain import constants
from shared.domain.alerts import OPTED_OUT_OUTCOME
from tests.infra import terraform_model as tf

# Platform 7.6 thresholds, and the policy (modules/platform/observability.tf) that watches each.
SPEC_THRESHOLDS = {
    "delivery_failure_rate_alert": 0.05,
    "error_rate_alert": 0.02,
    "daily_llm_cost_alert_usd": 10,
    "single_llm_call_alert_usd": 0.5,
    "monthly_budget_usd": 300,
    "dead_letter_alert_depth": 10,
    "llm_latency_p99_alert_seconds": 10,
    "slow_db_query_alert_ms": 1000,
}
SIGNAL_POLICIES = {
    "delivery failures": "delivery_failures",
    "agent errors": "function_errors",
    "daily LLM cost": "llm_cost",
    "single LLM call": "llm_call_cost",
    "dead-letter depth": "dead_letters",
    "LLM latency p99": "llm_latency",
    "DB query": "slow_db_queries",
    "backlogs and stuck SMS": "stale_backlog",
}
BACKLOGS = {
    "events": "event_dispatcher",
    "agent_tasks": "task_sweeper",
    "message_queue": "message_orchestrator",
    "sms_sending": "sms_sender",
    "sms_pending": "sms_sender",
}
# Where the Python code keeps (or will keep) the same numbers: checked once they exist.
CONSTANTS = {
    "dead_letter_alert_depth": ("DEAD_LETTER_ALERT_DEPTH", 1),
    "error_rate_alert": ("FUNCTION_ERROR_RATE_ALERT", 1),
    "daily_llm_cost_alert_usd": ("DAILY_LLM_COST_ALERT_USD", 1),
    "delivery_failure_rate_alert": ("DELIVERY_FAILURE_RATE_ALERT", 1),
    "single_llm_call_alert_usd": ("SINGLE_LLM_CALL_ALERT_USD", 1),
    "llm_latency_p99_alert_seconds": ("LLM_LATENCY_P99_ALERT", 1),
    "slow_db_query_alert_ms": ("SLOW_DB_QUERY_ALERT", 1000),
    "monthly_budget_usd": ("MONTHLY_COST_ALERT_USD", 1),
    "delivery_failure_min_outcomes": ("DELIVERY_FAILURE_MIN_OUTCOMES", 1),
}
# Log fields the metrics read that the code does not write yet (docs/operating.md, Alerts,
# "What the alerts read"). Until it does, those alerts stay silent; they never fire falsely.
AWAITED_LOG_FIELDS: dict[str, str] = {}  # every field an alert reads is written by the code now
LOG_FIELD = re.compile(r"jsonPayload\.([A-Za-z_][A-Za-z0-9_]*)")


def _platform() -> dict[str, list[Any]]:
    return tf.load_dir(tf.MODULES / "platform")


def _policies() -> dict[str, dict[str, Any]]:
    return {
        name: body
        for (kind, name), body in tf.resources(_platform()).items()
        if kind == "google_monitoring_alert_policy"
    }


def _tfvars(env: str) -> dict[str, Any]:
    with (tf.TERRAFORM / "envs" / env / f"{env}.tfvars").open(encoding="utf-8") as handle:
        values: dict[str, Any] = tf.clean(hcl2.load(handle))
    return values


def test_every_platform_7_6_signal_has_an_alert_policy() -> None:
    policies = _policies()
    missing = {signal: policy for signal, policy in SIGNAL_POLICIES.items() if policy not in policies}
    assert not missing, f"platform 7.6 signals without an alert policy: {missing}"
    platform = _platform()
    backlogs = tf.locals_of(platform)["backlogs"]
    assert {key: spec["reporter"] for key, spec in backlogs.items()} == BACKLOGS
    assert policies["stale_backlog"]["for_each"] == "${local.backlogs}"
    assert set(tf.variables(platform)["backlog_age_alert_seconds"]["default"]) == set(BACKLOGS)
    for function in set(BACKLOGS.values()):
        assert function in tf.catalog()["functions"], f"{function} reports a backlog but is not deployed"
    # Monthly cost is the budget's; a runaway day (7.6: > $50) shows first in its forecast rule.
    budget = tf.resources(platform)[("google_billing_budget", "monthly")]
    rules = budget["threshold_rules"]
    assert {"threshold_percent": 1.0, "spend_basis": "FORECASTED_SPEND"} in rules, rules


def test_every_alert_and_the_budget_notify_the_environment_channels() -> None:
    for name, policy in _policies().items():
        assert policy["notification_channels"] == "${var.notification_channels}", name
        assert tf.single(policy["documentation"])["content"], f"{name} tells the on-call person nothing"
        assert policy.get("severity"), f"{name} has no severity"
    budget = tf.resources(_platform())[("google_billing_budget", "monthly")]
    assert (
        tf.single(budget["all_updates_rule"])["monitoring_notification_channels"]
        == "${var.notification_channels}"
    )


def test_alert_thresholds_are_the_spec_numbers() -> None:
    declared = tf.variables(_platform())
    for name, value in SPEC_THRESHOLDS.items():
        assert declared[name]["default"] == value, f"{name}: platform 7.6 says {value}"
    for name, (constant, scale) in CONSTANTS.items():
        if not hasattr(constants, constant):
            continue  # not in the code yet (ops status will need it)
        value = getattr(constants, constant)
        if isinstance(value, timedelta):
            value = value.total_seconds()
        assert value * scale == declared[name]["default"], f"{name} differs from constants.{constant}"


def test_prod_cannot_be_applied_without_channels_and_a_billing_account() -> None:
    root = tf.load_dir(tf.TERRAFORM / "envs" / "prod")
    declared = tf.variables(root)
    channels, billing = declared["notification_channels"], declared["billing_account"]
    assert "default" not in channels and "default" not in billing, "prod must require both variables"

    channel_rule = tf.single(channels["validation"])
    assert channel_rule["condition"] == "${length(var.notification_channels) > 0}"
    billing_rule = tf.single(billing["validation"])
    pattern = re.fullmatch(r'\$\{can\(regex\("(.+)", var\.billing_account\)\)\}', billing_rule["condition"])
    assert pattern, billing_rule["condition"]
    billing_id = re.compile(pattern.group(1))
    assert billing_id.search("012345-6789AB-CDEF01") and not billing_id.search("")
    for rule in (channel_rule, billing_rule):
        assert "prod.tfvars" in rule["error_message"], "the message must say where to set it"

    # The committed prod.tfvars leaves both to the operator: a plan stops on the messages above.
    values = _tfvars("prod")
    assert values["notification_channels"] == [] and not billing_id.search(values["billing_account"])

    platform = tf.module_calls(root)["platform"]
    assert platform["notification_channels"] == "${var.notification_channels}"
    assert platform["billing_account"] == "${var.billing_account}"


def _fields_read_by_metrics() -> dict[str, set[str]]:
    fields: dict[str, set[str]] = {}
    for (kind, name), body in tf.resources(_platform()).items():
        if kind != "google_logging_metric":
            continue
        text = " ".join(
            [body["filter"], body.get("value_extractor", ""), *body.get("label_extractors", {}).values()]
        )
        for field in LOG_FIELD.findall(text):
            fields.setdefault(field, set()).add(name)
    fields.pop("message", None)  # Cloud Logging's own field: the dead-letter check reads its values
    return fields


def _code() -> str:
    files = [*(tf.ROOT / "shared").rglob("*.py"), *(tf.ROOT / "functions").rglob("*.py")]
    return "\n".join(path.read_text(encoding="utf-8") for path in files)


def test_every_log_field_an_alert_reads_is_written_or_awaited() -> None:
    code = _code()
    read = _fields_read_by_metrics()
    unwritten = {
        field: sorted(metrics)
        for field, metrics in read.items()
        if field not in AWAITED_LOG_FIELDS and not re.search(rf"[\"']{field}[\"']|\b{field}=", code)
    }
    assert not unwritten, f"metrics read log fields no code writes (the alert would never fire): {unwritten}"
    stale = set(AWAITED_LOG_FIELDS) - set(read)
    assert not stale, f"awaited log fields that no metric reads any more: {sorted(stale)}"


def test_the_runbook_explains_every_alert_and_the_fields_it_reads() -> None:
    runbook = (tf.ROOT / "docs" / "operating.md").read_text(encoding="utf-8")
    assert "## Alerts" in runbook, "docs/operating.md has no Alerts section for the on-call person"
    alerts = runbook.split("## Alerts", 1)[1].split("\n## ", 1)[0]
    for policy in _policies():
        assert f"`{policy}`" in alerts, f"docs/operating.md, Alerts, does not explain `{policy}`"
    for backlog in BACKLOGS:
        assert f"`{backlog}`" in alerts, f"docs/operating.md, Alerts, does not explain the {backlog} backlog"
    for field in AWAITED_LOG_FIELDS:
        assert f"`{field}`" in alerts, f"docs/operating.md, Alerts, does not name the log field {field}"


def test_backlog_age_thresholds_are_the_constants_ops_status_judges_by() -> None:
    """Cloud Monitoring and `ops status` alert at the same age for every backlog."""
    declared = tf.variables(_platform())["backlog_age_alert_seconds"]["default"]
    assert declared == {
        name: int(limit.total_seconds()) for name, limit in constants.BACKLOG_AGE_ALERT.items()
    }
    assert set(constants.BACKLOG_AGE_ALERT) == set(BACKLOGS)


def test_a_sweep_that_stops_reporting_alerts() -> None:
    """The stale_backlog alerts count report lines, so a stopped sweep silences them: every
    backlog also has an absence alert on its reports, longer than three of its reporter's ticks
    and summed across revisions (a deploy's new revision is not a silence)."""
    platform = _platform()
    found = tf.resources(platform)
    metric = found[("google_logging_metric", "backlog_reports")]
    assert "jsonPayload.backlog:*" in metric["filter"]
    assert metric["label_extractors"] == {"backlog": "EXTRACT(jsonPayload.backlog)"}
    policy = _policies()["backlog_reports_stopped"]
    assert policy["for_each"] == "${local.backlogs}"
    promql = tf.single(tf.single(policy["conditions"])["condition_prometheus_query_language"])
    query = promql["query"]
    assert query.startswith(
        "absent_over_time(${local.promql_metric}${google_logging_metric.backlog_reports.name}{"
    )
    assert 'backlog="${each.key}"' in query, query
    assert query.endswith("[${var.backlog_report_silence_seconds}s])"), query
    assert promql["disable_metric_validation"] is True  # created in the same apply (test_first_apply)
    silence = tf.variables(platform)["backlog_report_silence_seconds"]["default"]
    ticks = {
        job.function: job.every_seconds for job in schedules.SCHEDULED_JOBS if job.body == {"sweep": True}
    }
    for backlog, reporter in BACKLOGS.items():
        assert silence >= 3 * ticks[reporter], (backlog, reporter, ticks[reporter])


def test_an_opt_out_is_counted_but_is_no_delivery_failure() -> None:
    """A Twilio 21610 is logged ``opted_out`` (at send and by callback): the outcomes metric
    counts it, and neither side of the delivery_failures alert's ratio does."""
    metric = tf.resources(_platform())[("google_logging_metric", "sms_outcomes")]
    assert re.search(rf'\\?"{OPTED_OUT_OUTCOME}\\?"', metric["filter"]), metric["filter"]
    condition = tf.single(_policies()["delivery_failures"]["conditions"])
    promql = tf.single(condition["condition_prometheus_query_language"])
    matched = re.findall(r'outcome=~\\?"([^"\\]*)\\?"', promql["query"])
    assert matched, promql["query"]
    counted = {outcome for alternatives in matched for outcome in alternatives.split("|")}
    assert counted == {"accepted", "rejected", "failed", "undelivered"}
    assert OPTED_OUT_OUTCOME not in counted
