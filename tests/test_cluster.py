"""Dask: a real LocalCluster of two worker processes on 127.0.0.1 gives, byte for byte, the
JSON Lines of one process and of the process pool; a worker that differs in its plugins
stops the run before any patient is sent."""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from jdm_cds.bench import make_patient
from jdm_cds.cli import app
from jdm_cds.cohort.cluster import check_workers
from jdm_cds.cohort.work import EngineSpec, StartupFailure, Task, plugin_names

distributed = pytest.importorskip("distributed")

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "features" / "study_cases"
GENERATED = 300  # make bench-scale checks a cohort of 2,000 the same way


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       host="127.0.0.1", dashboard_address=None,
                                       silence_logs=logging.ERROR)
    with distributed.Client(cluster) as client:
        yield client
    cluster.close()


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("generated")
    rng = random.Random(14)
    for index in range(GENERATED):
        patient = make_patient(rng, index, 6)
        (folder / f"{patient.id}.json").write_bytes(orjson.dumps(patient.model_dump(
            mode="json", exclude_none=True, exclude_defaults=True)))
    return folder


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
    assert len(one[1].splitlines()) == 10 + GENERATED
    assert pool == one
    assert dask == one


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

