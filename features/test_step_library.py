"""The step library and its documentation (features/README.md) agree, and are unambiguous."""

import re
from pathlib import Path

import pytest

from features.steps.coverage import rules_to_cover
from features.steps.library import LIBRARY, StepDoc, unmatched_step_message
from features.steps.tags import AREA_TAGS

README = (Path(__file__).parent / "README.md").read_text(encoding="utf-8")


def sentence(doc: StepDoc) -> str:
    return doc.example.splitlines()[0]


@pytest.mark.parametrize("doc", LIBRARY, ids=[sentence(d) for d in LIBRARY])
def test_example_matches_its_step_and_no_other(doc: StepDoc) -> None:
    matching = [other for other in LIBRARY if other.keyword == doc.keyword
                and re.fullmatch(other.pattern, sentence(doc))]
    assert matching == [doc]


@pytest.mark.parametrize("doc", LIBRARY, ids=[sentence(d) for d in LIBRARY])
def test_readme_shows_the_example(doc: StepDoc) -> None:
    assert f"{doc.keyword} {sentence(doc)}" in README


def test_readme_names_every_rule_and_tag() -> None:
    undocumented = [rule for rule in rules_to_cover() if f"`{rule}`" not in README]
    assert undocumented == []
    assert [tag for tag in AREA_TAGS if f"`{tag}`" not in README] == []


def test_an_unmatched_sentence_gets_the_closest_steps_and_the_whole_list() -> None:
    message = unmatched_step_message("When", "the patient is evaluate", "x.feature, line 3")
    lines = message.splitlines()
    assert lines[0] == 'No step matches "When the patient is evaluate" (x.feature, line 3).'
    assert lines[2] == "    When the patient is evaluated"
    assert lines[3] == "        (Judges the patient at the last visit.)"
    assert all(f"    {d.keyword} {sentence(d)}" in lines for d in LIBRARY)
