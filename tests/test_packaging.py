"""The wheel as a user installs it: built from this repository, installed with its
dependencies into a fresh virtual environment outside the repository, run from elsewhere.

One environment per test session (building it takes most of this file's time); the test
that removes a core pack from it runs last.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
CASES = [ROOT / "examples" / "patient-mda5.yaml",
         *sorted((ROOT / "features" / "study_cases").glob("*.yaml"))]


def run(*args: str | Path, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items()
           if key not in ("PYTHONPATH", "VIRTUAL_ENV")}
    result = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True,
                            text=True, timeout=600, check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"{args} failed ({result.returncode}):\n{result.stdout}\n"
                             f"{result.stderr}")
    return result


class Installed:
    """A fresh virtual environment with only the wheel (and its dependencies) installed."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.bin = root / "venv" / "bin"
        self.elsewhere = root / "elsewhere"  # neither the repository nor the environment

    def jdm_cds(self, *args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run(self.bin / "jdm-cds", *args, cwd=self.elsewhere, check=check)

    def python(self, code: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run(self.bin / "python", "-c", code, cwd=self.elsewhere, check=check)

    def package_dir(self) -> Path:
        found = self.python("import jdm_cds, pathlib; print(pathlib.Path(jdm_cds.__file__)"
                            ".parent)").stdout.strip()
        return Path(found)


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    root = tmp_path_factory.mktemp("installed")
    assert ROOT.resolve() not in root.resolve().parents
    wheels = root / "wheels"
    # The build tools of the test environment, so that building needs no download.
    run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
        "--wheel-dir", wheels, ROOT, cwd=root)
    [wheel] = wheels.glob("jdm_cds-*.whl")
    venv.create(root / "venv", with_pip=True, symlinks=True)
    target = Installed(root)
    # Its dependencies come from the package registry (pip's cache where it has them).
    run(target.bin / "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
        wheel, cwd=root)
    target.elsewhere.mkdir()
    yield target


def evaluated(result: subprocess.CompletedProcess[str]) -> list[dict[str, object]]:
    entries = json.loads(result.stdout)
    assert isinstance(entries, list)
    return entries


def test_the_installed_wheel_judges_every_case_as_the_repository_does(
        installed: Installed) -> None:
    args = ["evaluate", "--jobs", "1", "--format", "json", *map(str, CASES)]
    here = run(Path(sys.executable).parent / "jdm-cds", *args, cwd=ROOT)

    there = installed.jdm_cds(*args)

    assert evaluated(there) == evaluated(here)
    assert len(evaluated(there)) == len(CASES)
    judged = evaluated(there)[0]["judgements"]
    assert isinstance(judged, dict) and judged["cid.printo"]["status"] == "met"


def test_the_installed_package_is_jdm_cds_and_not_engine(installed: Installed) -> None:
    missing = installed.python("import engine", check=False)

    assert missing.returncode != 0
    assert "No module named 'engine'" in missing.stderr
    assert installed.python("import jdm_cds, jdm_cds_plugins; print(jdm_cds.hookimpl)").stdout
    assert installed.root / "venv" in installed.package_dir().parents


def test_the_installed_core_packs_are_listed_with_their_versions(installed: Installed) -> None:
    listed = installed.jdm_cds("plugins", "list").stdout
    checked = installed.jdm_cds("rules", "check").stdout

    assert "core packs: cid 1.0.0, cid_window" in listed
    assert "withdrawal" in listed
    assert "(core): " in checked and ": 0 error(s)" in checked


def test_zz_a_missing_core_pack_stops_the_installed_engine(installed: Installed) -> None:
    # Runs last in this file: it breaks the environment on purpose.
    pack = installed.package_dir() / "rules" / "withdrawal.yaml"
    pack.unlink()

    result = installed.jdm_cds("evaluate", str(CASES[0]), check=False)
    checked = installed.jdm_cds("rules", "check", check=False)

    assert result.returncode == 2
    assert "core rule pack 'withdrawal' is missing" in result.stderr
    assert result.stdout == ""
    assert checked.returncode == 2
    assert "core rule pack 'withdrawal' is missing" in checked.stdout
