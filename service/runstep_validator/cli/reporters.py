"""Rendering check results for people (text), for programs (json), for GitHub Actions (annotations), for code
scanning (SARIF 2.1.0), for test-report views (JUnit XML) and for GitLab's Code Quality widget."""

from __future__ import annotations

import hashlib
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final, Literal, Protocol, TextIO
from urllib.parse import quote

import msgspec

from .. import __version__
from ..core.messages import one_line
from ..core.report import OutputUnit, Report
from .checker import FileResult, RecordResult
from .rules import rule

Level = Literal["error", "warning"]
TOOL_NAME: Final = "runstep-validator"
INFORMATION_URI: Final = "https://runstep-validator.dev/"
SARIF_SCHEMA: Final = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
UNREADABLE: Final = "unreadable"


class Summary(msgspec.Struct, frozen=True):
    files: int
    records: int
    valid: int
    invalid: int
    errors: int
    warnings: int
    unreadable: int

    @classmethod
    def of(cls, results: Sequence[FileResult]) -> Summary:
        records = [record for result in results for record in result.records]  # every invalid one is among them
        invalid = sum(not record.valid for record in records)
        total = sum(result.total for result in results)
        return cls(
            files=len(results),
            records=total,
            valid=total - invalid,
            invalid=invalid,
            errors=sum(len(record.report.errors) for record in records),
            warnings=sum(len(record.report.warnings) for record in records),
            unreadable=sum(result.problem is not None for result in results),
        )

    def sentence(self) -> str:
        def count(number: int, noun: str) -> str:
            return f"{number} {noun}{'' if number == 1 else 's'}"

        text = (
            f"{count(self.files, 'file')}, {count(self.records, 'record')}: {self.valid} valid, {self.invalid} invalid "
            f"({count(self.errors, 'error')}, {count(self.warnings, 'warning')})"
        )
        return text + (f"; {count(self.unreadable, 'file')} unreadable" if self.unreadable else "")


@dataclass(frozen=True)
class Listing:
    """What a report lists: the results with warnings left out (`--quiet`) and errors past the first
    `max_errors` left out (each record keeps its verdict and says how many of its errors are unlisted), and the
    summary of everything found, listed or not."""

    results: Sequence[FileResult]
    summary: Summary
    unlisted: int = 0
    max_errors: int | None = None

    @classmethod
    def of(cls, results: Sequence[FileResult], quiet: bool = False, max_errors: int | None = None) -> Listing:
        summary = Summary.of(results)
        if not quiet and max_errors is None:
            return cls(results, summary)
        room = max_errors if max_errors is not None else -1  # -1: no limit
        listed: list[FileResult] = []
        unlisted = 0
        for result in results:
            records = []
            for record in result.records:
                errors = record.report.errors
                if room >= 0:
                    errors, room = errors[:room], max(room - len(errors), 0)
                cut = len(record.report.errors) - len(errors)
                unlisted += cut
                warnings = () if quiet else record.report.warnings
                report = Report(record.report.valid, record.report.schema, errors, warnings)
                records.append(replace(record, report=report, unlisted=record.unlisted + cut))
            listed.append(replace(result, records=records))
        return cls(listed, summary, unlisted, max_errors)

    def note(self) -> str | None:
        """What the listing left out, in words, or None when it lists every error."""
        if not self.unlisted:
            return None
        return (
            f"{self.unlisted} more error{'' if self.unlisted == 1 else 's'} not listed (--max-errors {self.max_errors})"
        )

    def sentence(self) -> str:
        note = self.note()
        return self.summary.sentence() + (f"; {note}" if note else "")

    def findings(self) -> Iterator[tuple[FileResult, RecordResult | None, OutputUnit, Level]]:
        """Every listed error and warning, in file and record order, and each unreadable file (as a unit with
        the code `unreadable`, no record), errors before warnings within a record."""
        for result in self.results:
            if result.problem is not None:
                yield result, None, OutputUnit("", "", f"cannot read: {result.problem}", code=UNREADABLE), "error"
            for record in result.records:
                for unit in record.report.errors:
                    yield result, record, unit, "error"
                for unit in record.report.warnings:
                    yield result, record, unit, "warning"


# A reader that goes away mid-document leaves one large write half done, and CPython (3.11-3.13) then drops the
# rest without raising: written a piece at a time, the next piece raises BrokenPipeError, and `main` says 141.
_PIECE: Final = 1 << 16


