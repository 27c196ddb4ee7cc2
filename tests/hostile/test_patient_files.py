"""Hostile and careless patient files: each is read as YAML 1.2 reads it, or refused as an
input error naming the file, while the other patients of the run are still evaluated.

Every case here changed a value silently, hung, exhausted memory or lost the batch before.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from jdm_cds.cli import app
from jdm_cds.model import reading, yaml12
from jdm_cds.model.reading import (
    PatientFileError,
    Problem,
    ReadLimits,
    iter_jsonl,
    load_patient,
    parse_json,
)

ROOT = Path(__file__).parent.parent.parent
EXAMPLE = ROOT / "examples" / "patient-mda5.yaml"


def problems(path: Path, limits: ReadLimits | None = None) -> list[Problem]:
    with pytest.raises(PatientFileError) as caught:
        load_patient(path, limits)
    return caught.value.problems


def write(tmp_path: Path, text: str, name: str = "p.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def evaluate(*args: str) -> Any:
    return CliRunner().invoke(app, ["evaluate", "--jobs", "1", *args])


def test_a_leading_zero_is_decimal_not_octal(tmp_path: Path) -> None:
    # 0170 was read as 120: PRINTO then counted CK as normal and judged `met`.
    path = write(tmp_path, "id: p\nvisits:\n  - {date: 2020-01-30, ck_u_l: 0170, cmas: 40,"
                 " mmt8: 79, physician_global_vas: 0.1}\n")

    result = evaluate(str(path), "--format", "json")

    [assessment] = json.loads(result.stdout)
    assert assessment["judgements"]["cid.printo"]["because"]["facts"]["ck_u_l"] == 170
    assert assessment["judgements"]["cid.printo"]["status"] == "not_met"


@pytest.mark.parametrize(("field", "scalar", "where"), [
    ("ck_u_l", "1:30", "visits[0].ck_u_l"),  # sexagesimal 90 in YAML 1.1
    ("ck_u_l", "1_000", "visits[0].ck_u_l"),
    ("cmas", "=", "visits[0].cmas"),
    ("sex", "no", "sex"),  # false in YAML 1.1
    ("sex", "off", "sex"),
])
def test_yaml_1_1_scalars_are_text_refused_by_their_field(
        tmp_path: Path, field: str, scalar: str, where: str) -> None:
    visit = f"{field}: {scalar}, " if field != "sex" else ""
    top = f"{field}: {scalar}\n" if field == "sex" else ""
    path = write(tmp_path, f"id: p\n{top}visits:\n  - {{{visit}date: 2020-01-30}}\n")

    [problem] = problems(path)

    assert problem.field == where
    assert repr(scalar) in problem.message


def test_yaml_1_2_numbers_and_booleans(tmp_path: Path) -> None:
    text = "a: 0o17\nb: 0x1F\nc: 1e3\nd: -.5\ne: TRUE\nf: False\ng: ~\nh: 2020-01-30\ni: 0170\n"
    for loader in (yaml12.PyLoader12, yaml12.Loader12):
        assert yaml12.load(text, loader, loader) == {
            "a": 15, "b": 31, "c": 1000.0, "d": -0.5, "e": True, "f": False, "g": None,
            "h": "2020-01-30", "i": 170}


ALIAS_BOMB = "x: &a [x,x,x,x,x,x,x,x,x,x]\n" + "".join(
    f"x{i}: &{chr(98 + i)} [{','.join([f'*{chr(97 + i)}'] * 10)}]\n" for i in range(9))


def test_an_alias_bomb_is_refused_fast(tmp_path: Path) -> None:
    path = write(tmp_path, "id: p\nvisits: [{date: 2020-01-30}]\n" + ALIAS_BOMB)

    started = time.process_time()
    [problem] = problems(path)

    assert problem.message == ("yaml syntax error at line 6, column 5: aliases expand to more "
                               "than 10,000 nodes")
    assert time.process_time() - started < 5  # a bound against a hang, not a speed target


def test_deep_nesting_is_refused_with_a_line(tmp_path: Path) -> None:
    path = write(tmp_path, "id: p\nvisits: " + "[" * 900 + "]" * 900 + "\n")

    [problem] = problems(path)

    assert problem.message.startswith("yaml syntax error at line 2, ")
    assert problem.message.endswith("nesting deeper than 100 levels")


def test_a_file_larger_than_the_limit_is_refused_before_parsing(tmp_path: Path) -> None:
    path = write(tmp_path, "id: p\nvisits: [{date: 2020-01-30}]\n" + "#" * 2000 + "\n")

    [problem] = problems(path, ReadLimits(max_bytes=1000))

    assert problem.message.startswith("file is 2,036 bytes, more than the limit of 1,000 "
                                      "(--max-file-mb)")


def test_the_default_file_limit_is_5_mb(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    with path.open("w") as file:
        file.write("id: p\nvisits: [{date: 2020-01-30}]\n")
        file.write(("#" * 999 + "\n") * 5001)

    [problem] = problems(path)

    assert "more than the limit of 5,000,000" in problem.message


def test_more_visits_than_the_limit_is_an_input_error(tmp_path: Path) -> None:
    visits = ", ".join(f"{{date: 2020-01-{day:02d}}}" for day in range(1, 6))
    path = write(tmp_path, f"id: p\nvisits: [{visits}]\n")

    [problem] = problems(path, ReadLimits(max_visits=4))

    assert problem == Problem("visits", "5 visits, more than the limit of 4 (--max-visits)")
    assert load_patient(path, ReadLimits(max_visits=5)).id == "p"


def test_the_limits_are_command_line_options(tmp_path: Path) -> None:
    visits = ", ".join(f"{{date: 2020-01-{day:02d}}}" for day in range(1, 4))
    path = write(tmp_path, f"id: p\nvisits: [{visits}]\n")
    big = write(tmp_path, f"id: p\nvisits: [{visits}]\n" + "#" * 1000, "big.yaml")
    try:
        few = evaluate("--max-visits", "2", str(path))
        small = evaluate("--max-file-mb", "0.001", str(big))
    finally:
        os.environ.pop(reading.MAX_VISITS_SETTING, None)
        os.environ.pop(reading.MAX_FILE_MB_SETTING, None)

    assert few.exit_code == small.exit_code == 1
    assert "3 visits, more than the limit of 2 (--max-visits)" in few.stderr
    assert "more than the limit of 1,000 (--max-file-mb)" in small.stderr


def _stdin(text: str | bytes, *args: str) -> Any:
    """Standard input, then the example file: a batch of two."""
    try:
        return CliRunner().invoke(app, ["evaluate", "--jobs", "1", *args, "-", str(EXAMPLE)],
                                  input=text)
    finally:
        os.environ.pop(reading.MAX_VISITS_SETTING, None)
        os.environ.pop(reading.MAX_FILE_MB_SETTING, None)


def test_standard_input_is_held_to_the_size_limit_of_a_file() -> None:
    text = EXAMPLE.read_text(encoding="utf-8").replace("EX-MDA5", "STDIN")
    exact = text + "#" * (2000 - len(text.encode()) - 1) + "\n"
    assert len(exact.encode()) == 2000

    at_limit = _stdin(exact, "--max-file-mb", "0.002", "--format", "jsonl")
    over = _stdin(exact + "\n", "--max-file-mb", "0.002", "--format", "jsonl")
    default = _stdin(b"id: p\n" + b"#" * 5_000_000, "--format", "jsonl")

    assert at_limit.exit_code == 0, at_limit.stderr
    assert [json.loads(line)["patient_id"] for line in at_limit.stdout.splitlines()] == [
        "STDIN", "EX-MDA5"]
    for result, limit in ((over, "2,000"), (default, "5,000,000")):
        assert result.exit_code == 1
        assert result.stderr == (f"<stdin>: -: input is more than the limit of {limit} bytes "
                                 "(--max-file-mb)\n")
        failed, evaluated = (json.loads(line) for line in result.stdout.splitlines())
        assert failed["file"] == "<stdin>" and evaluated["patient_id"] == "EX-MDA5"


def test_standard_input_is_held_to_the_visit_limit() -> None:
    visits = ", ".join(f"{{date: 2020-01-{day:02d}}}" for day in range(1, 5))

    result = _stdin(f"id: p\nvisits: [{visits}]\n", "--max-visits", "3")  # the example: 3

    assert result.exit_code == 1
    assert result.stderr == "<stdin>: visits: 4 visits, more than the limit of 3 (--max-visits)\n"
    assert "Patient EX-MDA5" in result.stdout


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "p.yaml"
    os.mkfifo(fifo)
    found: list[list[Problem]] = []
    reader = threading.Thread(target=lambda: found.append(problems(fifo)), daemon=True)

    reader.start()
    reader.join(timeout=30)

    assert found == [[Problem("-", "not a regular file (folders, FIFOs, devices and sockets "
                              "are not read)")]]


def test_a_device_is_refused_before_reading(tmp_path: Path) -> None:
    # /dev/zero named .yaml took 14 GB in 15 s.
    link = tmp_path / "zero.yaml"
    link.symlink_to("/dev/zero")

    assert problems(link) == [Problem("-", "not a regular file (folders, FIFOs, devices and "
                                      "sockets are not read)")]


def test_unreadable_and_out_of_range_files_cost_only_themselves(tmp_path: Path) -> None:
    # A JAK inhibitor started on 9999-12-01 raised OverflowError and lost the whole batch.
    far = write(tmp_path, "id: far\ntreatments: [{drug: ruxolitinib, start: 9999-12-01}]\n"
                "visits: [{date: 2020-01-30}]\n", "far.yaml")
    dangling = tmp_path / "gone.yaml"
    dangling.symlink_to(tmp_path / "nowhere.yaml")

    result = evaluate(str(far), str(dangling), str(EXAMPLE), "--format", "json")

    assert result.exit_code == 1
    entries = json.loads(result.stdout)
    assert [entry.get("patient_id") for entry in entries] == [None, None, "EX-MDA5"]
    assert "treatments[0].start: date 9999-12-01 is outside the range the engine computes " \
           "with (1900-01-01 to 2999-12-31)" in result.stderr
    assert f"{dangling}: -: cannot read file: No such file or directory" in result.stderr


def test_running_out_of_memory_is_not_a_parse_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "id: p\nvisits: [{date: 2020-01-30}]\n")

    def exhausted(*args: Any) -> Any:
        raise MemoryError

    monkeypatch.setattr(yaml12, "load", exhausted)

    assert problems(path) == [Problem("-", "not enough memory to read this file")]


@pytest.mark.parametrize("text", [
    '{"id": "p", "visits": [{"date": "2020-01-30", "ck_u_l": 1, "ck_u_l": 2}]}',
    '{"id": "a:b", "visits": [{"date": "2020-01-30"}], "id": "c"}',
])
def test_json_duplicate_keys_are_refused_at_any_depth(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text, "p.json")

    [problem] = problems(path)

    assert problem.message.startswith("cannot parse json: duplicate key")


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.text(alphabet=st.sampled_from('ab:"\\{}[],\n \u00e9')),
    lambda inner: st.lists(inner, max_size=4)
    | st.lists(st.tuples(st.sampled_from(["a", "b", "a:b", '"', "\\"]), inner), max_size=4),
    max_leaves=20)


def _encode(value: Any, ascii_only: bool = True, escaped_colons: bool = False) -> str:
    """JSON text; a list of pairs becomes an object, keeping repeated keys. Strings in
    ASCII (\\u escapes) or not, and with each colon escaped as \\u003a or not."""
    def string(text: str) -> str:
        written = json.dumps(text, ensure_ascii=ascii_only)
        return written.replace(":", "\\u003a") if escaped_colons else written

    if isinstance(value, list) and value and all(isinstance(v, tuple) for v in value):
        return "{" + ", ".join(f"{string(k)}: {_encode(v, ascii_only, escaped_colons)}"
                               for k, v in value) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_encode(v, ascii_only, escaped_colons) for v in value) + "]"
    if isinstance(value, str):
        return string(value)
    return json.dumps(value)


@settings(max_examples=300, deadline=None)
@given(JSON_VALUES, st.booleans(), st.booleans())
def test_the_fast_json_reader_agrees_with_the_standard_one(
        value: Any, ascii_only: bool, escaped_colons: bool) -> None:
    # Repeated keys, colons in keys and strings (written or escaped), non-ASCII text and
    # integers beyond 64 bits: orjson's reading is kept only when it is the standard one.
    text = _encode(value, ascii_only, escaped_colons)
    try:
        expected: Any = json.loads(text, object_pairs_hook=reading._reject_duplicate_keys)
    except ValueError as error:
        with pytest.raises(ValueError) as caught:
            parse_json(text)
        assert str(caught.value) == str(error)
    else:
        assert parse_json(text) == expected


@pytest.mark.parametrize("text", [
    '{"a": 1, "a": "x:y"}',  # the dropped member's colon in a string
    '{"a\\u003a": 1, "a": 2, "a": 3}',  # an escaped colon as many as the members dropped
    '{"a": {"b": 1, "b": {"c": 2}}}',
])
def test_a_duplicate_key_is_refused_whatever_the_colons_in_strings(text: str) -> None:
    with pytest.raises(ValueError, match="duplicate key"):
        parse_json(text)


def test_integers_beyond_64_bits_are_read_as_integers() -> None:
    assert parse_json('{"n": 123456789012345678901234}') == {"n": 123456789012345678901234}
    assert parse_json('[-9223372036854775809]') == [-9223372036854775809]
    # orjson reads them as floats: kept as the standard library reads them, 2**64 too
    # (the largest integer orjson reads as one is 2**64 - 1).
    for number in (2**64, 2**64 - 1, -(2**63) - 1, -(2**63), 10**30):
        for text in (f"[{number}]", f'{{"a": {number}, "b": 1e19}}', f'{{"e+": [{number}]}}'):
            read = parse_json(text)
            assert read == json.loads(text) and repr(read) == repr(json.loads(text))


SCALARS = st.sampled_from([
    "0170", "1:30", "1_000", "yes", "no", "on", "off", "y", "n", "=", "~", "null", "NULL",
    "true", "True", "TRUE", "tRue", "0o17", "0x1F", "0b11", "1e3", "1E3", "+1", "-0", ".5",
    "5.", ".inf", "-.INF", ".NaN", "2020-01-30", "2020-1-3", "12:30:00", "'0170'", '"yes"',
    "abc", "", "1.10", "0.1e-2", "+.5e+3", "0x", "0o8", "- x", "a b",
])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c", "d"]), SCALARS), max_size=6))
def test_the_c_and_python_yaml_parsers_read_the_same(pairs: list[tuple[str, str]]) -> None:
    text = "".join(f"{key}: {value}\n" for key, value in pairs)
    outcomes = []
    # The pure-Python parser alone, and the C parser as the readers use it.
    for loader in (yaml12.PyLoader12, None):
        try:
            outcomes.append(("ok", repr(yaml12.load(text, loader, loader))))
        except Exception as error:  # the same refusal, with the same words
            outcomes.append((type(error).__name__, str(error).splitlines()[0]))
    assert outcomes[0] == outcomes[1]


def test_every_example_reads_the_same_with_both_yaml_parsers() -> None:
    files = [EXAMPLE, *sorted((ROOT / "features" / "study_cases").glob("*.yaml"))]
    for path in files:
        text = path.read_text()
        assert yaml12.load(text, yaml12.PyLoader12, yaml12.PyLoader12) == \
            yaml12.load(text, yaml12.Loader12, yaml12.Loader12)


def test_json_lines_label_each_line(tmp_path: Path) -> None:
    good = '{"id": "a", "visits": [{"date": "2020-01-30"}]}'
    path = write(tmp_path, "\ufeff" + good + "\n\n" + '{"id": "b"}\n' + "{oops\n"
                 + good.replace('"a"', '"c"'), "c.jsonl")

    read = list(iter_jsonl(path))

    assert [label for label, _ in read] == [f"{path}:{n}" for n in (1, 3, 4, 5)]
    a, b, oops, c = (item for _, item in read)
    assert not isinstance(a, PatientFileError) and a.id == "a"
    assert not isinstance(c, PatientFileError) and c.id == "c"
    assert isinstance(b, PatientFileError)
    assert b.lines() == [f"{path}:3: visits: required field is missing"]
    assert isinstance(oops, PatientFileError)
    assert oops.lines()[0].startswith(f"{path}:4: -: json syntax error at line 1, column 2")


def test_json_lines_hold_each_line_to_the_limits(tmp_path: Path) -> None:
    good = '{"id": "a", "visits": [{"date": "2020-01-30"}]}'
    path = write(tmp_path, good + "\n" + '{"id": "' + "x" * 200 + '"}\n' + good, "c.jsonl")

    read = list(iter_jsonl(path, ReadLimits(max_bytes=100)))

    assert [label for label, _ in read] == [f"{path}:{n}" for n in (1, 2, 3)]
    assert isinstance(read[1][1], PatientFileError)
    assert "line is more than the limit of 100 bytes" in str(read[1][1])
    assert not isinstance(read[2][1], PatientFileError)
