"""The `runstep-validator` command line. `run()` does the work and returns the exit code; only `main()` exits."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from .core import get_validator
from .errors import RunStepValidatorError
from .schemas import DEFAULT_SCHEMA

EXIT_VALID, EXIT_INVALID, EXIT_ERROR = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="runstep-validator", description="Validate OpenAI Assistants run steps.")
    commands = parser.add_subparsers(dest="command", required=True)
    validate = commands.add_parser("validate", help="validate run-step JSON files")
    validate.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="files, or folders of *.json files")
    validate.add_argument("--schema", default=DEFAULT_SCHEMA, help="entry schema (default: %(default)s)")
    serve = commands.add_parser(
        "serve", help="serve the HTTP API under granian (settings also from RUNSTEP_VALIDATOR_*)"
    )
    serve.add_argument("--host", help="address to listen on (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default: 8000)")
    serve.add_argument("--workers", type=int, help="worker processes (default: 2)")
    return parser


def _files(paths: Sequence[Path]) -> list[Path]:
    return [found for path in paths for found in (sorted(path.rglob("*.json")) if path.is_dir() else [path])]


def run(argv: Sequence[str], stdout: TextIO, stderr: TextIO) -> int:
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # argparse has already written its usage message
        return EXIT_VALID if exc.code == 0 else EXIT_ERROR
    if args.command == "serve":
        return _serve(args, stderr)
    try:
        validator = get_validator(args.schema)
        invalid = 0
        for path in _files(args.paths):
            report = validator.validate(path.read_bytes())
            invalid += not report.valid
            for unit in report.errors:
                stdout.write(f"{path}: error: {unit.describe()}\n")
            for unit in report.warnings:
                stdout.write(f"{path}: warning: {unit.describe()}\n")
            if report.valid:
                stdout.write(f"{path}: valid\n")
    except (OSError, RunStepValidatorError) as exc:
        stderr.write(f"runstep-validator: {exc}\n")
        return EXIT_ERROR
    return EXIT_INVALID if invalid else EXIT_VALID


def _serve(args: argparse.Namespace, stderr: TextIO) -> int:
    from .config import Settings
    from .server import serve

    overrides = {name: getattr(args, name) for name in ("host", "port", "workers") if getattr(args, name) is not None}
    try:
        serve(Settings.load(overrides=overrides))
    except RunStepValidatorError as exc:
        stderr.write(f"runstep-validator: {exc}\n")
        return EXIT_ERROR
    return EXIT_VALID


def main() -> None:
    sys.exit(run(sys.argv[1:], sys.stdout, sys.stderr))