def _write_document(out: TextIO, text: str) -> None:
    for start in range(0, len(text), _PIECE):
        out.write(text[start : start + _PIECE])


class Reporter(Protocol):
    def report(self, listing: Listing, out: TextIO) -> None: ...


class TextReporter:
    """`path:line:col: /pointer: message`, one line per error and warning, then a summary line."""

    RED, YELLOW, BOLD, RESET = "\033[31m", "\033[33m", "\033[1m", "\033[0m"

    def __init__(self, color: bool) -> None:
        self.color = color

    def _paint(self, code: str, text: str) -> str:
        return f"{code}{text}{self.RESET}" if self.color else text

    def report(self, listing: Listing, out: TextIO) -> None:
        for result in listing.results:
            if result.problem is not None:
                out.write(
                    f"{one_line(result.path)}: {self._paint(self.RED, 'cannot read')}: {one_line(result.problem)}\n"
                )
            for record in result.records:
                for unit in record.report.errors:
                    out.write(f"{self._where(result.path, unit)} {self._paint(self.RED, quoted(record, unit))}\n")
                for unit in record.report.warnings:
                    warning = self._paint(self.YELLOW, "warning:")
                    out.write(f"{self._where(result.path, unit)} {warning} {quoted(record, unit)}\n")
        out.write(self._paint(self.BOLD, listing.sentence()) + "\n")

    @staticmethod
    def _where(path: str, unit: OutputUnit) -> str:
        return f"{one_line(path)}:{unit.line}:{unit.column}:"


class JSONReporter:
    """One document: per file, per record, the core's report shape (units with line and column); a summary."""

    def report(self, listing: Listing, out: TextIO) -> None:
        files: list[dict[str, Any]] = []
        for result in listing.results:
            entry: dict[str, Any] = {"path": result.path}
            if result.problem is not None:
                entry["problem"] = result.problem
            entry["records"] = [self._record(record) for record in result.records]
            files.append(entry)
        document: dict[str, Any] = {"files": files, "summary": msgspec.to_builtins(listing.summary)}
        if listing.unlisted:
            document["unlisted_errors"] = listing.unlisted
        _write_document(out, msgspec.json.format(msgspec.json.encode(document), indent=2).decode() + "\n")

    @staticmethod
    def _record(record: RecordResult) -> dict[str, Any]:
        entry: dict[str, Any] = {"index": record.index, "line": record.line}
        if record.event_name is not None:
            entry["eventName"] = record.event_name
        entry.update(record.report.to_dict())
        if record.unlisted:
            entry["unlisted_errors"] = record.unlisted
        return entry


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(one_line(text)).replace(":", "%3A").replace(",", "%2C")


class GitHubReporter:
    """GitHub Actions workflow commands: `::error file=...,line=...,col=...::message`, then the summary."""

    def report(self, listing: Listing, out: TextIO) -> None:
        for result in listing.results:
            path = _escape_property(result.path)
            if result.problem is not None:
                out.write(f"::error file={path}::{_escape_data('cannot read: ' + one_line(result.problem))}\n")
            for record in result.records:
                for kind, units in (("error", record.report.errors), ("warning", record.report.warnings)):
                    for unit in units:
                        where = f"file={path},line={unit.line},col={unit.column}"
                        out.write(f"::{kind} {where}::{_escape_data(quoted(record, unit))}\n")
        out.write(listing.sentence() + "\n")


def artifact_path(path: str) -> str:
    """A file as a report for a repository names it: relative to the working directory (where CI runs), with
    forward slashes; a path outside it stays absolute, standard input stays `-`."""
    if path == "-":
        return path
    given = Path(path)
    if given.is_absolute():
        try:
            return given.relative_to(Path.cwd()).as_posix()
        except ValueError:
            return given.as_posix()
    return given.as_posix()


def artifact_uri(path: str) -> str:
    """`artifact_path` as a URI reference: relative and percent-encoded, or a file: URI outside the working
    directory."""
    shown = artifact_path(path)
    return Path(shown).as_uri() if Path(shown).is_absolute() else quote(shown, safe="/")


def quoted(record: RecordResult | None, unit: OutputUnit) -> str:
    """A finding as people quote it: `pointer: message`, after the event it concerns for a stream's (as the page
    shows it); the message itself is every surface's."""
    if record is not None and record.event_name is not None:
        return one_line(f"{record.label}: {unit.describe()}")
    return one_line(unit.describe())


