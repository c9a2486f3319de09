"""Test harness: a throwaway PostgreSQL 15 cluster per test session, a migrated template
database, and a fresh clone of it per test (``CREATE DATABASE ... TEMPLATE``).

``DATABASE_URL``, if set, names a server to use instead of starting one; it must allow
CREATE DATABASE. No test touches the internet.
"""

from __future__ import annotations

import os
import random
import shutil
import uuid
from collections.abc import Iterator

import pytest
from _pytest.nodeid import coerce_node_id
from psycopg_pool import base as psycopg_pool_base

from shared import bootstrap, config
from shared.adapters import postgres
from tests.deps_support import anthropic_llm
from tools.fakes.anthropic_api import AnthropicFake
from tools.localstack import pgcluster
from tools.localstack import pubsub_emulator as pubsub_emulator_tool
from tools.localstack.migrate import migrate
from tools.localstack.pgcluster import PgCluster, free_port

TEMPLATE_DB = "yp_template"


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Make ``--dist loadgroup`` honour ``xdist_group`` again (on an xdist worker).

    xdist 3.8 groups by appending ``@<group>`` to each marked item's node id, which it writes to
    ``item._nodeid``; pytest 9.2 keeps the node id in ``item._id`` instead, so that write is lost
    and every marked test was scheduled on its own: the e2e modules each started their stacks on
    both workers at once and the fault suite built its stack twice. Here the suffix is set where
    pytest 9.2 reads it (pinned in requirements-dev.txt; an id that already ends with it, as a
    fixed xdist would leave it, is left alone)."""
    if not getattr(config.option, "loadgroup", False):
        return
    for item in items:
        names = sorted(
            {
                str(m.args[0] if m.args else m.kwargs.get("name", "default"))
                for m in item.iter_markers("xdist_group")
            }
        )
        if not names:
            continue
        suffix = "@" + "_".join(names)
        if item.nodeid.endswith(suffix):
            continue
        item._id = coerce_node_id(item.nodeid + suffix)


class PgServer:
    """Either our throwaway cluster or the server named by DATABASE_URL."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url

    def create_database(self, name: str, template: str | None = None) -> str:
        return pgcluster.create_database(self.admin_url, name, template=template, replace=template is None)

    def drop_database(self, name: str) -> None:
        pgcluster.drop_database(self.admin_url, name)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    external = os.environ.get("DATABASE_URL")
    if external:
        yield PgServer(external)
        return
    base = pgcluster.make_scratch_base()
    cluster = PgCluster(datadir=base / "data", port=free_port())
    cluster.init()
    cluster.start(fast=True)
    try:
        yield PgServer(cluster.admin_url)
    finally:
        cluster.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def template_db(pg_server: PgServer) -> Iterator[str]:
    name = f"{TEMPLATE_DB}_{uuid.uuid4().hex[:8]}"
    url = pg_server.create_database(name)
    try:
        migrate(url)
        yield name
    finally:
        pg_server.drop_database(name)  # on a DATABASE_URL server, leave nothing behind


@pytest.fixture
def database_url(pg_server: PgServer, template_db: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh, migrated database for this test; DATABASE_URL points at it."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    url = pg_server.create_database(name, template=template_db)
    monkeypatch.setenv("DATABASE_URL", url)
    config.reset_settings_cache()
    postgres.close_pool()
    try:
        yield url
    finally:
        postgres.close_pool()
        config.reset_settings_cache()
        pg_server.drop_database(name)


@pytest.fixture
def db(database_url: str) -> Iterator[postgres.Connection]:
    """An autocommit connection to this test's database, for arranging and asserting."""
    with postgres.connect(database_url, autocommit=True) as conn:
        yield conn


@pytest.fixture
def anthropic_fake() -> Iterator[AnthropicFake]:
    """A loopback Messages API (tools/fakes/anthropic_api.py), and the real adapter on it handed to
    the composition root (``bootstrap.override(llm=...)``): built from explicit settings (its base
    URL, a test key, a 5 s timeout, one retry; ``tests.deps_support.anthropic_llm``), no
    environment variable. ``composed_llm()`` returns it, and functions under test get it from
    ``bootstrap.deps()``. Queue answers with ``anthropic_fake.tool_use(...)`` / ``.reply(...)`` /
    ``.error(...)``; requests received are in ``anthropic_fake.requests``."""
    with AnthropicFake() as fake, bootstrap.override(llm=anthropic_llm(fake.base_url)):
        yield fake


@pytest.fixture(scope="session")
def pubsub_emulator_server() -> Iterator[pubsub_emulator_tool.PubSubEmulator]:
    """One Pub/Sub emulator per test session (per xdist worker)."""
    emulator = pubsub_emulator_tool.start(project="yp-test")
    try:
        yield emulator
    finally:
        pubsub_emulator_tool.stop(emulator)
        if emulator.data_dir is not None:
            shutil.rmtree(emulator.data_dir, ignore_errors=True)


@pytest.fixture
def pubsub_emulator(
    pubsub_emulator_server: pubsub_emulator_tool.PubSubEmulator, monkeypatch: pytest.MonkeyPatch
) -> Iterator[pubsub_emulator_tool.PubSubEmulator]:
    """The session's emulator with a project of this test's own (fresh topics and subscriptions):
    PUBSUB_EMULATOR_HOST and GOOGLE_CLOUD_PROJECT are set for the test. Mark such tests ``pubsub``."""
    from shared.adapters import pubsub

    project = f"yp-test-{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", pubsub_emulator_server.host_port)
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", project)
    config.reset_settings_cache()
    pubsub.reset_publisher()
    try:
        yield pubsub_emulator_tool.PubSubEmulator(
            pubsub_emulator_server.host, pubsub_emulator_server.port, project
        )
    finally:
        pubsub.reset_publisher()
        config.reset_settings_cache()


@pytest.fixture(autouse=True, scope="session")
def _pool_jitter_off_the_global_random() -> Iterator[None]:
    """psycopg_pool draws each new connection's lifetime jitter from the global ``random`` in
    its worker threads (``psycopg_pool/base.py``), which connect in the background: to replace a
    connection given back closed or expired, and to grow the pool. Hypothesis warns ("Do not use
    the `random` module inside strategies") when the global state moves while it draws an
    example, so a worker connecting during the next draw raised that warning now and then in CI.
    Here the pools draw from a generator of their own; the jitter itself is unchanged
    (``tests/integration/test_pool_jitter_random.py``)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(psycopg_pool_base, "random", random.Random().random)
        yield


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts from settings read afresh, with no real credentials in reach."""
    for var in ("ANTHROPIC_API_KEY", "TWILIO_AUTH_TOKEN", "STRIPE_SECRET_KEY", "APIFY_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    config.reset_settings_cache()
    bootstrap.reset()
    yield
    bootstrap.reset()
    config.reset_settings_cache()
