"""FHIR input throughput beside YAML: ``python -m jdm_cds.interop.fhir.bench``.

Reading: the same patients written as YAML patient files and as FHIR Bundles (JSON, as
``jdm-cds fhir export`` writes them), each read back into the validated ``Patient`` (the
Bundle through ``fhir.resources`` R4B validation of every resource, the mapping and the UCUM
conversions); the target is a Bundle costing at most twice its YAML file. Then the same
files through to an assessment. ``--bulk N`` also writes a Bulk Data export of about N
resources and streams it, printing peak memory against the number of patients.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO

import yaml

from jdm_cds.interop.fhir.bulk import iter_bulk_patients
from jdm_cds.interop.fhir.export import bundle_from_patient
from jdm_cds.interop.fhir.files import load_fhir_file
from jdm_cds.interop.fhir.reader import patient_from_resources
from jdm_cds.model.patient import Patient
from jdm_cds.model.reading import load_patient

TARGET = 2.0  # a Bundle may cost at most twice the same patient's YAML file


def write_files(cohort: Sequence[Patient], folder: Path) -> tuple[list[Path], list[Path]]:
    yamls, bundles = [], []
    for n, patient in enumerate(cohort):
        data = patient.model_dump(mode="json", exclude_defaults=True)
        path = folder / f"p{n:06d}.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        yamls.append(path)
        path = folder / f"p{n:06d}.json"
        path.write_text(json.dumps(bundle_from_patient(patient)), encoding="utf-8")
        bundles.append(path)
    return yamls, bundles


def _timed(read: Callable[[Path], Patient], paths: Sequence[Path]) -> tuple[float, list[Patient]]:
    begin = time.process_time()
    patients = [read(p) for p in paths]
    return time.process_time() - begin, patients


def run(cohort: Sequence[Patient], evaluate: Callable[[Patient], object],
        out: Callable[[str], None] = print) -> float:
    """Prints reading and reading+evaluation rates for YAML and Bundles; returns the ratio
    of Bundle to YAML reading time."""
    with tempfile.TemporaryDirectory(prefix="jdm-cds-fhir-bench-") as tmp:
        yamls, bundles = write_files(cohort, Path(tmp))
        _timed(load_patient, yamls[:20])  # warm-up: imports, model classes, caches
        _timed(lambda p: load_fhir_file(p).patient, bundles[:20])
        evaluate(load_patient(yamls[0]))  # builds the evaluator before any timing
        yaml_s, from_yaml = _timed(load_patient, yamls)
        fhir_s, from_fhir = _timed(lambda p: load_fhir_file(p).patient, bundles)
        if from_yaml != from_fhir:
            raise SystemExit("FHIR bench: the Bundles did not read back as their YAML files")
        n = len(cohort)
        ratio = fhir_s / yaml_s
        verdict = "ok" if ratio <= TARGET else "OVER TARGET"
        out(f"reading {n:,} patients (CPU time): YAML {n / yaml_s:,.0f}/s "
            f"({yaml_s / n * 1e3:.2f} ms each), FHIR Bundle {n / fhir_s:,.0f}/s "
            f"({fhir_s / n * 1e3:.2f} ms each): Bundle = {ratio:.2f} x YAML ({verdict}, "
            f"target <= {TARGET:g}x)")
        begin = time.process_time()
        for path in yamls:
            evaluate(load_patient(path))
        yaml_e = time.process_time() - begin
        begin = time.process_time()
        for path in bundles:
            evaluate(load_fhir_file(path).patient)
        fhir_e = time.process_time() - begin
        out(f"file -> assessment (CPU time): YAML {n / yaml_e:,.0f} patients/s, FHIR Bundle "
            f"{n / fhir_e:,.0f} patients/s ({fhir_e / yaml_e:.2f} x)")
    return ratio


def bulk(resources: int, out: Callable[[str], None] = print) -> None:
    """Writes an export of about ``resources`` resources, streams it, prints peak memory."""
    from jdm_cds.bench import make_cohort, peak_mib, rss_mib

    sample = [bundle_from_patient(p) for p in make_cohort(50, 6, seed=3)]
    per_patient = sum(len(b["entry"]) for b in sample) / len(sample)
    patients = max(1, round(resources / per_patient))
    rng = random.Random(5)
    with tempfile.TemporaryDirectory(prefix="jdm-cds-bulk-bench-") as tmp:
        folder = Path(tmp)
        files: dict[str, IO[str]] = {}
        written = 0
        begin = time.perf_counter()
        for n in range(patients):
            bundle = sample[rng.randrange(len(sample))]
            pid = f"bulk-{n:07d}"
            for entry in bundle["entry"]:
                resource = dict(entry["resource"])
                kind = resource["resourceType"]
                resource["id"] = f"{pid}-{resource['id']}"
                if kind == "Patient":
                    resource["id"] = pid
                else:
                    resource["subject"] = {"reference": f"Patient/{pid}"}
                handle = files.get(kind)
                if handle is None:
                    handle = files[kind] = (folder / f"{kind}.ndjson").open("w")
                handle.write(json.dumps(resource) + "\n")
                written += 1
        for handle in files.values():
            handle.close()
        size = sum(f.stat().st_size for f in folder.iterdir()) / 2**20
        out(f"bulk export: {written:,} resources of {patients:,} patients, {size:.0f} MiB of "
            f"NDJSON, written in {time.perf_counter() - begin:.1f} s")
        start_rss = rss_mib()
        begin = time.perf_counter()
        checkpoints = {patients // 10, patients}
        for read, (label, group) in enumerate(iter_bulk_patients(folder), 1):
            patient_from_resources(group, label)
            if read in checkpoints:
                out(f"  {read:,} patients read in {time.perf_counter() - begin:.1f} s, "
                    f"RSS {rss_mib():.1f} MiB (at start {start_rss:.1f})")
        out(f"  peak memory (max RSS): {peak_mib():.1f} MiB")


def main(argv: Sequence[str] | None = None, out: Callable[[str], None] = print) -> int:
    parser = argparse.ArgumentParser(prog="python -m jdm_cds.interop.fhir.bench",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=int, default=500)
    parser.add_argument("--bulk", type=int, default=0, metavar="RESOURCES",
                        help="also stream a Bulk Data export of about this many resources")
    args = parser.parse_args(argv)
    from jdm_cds import evaluate
    from jdm_cds.bench import make_cohort

    run(make_cohort(args.patients, 6, seed=2), evaluate, out)
    if args.bulk:
        bulk(args.bulk, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