def _where(record: RecordResult | None, unit: OutputUnit) -> tuple[int, int]:
    """A unit's line and column, falling back to its record's line and then to the file's start."""
    return unit.line or (record.line if record is not None else 1) or 1, unit.column or 1


def fingerprints(listing: Listing) -> Iterator[str]:
    """One hash per finding of `listing.findings()`, in order: of the file, the code, the record (an event of a
    stream, or nothing), the pointer and the message, so that it stays the same when the run is repeated or lines
    are added above it; a counter among identical findings of a file makes it unique."""
    seen: dict[str, int] = {}
    for result, record, unit, level in listing.findings():
        label = record.label if record is not None and record.label else ""
        parts = (artifact_path(result.path), unit.code or "", level, label, unit.instance_location, unit.error)
        base = hashlib.sha256("\0".join(parts).encode("utf-8", "surrogatepass")).hexdigest()
        occurrence = seen[base] = seen.get(base, -1) + 1
        yield base if occurrence == 0 else hashlib.sha256(f"{base}\0{occurrence}".encode()).hexdigest()


def _pascal(code: str) -> str:
    return "".join(word[:1].upper() + word[1:] for word in re.split(r"[-_]", code))


class SARIFReporter:
    """SARIF 2.1.0, as GitHub code scanning and other viewers take it: one run, one rule per code that occurs,
    one result per listed error and warning with its place in the file and a stable fingerprint."""

    def report(self, listing: Listing, out: TextIO) -> None:
        findings = list(listing.findings())
        levels: dict[str, set[str]] = {}
        for _, _, unit, level in findings:
            levels.setdefault(unit.code or "error", set()).add(level)
        codes = sorted(levels)
        index = {code: number for number, code in enumerate(codes)}
        results = []
        for (result, record, unit, level), fingerprint in zip(findings, fingerprints(listing), strict=True):
            code = unit.code or "error"
            line, column = _where(record, unit)
            message = quoted(record, unit)
            entry: dict[str, Any] = {
                "ruleId": code,
                "ruleIndex": index[code],
                "level": level,
                "message": {"text": message},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {"uri": artifact_uri(result.path)},
                            "region": {"startLine": line, "startColumn": column},
                        }
                    }
                ],
                "partialFingerprints": {"runstepValidatorFinding/v1": fingerprint},
            }
            properties = {
                key: value
                for key, value in (
                    ("instanceLocation", unit.instance_location),
                    ("keywordLocation", unit.keyword_location),
                    ("suggestion", unit.suggestion),
                )
                if value
            }
            if properties:
                entry["properties"] = properties
            results.append(entry)
        # A file that could not be read is a failed run (exit 2), whatever was found in the others.
        invocation: dict[str, Any] = {"executionSuccessful": not listing.summary.unreadable}
        note = listing.note()
        if note is not None:
            invocation["toolExecutionNotifications"] = [{"level": "note", "message": {"text": note}}]
        document = {
            "$schema": SARIF_SCHEMA,
            "version": "2.1.0",
            "runs": [
                {
                    "tool": {
                        "driver": {
                            "name": TOOL_NAME,
                            "version": __version__,
                            "semanticVersion": __version__,
                            "informationUri": INFORMATION_URI,
                            "rules": [self._rule(code, levels[code]) for code in codes],
                        }
                    },
                    "invocations": [invocation],
                    "columnKind": "unicodeCodePoints",
                    "results": results,
                    "properties": {"summary": listing.sentence()},
                }
            ],
        }
        _write_document(out, msgspec.json.format(msgspec.json.encode(document), indent=2).decode() + "\n")

    @staticmethod
    def _rule(code: str, levels: set[str]) -> dict[str, Any]:
        described = rule(code)
        return {
            "id": code,
            "name": _pascal(code),
            "shortDescription": {"text": described.short},
            "fullDescription": {"text": described.full},
            "help": {"text": described.help},
            "defaultConfiguration": {"level": "error" if "error" in levels else "warning"},
        }


# XML 1.0 allows no control characters but tab, line feed and carriage return, escaped or not.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml_text(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


