"""From a patient to the facts the engine matches."""
