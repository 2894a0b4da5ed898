from __future__ import annotations

import subprocess

import pytest

from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.errors import MigrationError
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.steps import choose_transport
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.transport import StreamTransport

from .fakes import FakeCluster, FakeEngine, make_context, run_state


def choose(tmp_path, transport, address=None, password=None, data_bytes=None):
    ctx = make_context({"transport": transport})
    engine = FakeEngine(ctx, FakeCluster(tmp_path).kubectl)
    engine.source.address, engine.source.password = address, password
    return choose_transport.choose(run_state(ctx), engine, data_bytes)


def test_stream_when_the_catalog_says_so(tmp_path):
    transport, reason = choose(tmp_path, "stream")
    assert isinstance(transport, StreamTransport) and reason == "set by migration.transport"


def test_auto_falls_back_to_stream_without_an_address(tmp_path):
    transport, reason = choose(tmp_path, "auto")
    assert transport.name == "stream"
    assert reason == "no address at which the cluster could reach the source (set source.address)"


def test_auto_falls_back_to_stream_without_a_password(tmp_path):
    _transport, reason = choose(tmp_path, "auto", address="10.0.0.5:5433")
    assert reason == "no source password to give the in-cluster Job (set source.password)"


def test_job_asked_for_but_impossible_names_the_field(tmp_path):
    with pytest.raises(MigrationError) as raised:
        choose(tmp_path, "job")
    assert raised.value.phase == "transport"
    assert str(raised.value).startswith("workload 'shop' (stateshift_workloads[0]): migration.transport = 'job': the job transport "
                                        "was asked for but no address at which the cluster could reach the source")


def test_auto_streams_a_small_database_without_starting_a_job(tmp_path):
    run = run_state(make_context({"transport": "auto"}))
    engine = FakeEngine(run.ctx, FakeCluster(tmp_path).kubectl)
    engine.source.address, engine.source.password = "10.0.0.5:5433", "pw"
    transport, reason = choose_transport.choose(run, engine, 3 * 2**20)
    assert transport.name == "stream" and run.worker_pod is None
    assert reason == "auto: 3.0 MiB of tables (under 64 MiB) copy through the controller faster than a Job's pod starts"


def test_a_small_database_still_goes_by_job_when_the_catalog_says_so(tmp_path):
    with pytest.raises(MigrationError, match="the job transport was asked for"):
        choose(tmp_path, "job", data_bytes=1024)


def test_auto_does_not_stream_a_database_of_64_mib_for_its_size(tmp_path):
    _transport, reason = choose(tmp_path, "auto", data_bytes=choose_transport.SMALL_DATA_BYTES)
    assert reason == "no address at which the cluster could reach the source (set source.address)"


class StreamOnlyEngine(FakeEngine):
    name = "mongodb"
    job_transport = False


def test_an_engine_without_a_job_transport_streams_whatever_its_size(tmp_path):
    run = run_state(make_context({"transport": "auto"}))
    engine = StreamOnlyEngine(run.ctx, FakeCluster(tmp_path).kubectl)
    engine.source.address, engine.source.password = "10.0.0.5:27017", "pw"
    transport, reason = choose_transport.choose(run, engine, 10 * choose_transport.SMALL_DATA_BYTES)
    assert transport.name == "stream" and run.worker_pod is None
    assert reason == "a mongodb copy streams through the controller"


def test_an_engine_without_a_job_transport_refuses_job_naming_the_field(tmp_path):
    run = run_state(make_context({"transport": "job"}))
    with pytest.raises(MigrationError) as raised:
        choose_transport.choose(run, StreamOnlyEngine(run.ctx, FakeCluster(tmp_path).kubectl))
    assert "migration.transport = 'job': a mongodb copy always streams through the controller" in str(raised.value)


def test_a_pod_that_cannot_log_in_to_the_target_is_named_as_such_not_as_an_unreachable_source(tmp_path, monkeypatch):
    run = run_state(make_context({"transport": "job"}))
    engine = FakeEngine(run.ctx, FakeCluster(tmp_path).kubectl)
    removed = []
    monkeypatch.setattr(choose_transport.worker, "ready_pod", lambda kubectl, app: "shop-migration-x")
    monkeypatch.setattr(choose_transport.worker, "remove", lambda kubectl, app, wait=True: removed.append(app))
    monkeypatch.setattr(choose_transport, "run_process", lambda argv, **kwargs: subprocess.CompletedProcess(
        argv, choose_transport.TARGET_LOGIN_FAILED_RC, b"", b'psql: error: FATAL:  password authentication failed for user "shop"\n'))
    run.worker_created = True
    with pytest.raises(MigrationError) as raised:
        choose_transport.settle(run, engine, choose_transport.Choice(candidates=(("10.0.0.5", 5433),), probe="exit 3"))
    assert "the job transport was asked for but the migration pod cannot log in to the target: psql: error: FATAL:  " \
           'password authentication failed for user "shop"' in str(raised.value)
    assert "cannot reach the source" not in str(raised.value)
    assert removed == ["shop-postgresql"] and run.worker_pod is None
