"""A clinician's own tags in a feature file are registered as markers (--strict-markers
refuses only a misspelt -m, never a feature file)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from features.conftest import feature_tags


def test_tags_of_feature_files_in_reach_are_found(tmp_path: Path) -> None:
    mine = tmp_path / "my.feature"
    mine.write_text("@ward-7 @my_clinic\nFeature: mine\n  @follow_up\n  Scenario: x\n"
                    "    Given a step with an @not_a_tag inside\n")
    tags = feature_tags(SimpleNamespace(args=[str(mine)]))  # type: ignore[arg-type]
    assert {"ward-7", "my_clinic", "follow_up"} <= tags
    assert "not_a_tag" not in tags
    assert {"printo", "step_library"} <= tags  # the project's own feature files too
