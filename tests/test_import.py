"""Bulk import: every record accounted for, in order, across chunks and workers; outputs atomic and repeatable."""

from __future__ import annotations

import gzip
import io
import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from runstep_validator import validate
from runstep_validator.cli import run
from runstep_validator.core.models import RunStep
from runstep_validator.importing import Importer, iter_validate

from .support import EXAMPLES

VALID = json.dumps(json.loads((EXAMPLES / "tool_calls_function.json").read_bytes())).encode()
MESSAGE = json.dumps(json.loads((EXAMPLES / "message_creation.json").read_bytes())).encode()
INVALID = json.dumps(json.loads((EXAMPLES / "invalid_tool_calls.json").read_bytes())).encode()


def numbered(count: int, every_invalid: int = 10) -> list[bytes]:
    """Distinct records (each with its own id) so that order is visible; every tenth is invalid."""
    records = []
    for number in range(count):
        document = json.loads(INVALID if number % every_invalid == 3 else VALID)
        document["id"] = f"step_{number:06}"
        records.append(json.dumps(document).encode())
    return records


def do_import(tmp_path: Path, *inputs: str, workers: int = 1, extra: tuple[str, ...] = ()) -> tuple[int, str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    argv = ["import", *inputs, "--accepted", str(tmp_path / "ok.jsonl"), "--rejected", str(tmp_path / "bad.jsonl")]
    code = run([*argv, "--workers", str(workers), *extra], stdout, stderr)
    return code, stdout.getvalue(), stderr.getvalue()


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_counts_and_order_across_chunks_and_workers(tmp_path: Path, workers: int) -> None:
    records = numbered(500)
    source = tmp_path / "in.jsonl"
    source.write_bytes(b"\n".join(records) + b"\n")

    tally = Importer(workers=workers, block_bytes=4096).run([str(source)], tmp_path / "ok", tmp_path / "bad")

    assert (tally.records, tally.accepted, tally.rejected) == (500, 450, 50)
    assert (tmp_path / "ok").read_bytes().splitlines() == [r for n, r in enumerate(records) if n % 10 != 3]
    rejected = [json.loads(line) for line in (tmp_path / "bad").read_bytes().splitlines()]
    assert [entry["line"] for entry in rejected] == list(range(4, 501, 10))
    assert [entry["text"].encode() for entry in rejected] == [r for n, r in enumerate(records) if n % 10 == 3]


def test_gzip_crlf_missing_final_newline_and_a_malformed_line(tmp_path: Path) -> None:
    body = VALID + b"\r\n" + b'{"id": "step_x", "object": \r\n' + b"\r\n" + MESSAGE  # no final newline
    (tmp_path / "in.ndjson.gz").write_bytes(gzip.compress(body))

    code, out, _ = do_import(tmp_path, str(tmp_path / "in.ndjson.gz"))

    assert code == 1
    assert (tmp_path / "ok.jsonl").read_bytes() == VALID + b"\r\n" + MESSAGE + b"\n"  # as read; a last line gets one
    (entry,) = [json.loads(line) for line in (tmp_path / "bad.jsonl").read_bytes().splitlines()]
    assert (entry["line"], entry["text"]) == (2, '{"id": "step_x", "object": ')
    assert entry["errors"][0]["code"] == "invalid-json"
    assert "records                3" in out


def test_empty_input_is_all_accepted_and_writes_empty_outputs(tmp_path: Path) -> None:
    (tmp_path / "in.jsonl").write_bytes(b"")

    code, _, _ = do_import(tmp_path, str(tmp_path / "in.jsonl"), extra=("--report", str(tmp_path / "r.json")))

    assert code == 0
    assert (tmp_path / "ok.jsonl").read_bytes() == b""
    assert (tmp_path / "bad.jsonl").read_bytes() == b""
    assert json.loads((tmp_path / "r.json").read_text())["records"] == 0


def test_json_array_and_list_response_inputs(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(json.dumps([json.loads(VALID), json.loads(INVALID)], indent=2))
    (tmp_path / "b.json.gz").write_bytes(gzip.compress(b'{"object": "list", "data": [' + MESSAGE + b"]}"))

    code, _, _ = do_import(tmp_path, str(tmp_path / "a.json"), str(tmp_path / "b.json.gz"))

    assert code == 1
    accepted = (tmp_path / "ok.jsonl").read_bytes().splitlines()
    assert [json.loads(line) for line in accepted] == [json.loads(VALID), json.loads(MESSAGE)]
    assert json.loads((tmp_path / "bad.jsonl").read_bytes())["line"] == 60  # where the second member starts


def test_rerun_gives_byte_identical_outputs(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_bytes(b"\n".join(numbered(300)))
    outputs = []
    for attempt in range(2):
        code, _, _ = do_import(tmp_path, str(source), workers=2, extra=("--report", str(tmp_path / "r.json")))
        assert code == 1, attempt
        outputs.append([(tmp_path / name).read_bytes() for name in ("ok.jsonl", "bad.jsonl", "r.json")])

    assert outputs[0] == outputs[1]


def test_fixed_rejected_lines_import_again(tmp_path: Path) -> None:
    (tmp_path / "in.jsonl").write_bytes(VALID + b"\n" + INVALID + b"\n")
    do_import(tmp_path, str(tmp_path / "in.jsonl"))
    entry = json.loads((tmp_path / "bad.jsonl").read_bytes())
    fixed = json.loads(entry["text"])
    fixed.update(status="completed", usage={"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3})
    fixed["step_details"]["tool_calls"][2]["function"]["output"] = "42"
    entry["text"] = json.dumps(fixed)
    (tmp_path / "fixed.jsonl").write_text(json.dumps(entry) + "\n")

    code, _, _ = do_import(tmp_path, str(tmp_path / "fixed.jsonl"), extra=("--unwrap-rejected",))

    assert code == 0
    assert json.loads((tmp_path / "ok.jsonl").read_bytes()) == fixed


def test_unreadable_input_is_exit_2_and_leaves_no_outputs(tmp_path: Path) -> None:
    code, _, err = do_import(tmp_path, str(tmp_path / "missing.jsonl"))

    assert code == 2
    assert "No such file or directory" in err
    assert sorted(path.name for path in tmp_path.iterdir()) == []


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_run_leaves_no_outputs(tmp_path: Path, sig: signal.Signals) -> None:
    source = tmp_path / "big.jsonl"
    with source.open("wb") as stream:
        for _ in range(200):
            stream.write(b"\n".join([VALID] * 1000) + b"\n")
    command = [sys.executable, "-m", "runstep_validator", "import", str(source), "--workers", "2"]
    command += ["--accepted", str(tmp_path / "ok.jsonl"), "--rejected", str(tmp_path / "bad.jsonl")]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while not list(tmp_path.glob(".ok.jsonl.*.partial")) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    process.send_signal(sig)
    _, err = process.communicate(timeout=60)

    assert process.returncode == 128 + sig
    assert f"interrupted by {sig.name}; no output was written" in err.decode()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["big.jsonl"]


def test_library_api_validates_and_types_in_one_pass() -> None:
    lines: list[bytes | str] = [VALID + b"\n", b"\n", "not json\n", INVALID.decode() + "\n"]

    results = list(iter_validate(lines))

    assert [(r.index, r.line, r.valid) for r in results] == [(0, 1, True), (1, 3, False), (2, 4, False)]
    assert isinstance(results[0].step, RunStep)
    assert results[1].step is None
    assert results[2].report.errors[0].instance_location == "/status"
    # Placed as every surface places them: the record's line, the value's column.
    alone = [(unit.line, unit.column) for unit in validate(INVALID).errors]
    assert [(unit.line, unit.column) for unit in results[2].report.errors] == [
        (line + 3, column) for line, column in alone if line is not None
    ]
    assert len(alone) == 3


def test_library_api_reads_binary_files(tmp_path: Path) -> None:
    (tmp_path / "in.jsonl").write_bytes(b"\n".join(numbered(20)))

    with (tmp_path / "in.jsonl").open("rb") as stream:
        verdicts = [result.valid for result in iter_validate(stream)]

    assert verdicts == [number % 10 != 3 for number in range(20)]


def test_library_api_reads_text_files(tmp_path: Path) -> None:
    (tmp_path / "in.jsonl").write_bytes(b"\n".join(numbered(20)))

    with (tmp_path / "in.jsonl").open(encoding="utf-8") as stream:  # an iterable of lines, as its signature says
        verdicts = [result.valid for result in iter_validate(stream)]

    assert verdicts == [number % 10 != 3 for number in range(20)]


def test_a_rejected_line_is_a_record_of_its_own_unless_asked_to_unwrap(tmp_path: Path) -> None:
    entry = {"source": "x.jsonl", "line": 1, "text": VALID.decode(), "errors": [], "warnings": []}
    (tmp_path / "in.jsonl").write_text(json.dumps(entry) + "\n")

    code, _, said = do_import(tmp_path, str(tmp_path / "in.jsonl"))
    assert code == 1
    # What was probably meant is said once, after the summary: the verdicts stay what they are.
    assert said.splitlines()[-1] == (
        "runstep-validator: 1 rejected record is a line of a --rejected file: "
        "import again with --unwrap-rejected to check the record it holds"
    )
    code, _, said = do_import(tmp_path, str(tmp_path / "in.jsonl"), extra=("--unwrap-rejected",))
    assert code == 0
    assert "--unwrap-rejected" not in said


@pytest.mark.parametrize(
    ("accepted", "rejected", "message"),
    [
        ("same.jsonl", "same.jsonl", "--accepted {d}/same.jsonl and --rejected {d}/same.jsonl are the same file"),
        ("in.jsonl", "bad.jsonl", "--accepted {d}/in.jsonl and input {d}/in.jsonl are the same file"),
        ("link.jsonl", "bad.jsonl", "--accepted {d}/link.jsonl and input {d}/in.jsonl are the same file"),
    ],
    ids=["accepted-is-rejected", "accepted-is-input", "through-a-link"],
)
def test_outputs_that_collide_are_refused_before_anything_is_touched(
    tmp_path: Path, accepted: str, rejected: str, message: str
) -> None:
    original = VALID + b"\n" + INVALID + b"\n"
    (tmp_path / "in.jsonl").write_bytes(original)
    (tmp_path / "link.jsonl").symlink_to(tmp_path / "in.jsonl")
    stdout, stderr = io.StringIO(), io.StringIO()
    argv = ["import", str(tmp_path / "in.jsonl"), "--accepted", str(tmp_path / accepted)]

    code = run([*argv, "--rejected", str(tmp_path / rejected)], stdout, stderr)

    assert code == 2
    assert message.format(d=tmp_path) in stderr.getvalue()
    assert (tmp_path / "in.jsonl").read_bytes() == original
    assert not (tmp_path / "same.jsonl").exists()


def test_crlf_records_pass_through_byte_for_byte(tmp_path: Path) -> None:
    (tmp_path / "in.jsonl").write_bytes(VALID + b"\r\n" + INVALID + b"\r\n" + VALID + b"\r\n")

    assert do_import(tmp_path, str(tmp_path / "in.jsonl"))[0] == 1
    assert (tmp_path / "ok.jsonl").read_bytes() == VALID + b"\r\n" + VALID + b"\r\n"


@pytest.mark.parametrize("damage", ["truncated", "corrupt"])
@pytest.mark.parametrize("command", ["import", "validate"])
def test_a_damaged_gzip_names_the_file_and_leaves_nothing(tmp_path: Path, damage: str, command: str) -> None:
    packed = gzip.compress((VALID + b"\n") * 2000)
    broken = packed[:700] if damage == "truncated" else packed[:40] + bytes(200) + packed[240:]
    source = tmp_path / "in.jsonl.gz"
    source.write_bytes(broken)
    stdout, stderr = io.StringIO(), io.StringIO()
    argv = [command, str(source)]
    if command == "import":
        argv += ["--accepted", str(tmp_path / "ok.jsonl"), "--rejected", str(tmp_path / "bad.jsonl")]

    code = run(argv, stdout, stderr)

    assert code == 2
    assert str(source) in stdout.getvalue() + stderr.getvalue()
    assert "gzip" in stdout.getvalue() + stderr.getvalue()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["in.jsonl.gz"]


def test_a_json_array_is_streamed_item_by_item(tmp_path: Path) -> None:
    (tmp_path / "in.json").write_bytes(b"[\n" + VALID + b",\n" + INVALID + b"\n]\n")

    assert do_import(tmp_path, str(tmp_path / "in.json"))[0] == 1
    assert (tmp_path / "ok.jsonl").read_bytes() == VALID + b"\n"
    assert json.loads((tmp_path / "bad.jsonl").read_bytes())["line"] == 3


def test_event_streams_are_left_to_validate(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(EXAMPLES / "run.sse", folder / "run.sse")
    shutil.copy(EXAMPLES / "steps.jsonl", folder / "steps.jsonl")
    outputs = ["--accepted", str(tmp_path / "a.jsonl"), "--rejected", str(tmp_path / "r.jsonl")]

    named = io.StringIO()
    assert run(["import", str(folder / "run.sse"), *outputs], io.StringIO(), named) == 2
    assert "is an event stream by its name: import loads" in named.getvalue()
    assert not (tmp_path / "a.jsonl").exists()
    summary, note = io.StringIO(), io.StringIO()
    assert run(["import", str(folder), *outputs], summary, note) == 1
    assert "1 event stream file(s) (*.sse) left out" in note.getvalue()
    assert "records                2" in summary.getvalue()


@pytest.mark.parametrize("workers", [1, 2])
def test_the_import_and_iter_validate_take_a_profile_with_its_own_schema_set(
    tmp_path: Path, workers: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from runstep_validator import Profile, SchemaSet  # noqa: PLC0415

    folder = tmp_path / "schemas"
    folder.mkdir()
    schema = {
        "$id": "https://example.test/loose_step.schema.json",
        "type": "object",
        "required": ["id", "object"],
        "properties": {"id": {"type": "string"}, "object": {"const": "thread.run.step"}},
    }
    (folder / "loose_step.schema.json").write_text(json.dumps(schema))
    profile = Profile(schemas=SchemaSet.load(folder))
    bare = [b'{"id": "step_%d", "object": "thread.run.step"}' % n for n in range(40)]
    source = tmp_path / "in.jsonl"
    source.write_bytes(b"\n".join([*bare, b'{"object": "thread.run.step"}']) + b"\n")
    pickled: list[Profile] = []  # a custom schema set is its documents when pickled: tens of kilobytes
    reduce = Profile.__reduce__

    def counted(self: Profile) -> Any:
        pickled.append(self)
        return reduce(self)

    monkeypatch.setattr(Profile, "__reduce__", counted)

    tally = Importer(profile=profile, workers=workers, block_bytes=256).run(
        [str(source)], tmp_path / "ok", tmp_path / "bad"
    )

    assert (tally.records, tally.accepted, tally.rejected) == (41, 40, 1)  # the shipped schemas would reject all
    assert len(pickled) <= (0 if workers == 1 else workers)  # once per worker at most, not once per block (16 here)
    assert [result.valid for result in iter_validate(bare[:2], profile=profile)] == [True, True]
    assert [result.valid for result in iter_validate(bare[:2])] == [False, False]


@pytest.mark.parametrize("workers", [1, 2])
def test_a_truncated_document_in_a_folder_is_a_rejected_record_naming_it(tmp_path: Path, workers: int) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.jsonl").write_bytes(VALID + b"\n" + MESSAGE + b"\n")
    truncated = b'{"id": "step_1", "object": "thread.run.st'  # a file cut short while it was written
    (folder / "b.json").write_bytes(truncated)
    (folder / "c.json").write_bytes(b"[\n" + VALID + b",\n" + MESSAGE + b"\n" + VALID + b"\n]\n")  # a comma lost

    code, out, err = do_import(tmp_path, str(folder), workers=workers, extra=("--report", str(tmp_path / "r.json")))

    assert code == 1, err
    assert err == ""
    accepted = (tmp_path / "ok.jsonl").read_bytes().splitlines()
    assert accepted == [VALID, MESSAGE, VALID, MESSAGE]
    rejected = [json.loads(line) for line in (tmp_path / "bad.jsonl").read_bytes().splitlines()]
    assert [(entry["source"], entry["line"]) for entry in rejected] == [
        (str(folder / "b.json"), 1),
        (str(folder / "c.json"), 4),  # where the comma is missing: what follows is the rejected record
    ]
    assert rejected[0]["text"] == truncated.decode()  # nothing the user gave is lost
    assert [entry["errors"][0]["code"] for entry in rejected] == ["invalid-json", "invalid-json"]
    assert "unterminated string" in rejected[0]["errors"][0]["error"]
    assert "expecting ',' delimiter" in rejected[1]["errors"][0]["error"]
    report = json.loads((tmp_path / "r.json").read_bytes())
    assert (report["records"], report["accepted"], report["rejected"], report["accounted"]) == (6, 4, 2, True)
    assert "records                6" in out


@pytest.mark.parametrize("body", [b'{"a": 1,\n', b'[{"object": "thread.run.step"},\n{"id": "step_cut\n\n'])
def test_the_rest_of_a_document_that_breaks_off_is_rejected_verbatim(tmp_path: Path, body: bytes) -> None:
    """Its text as the file has it, to its end: its trailing newlines were dropped, and its error, placed at the end
    of the input, pointed past the end of the text it was given with."""
    source = tmp_path / "broken.json"
    source.write_bytes(body)
    argv = ["import", str(source), "--accepted", str(tmp_path / "ok.jsonl"), "--rejected", str(tmp_path / "bad.jsonl")]

    assert run(argv, io.StringIO(), io.StringIO()) == 1
    entry = json.loads((tmp_path / "bad.jsonl").read_text().split("\n")[-2])

    assert body.decode().endswith(entry["text"])
    assert entry["text"].endswith("\n")
