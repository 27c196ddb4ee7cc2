"""The compiled rule base on disk (jdm_cds.language.cache): it gives exactly what compiling
gives, for exactly the same inputs, and is never read when it is not ours or not whole."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from jdm_cds.evaluate import Evaluator
from jdm_cds.language import cache
from jdm_cds.language.compiler import RuleBase
from jdm_cds.language.diagnostics import RuleLoadError
from jdm_cds.language.rulebase import RULES_DIR, Source, load_rulebase
from jdm_cds.model.reading import load_patient
from jdm_cds.plugins.manager import Plugins

ROOT = Path(__file__).resolve().parent.parent
CASES = sorted((ROOT / "features" / "study_cases").glob("*.yaml"))


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    where = tmp_path / "cache"
    monkeypatch.setenv(cache.CACHE_SETTING, str(where))
    return where


@pytest.fixture(scope="module")
def compiled() -> RuleBase:
    """The installed packs compiled without a cache."""
    return load_rulebase(Plugins.load().sources())


def same(a: RuleBase, b: RuleBase) -> bool:
    return (a.packs == b.packs and a.durable_ruleset() == b.durable_ruleset()
            and list(a.rules) == list(b.rules)
            and all(repr(a.rules[key]) == repr(b.rules[key]) for key in a.rules))


def test_a_cached_rule_base_judges_as_a_compiled_one(folder: Path,
                                                     compiled: RuleBase) -> None:
    plugins = Plugins.load()
    sources = plugins.sources()

    written = cache.cached_rulebase(sources)  # compiled, then stored
    assert [path.suffix for path in folder.iterdir()] == [".rulebase"]
    read = cache.cached_rulebase(sources)  # from the file
    assert read is not written
    assert same(read, compiled)
    assert same(written, compiled)

    fresh, cached = Evaluator(compiled, plugins.guidance), Evaluator(read, plugins.guidance)
    for case in CASES:
        patient = load_patient(case)
        assert cached.evaluate(patient).model_dump_json() == \
            fresh.evaluate(patient).model_dump_json(), case.name


def test_a_changed_pack_or_plugin_set_is_another_key(folder: Path, tmp_path: Path) -> None:
    packs = tmp_path / "packs"
    shutil.copytree(RULES_DIR, packs, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    sources: list[Source] = [(path, None) for path in sorted(packs.glob("*.yaml"))]
    before = cache.cached_rulebase(sources)
    key = cache.cache_key(sources)

    cid = packs / "cid.yaml"
    text = cid.read_text()
    assert "version: " in text
    cid.write_text(text.replace("version: ", "version: 9", 1))  # one pack's bytes
    assert cache.cache_key(sources) != key
    after = cache.cached_rulebase(sources)
    assert same(after, load_rulebase(sources))
    assert {p.version for p in after.packs} != {p.version for p in before.packs}

    assert cache.cache_key(sources[:-1]) != cache.cache_key(sources)  # a pack fewer
    assert cache.cache_key([(path, "site") for path, _ in sources]) != \
        cache.cache_key(sources)  # the same files from a plugin


def test_a_pack_with_errors_is_refused_every_time_and_never_stored(
        folder: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text((RULES_DIR / "cid.yaml").read_text().replace("rules:", "rulez:", 1))
    for _ in range(2):
        with pytest.raises(RuleLoadError):
            cache.cached_rulebase([(broken, None)])
    assert not folder.exists() or list(folder.iterdir()) == []


def test_a_torn_or_altered_file_is_not_read(folder: Path, compiled: RuleBase) -> None:
    sources = Plugins.load().sources()
    cache.cached_rulebase(sources)
    (stored,) = folder.iterdir()
    data = bytearray(stored.read_bytes())
    data[-10] ^= 0xFF  # the payload no longer matches its digest
    stored.write_bytes(bytes(data))
    assert cache._read(stored) is None
    assert same(cache.cached_rulebase(sources), compiled)  # and written again
    assert cache._read(stored) is not None

    stored.write_bytes(stored.read_bytes()[:1000])
    assert cache._read(stored) is None


def test_a_cache_others_can_write_is_not_used(folder: Path) -> None:
    sources = Plugins.load().sources()
    cache.cached_rulebase(sources)
    (stored,) = folder.iterdir()
    folder.chmod(0o777)
    assert cache._read(stored) is None
    folder.chmod(0o700)
    stored.chmod(0o666)
    assert cache._read(stored) is None
    stored.chmod(0o600)
    assert cache._read(stored) is not None


def test_no_cache_when_the_setting_is_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(cache.CACHE_SETTING, "")
    assert cache.cache_dir() is None
    monkeypatch.delenv(cache.CACHE_SETTING)
    monkeypatch.setenv("XDG_CACHE_HOME", "/somewhere")
    assert cache.cache_dir() == Path("/somewhere/jdm-cds")
