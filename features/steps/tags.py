"""The area tags a feature file may use (each rule id is a tag too)."""

# Area tags: `pytest -m printo` runs one area. Every rule id is a tag too (`@cid.printo`).
AREA_TAGS = {
    "cid": "clinically inactive disease at a visit",
    "printo": "PRINTO criteria for clinically inactive disease (3 of 4)",
    "p_cid": "P-CID: physician global mandatory plus 2 of 3",
    "skin": "skin Disease Activity Score in the study's definition of CID",
    "missing_data": "missing data: indeterminate, never a failure",
    "window": "CID within 6 months of the JAK-inhibitor start",
    "response": "2016 ACR/EULAR total improvement score and category",
    "withdrawal": "withdrawal of plasma exchange, immunoadsorption and steroids",
    "safety": "safety alerts on JAK inhibitors",
    "antibody": "antibody-specific guidance from the built-in plugins",
    "plugins": "plugin loading, disabling and failure isolation",
    "bad_input": "invalid patient data: clear errors, never a traceback",
    "study": "the study's ten reconstructed cases",
    "cohort": "the cohort summary of the study cases",
    "step_library": "scenarios written only from features/README.md",
    "fhir": "FHIR R4 records as EHRs send them (features/fhir.feature)",
}