class JUnitReporter:
    """JUnit XML, as test-report views read it: a testsuite per file, a testcase per record (named by file and
    line, or by the event of a stream), a failure per invalid record carrying all of its errors, its warnings
    as the testcase's output; a file that cannot be read is a testsuite with one error."""

    def report(self, listing: Listing, out: TextIO) -> None:
        root = ET.Element("testsuites", name=TOOL_NAME)
        totals = {"tests": 0, "failures": 0, "errors": 0}
        for result in listing.results:
            path = _xml_text(artifact_path(result.path))
            suite = ET.SubElement(root, "testsuite", name=path)
            counts = {"tests": 0, "failures": 0, "errors": 0}
            if result.problem is not None:
                case = ET.SubElement(suite, "testcase", classname=path, name=path, file=path)
                ET.SubElement(case, "error", message=_xml_text(f"cannot read: {result.problem}"), type=UNREADABLE)
                counts["tests"] += 1
                counts["errors"] += 1
            for record in result.records:
                counts["tests"] += 1
                counts["failures"] += not record.valid
                self._case(suite, path, record)
            for key, value in counts.items():
                suite.set(key, str(value))
                totals[key] += value
            suite.set("skipped", "0")
        for key, value in totals.items():
            root.set(key, str(value))
        root.set("skipped", "0")
        ET.indent(root)
        _write_document(out, '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n")

    def _case(self, suite: ET.Element, path: str, record: RecordResult) -> None:
        name = f"{path} {record.label}" if record.label else f"{path}:{record.line}"
        case = ET.SubElement(suite, "testcase", classname=path, name=_xml_text(name), file=path)
        case.set("line", str(record.line))
        if not record.valid:
            errors = record.report.errors
            lines = [self._line(record, unit) for unit in errors]
            if record.unlisted:
                lines.append(f"{record.unlisted} more error{'' if record.unlisted == 1 else 's'} not listed")
            headline = quoted(record, errors[0]) if errors else lines[-1]
            failure = ET.SubElement(
                case, "failure", message=_xml_text(headline), type=(errors[0].code if errors else "") or "error"
            )
            failure.text = _xml_text("\n".join(lines))
        if record.report.warnings:
            output = ET.SubElement(case, "system-out")
            output.text = _xml_text(
                "\n".join(f"warning: {self._line(record, unit)}" for unit in record.report.warnings)
            )

    @staticmethod
    def _line(record: RecordResult, unit: OutputUnit) -> str:
        line, column = _where(record, unit)
        return f"{line}:{column}: {quoted(record, unit)}"


class GitLabReporter:
    """GitLab Code Quality: a JSON array of issues with a description, the check's name, a fingerprint stable
    across runs and unique per finding, a severity (errors major, warnings minor, unreadable files critical)
    and the file, line and column."""

    SEVERITY: Final = {"error": "major", "warning": "minor"}

    def report(self, listing: Listing, out: TextIO) -> None:
        issues = []
        for (result, record, unit, level), fingerprint in zip(listing.findings(), fingerprints(listing), strict=True):
            line, column = _where(record, unit)
            issues.append(
                {
                    "description": quoted(record, unit),
                    "check_name": unit.code or "error",
                    "fingerprint": fingerprint,
                    "severity": "critical" if unit.code == UNREADABLE else self.SEVERITY[level],
                    # positions (CodeClimate's form, which GitLab reads as it reads lines) carry the column too
                    "location": {
                        "path": artifact_path(result.path),
                        "positions": {"begin": {"line": line, "column": column}},
                    },
                }
            )
        _write_document(out, msgspec.json.format(msgspec.json.encode(issues), indent=2).decode() + "\n")


REPORTERS: Final[dict[str, type[Reporter]]] = {
    "text": TextReporter,  # built with color by `render`
    "json": JSONReporter,
    "github": GitHubReporter,
    "sarif": SARIFReporter,
    "junit": JUnitReporter,
    "gitlab": GitLabReporter,
}
FORMATS: Final = tuple(REPORTERS)
# Formats whose document has no place for a note: what the listing left out is said on standard error.
_NOTE_ON_STDERR: Final = frozenset({"gitlab"})


def render(
    output_format: str,
    results: Sequence[FileResult],
    out: TextIO,
    err: TextIO,
    *,
    color: bool = False,
    quiet: bool = False,
    max_errors: int | None = None,
) -> None:
    """The results in `output_format`, listing what `quiet` and `max_errors` let through."""
    listing = Listing.of(results, quiet, max_errors)
    reporter = TextReporter(color) if output_format == "text" else REPORTERS[output_format]()
    reporter.report(listing, out)
    note = listing.note()
    if note is not None and output_format in _NOTE_ON_STDERR:
        err.write(f"runstep-validator: {note}\n")
