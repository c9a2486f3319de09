"""Static checks of terraform/ against the code: no provider is needed, nothing is applied.

The catalogue (terraform/modules/catalog) is the deployment's single list of functions,
routes, schedules and secrets; these tests hold it to the code - functions/ folders,
shared/routing.py, shared/schedules.py, the cadence constants, and the settings each
function's code path requires - and hold the modules to the IAM rules of decisions A8.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from datetime import timedelta
from typing import Any

import hcl2
import pytest

from shared import routing, schedules
from shared.adapters.postgres import TURN_CONNECTIONS
from shared.config import Settings
from shared.domain import constants
from shared.logs import DEAD_LETTER_RECORDED
from tests.infra import terraform_model as tf
from tests.infra.code_settings import required_env
from tools.bundles.build import discover_functions

# Issue 5: no function identity holds a project-level role beyond what logging and tracing need.
ALLOWED_PROJECT_ROLES = {"roles/logging.logWriter", "roles/cloudtrace.agent"}
# Issue 14: the build identity needs Cloud Run Builder on the project (gcf-v2-sources bucket).
BUILDER_PROJECT_ROLES = {"roles/run.builder", "roles/logging.logWriter"}
PUBLIC = {"twilio_inbound", "twilio_status", "email_inbound", "prospect_upload", "stripe_webhook"}  # A8
WEBHOOK_TARGETS = {"sms_sender", "event_dispatcher", "task_sweeper", "message_orchestrator"}
OPERATOR_FUNCTIONS = {"admin"}
ALWAYS_SET = {"GOOGLE_CLOUD_PROJECT", "LOG_LEVEL", "YACHTPARTY_ENVIRONMENT"}
SCHEDULER_ENV = {"SCHEDULER_SERVICE_ACCOUNT_EMAIL", "SCHEDULER_OIDC_AUDIENCE"}
PUBLISHER_ENV = {"PUBSUB_API_ENDPOINT"}
DERIVED_SETTINGS = {"PUBLIC_BASE_URL", "TWILIO_STATUS_CALLBACK_URL", "PROSPECT_UPLOAD_URL"}


def terraform_binary() -> str | None:
    return shutil.which("terraform") or (
        "/usr/local/bin/terraform" if os.access("/usr/local/bin/terraform", os.X_OK) else None
    )


def test_terraform_fmt_is_clean() -> None:
    binary = terraform_binary()
    if binary is None:
        pytest.skip("terraform binary not installed: `terraform fmt -check` cannot run here")
    result = subprocess.run(
        [binary, "fmt", "-check", "-recursive", "-diff", str(tf.TERRAFORM)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, (
        f"run `terraform fmt -recursive terraform`:\n{result.stdout}{result.stderr}"
    )


def test_every_tf_file_parses() -> None:
    files = tf.tf_files()
    assert len(files) >= 20
    for path in files:
        with path.open(encoding="utf-8") as handle:
            hcl2.load(handle)  # raises on a syntax error


def test_every_module_and_root_pins_terraform_and_provider_versions() -> None:
    roots = [tf.MODULES / name for name in ("function", "topic", "scheduler_job", "platform")] + [
        tf.TERRAFORM / "envs" / env for env in tf.ENVS
    ]
    for directory in roots:
        blocks = tf.load_dir(directory).get("terraform", [])
        assert blocks, f"{directory} has no terraform block"
        settings = blocks[0]
        assert settings["required_version"].startswith(">= 1."), directory
        providers = tf.single(settings["required_providers"])
        assert providers["google"]["source"] == "hashicorp/google"
        assert re.search(r">= ?\d", providers["google"]["version"]) and "<" in providers["google"]["version"]


def test_each_environment_is_a_thin_root_with_its_own_backend_prefix_and_tfvars() -> None:
    prefixes = set()
    for env in tf.ENVS:
        directory = tf.TERRAFORM / "envs" / env
        root = tf.load_dir(directory)
        backend = tf.single(root["terraform"][0]["backend"])
        prefixes.add(backend["gcs"]["prefix"])
        assert env in backend["gcs"]["prefix"]
        assert not tf.resources(root), f"envs/{env} declares resources: keep roots thin"
        calls = tf.module_calls(root)
        assert set(calls) == {"catalog", "platform"}
        platform = calls["platform"]
        assert platform["functions"] == "${module.catalog.functions}"
        assert platform["routes"] == "${module.catalog.routes}"
        assert platform["schedules"] == "${module.catalog.schedules}"
        assert platform["dead_letter_recorder"] == "${module.catalog.dead_letter_recorder}"
        tfvars = directory / f"{env}.tfvars"
        assert tfvars.is_file()
        with tfvars.open(encoding="utf-8") as handle:
            values = tf.clean(hcl2.load(handle))
        assert values["environment"] == env
    assert len(prefixes) == len(tf.ENVS)


# --- functions ------------------------------------------------------------------------------


def test_every_function_folder_has_a_terraform_instance_and_back() -> None:
    folders = set(discover_functions())
    declared = set(tf.catalog()["functions"])
    assert folders - declared == set(), "function folders missing from terraform/modules/catalog"
    assert declared - folders == set(), "catalogue functions without a folder under functions/"


def test_exposure_follows_the_rules() -> None:
    functions = tf.catalog()["functions"]
    for name, spec in functions.items():
        if name in PUBLIC:
            expected = "public"
        elif name in WEBHOOK_TARGETS:
            expected = "webhook"
        elif name in OPERATOR_FUNCTIONS:
            expected = "operators"
        else:
            expected = "internal"
        assert spec["exposure"] == expected, name


def test_platform_maps_exposure_to_ingress_and_invokers() -> None:
    platform = tf.load_dir(tf.MODULES / "platform")
    ingress = tf.locals_of(platform)["ingress"]
    assert ingress["internal"] == "ALLOW_INTERNAL_ONLY"
    assert ingress["public"] == ingress["webhook"] == "ALLOW_ALL"
    call = tf.module_calls(platform)["function"]
    assert call["allow_unauthenticated"] == '${contains(["public", "webhook"], each.value.exposure)}'
    invokers = call["invoker_members"]
    assert "local.push_targets" in invokers and "google_service_account.pubsub_push.email" in invokers
    assert "local.scheduler_targets" in invokers and "google_service_account.scheduler.email" in invokers
    assert 'each.value.exposure == "operators" ? var.operators' in invokers


def test_invokers_are_run_invoker_on_the_functions_own_cloud_run_service() -> None:
    # A gen2 function is invoked through its Cloud Run service: roles/cloudfunctions.invoker
    # on the function would not let anyone in.
    found = tf.resources(tf.load_dir(tf.MODULES / "function"))
    kinds = {kind for kind, _ in found if kind.endswith(("_iam_member", "_iam_binding", "_iam_policy"))}
    assert kinds == {
        "google_project_iam_member",
        "google_secret_manager_secret_iam_member",
        "google_cloud_run_service_iam_member",
    }, kinds
    invokers = {
        name: body for (kind, name), body in found.items() if kind == "google_cloud_run_service_iam_member"
    }
    assert set(invokers) == {"invoker", "public"}
    for body in invokers.values():
        assert body["role"] == "roles/run.invoker"
        assert body["service"] == "${google_cloudfunctions2_function.this.service_config[0].service}"
        assert body["location"] == "${var.region}"
    assert invokers["invoker"]["for_each"] == "${toset(var.invoker_members)}"
    assert invokers["invoker"]["member"] == "${each.value}"
    assert invokers["public"]["count"] == "${var.allow_unauthenticated ? 1 : 0}"
    assert invokers["public"]["member"] == "allUsers"
    allusers = [p for p in tf.tf_files() if '"allUsers"' in p.read_text(encoding="utf-8")]
    assert allusers == [tf.MODULES / "function" / "main.tf"], allusers


def test_push_identity_is_the_one_with_run_invoker_on_every_consumer_and_the_recorder() -> None:
    platform = tf.load_dir(tf.MODULES / "platform")
    push_targets = tf.locals_of(platform)["push_targets"]
    assert "[for r in values(var.routes) : r.function]" in push_targets
    assert "toset([var.dead_letter_recorder])" in push_targets
    calls = tf.module_calls(platform)
    assert calls["topic"]["push_service_account_email"] == "${google_service_account.pubsub_push.email}"
    push_member = '["serviceAccount:${google_service_account.pubsub_push.email}"]'
    assert f"contains(local.push_targets, each.key) ? {push_member}" in calls["function"]["invoker_members"]
    # Pub/Sub's own agent mints the push tokens for that identity.
    minting = tf.resources(platform)[("google_service_account_iam_member", "pubsub_agent_mints_push_tokens")]
    assert minting["service_account_id"] == "${google_service_account.pubsub_push.name}"
    assert minting["role"] == "roles/iam.serviceAccountTokenCreator"
    assert minting["member"] == "${local.pubsub_agent}"


def test_every_function_runs_as_its_own_service_account_never_the_default() -> None:
    module = tf.load_dir(tf.MODULES / "function")
    found = tf.resources(module)
    function = found[("google_cloudfunctions2_function", "this")]
    service = tf.single(function["service_config"])
    assert service["service_account_email"] == "${google_service_account.runtime.email}"
    build = tf.single(function["build_config"])
    assert build["service_account"] == "${var.build_service_account}"
    platform = tf.module_calls(tf.load_dir(tf.MODULES / "platform"))["function"]
    assert platform["build_service_account"] == "${google_service_account.builder.id}"
    for path in tf.tf_files():
        text = path.read_text(encoding="utf-8")
        assert "-compute@developer.gserviceaccount.com" not in text, path
        assert "@appspot.gserviceaccount.com" not in text, path
        assert "google_compute_default_service_account" not in text, path


def _project_roles(module: dict[str, list[Any]], body: dict[str, Any]) -> set[str]:
    if body["role"] != "${each.value}":
        return {body["role"]}
    local = body["for_each"].removeprefix("${local.").removesuffix("}")
    return tf.string_set(tf.locals_of(module)[local])


def test_no_project_level_role_beyond_telemetry() -> None:
    """Function identities log and trace; the build identity builds; nobody else holds a project role."""
    forbidden_kinds = {"google_project_iam_binding", "google_project_iam_policy"}
    allowed = {"function": ALLOWED_PROJECT_ROLES, "platform": BUILDER_PROJECT_ROLES}
    for directory in tf.module_dirs():
        module = tf.load_dir(directory)
        for (kind, name), body in tf.resources(module).items():
            assert kind not in forbidden_kinds, f"{directory.name}: authoritative project IAM {kind}.{name}"
            if kind != "google_project_iam_member":
                continue
            granted = _project_roles(module, body)
            assert granted <= allowed.get(directory.name, set()), (
                f"{directory.name}: {kind}.{name} grants {granted}"
            )
            if directory.name == "platform":
                assert body["member"] == "serviceAccount:${google_service_account.builder.email}", name


def test_function_module_validates_its_typed_inputs() -> None:
    declared = tf.variables(tf.load_dir(tf.MODULES / "function"))
    for name in ("name", "ingress", "allow_unauthenticated", "invoker_members", "secret_env", "env"):
        assert declared[name].get("validation"), f"variable {name} has no validation"
    assert "allUsers" not in json.dumps(declared["invoker_members"]["default"])


def test_source_zip_is_content_addressed_with_fixed_modes() -> None:
    found = tf.resources(tf.load_dir(tf.MODULES / "function"), kind="data")
    archive = found[("archive_file", "source")]
    assert archive["output_file_mode"] == "0644"
    assert archive["source_dir"] == "${var.source_dir}"
    obj = tf.resources(tf.load_dir(tf.MODULES / "function"))[("google_storage_bucket_object", "source")]
    assert "data.archive_file.source.output_sha256" in obj["name"]
    call = tf.module_calls(tf.load_dir(tf.MODULES / "platform"))["function"]
    assert call["source_dir"] == "${var.build_dir}/${each.key}"


# --- secrets and settings -----------------------------------------------------------------------


def _provided_env(name: str, spec: dict[str, Any]) -> set[str]:
    catalog = tf.catalog()
    scheduled = {
        job["function"] for job in catalog["schedules"].values() if job["function"] in catalog["functions"]
    }
    provided = set(spec["secrets"]) | set(spec.get("optional_secrets", {})) | set(spec["settings"])
    provided |= ALWAYS_SET
    if name in scheduled:
        provided |= SCHEDULER_ENV
    if spec["publishes"]:
        provided |= PUBLISHER_ENV
    return provided


def test_platform_sets_the_environment_the_checks_assume() -> None:
    env = tf.module_calls(tf.load_dir(tf.MODULES / "platform"))["function"]["env"]
    for var in ALWAYS_SET | SCHEDULER_ENV | PUBLISHER_ENV:
        assert f"{var} =" in env, var
    settings = tf.locals_of(tf.load_dir(tf.MODULES / "platform"))["settings"]
    for var in DERIVED_SETTINGS:
        assert f"{var} =" in settings, var


def test_concurrency_can_be_raised_per_environment_and_threads_and_pool_follow_it() -> None:
    """A function serving more than one request per instance gets a gunicorn thread per request
    and a pool of TURN_CONNECTIONS per thread, as the local stack sizes its own (a turn holds
    that many main-pool connections at once; fewer starve the pool until its 30 s timeout)."""
    platform = tf.load_dir(tf.MODULES / "platform")
    local = tf.locals_of(platform)
    assert local["connections_per_request"] == TURN_CONNECTIONS
    assert "var.function_overrides[name].concurrency" in local["concurrency"]
    call = tf.module_calls(platform)["function"]
    assert call["concurrency"] == "${local.concurrency[each.key]}"
    assert (
        "local.concurrency[each.key] > 1 ? {THREADS = tostring(local.concurrency[each.key]), "
        "DATABASE_POOL_MAX = tostring(local.connections_per_request * local.concurrency[each.key])} : {}"
    ) in call["env"]
    # The override is typed the same in the module and in each environment's root.
    roots = [tf.MODULES / "platform", *(tf.ROOT / "terraform" / "envs" / env for env in ("dev", "prod"))]
    for root in roots:
        override_type = tf.variables(tf.load_dir(root))["function_overrides"]["type"]
        assert "concurrency = optional(number)" in override_type, root
    # DATABASE_POOL_MAX is a setting the code reads (shared/config.py).
    assert "database_pool_max" in Settings.model_fields


@pytest.mark.parametrize(
    "function", [f for f in discover_functions() if (tf.ROOT / "functions" / f / "main.py").is_file()]
)
def test_every_setting_a_function_requires_is_declared(function: str) -> None:
    spec = tf.catalog()["functions"].get(function)
    assert spec is not None, f"{function} is not in the catalogue"
    needed = required_env(tf.ROOT / "functions" / function)
    missing = needed - _provided_env(function, spec)
    assert not missing, f"{function} requires {sorted(missing)}: declare them in terraform/modules/catalog"
    unused_secrets = set(spec["secrets"]) - needed
    assert not unused_secrets, f"{function} is granted secrets its code never reads: {sorted(unused_secrets)}"


def test_secret_ids_and_env_names_are_well_formed() -> None:
    for name, spec in tf.catalog()["functions"].items():
        for env_var, secret_id in {**spec["secrets"], **spec.get("optional_secrets", {})}.items():
            assert re.fullmatch(r"[A-Z][A-Z0-9_]*", env_var), (name, env_var)
            assert secret_id == env_var.lower().replace("_", "-"), (name, env_var, secret_id)
        for env_var in spec["settings"]:
            assert re.fullmatch(r"[A-Z][A-Z0-9_]*", env_var), (name, env_var)


def test_the_apify_token_is_optional_and_wired_only_to_the_social_butterfly() -> None:
    """The Social Butterfly runs disabled without APIFY_TOKEN: its secret container always exists, and the
    platform wires it only in an environment that lists it in enabled_optional_secrets."""
    functions = tf.catalog()["functions"]
    holders = {
        name
        for name, spec in functions.items()
        if "apify-token" in {*spec["secrets"].values(), *spec.get("optional_secrets", {}).values()}
    }
    assert holders == {"agent_social_butterfly"}
    assert functions["agent_social_butterfly"]["optional_secrets"] == {"APIFY_TOKEN": "apify-token"}
    assert "APIFY_TOKEN" not in functions["agent_social_butterfly"]["secrets"]
    assert "APIFY_TOKEN" in required_env(tf.ROOT / "functions" / "agent_social_butterfly")
    platform = (tf.MODULES / "platform" / "main.tf").read_text(encoding="utf-8")
    assert "values(f.optional_secrets)" in platform  # the container is created
    assert "contains(var.enabled_optional_secrets, id)" in platform  # wired only when enabled
    assert "local.function_secrets[each.key]" in platform
    for env in tf.ENVS:
        root = (tf.TERRAFORM / "envs" / env / "main.tf").read_text(encoding="utf-8")
        assert "enabled_optional_secrets   = var.enabled_optional_secrets" in root, env


def test_the_settings_check_exempts_exactly_the_derived_settings() -> None:
    """The plan-time check (every listed setting has a value) must not demand one Terraform
    derives itself: PROSPECT_UPLOAD_URL was derived in main.tf but missing from the exempt list,
    so a plan with the documented tfvars stopped at the check."""
    text = (tf.MODULES / "platform" / "variables.tf").read_text(encoding="utf-8")
    block = text[text.index('variable "settings"') :]
    block = block[: block.index("error_message")]
    exempt = re.search(r"contains\(\[([^\]]*)\], s\)", block)
    assert exempt is not None, "the settings check no longer names its exempt list"
    assert set(re.findall(r'"([A-Z_]+)"', exempt.group(1))) == DERIVED_SETTINGS


def test_every_non_derived_setting_has_a_value_in_each_environment() -> None:
    needed = {s for spec in tf.catalog()["functions"].values() for s in spec["settings"]} - DERIVED_SETTINGS
    for env in tf.ENVS:
        with (tf.TERRAFORM / "envs" / env / f"{env}.tfvars").open(encoding="utf-8") as handle:
            values = tf.clean(hcl2.load(handle))
        assert needed <= set(values["settings"]), (env, needed - set(values["settings"]))


# --- Pub/Sub routes ---------------------------------------------------------------------------


def test_every_routed_topic_exists_with_the_right_consumer() -> None:
    catalog = tf.catalog()
    expected = {topic: {"function": c.function, "ordered": c.ordered} for topic, c in routing.all_topics()}
    assert catalog["routes"] == expected
    assert catalog["dead_letter_recorder"] == routing.DEAD_LETTER_RECORDER_FUNCTION
    for route in catalog["routes"].values():
        assert route["function"] in catalog["functions"]


def test_no_planned_consumer_has_a_function_folder() -> None:
    folders = set(discover_functions())
    landed = sorted(c.function for c in routing.PLANNED_CONSUMERS.values() if c.function in folders)
    assert not landed, (
        f"{landed} exist under functions/: move them from PLANNED_CONSUMERS to CONSUMERS in "
        "shared/routing.py so that their topics, dead-letter topics and subscriptions are deployed"
    )
    for consumer in routing.CONSUMERS.values():
        assert consumer.function in folders, f"routed consumer {consumer.function} has no folder"


def test_topic_module_builds_dead_letter_topic_and_push_subscriptions() -> None:
    module = tf.load_dir(tf.MODULES / "topic")
    local = tf.locals_of(module)
    assert local["dead_letter_topic"] == routing.dead_letter_topic("${var.name}")
    assert (
        local["pubsub_agent"]
        == "serviceAccount:service-${var.project_number}@gcp-sa-pubsub.iam.gserviceaccount.com"
    )
    found = tf.resources(module)
    assert found[("google_pubsub_topic", "dead_letter")]["name"] == "${local.dead_letter_topic}"

    push = found[("google_pubsub_subscription", "push")]
    # The dead_letter_recorder finds the consumer from the source subscription Pub/Sub names
    # (routing.consumer_for_subscription): the names must be the code's.
    topic = routing.Consumer("probe", "probe", "${var.name}", ordered=False)
    assert push["name"] == routing.push_subscription(topic)
    assert found[("google_pubsub_topic", "main")]["name"] == "${var.name}"
    assert push["topic"] == "${google_pubsub_topic.main.id}"
    assert push["enable_message_ordering"] == "${var.ordered}"
    push_config = tf.single(push["push_config"])
    assert push_config["push_endpoint"] == "${var.push_endpoint}"
    assert (
        tf.single(push_config["oidc_token"])["service_account_email"] == "${var.push_service_account_email}"
    )
    dead_letter = tf.single(push["dead_letter_policy"])
    assert dead_letter["dead_letter_topic"] == "${google_pubsub_topic.dead_letter.id}"
    assert dead_letter["max_delivery_attempts"] == "${var.max_delivery_attempts}"
    retry = tf.single(push["retry_policy"])
    assert retry == {"minimum_backoff": "${var.minimum_backoff}", "maximum_backoff": "${var.maximum_backoff}"}

    recorder = found[("google_pubsub_subscription", "dead_letter")]
    recorder_name = recorder["name"].replace("${local.dead_letter_topic}", local["dead_letter_topic"])
    assert recorder_name == routing.dead_letter_subscription("${var.name}")
    assert recorder["topic"] == "${google_pubsub_topic.dead_letter.id}"
    recorder_push = tf.single(recorder["push_config"])
    assert recorder_push["push_endpoint"] == "${var.dead_letter_endpoint}"
    assert (
        tf.single(recorder_push["oidc_token"])["service_account_email"] == "${var.push_service_account_email}"
    )

    publisher = found[("google_pubsub_topic_iam_member", "agent_publishes_dead_letters")]
    assert publisher["topic"] == "${google_pubsub_topic.dead_letter.name}"
    assert publisher["role"] == "roles/pubsub.publisher" and publisher["member"] == "${local.pubsub_agent}"
    subscriber = found[("google_pubsub_subscription_iam_member", "agent_subscribes")]
    assert subscriber["subscription"] == "${google_pubsub_subscription.push.name}"
    assert subscriber["role"] == "roles/pubsub.subscriber" and subscriber["member"] == "${local.pubsub_agent}"


def _seconds(value: str) -> int:
    assert value.endswith("s"), value
    return int(value[:-1])


def test_retry_and_dead_letter_numbers_match_the_constants() -> None:
    declared = tf.variables(tf.load_dir(tf.MODULES / "topic"))
    assert declared["max_delivery_attempts"]["default"] == constants.PUBSUB_MAX_DELIVERY_ATTEMPTS
    assert _seconds(declared["minimum_backoff"]["default"]) == constants.PUBSUB_MIN_BACKOFF.total_seconds()
    assert _seconds(declared["maximum_backoff"]["default"]) == constants.PUBSUB_MAX_BACKOFF.total_seconds()
    assert declared["ack_deadline_seconds"]["default"] == constants.FUNCTION_TIMEOUT.total_seconds()


def test_platform_wires_each_route_to_its_consumer_and_the_recorder() -> None:
    call = tf.module_calls(tf.load_dir(tf.MODULES / "platform"))["topic"]
    assert call["for_each"] == "${var.routes}"
    assert call["push_endpoint"] == "${module.function[each.value.function].uri}"
    assert call["dead_letter_endpoint"] == "${module.function[var.dead_letter_recorder].uri}"
    assert call["ordered"] == "${each.value.ordered}"


# --- scheduler -------------------------------------------------------------------------------


def _cron_every(interval: timedelta) -> str:
    minutes = int(interval.total_seconds() // 60)
    return "* * * * *" if minutes == 1 else f"*/{minutes} * * * *"


def test_schedules_are_exactly_the_code_schedules() -> None:
    declared = tf.catalog()["schedules"]
    expected = {job.name: job for job in schedules.SCHEDULED_JOBS}
    assert set(declared) == set(expected)
    for name, job in expected.items():
        spec = declared[name]
        assert spec["function"] == job.function, name
        assert spec["schedule"] == job.cron, name
        assert spec["time_zone"] == job.time_zone, name
        assert json.loads(spec["body"]) == job.body, name
        assert spec["planned"] == job.planned, name


def test_sweep_cadence_matches_the_local_stack_constants() -> None:
    declared = tf.catalog()["schedules"]
    jobs = {job.name: job for job in schedules.SCHEDULED_JOBS}
    for name, interval in (
        ("event-sweep", constants.EVENT_SWEEP_EVERY),
        ("task-sweep", constants.TASK_SWEEP_EVERY),
        ("orchestrator-tick", constants.ORCHESTRATOR_TICK_EVERY),
        ("sms-sender-sweep", constants.SMS_SENDER_SWEEP_EVERY),
    ):
        assert declared[name]["schedule"] == _cron_every(interval), name
        assert jobs[name].every_seconds == interval.total_seconds(), name
    # the Account Manager's review: every 6 hours on the hour (agents.md §6)
    review = jobs["account-manager-review"]
    assert timedelta(hours=6) == constants.ACCOUNT_MANAGER_REVIEW_EVERY
    assert declared["account-manager-review"]["schedule"] == review.cron == "0 */6 * * *"
    assert review.every_seconds == constants.ACCOUNT_MANAGER_REVIEW_EVERY.total_seconds()


def test_every_scheduler_job_targets_an_existing_function() -> None:
    catalog = tf.catalog()
    folders = set(discover_functions())
    for name, spec in catalog["schedules"].items():
        if spec["planned"]:
            assert spec["function"] not in catalog["functions"], (
                f"{name}: {spec['function']} exists now - set planned = false here and in shared/schedules.py"
            )
        else:
            assert spec["function"] in catalog["functions"], name
            assert spec["function"] in folders, name
    scheduled = tf.locals_of(tf.load_dir(tf.MODULES / "platform"))["scheduled"]
    assert "if contains(keys(var.functions), s.function)" in scheduled


def test_scheduler_calls_carry_an_oidc_token_of_the_scheduler_account() -> None:
    job = tf.resources(tf.load_dir(tf.MODULES / "scheduler_job"))[("google_cloud_scheduler_job", "this")]
    target = tf.single(job["http_target"])
    token = tf.single(target["oidc_token"])
    assert token["service_account_email"] == "${var.service_account_email}"
    assert token["audience"] == "${var.audience}"
    assert target["uri"] == "${var.target_uri}"
    platform = tf.load_dir(tf.MODULES / "platform")
    call = tf.module_calls(platform)["schedule"]
    assert call["service_account_email"] == "${google_service_account.scheduler.email}"
    assert call["for_each"] == "${local.scheduled}"
    # The function checks the token against the same audience and signer (shared/adapters/oidc.py).
    assert call["target_uri"] == call["audience"] == "${local.function_url[each.value.function]}"
    env = tf.module_calls(platform)["function"]["env"]
    assert "SCHEDULER_OIDC_AUDIENCE = local.function_url[each.key]" in env
    assert "SCHEDULER_SERVICE_ACCOUNT_EMAIL = google_service_account.scheduler.email" in env
    assert "contains(local.scheduler_targets, each.key) ? {SCHEDULER_SERVICE_ACCOUNT_EMAIL" in env
    assert (
        tf.locals_of(platform)["scheduler_targets"]
        == "${toset([for s in values(local.scheduled) : s.function])}"
    )


# --- observability --------------------------------------------------------------------------------


def test_alerts_and_metrics_exist_with_the_spec_thresholds() -> None:
    platform = tf.load_dir(tf.MODULES / "platform")
    found = tf.resources(platform)
    assert "jsonPayload.cost_usd" in found[("google_logging_metric", "llm_cost_usd")]["value_extractor"]
    dead_letter_filter = found[("google_logging_metric", "dead_letters_recorded")]["filter"]
    # The metric counts one line per dead letter written, by a field every writer logs, not by a
    # list of messages (a list missed the tasks' and the malformed deliveries' dead letters).
    assert dead_letter_filter.endswith(f"AND jsonPayload.{DEAD_LETTER_RECORDED}=true"), dead_letter_filter
    writers = [
        p
        for p in (tf.ROOT / "shared").rglob("*.py")
        if re.search(
            r"\.dead_letters\.record\(|= record_task_dead_letter\(|and record_task_dead_letter\(",
            p.read_text(),
        )
    ]
    assert len(writers) >= 4, writers  # dispatcher, consumer, Pub/Sub's recorder, the task adapter
    for path in writers:
        assert "DEAD_LETTER_RECORDED" in path.read_text(encoding="utf-8"), (
            f"{path} writes dead letters but never logs {DEAD_LETTER_RECORDED}: the alert would miss them"
        )
    # The backlog condition watches the recorder's subscriptions by the code's naming.
    backlog = [
        tf.single(c["condition_threshold"])["filter"]
        for c in found[("google_monitoring_alert_policy", "dead_letters_waiting")]["conditions"]
        if "num_undelivered_messages" in tf.single(c["condition_threshold"])["filter"]
    ]
    suffix = routing.dead_letter_subscription("")
    assert len(backlog) == 1 and f'subscription_id=ends_with("{suffix}")' in backlog[0], backlog
    for policy in ("dead_letters", "dead_letters_waiting", "function_errors", "llm_cost"):
        assert ("google_monitoring_alert_policy", policy) in found
    assert ("google_billing_budget", "monthly") in found
    declared = tf.variables(platform)
    assert declared["dead_letter_alert_depth"]["default"] == constants.DEAD_LETTER_ALERT_DEPTH
    assert declared["error_rate_alert"]["default"] == constants.FUNCTION_ERROR_RATE_ALERT
    assert declared["daily_llm_cost_alert_usd"]["default"] == constants.DAILY_LLM_COST_ALERT_USD


def test_the_sms_sweep_ends_inside_sms_senders_timeout_whatever_twilio_answers() -> None:
    """The sweep starts no row after SMS_SWEEP_START_WITHIN. The last row it starts may be a
    stranded one: one read of Twilio's message list, then up to SMS_SEND_MAX_ATTEMPTS sends at the
    HTTP timeout with the longest wait between them (a Retry-After up to SMS_RETRY_AFTER_MAX, or the
    jittered backoff). All of that must end inside the function's timeout, or the sweep is cut off
    before it reports its backlogs (issue 15's alerts then see silence, not a backlog)."""
    from shared.adapters.twilio_sms import HTTP_TIMEOUT_SECONDS

    longest_wait = max(
        constants.SMS_RETRY_AFTER_MAX.total_seconds(),
        max(b.total_seconds() for b in constants.SMS_SEND_BACKOFF) * (1 + constants.SMS_SEND_JITTER),
    )
    tries = constants.SMS_SEND_MAX_ATTEMPTS
    last_row = HTTP_TIMEOUT_SECONDS + tries * HTTP_TIMEOUT_SECONDS + (tries - 1) * longest_wait
    timeout = tf.catalog()["functions"]["sms_sender"]["timeout_seconds"]
    assert constants.SMS_SWEEP_START_WITHIN.total_seconds() + last_row < timeout, (
        f"sms_sender's timeout ({timeout} s) must exceed the sweep's start window "
        f"({constants.SMS_SWEEP_START_WITHIN.total_seconds():.0f} s) plus its last row ({last_row:.0f} s)"
    )


def test_an_orchestrator_tick_ends_inside_its_timeout_after_one_slowest_model_call() -> None:
    """The tick starts no user after ORCHESTRATOR_START_WITHIN. The last user it starts makes at
    least one model call: every attempt at the configured timeout, with the longest wait between
    them (the SDK's own backoff, or the API's retry-after as our client caps it). That must end
    inside the function's timeout, or the tick reports no backlog."""
    from anthropic._constants import MAX_RETRY_DELAY

    from shared.config import Settings

    fields = Settings.model_fields
    attempt = float(fields["anthropic_timeout_seconds"].default)
    retries = int(fields["anthropic_max_retries"].default)
    longest_wait = max(MAX_RETRY_DELAY, constants.LLM_RETRY_AFTER_MAX.total_seconds())
    slowest_call = (retries + 1) * attempt + retries * longest_wait
    timeout = tf.catalog()["functions"]["message_orchestrator"]["timeout_seconds"]
    window = constants.ORCHESTRATOR_START_WITHIN.total_seconds()
    assert window + slowest_call < timeout, (
        f"message_orchestrator's timeout ({timeout} s) must exceed the tick's start window "
        f"({window:.0f} s) plus one slowest model call ({slowest_call:.0f} s)"
    )
