"""What a patient is: vocabularies, models, and reading patient files."""
