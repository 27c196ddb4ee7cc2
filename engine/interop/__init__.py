"""Exchange with other systems' formats (FHIR R4). Only this package knows them."""
