"""Each fast path of an evaluation gives what the general way it replaces gives."""

import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jdm_cds.evaluate import _PLACEHOLDER, _fill, _show
from tests.campaign import campaign

_NAMES = ("ck_u_l", "dose", "x", "_a1")
_VALUES = st.one_of(st.none(), st.integers(), st.floats(allow_nan=False),
                    st.text(max_size=5), st.lists(st.integers(), max_size=3))
# Messages with placeholders, braces that are not placeholders, and plain text.
_PIECES = st.one_of(st.text(alphabet="ab {}.:_", max_size=6),
                    st.sampled_from([f"{{{name}}}" for name in (*_NAMES, "unknown")]),
                    st.sampled_from(["{", "}", "{x.y}", "{1a}", "{{x}}", "{ x}"]))


@pytest.mark.fuzz
@campaign(500, 20_000)
@given(pieces=st.lists(_PIECES, max_size=8),
       fact=st.dictionaries(st.sampled_from(_NAMES), _VALUES))
def test_a_message_split_once_fills_as_a_pattern_substitution(pieces: list[str],
                                                              fact: dict[str, Any]) -> None:
    text = "".join(pieces)
    expected = _PLACEHOLDER.sub(lambda m: _show(fact.get(m.group(1))), text)

    assert _fill(tuple(_PLACEHOLDER.split(text)), fact) == expected


def test_a_placeholder_is_a_plain_name_only() -> None:
    fact = {"x": 1.5, "y": [1, 2]}
    assert _fill(tuple(_PLACEHOLDER.split("{x} and {y}, {x.y} {z}")), fact) == \
        "1.5 and 1, 2, {x.y} unknown"
    assert re.fullmatch(_PLACEHOLDER, "{x}")
