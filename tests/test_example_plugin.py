"""The example plugin package, pip-installed and found through real entry-point discovery.

The session fixture builds and installs examples/jdm-cds-example-plugin with pip into a
folder of its own (``--target``, offline), and the command line runs with that folder on
PYTHONPATH, where ``importlib.metadata`` finds its ``jdm_cds`` entry point exactly as in
site-packages. The project's .venv is left as it was, so other tests never see the
example's rules.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "jdm-cds-example-plugin"
JDM_CDS = Path(sys.executable).parent / "jdm-cds"


@pytest.fixture(scope="session")
def example_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("example-plugin")
    # pip builds in the source tree: build from a copy, so the repository stays clean.
    source = work / "source"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns(
        "build", "*.egg-info", "__pycache__", ".pytest_cache"))
    site = work / "site"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
         "--no-build-isolation", "--target", str(site), str(source)],
        capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return site


def run(site: Path, *args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(site), "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, env=env,
                          cwd=cwd, check=False)


def test_plugins_list_shows_the_installed_example_with_its_version(
        example_site: Path, tmp_path: Path) -> None:
    done = run(example_site, JDM_CDS, "plugins", "list", cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    [row] = [line for line in done.stdout.splitlines() if " example_ifn " in line]
    assert "jdm-cds-example-plugin" in row
    assert "0.2.0" in row
    # The built-in plugins load from another working directory too (editable install).
    assert " anti_mda5 " in done.stdout


def test_evaluate_json_has_the_example_guidance_and_rule(
        example_site: Path, tmp_path: Path) -> None:
    done = run(example_site, JDM_CDS, "evaluate", "--format", "json",
               ROOT / "examples" / "patient-mda5.yaml", cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    [data] = json.loads(done.stdout)
    [card] = [g for g in data["guidance"] if g["plugin"] == "example_ifn"]
    assert card["id"] == "example_ifn.not_a_response_marker"
    assert card["source"]["url"] == "https://doi.org/10.1093/rheumatology/keab116"
    [alert] = [a for a in data["alerts"] if a["rule"] == "example_ifn.measured_on_jak"]
    assert alert["plugin"] == "example_ifn"
    assert alert["summary"].startswith("IFN-\N{GREEK SMALL LETTER ALPHA} 4 fg/mL")
    assert data["errors"] == []


def test_the_example_can_be_disabled(example_site: Path, tmp_path: Path) -> None:
    done = run(example_site, JDM_CDS, "evaluate", "--format", "json", "--disable-plugin",
               "example_ifn", ROOT / "examples" / "patient-mda5.yaml", cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    [data] = json.loads(done.stdout)
    assert "example_ifn" not in {g["plugin"] for g in data["guidance"]}
    assert "example_ifn" not in {a["plugin"] for a in data["alerts"]}


def test_rules_check_includes_the_example_pack(example_site: Path, tmp_path: Path) -> None:
    with_example = run(example_site, JDM_CDS, "rules", "check", cwd=tmp_path)
    without = run(example_site, JDM_CDS, "rules", "check", "--disable-plugin", "example_ifn",
                  cwd=tmp_path)

    assert with_example.returncode == 0, with_example.stdout
    count = int(without.stdout.split(" file(s)")[0].split()[-1])
    assert f"{count + 1} file(s)" in with_example.stdout


def test_the_examples_own_gherkin_scenarios_pass(example_site: Path, tmp_path: Path) -> None:
    done = run(example_site, sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
               "--rootdir", EXAMPLE, EXAMPLE / "tests", cwd=tmp_path)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout


@pytest.mark.parametrize("name", ["pyproject.toml", "jdm_cds_example_plugin/rules.yaml",
                                  "jdm_cds_example_plugin/__init__.py",
                                  "features/ifn_alpha.feature",
                                  "tests/test_ifn_alpha_feature.py"])
def test_the_plugin_guide_quotes_the_example_as_it_is(name: str) -> None:
    guide = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")

    assert (EXAMPLE / name).read_text(encoding="utf-8").rstrip("\n") in guide
