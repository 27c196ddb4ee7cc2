"""Dask: a real LocalCluster of two worker processes on 127.0.0.1 gives, byte for byte, the
JSON Lines of one process and of the process pool (the study cases and 2,000 generated
patients); the cluster listens on loopback only, on free ports, and warns nothing; a worker
that differs in its plugins stops the run before any patient is sent."""

from __future__ import annotations

import random
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from jdm_cds.bench import make_patient
from jdm_cds.cli import app
from jdm_cds.cohort.cluster import check_workers, local_cluster
from jdm_cds.cohort.work import EngineSpec, StartupFailure, Task, plugin_names

distributed = pytest.importorskip("distributed")

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "features" / "study_cases"
GENERATED = 2_000


@pytest.fixture(scope="module")
def started() -> Iterator[tuple[Any, list[warnings.WarningMessage]]]:
    """The one LocalCluster of this module, as ``--scheduler dask`` starts it, and the
    warnings its start gave."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cluster = local_cluster(2)
    with distributed.Client(cluster) as client:
        yield client, caught
    cluster.close()


@pytest.fixture(scope="module")
def client(started: tuple[Any, list[warnings.WarningMessage]]) -> Any:
    return started[0]


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated cohort as one JSON Lines file (one file: reading it costs little)."""
    path = tmp_path_factory.mktemp("generated") / "cohort.jsonl"
    rng = random.Random(14)
    with path.open("wb") as sink:
        for index in range(GENERATED):
            patient = make_patient(rng, index, 6)
            sink.write(orjson.dumps(patient.model_dump(
                mode="json", exclude_none=True, exclude_defaults=True)) + b"\n")
    return path


def jsonl(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["evaluate", "--format", "jsonl", *map(str, args)])
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        result.exception)
    return result.exit_code, result.stdout


def test_dask_pool_and_one_process_are_byte_identical(client: Any, generated: Path) -> None:
    address = client.scheduler.address
    inputs = [CASES, generated]

    one = jsonl("--jobs", "1", *inputs)
    pool = jsonl("--jobs", "2", *inputs)
    dask = jsonl("--scheduler", address, *inputs)

    assert one[0] == 0
    lines = one[1].splitlines()
    assert len(lines) == 10 + GENERATED
    assert len({orjson.loads(line)["patient_id"] for line in lines}) == 10 + GENERATED
    assert pool == one
    assert dask == one


def test_the_local_cluster_opens_nothing_on_a_fixed_port_and_warns_nothing(
        started: tuple[Any, list[warnings.WarningMessage]]) -> None:
    client, caught = started
    http = client.cluster.scheduler.http_server  # started even without a dashboard

    assert [str(w.message) for w in caught] == []
    assert http.address == "127.0.0.1"
    assert http.port != 8787


def test_scheduler_dask_starts_its_own_local_cluster() -> None:
    assert jsonl("--scheduler", "dask", "--jobs", "1", CASES) == jsonl("--jobs", "1", CASES)


def test_a_worker_without_a_plugin_of_the_client_stops_the_run(client: Any) -> None:
    task = Task("assess")
    expected = plugin_names(EngineSpec())

    assert check_workers(client, task, expected) == 2
    with pytest.raises(StartupFailure) as raised:
        check_workers(client, task, [*expected, "site_extra"])
    lines = raised.value.lines
    assert len([line for line in lines if "lacks plugin(s) site_extra" in line]) == 2
    assert lines[-1] == "the Dask workers differ from this client: nothing was evaluated"

