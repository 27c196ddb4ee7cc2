"""``jdm-cds fhir``: patient files as FHIR Bundles, and the FHIR code mapping checked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from jdm_cds.cli.common import load_fhir_mapping, report_error, stderr, stdout
from jdm_cds.cli.options import FhirMappingPath
from jdm_cds.model.reading import PatientFileError, load_patient

fhir_app = typer.Typer(no_args_is_help=True, help="FHIR R4: export patients, check the "
                       "code mapping.")


@fhir_app.command("export")
def export(
    patient_file: Annotated[Path, typer.Argument(help="A patient file (YAML or JSON).")],
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Write the Bundle to "
                                                "this file (default: standard output).")] = None,
    fhir_mapping: FhirMappingPath = None,
) -> None:
    """Write the patient as a FHIR R4 collection Bundle (JSON)."""
    from jdm_cds.interop.fhir.export import bundle_from_patient

    mapping = load_fhir_mapping(fhir_mapping)
    try:
        patient = load_patient(patient_file)
    except PatientFileError as problem:
        report_error(problem)
        raise typer.Exit(1) from None
    text = json.dumps(bundle_from_patient(patient, mapping), indent=2, ensure_ascii=False) + "\n"
    if output is None:
        print(text, end="")
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        stderr.print(f"{output}: cannot write: {exc.strerror or exc}", style="red",
                     markup=False, highlight=False)
        raise typer.Exit(1) from None


@fhir_app.command("check-mapping")
def check_mapping(
    path: Annotated[Path | None, typer.Argument(help="A mapping file (default: the built-in "
                                                "one).")] = None,
) -> None:
    """Validate a FHIR mapping file: every error at once, and the codes not verified."""
    from jdm_cds.interop.fhir.mapping import MappingError, load_mapping

    try:
        mapping = load_mapping(path)
    except MappingError as error:
        for diagnostic in error.diagnostics:
            stderr.print(str(diagnostic), style="red", markup=False, highlight=False)
        raise typer.Exit(1) from None
    for warning in mapping.warnings:
        stdout.print(str(warning), style="yellow", markup=False, highlight=False)
    stdout.print(f"{mapping.source}: ok ({len(mapping.codes)} codes, "
                 f"{len(mapping.warnings)} not verified)", markup=False, highlight=False)
