"""One engine per process: threads that come and go build nothing of their own.

Before, each new thread that called ``jdm_cds.evaluate`` built its own evaluator and
durable_rules ruleset, never freed: 3,000 short-lived threads reached 12.4 GB. Now every
thread shares the process's evaluator, whose runtime opens its sessions one at a time.
(``make soak`` measures the memory over 10,000 threads; this test counts what is built.)
"""

from __future__ import annotations

import threading

import pytest

import jdm_cds
import jdm_cds.runtime
from jdm_cds.defaults import default_evaluator
from jdm_cds.model.patient import Patient


def patient(number: int) -> Patient:
    return Patient.model_validate({
        "id": f"T{number}", "antibodies": ["negative"],
        "treatments": [{"drug": "ruxolitinib", "start": "2023-01-01"}],
        "visits": [{"date": "2022-12-20", "ck_u_l": 900, "cmas": 30},
                   {"date": "2023-05-01", "ck_u_l": 90 + number, "cmas": 49, "mmt8": 79,
                    "physician_global_vas": 0.1, "das_skin": 0}]})


def test_short_lived_threads_build_no_engine_and_share_its_sessions(
        monkeypatch: pytest.MonkeyPatch) -> None:
    expected = {n: jdm_cds.evaluate(patient(n)).judgements["cid.printo"].status
                for n in range(0, 120, 7)}
    built: list[str] = []
    create = jdm_cds.runtime.core.create_ruleset

    def counting(*args: object) -> object:
        built.append("ruleset")
        return create(*args)

    monkeypatch.setattr(jdm_cds.runtime.core, "create_ruleset", counting)
    found: dict[int, str] = {}

    def one(number: int) -> None:
        found[number] = jdm_cds.evaluate(patient(number)).judgements["cid.printo"].status

    for start in range(0, 120, 7 * 4):
        threads = [threading.Thread(target=one, args=(n,))
                   for n in range(start, min(start + 28, 120), 7)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert found == expected
    assert built == []  # no thread built an engine of its own
    runtime = default_evaluator().runtime
    assert runtime._live == {}  # every session ended
    assert len(runtime._idle) <= 2  # and was reused: one at a time needs one or two
