"""What would stop the first ``terraform apply`` on a new project (issue 14), held statically.

No provider can be reached here, so these read the HCL. Each check names the provider behaviour
it guards against:

- a gen2 build reads its source from Google's ``gcf-v2-sources-<number>-<region>`` bucket, so the
  build identity needs Cloud Run Builder, and the grants must settle before the first build
  (terraform-provider-google#20571, the provider's ``cloudfunctions2_basic_builder`` example);
- Monitoring refuses an alert policy on a log-based metric created in the same apply unless
  the policy waits for it or disables the metric validation (#11102; provider 6.13);
- service-account emails are known at plan only from provider 6.13 (the invoker ``for_each``);
- the Billing Budget API needs a quota project with user credentials (``billing_budget`` docs).
"""

from __future__ import annotations

import re
from typing import Any

from tests.infra import terraform_model as tf

GOOGLE_PROVIDER_FLOOR = (6, 13)
BUILD_ROLE = "roles/run.builder"
# The provider example's alternative to Cloud Run Builder: logs, images and the source bucket.
BUILD_ROLES_SPELLED_OUT = {"roles/logging.logWriter", "roles/artifactregistry.writer"}
SOURCE_READ_ROLES = {"roles/storage.objectViewer", "roles/storage.objectAdmin"}
MIN_IAM_SETTLE_SECONDS = 30
USER_METRIC_FILTER = "logging.googleapis.com/user/"
USER_METRIC_PROMQL = "logging_googleapis_com:user_"
BUILDER_MEMBER = "serviceAccount:${google_service_account.builder.email}"
# Metric unit grammar (Monitoring MetricDescriptor.unit): "1", an annotation, or a unit from the
# UCUM subset with an optional prefix and annotation.
UNIT = re.compile(
    r"^(1|%|\{[^{}]+\}|(k|M|G|T|m|u|n)?(s|min|h|d|By|bit|Hz)(\{[^{}]+\})?)"
    r"(/(1|\{[^{}]+\}|(k|M|G|T|m|u|n)?(s|min|h|d|By|bit|Hz)))?$"
)


def _platform() -> dict[str, list[Any]]:
    return tf.load_dir(tf.MODULES / "platform")


