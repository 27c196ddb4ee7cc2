"""Start-up of one evaluation: each rule compiled once, nothing imported that the command
does not use, and the same rule base either way."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from jdm_cds.language import compiler
from jdm_cds.language.rulebase import load_rulebase, read_packs
from jdm_cds.plugins.manager import Plugins

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "patient-mda5.yaml"

# What `jdm-cds evaluate PATIENT.yaml` never needs (FHIR input, Parquet, Dask, the service,
# figures, property tests, schema checks, the process pool: one file runs here; what only
# diff compares; typer, whose parser the program's path for `evaluate FILE...` does without).
NOT_FOR_EVALUATE = ("fhir", "fhir_core", "pyarrow", "pandas", "dask", "distributed", "httpx",
                    "fastapi", "uvicorn", "sqlalchemy", "matplotlib", "hypothesis",
                    "jsonschema", "jdm_cds.interop.fhir.reader", "jdm_cds.service",
                    "multiprocessing", "jdm_cds.cohort.parallel", "jdm_cds.cohort.compare",
                    "typer", "click")


# What it does not need either once the compiled rule base is in the cache: the pack
# reader, its checks and the models of the pack file.
NOT_FOR_A_CACHED_RULEBASE = ("jdm_cds.language.loader", "jdm_cds.language.validators",
                             "jdm_cds.language.pack_file")


def _evaluate_modules(env: dict[str, str] | None = None) -> set[str]:
    """The modules ``jdm-cds evaluate EXAMPLE`` loaded (it must exit 0)."""
    script = (
        "import os, sys\n"
        "from jdm_cds.cli import program\n"
        "program.end = lambda code: code  # the process goes on, to list its modules\n"
        "sys.argv = ['jdm-cds', 'evaluate', sys.argv[1]]\n"
        "out = os.dup(1)\n"
        "os.dup2(os.open(os.devnull, os.O_WRONLY), 1)\n"
        "code = program.main()\n"
        "sys.stdout.flush()\n"
        "os.dup2(out, 1)\n"
        "print(code, *sorted(sys.modules))\n")
    found = subprocess.run([sys.executable, "-c", script, str(EXAMPLE)], capture_output=True,
                           text=True, check=True, timeout=120, env=env).stdout.split()
    assert found[0] == "0"
    return set(found[1:])


def test_evaluate_imports_nothing_it_does_not_use() -> None:
    loaded = _evaluate_modules()
    assert "jdm_cds.evaluate" in loaded  # it did evaluate
    assert sorted(name for name in loaded for banned in NOT_FOR_EVALUATE
                  if name == banned or name.startswith(f"{banned}.")) == []


def test_a_report_to_a_pipe_or_file_is_written_without_rich() -> None:
    """rich styles nothing there: the text report is written without importing it (nor
    typer's rich integration); a setting that asks for styles brings rich back."""
    env = {name: value for name, value in os.environ.items()
           if name not in ("FORCE_COLOR", "TTY_COMPATIBLE")}
    plain = _evaluate_modules(env)
    styled = _evaluate_modules({**env, "FORCE_COLOR": "1"})

    assert "jdm_cds.report.text" in plain  # it did write a text report
    assert sorted(name for name in plain if name == "rich" or name.startswith("rich.")) == []
    assert "rich.console" in styled  # the test can fail


def test_a_cached_rule_base_is_read_without_the_pack_reader(tmp_path: Path) -> None:
    env = {**os.environ, "JDM_CDS_CACHE_DIR": str(tmp_path)}
    cold = _evaluate_modules(env)  # compiles, and stores the rule base
    warm = _evaluate_modules(env)

    assert set(NOT_FOR_A_CACHED_RULEBASE) <= cold  # the test can fail
    assert "jdm_cds.evaluate" in warm
    assert sorted(warm.intersection(NOT_FOR_A_CACHED_RULEBASE)) == []


@pytest.fixture(scope="module")
def installed() -> tuple[list[compiler.RulePack], compiler.RuleBase]:
    """The installed packs, and their rule base compiled on a resolver of its own."""
    packs, _ = read_packs(Plugins.load().sources())
    return packs, compiler.compile_packs(packs)


def test_each_rule_is_compiled_once_into_the_same_rule_base(
        monkeypatch: pytest.MonkeyPatch,
        installed: tuple[list[compiler.RulePack], compiler.RuleBase]) -> None:
    sources = Plugins.load().sources()
    fresh = installed[1]

    compiled: list[str] = []
    original = compiler.compile_rule

    def counted(resolver: compiler.Resolver, rule: compiler.Rule,
                pack: compiler.RulePack) -> compiler.CompiledRule:
        compiled.append(rule.id)
        return original(resolver, rule, pack)

    monkeypatch.setattr(compiler, "compile_rule", counted)
    loaded = load_rulebase(sources)  # validated (its size checked by compiling), compiled

    assert sorted(compiled) == sorted(fresh.rules)  # once each
    assert loaded.durable_ruleset() == fresh.durable_ruleset()
    assert list(loaded.rules) == list(fresh.rules)
    for rule_id, rule in loaded.rules.items():
        assert (rule.paths, rule.leaves, rule.tests, rule.reasons, rule.leaf_criteria) == (
            fresh.rules[rule_id].paths, fresh.rules[rule_id].leaves,
            fresh.rules[rule_id].tests, fresh.rules[rule_id].reasons,
            fresh.rules[rule_id].leaf_criteria)


def test_a_resolver_of_other_packs_is_not_reused(
        installed: tuple[list[compiler.RulePack], compiler.RuleBase]) -> None:
    packs, fresh = installed
    other = compiler.Resolver(packs[:-1])
    assert not other.reads(packs)
    assert not compiler.Resolver(packs[::-1]).reads(packs)
    assert compiler.Resolver(packs).reads(packs)
    assert compiler.compile_packs(packs, other).durable_ruleset() == fresh.durable_ruleset()


def test_no_model_field_defaults_to_a_built_in_factory() -> None:
    """pydantic reads a built-in's signature (``list``, ``dict``) by tokenizing its text:
    each such default factory costs start-up far more than a function of ours."""
    import inspect

    from pydantic import BaseModel

    from jdm_cds.model import assessment, patient

    models = [cls for module in (assessment, patient) for cls in vars(module).values()
              if inspect.isclass(cls) and issubclass(cls, BaseModel) and cls is not BaseModel]
    assert len(models) > 10  # the test can fail
    built_in = sorted(f"{model.__name__}.{name}" for model in models
                      for name, field in model.model_fields.items()
                      if inspect.isbuiltin(field.default_factory)
                      or getattr(field.default_factory, "__module__", None) == "builtins")
    assert built_in == []
