"""How many cases a property test runs: its share of ``make test``, or a long campaign.

``make fuzz`` sets ``JDM_CDS_FUZZ=1`` and runs the tests marked ``fuzz``; each such test takes
its settings from ``campaign()`` so that the same test is a quick check in ``make test`` and a
long campaign under ``make fuzz``.
"""

import os

from hypothesis import HealthCheck, settings

FUZZ = os.environ.get("JDM_CDS_FUZZ") == "1"


def campaign(examples: int, fuzz_examples: int) -> settings:
    """Hypothesis settings: ``examples`` cases in ``make test``, ``fuzz_examples`` in a campaign."""
    return settings(
        max_examples=fuzz_examples if FUZZ else examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