def _builder_grants(module: dict[str, list[Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {key: body for key, body in tf.resources(module).items() if body.get("member") == BUILDER_MEMBER}


def _project_roles(module: dict[str, list[Any]], body: dict[str, Any]) -> set[str]:
    if body["role"] != "${each.value}":
        return {body["role"]}
    local = body["for_each"].removeprefix("${local.").removesuffix("}")
    return tf.string_set(tf.locals_of(module)[local])


def _seconds(duration: str) -> int:
    match = re.fullmatch(r"(\d+)s", duration)
    assert match, duration
    return int(match.group(1))


# --- 1. builds --------------------------------------------------------------------------------


def test_the_build_identity_holds_the_documented_build_roles() -> None:
    platform = _platform()
    project_roles: set[str] = set()
    for (kind, _), body in _builder_grants(platform).items():
        if kind == "google_project_iam_member":
            project_roles |= _project_roles(platform, body)
    spelled_out = project_roles >= BUILD_ROLES_SPELLED_OUT and project_roles & SOURCE_READ_ROLES
    assert BUILD_ROLE in project_roles or spelled_out, (
        f"fn-builder holds {sorted(project_roles)} on the project: a gen2 build reads its source from "
        "gcf-v2-sources-<number>-<region> and fails with 'Access to bucket ... denied' "
        f"(terraform-provider-google#20571); grant {BUILD_ROLE}"
    )


def test_function_builds_wait_for_the_build_grants_to_settle() -> None:
    platform = _platform()
    waits = [
        tf.reference(entry)
        for entry in tf.module_calls(platform)["function"].get("depends_on", [])
        if tf.reference(entry).startswith("time_sleep.")
    ]
    assert waits, "module.function does not wait (time_sleep) after the builder's grants: IAM settles late"
    sleeps = {
        f"time_sleep.{name}": body
        for (kind, name), body in tf.resources(platform).items()
        if kind == "time_sleep"
    }
    grants = {f"{kind}.{name}" for kind, name in _builder_grants(platform)}
    assert grants, "no grant to the build identity"
    for wait in waits:
        body = sleeps[wait]
        assert _seconds(tf.variable_default(platform, body["create_duration"])) >= MIN_IAM_SETTLE_SECONDS, (
            wait
        )
        waited_for = {tf.reference(entry) for entry in body.get("depends_on", [])}
        assert grants <= waited_for, f"{wait} does not wait for {sorted(grants - waited_for)}"


# --- 2. alert policies on log-based metrics ------------------------------------------------------


Module = dict[str, list[Any]]


def _user_metric_conditions() -> list[tuple[Module, str, dict[str, Any], dict[str, Any]]]:
    """(module, policy name, policy, condition) for every condition that reads a log-based metric."""
    found = []
    for directory in tf.module_dirs():
        module = tf.load_dir(directory)
        for (kind, name), body in tf.resources(module).items():
            if kind != "google_monitoring_alert_policy":
                continue
            for condition in body["conditions"]:
                text = tf.expand_locals(repr(condition), module)
                if (
                    USER_METRIC_FILTER in text
                    or USER_METRIC_PROMQL in text
                    or "google_logging_metric." in text
                ):
                    found.append((module, f"{directory.name}: {name}", body, condition))
    return found


def _waits_for_the_metrics(module: Module, policy: dict[str, Any]) -> bool:
    """The policy depends on a time_sleep of at least 10 minutes after every log-based metric."""
    found = tf.resources(module)
    sleeps = {f"time_sleep.{name}": body for (kind, name), body in found.items() if kind == "time_sleep"}
    metrics = {f"google_logging_metric.{name}" for kind, name in found if kind == "google_logging_metric"}
    for entry in policy.get("depends_on", []):
        sleep = sleeps.get(tf.reference(entry))
        if sleep is None:
            continue
        waited_for = {tf.reference(e) for e in sleep.get("depends_on", [])}
        if metrics <= waited_for and _seconds(tf.variable_default(module, sleep["create_duration"])) >= 600:
            return True
    return False


def test_every_alert_on_a_log_based_metric_waits_for_it_or_skips_validation() -> None:
    conditions = _user_metric_conditions()
    assert len(conditions) >= 2, "no alert condition reads a log-based metric: the check would be vacuous"
    refused = []
    for module, name, policy, condition in conditions:
        promql = condition.get("condition_prometheus_query_language")
        if promql and tf.single(promql).get("disable_metric_validation") is True:
            continue
        if _waits_for_the_metrics(module, policy):
            continue
        refused.append(f"{name} / {condition['display_name']}")
    assert not refused, (
        "Monitoring answers 404 'Cannot find metric(s)' for a log-based metric created in the same "
        "apply (terraform-provider-google#11102): use a PromQL condition with "
        "disable_metric_validation = true, or depend on a 10-minute time_sleep after the metrics:\n"
        + "\n".join(refused)
    )


# --- 3. provider floor ---------------------------------------------------------------------------


def test_the_google_provider_floor_knows_service_account_emails_at_plan() -> None:
    for directory in tf.module_dirs():
        blocks = tf.load_dir(directory).get("terraform", [])
        providers = (
            tf.single(blocks[0]["required_providers"]) if blocks and "required_providers" in blocks[0] else {}
        )
        if "google" not in providers:
            continue
        floor = tf.version_floor(providers["google"]["version"])
        assert floor >= GOOGLE_PROVIDER_FLOOR, (
            f"{directory.relative_to(tf.TERRAFORM)} allows google {providers['google']['version']}: "
            "before 6.13 a new service account's email is unknown at plan, so "
            "for_each = toset(var.invoker_members) fails, and disable_metric_validation does not exist"
        )


def test_every_provider_a_module_uses_is_required_by_it_and_by_the_roots() -> None:
    required: dict[str, dict[str, Any]] = {}
    for directory in tf.module_dirs():
        module = tf.load_dir(directory)
        blocks = module.get("terraform", [])
        providers = (
            tf.single(blocks[0]["required_providers"]) if blocks and "required_providers" in blocks[0] else {}
        )
        used = {kind.split("_", 1)[0] for kind, _ in tf.resources(module)}
        used |= {kind.split("_", 1)[0] for kind, _ in tf.resources(module, kind="data")}
        assert used <= set(providers), (
            f"{directory.name} uses {sorted(used - set(providers))} without requiring them"
        )
        if directory.parent.name == "modules":
            required.update(providers)
    for env in tf.ENVS:
        root = tf.single(tf.load_dir(tf.TERRAFORM / "envs" / env)["terraform"][0]["required_providers"])
        assert set(required) <= set(root), f"envs/{env} does not pin {sorted(set(required) - set(root))}"
        for name, spec in root.items():
            assert spec["source"] == f"hashicorp/{name}", (env, name)
            assert "<" in spec["version"], (env, name)


# --- 4. the budget's quota project ---------------------------------------------------------------


def test_a_root_that_can_create_a_budget_sends_a_quota_project() -> None:
    for env in tf.ENVS:
        root = tf.load_dir(tf.TERRAFORM / "envs" / env)
        platform = tf.module_calls(root)["platform"]
        if platform.get("billing_account") in (None, "null"):
            continue
        google = [block["google"] for block in root.get("provider", []) if "google" in block]
        assert google, f"envs/{env} has no google provider block"
        for provider in google:
            assert provider.get("user_project_override") is True and provider.get("billing_project"), (
                f"envs/{env} can create a budget but its provider lacks billing_project and "
                "user_project_override = true: the Billing Budget API answers 403 to user credentials"
            )


# --- smaller items ---------------------------------------------------------------------------------


def test_the_pubsub_agent_token_creator_grant_is_only_for_old_projects() -> None:
    platform = _platform()
    grant = tf.resources(platform)[("google_service_account_iam_member", "pubsub_agent_mints_push_tokens")]
    assert grant.get("count") == "${var.pubsub_agent_token_creator ? 1 : 0}", (
        "the Pub/Sub service agent needs Token Creator on the push identity only in projects created "
        "before 2021-04-08: make the grant conditional"
    )
    declared = tf.variables(platform)["pubsub_agent_token_creator"]
    assert declared["default"] is False
    assert "2021-04-08" in declared["description"]


def test_metric_units_follow_the_metric_grammar() -> None:
    for directory in tf.module_dirs():
        for (kind, name), body in tf.resources(tf.load_dir(directory)).items():
            if kind != "google_logging_metric":
                continue
            unit = tf.single(body["metric_descriptor"]).get("unit", "1")
            assert UNIT.fullmatch(unit), (
                f"{name}: unit {unit!r} is not in the metric unit grammar; "
                "a currency is an annotation such as '{USD}'"
            )


def test_the_deploy_guide_gives_the_first_apply_sequence() -> None:
    guide = (tf.ROOT / "docs" / "deploying.md").read_text(encoding="utf-8")
    floor = ".".join(str(part) for part in GOOGLE_PROVIDER_FLOOR)
    for needle in (".terraform.lock.hcl", "terraform providers lock", f">= {floor}", "rerun"):
        assert needle in guide, f"docs/deploying.md does not mention {needle!r}"
    wait = tf.variables(_platform())["iam_settle_wait"]["default"]
    assert f"{_seconds(wait)} s" in guide, f"docs/deploying.md does not give the {wait} IAM wait"
