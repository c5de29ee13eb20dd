"""Rendering check results for people (text), for programs (json) and for GitHub Actions (annotations)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, TextIO

import msgspec

from ..core.report import OutputUnit
from .checker import FileResult


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


class Reporter(Protocol):
    def report(self, results: Sequence[FileResult], out: TextIO) -> None: ...


class TextReporter:
    """`path:line:col: /pointer: message`, one line per error and warning, then a summary line."""

    RED, YELLOW, BOLD, RESET = "\033[31m", "\033[33m", "\033[1m", "\033[0m"

    def __init__(self, color: bool) -> None:
        self.color = color

    def _paint(self, code: str, text: str) -> str:
        return f"{code}{text}{self.RESET}" if self.color else text

    def report(self, results: Sequence[FileResult], out: TextIO) -> None:
        for result in results:
            if result.problem is not None:
                out.write(f"{result.path}: {self._paint(self.RED, 'cannot read')}: {result.problem}\n")
            for record in result.records:
                for unit in record.report.errors:
                    out.write(f"{self._where(result.path, unit)} {self._paint(self.RED, unit.describe())}\n")
                for unit in record.report.warnings:
                    warning = self._paint(self.YELLOW, "warning:")
                    out.write(f"{self._where(result.path, unit)} {warning} {unit.describe()}\n")
        out.write(self._paint(self.BOLD, Summary.of(results).sentence()) + "\n")

    @staticmethod
    def _where(path: str, unit: OutputUnit) -> str:
        return f"{path}:{unit.line}:{unit.column}:"


class JSONReporter:
    """One document: per file, per record, the core's report shape (units with line and column); a summary."""

    def report(self, results: Sequence[FileResult], out: TextIO) -> None:
        files: list[dict[str, Any]] = []
        for result in results:
            entry: dict[str, Any] = {"path": result.path}
            if result.problem is not None:
                entry["problem"] = result.problem
            entry["records"] = [
                {"index": record.index, "line": record.line, **record.report.to_dict()} for record in result.records
            ]
            files.append(entry)
        document = {"files": files, "summary": msgspec.to_builtins(Summary.of(results))}
        out.write(msgspec.json.format(msgspec.json.encode(document), indent=2).decode() + "\n")


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


class GitHubReporter:
    """GitHub Actions workflow commands: `::error file=...,line=...,col=...::message`, then the summary."""

    def report(self, results: Sequence[FileResult], out: TextIO) -> None:
        for result in results:
            path = _escape_property(result.path)
            if result.problem is not None:
                out.write(f"::error file={path}::{_escape_data('cannot read: ' + result.problem)}\n")
            for record in result.records:
                for kind, units in (("error", record.report.errors), ("warning", record.report.warnings)):
                    for unit in units:
                        where = f"file={path},line={unit.line},col={unit.column}"
                        out.write(f"::{kind} {where}::{_escape_data(unit.describe())}\n")
        out.write(Summary.of(results).sentence() + "\n")


REPORTERS = {"text": TextReporter, "json": JSONReporter, "github": GitHubReporter}
