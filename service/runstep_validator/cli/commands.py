"""The `runstep-validator` command line. `run()` does the work and returns the exit code; only `main()` exits.

Exit codes never blur: 0 all valid, 1 something invalid (or, for check-schemas, a problem in the schemas),
2 a usage error, an unreadable file or broken schemas (one line on standard error, whatever failed), and 141 quietly
when the reader of standard output went away (`validate ... | head`).
"""

from __future__ import annotations

import argparse
import os
import select
import signal
import sys
import traceback
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, NoReturn, TextIO

from .. import __version__
from ..core.errors import RunStepValidatorError
from ..core.schemas import AUTO, DEFAULT_DIALECT
from ..core.suggestions import NearMisses, did_you_mean
from ..sources.reading import INPUT_FORMATS, STDIN, InputFormat
from ..sources.records import MAX_RECORD_BYTES
from ..switches import DEBUG_VARIABLE, WORDS, yes_or_no

DIALECT_HELP = (
    "with auto: whose run steps these are, which decides the entry each object picks (openai, or azure for Azure "
    "AI Agents, which shares OpenAI's objects; default: %(default)s)"
)

DEBUG_HELP = (
    f"when the command fails on an error of its own (a bug, not a bad input), print the traceback before the "
    f"one-line message (also {DEBUG_VARIABLE}=1)"
)

if TYPE_CHECKING:
    from ..core.profile import Profile
    from ..importing.pipeline import Interrupted, Tally

EXIT_OK, EXIT_INVALID, EXIT_ERROR = 0, 1, 2
# The reader of the output went away (`validate ... | head`): what a shell reports for a command that SIGPIPE ended,
# the same however far the run got, so that `set -o pipefail` sees one outcome.
EXIT_READER_GONE = 128 + signal.SIGPIPE
STORAGE_TIMEOUT_SECONDS = 60
DASK_TIMEOUT_SECONDS = 10  # as importing.distributed's, which is not imported before --dask is given
S3_SCHEMES = ("s3://", "s3a://")


class _UsageError(Exception):
    pass


class _NothingToCheck(RunStepValidatorError):
    pass


def _add_selection(parser: argparse.ArgumentParser) -> None:
    """Which entry validates each record: the same three options for validate and import."""
    parser.add_argument(
        "--schema",
        default=AUTO,
        help="an entry schema by name, or auto: the entry each payload's object names (default: %(default)s)",
    )
    parser.add_argument("--strict", action="store_true", help="with auto: the strict (OpenAPI contract) variants")
    parser.add_argument("--dialect", default=DEFAULT_DIALECT, help=DIALECT_HELP)


class _Parser(argparse.ArgumentParser):
    """argparse's parser, whose errors are one line that run() writes (argparse would print its usage and exit),
    and which knows its commands' parsers and options, to say which option a misspelt one meant."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.options: list[str] = []  # before argparse's own init, which adds --help
        self.commands: Mapping[str, _Parser] = {}
        super().__init__(*args, **kwargs)
        for parent in kwargs.get("parents", ()):  # argparse copies a parent's options without add_argument
            self.options += parent.options

    def add_argument(self, *names: Any, **kwargs: Any) -> argparse.Action:
        self.options += [name for name in names if isinstance(name, str) and name.startswith("--")]
        if "choices" in kwargs and "type" not in kwargs:  # checked first by the type, which names a near miss
            kwargs["type"] = _one_of(kwargs["choices"])
        return super().add_argument(*names, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise _UsageError(f"{self.prog}: {message} (see {self.prog} --help)\n")

    def refuse_unknown_command(self, argv: Sequence[str]) -> None:
        """The first word that is no option names the command (the top level's options take no value)."""
        given = next((word for word in argv if not word.startswith("-")), None)
        if self.commands and given is not None and given not in self.commands:
            self.error(_not_one_of("unknown command", given, list(self.commands)))

    def refuse_unknown(self, given: list[str]) -> NoReturn:
        option = given[0].partition("=")[0]
        meant = NearMisses(self.options).meant(option) if option.startswith("--") else None
        self.error(f"unrecognized argument {given[0]!r}" + (f"; did you mean {meant}?" if meant else ""))


def _not_one_of(what: str, given: str, choices: Sequence[str]) -> str:
    meant = NearMisses(choices).meant(given)
    return f"{what} {given!r} (choose from {', '.join(choices)})" + (f"; {did_you_mean(meant)}" if meant else "")


def _one_of(choices: Sequence[str]) -> Callable[[str], str]:
    def chosen(text: str) -> str:
        if text not in choices:
            raise argparse.ArgumentTypeError(_not_one_of("invalid choice", text, choices))
        return text

    return chosen


def _bounded(low: int, high: int) -> Callable[[str], int]:
    def whole_number(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is out of range: give {low} to {high}")
        return value

    return whole_number


def _add_record_limit(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--max-record-bytes",
        type=_bounded(1024, 1 << 40),
        default=MAX_RECORD_BYTES,
        help="the longest record read; a longer one (or an endless line) stops with exit 2, naming its file and "
        "line (default: %(default)s, 64 MiB)",
    )


def _parser() -> _Parser:
    parser = _Parser(prog="runstep-validator", description="Validate OpenAI Assistants run steps.")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    parser.add_argument("--debug", action="store_true", help=DEBUG_HELP)
    # --debug after the command as well; SUPPRESS keeps a command's absent flag from undoing one given before it.
    debugging = _Parser(add_help=False)
    debugging.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=DEBUG_HELP)
    commands = parser.add_subparsers(dest="command", parser_class=_Parser)
    parser.commands = commands.choices  # an Action's choices: here, each command's parser by its name

    validate = commands.add_parser("validate", parents=[debugging], help="validate files of run steps")
    validate.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="*.json (a run step, a delta, an array, or a list response), *.jsonl / *.ndjson, *.sse (an event "
        "stream transcript), any of them .gz; folders are searched recursively; - reads standard input",
    )
    _add_selection(validate)
    validate.add_argument(
        "--format",
        choices=("text", "json", "github", "sarif", "junit", "gitlab"),
        default="text",
        help="output format: text, json, github (workflow annotations), sarif (SARIF 2.1.0, for code scanning), "
        "junit (JUnit XML, for test-report views) or gitlab (GitLab Code Quality) (default: %(default)s)",
    )
    validate.add_argument(
        "--quiet", action="store_true", help="list errors only; warnings are still counted in the summary"
    )
    validate.add_argument(
        "--max-errors",
        type=_bounded(0, 10**9),
        metavar="N",
        help="list at most N errors, then say how many more there are (the exit code still counts them all)",
    )
    validate.add_argument(
        "--warnings-as-errors",
        action="store_true",
        help="fail on warnings too: they are reported and counted as errors",
    )
    validate.add_argument("--allow-empty", action="store_true", help="exit 0 when the paths hold no run-step files")
    validate.add_argument("--redact", action="store_true", help="quote no payload values in messages")
    validate.add_argument(
        "--input-format",
        choices=INPUT_FORMATS,
        default="auto",
        help="json (one document: a run step, an array or a list response), jsonl, or sse (a Server-Sent Events "
        "transcript); auto goes by the file's suffix, and for standard input and other names by the content "
        "(JSON Lines or a JSON document; default: %(default)s)",
    )
    _add_record_limit(validate)

    check = commands.add_parser("check-schemas", parents=[debugging], help="check the schema files themselves")
    check.add_argument("directory", nargs="?", type=Path, help="folder of *.schema.json (default: the shipped one)")
    check.add_argument("--fix", action="store_true", help="rewrite files that are not canonically formatted")

    bulk = commands.add_parser(
        "import", parents=[debugging], help="sort run steps into accepted and rejected files, for import pipelines"
    )
    bulk.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="*.jsonl / *.ndjson, *.json (an array or list response), any of them .gz, or - (all streamed); "
        "or a URL or glob of them: s3://bucket/2026/*/steps-*.jsonl.gz, gs://…, file://…",
    )
    bulk.add_argument(
        "--accepted",
        required=True,
        help="valid records, as they came, one per line: a file or a URL; with --dask, a folder or prefix of parts",
    )
    bulk.add_argument(
        "--rejected", required=True, help="invalid records with their errors, JSON Lines (a file or URL; as --accepted)"
    )
    bulk.add_argument("--report", help="write the summary as JSON here too: a file or a URL")
    _add_selection(bulk)
    bulk.add_argument(
        "--workers", type=_bounded(1, 256), default=os.cpu_count() or 1, help="processes (default: %(default)s)"
    )
    bulk.add_argument(
        "--input-format",
        choices=[name for name in INPUT_FORMATS if name != "sse"],
        default="auto",
        help="as for validate, without sse: import loads no event streams (validate checks them) "
        "(default: %(default)s)",
    )
    _add_record_limit(bulk)
    bulk.add_argument(
        "--storage-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an fsspec storage option for URLs, e.g. endpoint_url=https://… or anon=true (repeatable); credentials "
        "come from the environment and profiles as for the store's own tools",
    )
    bulk.add_argument(
        "--storage-timeout",
        type=_bounded(1, 3600),
        default=STORAGE_TIMEOUT_SECONDS,
        metavar="SECONDS",
        help="for s3:// URLs: how long to wait to connect and for each answer before the request fails (it is tried "
        "twice); a store that stalls then ends the run with exit 2 (default: %(default)s)",
    )
    bulk.add_argument(
        "--dask",
        metavar="ADDRESS",
        help="run on a Dask cluster: tcp://scheduler:8786, or local[:N] to start N local worker processes; one "
        "task per input, outputs written as part files plus _SUCCESS under --accepted and --rejected",
    )
    bulk.add_argument(
        "--dask-timeout",
        type=_bounded(1, 3600),
        default=DASK_TIMEOUT_SECONDS,
        metavar="SECONDS",
        help="how long to wait for the --dask scheduler to answer; one that does not ends the run with exit 2 "
        "before anything is written (default: %(default)s)",
    )
    bulk.add_argument(
        "--unwrap-rejected",
        action="store_true",
        help='read a line of a --rejected file ({"source", "line", "text", ...}) as the record in its text, so that '
        "fixed rejected records can be imported again",
    )

    serve = commands.add_parser(
        "serve", parents=[debugging], help="serve the HTTP API (settings also from RUNSTEP_VALIDATOR_*)"
    )
    serve.add_argument("--version", action="store_true", help="print the version and exit")
    serve.add_argument("--host", help="address to listen on (default: 127.0.0.1)")
    serve.add_argument("--port", type=_bounded(1, 65535), help="port to listen on, 1 to 65535 (default: 8000)")
    serve.add_argument("--workers", type=_bounded(1, 64), help="worker processes, 1 to 64 (default: 2)")
    serve.add_argument(
        "--log-format",
        choices=("text", "json"),
        help="text: a readable line per request (default); json: one object per line, for log pipelines",
    )
    serve.add_argument(
        "--share-port", action="store_true", default=None, help="start even if another process listens on the port"
    )
    return parser


def run(argv: Sequence[str], stdout: TextIO, stderr: TextIO, stdin: BinaryIO | None = None) -> int:
    try:
        parser = _parser()
        parser.refuse_unknown_command(argv)
        args, unknown = parser.parse_known_args(argv)
        if unknown:
            parser.commands.get(args.command, parser).refuse_unknown(unknown)
    except _UsageError as exc:
        stderr.write(str(exc))
        return EXIT_ERROR
    except SystemExit as exc:  # --help and --version print and stop
        return EXIT_OK if exc.code in (0, None) else EXIT_ERROR
    if args.version:
        stdout.write(f"runstep-validator {__version__}\n")
        return EXIT_OK
    if args.command is None:
        names = ", ".join(parser.commands)
        stderr.write(f"runstep-validator: a command is required: {names} (see runstep-validator --help)\n")
        return EXIT_ERROR
    debug = _debug_variable()
    if debug is None:
        given = os.environ[DEBUG_VARIABLE]
        stderr.write(f"runstep-validator: {DEBUG_VARIABLE}={given!r} is not a valid bool: {WORDS}\n")
        return EXIT_ERROR
    debug = debug or args.debug
    try:
        if args.command == "validate":
            return _validate(args, stdout, stderr, stdin)
        if args.command == "check-schemas":
            return _check_schemas(args, stdout)
        if args.command == "import":
            return _import(args, stdout, stderr, stdin)
        return _serve(args)
    except RunStepValidatorError as exc:
        stderr.write(f"runstep-validator: {exc}\n")
        return EXIT_ERROR
    except BrokenPipeError as exc:
        if _reader_gone(stdout):
            return EXIT_READER_GONE
        return _failed(exc, args.command, debug, stderr)  # another pipe: a store's, a socket's
    except Exception as exc:  # a store that died mid-run, a driver's own error: still one line, never exit 1
        return _failed(exc, args.command, debug, stderr)


def _failed(exc: Exception, command: str, debug: bool, stderr: TextIO) -> int:
    """A failure of the run's own, not a verdict: one line (and, with --debug, the traceback first), exit 2."""
    if debug:  # a bug hides behind the one line: the switch shows where it happened
        traceback.print_exception(exc, file=stderr)
    detail = " ".join(str(exc).split()) or type(exc).__name__
    ending = "; no output was written" if command == "import" else ""
    stderr.write(f"runstep-validator: {detail}{ending}\n")
    return EXIT_ERROR


def _reader_gone(stdout: TextIO) -> bool:
    """Whether standard output is a pipe whose reader has closed it (poll says POLLERR), as against a broken pipe
    elsewhere in the run."""
    try:
        descriptor = stdout.fileno()
    except (OSError, ValueError):  # not a file: a test's StringIO
        return False
    poller = select.poll()
    poller.register(descriptor, select.POLLOUT)
    return any(events & select.POLLERR for _, events in poller.poll(0))


def _debug_variable() -> bool | None:
    """The debug variable's yes or no (unset or empty: no), or None when it is neither."""
    given = os.environ.get(DEBUG_VARIABLE, "")
    return yes_or_no(given) if given.strip() else False


def _validate(args: argparse.Namespace, stdout: TextIO, stderr: TextIO, stdin: BinaryIO | None) -> int:
    from ..core.profile import Profile
    from ..sources.reading import expand
    from .checker import Checker
    from .reporters import render

    # Only the JSON and JUnit formats list valid records; the others need them counted, not kept.
    checker = Checker(
        Profile(args.schema, args.strict, args.dialect, args.redact),
        args.input_format,
        keep_valid=args.format in ("json", "junit"),
        max_record_bytes=args.max_record_bytes,
    )
    names = list(expand(args.paths))
    unnamed = _not_utf8(names)
    if unnamed is not None:
        raise _NothingToCheck(unnamed)
    if not names and not args.allow_empty:
        # A CI step that checks nothing must not pass.
        raise _NothingToCheck(f"no run-step files found under {', '.join(args.paths)} (--allow-empty accepts that)")
    results = [checker.check(name, stdin) for name in names]
    if args.warnings_as_errors:
        results = [result.with_warnings_as_errors() for result in results]
    render(
        args.format,
        results,
        stdout,
        stderr,
        color=_wants_color(stdout),
        quiet=args.quiet,
        max_errors=args.max_errors,
    )
    if any(result.problem is not None for result in results):
        return EXIT_ERROR
    return EXIT_INVALID if any(result.invalid for result in results) else EXIT_OK


def _wants_color(stream: TextIO) -> bool:
    return stream.isatty() and "NO_COLOR" not in os.environ


def _check_schemas(args: argparse.Namespace, stdout: TextIO) -> int:
    from ..core.schemas import default_schema_dir
    from .schema_checks import check_schemas

    directory = args.directory or default_schema_dir()
    rewritten: list[Path] = []
    problems = check_schemas(directory, fix=args.fix, rewritten=rewritten)
    for path in rewritten:
        stdout.write(f"{_shown(path)}: rewritten in canonical format\n")
    for problem in problems:
        stdout.write(f"{_shown(problem.path)}: {problem.message}\n")
    files = len(list(directory.rglob("*.schema.json")))
    summary = f"{files} schema files: {len(problems) or 'no'} problem{'' if len(problems) == 1 else 's'}"
    if args.fix:
        summary += f", {len(rewritten)} rewritten"
    stdout.write(summary + "\n")
    return EXIT_INVALID if problems else EXIT_OK


def _shown(path: Path) -> str:
    """A path as the user would write it: relative to the working folder when it is below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _identity(name: str, storage_options: dict[str, Any]) -> tuple[str, ...]:
    """What a path or URL names, whatever its spelling: a file on this machine by its device and inode (through
    links), or its resolved path while it does not exist; `file://` URLs as the paths they are; other URLs by
    their store and their path in it."""
    from ..sources.storage import filesystem, is_local, is_url, protocols

    if is_url(name):
        fs, path = filesystem(name, storage_options)
        if not is_local(fs):
            return (protocols(fs)[0], *path.strip("/").split("/"))
        name = path
    resolved = Path(os.path.realpath(name))  # unlike Path.resolve, never raises (a symlink loop stays a path)
    try:
        status = resolved.stat()
    except OSError:
        return ("path", *resolved.parts)
    return ("inode", str(status.st_dev), str(status.st_ino)) if resolved.is_file() else ("path", *resolved.parts)


def _collision(
    args: argparse.Namespace, given: list[str], storage_options: dict[str, Any], folders: bool
) -> str | None:
    """Two of the outputs and inputs that are one file (through a link or another spelling, `file://` included),
    said in words; with `folders` (the Dask import, whose outputs are folders of parts) also anything inside an
    output folder; and any output inside an input folder that is read recursively (the next run would import it).
    None when all are apart."""
    from ..sources.storage import is_url

    outputs = [("--accepted", str(args.accepted)), ("--rejected", str(args.rejected))]
    if args.report is not None:
        outputs.append(("--report", str(args.report)))
    named = outputs + [("input", name) for name in args.inputs if name != "-"]
    seen: dict[tuple[str, ...], tuple[str, str]] = {}
    for role, name in named:
        key = _identity(name, storage_options)
        if key in seen:
            first_role, first_name = seen[key]
            return f"{first_role} {first_name} and {role} {name} are the same file"
        seen[key] = (role, name)
    containers = [(f"the input folder {name}", name) for name in given if not is_url(name) and Path(name).is_dir()]
    if folders:
        containers += [(f"the {role} folder", name) for role, name in outputs[:2]]
    for where, folder in containers:
        inside = _identity(folder, storage_options)
        for role, name in named:
            key = _identity(name, storage_options)
            if (role, name) not in outputs and where.startswith("the input"):
                continue
            if key[0] == inside[0] and len(key) > len(inside) and key[: len(inside)] == inside:
                return f"{role} {name} is inside {where}"
            if key[0] == "inode" and inside[0] == "path" and Path(name).resolve().is_relative_to(Path(*inside[1:])):
                return f"{role} {name} is inside {where}"
    return None


def _not_utf8(names: list[str]) -> str | None:
    """A file name that JSON output, the rejected records and the report could not name (not UTF-8)."""
    for name in names:
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:
            shown = os.fsencode(name).decode("utf-8", errors="backslashreplace")
            return f"{shown}: the file name is not UTF-8, so reports cannot name it; rename it"
    return None


def _storage_options(args: argparse.Namespace) -> dict[str, Any]:
    from ..sources.storage import parse_storage_options

    storage_options = parse_storage_options(args.storage_option)
    if any(str(name).startswith(S3_SCHEMES) for name in [*args.inputs, args.accepted, args.rejected, args.report]):
        # botocore waits a minute to connect and for every read, and retries: a stalled store hung the import.
        config = storage_options.setdefault("config_kwargs", {})
        config.setdefault("connect_timeout", args.storage_timeout)
        config.setdefault("read_timeout", args.storage_timeout)
        config.setdefault("retries", {"max_attempts": 2})
    return storage_options


def _event_streams(
    inputs: list[str], input_format: InputFormat, stdin: BinaryIO | None
) -> tuple[list[str], BinaryIO | None]:
    """The inputs that are event streams, whose records are events, not run steps to load (`validate` checks
    streams): by their names, and standard input by its first line; and standard input to read from then on (its
    first line was read to tell)."""
    from ..sources.reading import as_event_stream, is_event_stream

    streams = [name for name in inputs if name != STDIN and is_event_stream(name, input_format)]
    if STDIN in inputs:
        transcript, stdin = as_event_stream(STDIN, input_format, stdin if stdin is not None else sys.stdin.buffer)
        if transcript:
            streams.append(STDIN)
    return streams, stdin


def _import(args: argparse.Namespace, stdout: TextIO, stderr: TextIO, stdin: BinaryIO | None) -> int:

    from ..core.profile import Profile
    from ..importing.pipeline import Importer, Interrupted, PartialCommit
    from ..sources.reading import expand
    from ..sources.storage import is_url
    from .progress import progress_bar

    # An unknown schema or dialect is a usage error before any output exists.
    profile = Profile(args.schema, args.strict, args.dialect)
    storage_options = _storage_options(args)
    given = list(args.inputs)
    args.inputs = [*expand(args.inputs, storage_options)]
    streams, stdin = _event_streams(args.inputs, args.input_format, stdin)
    named = [name for name in streams if name in given]
    if named:
        told = "" if named[0] == STDIN else " by its name"  # standard input's content said so
        stderr.write(f"runstep-validator: {named[0]} is an event stream{told}: import loads run steps from JSON and ")
        stderr.write("JSON Lines; check a stream with runstep-validator validate\n")
        return EXIT_ERROR
    if streams:
        args.inputs = [name for name in args.inputs if name not in streams]
        stderr.write(f"runstep-validator: {len(streams)} event stream file(s) (*.sse) left out: validate checks them\n")
    if not args.inputs:
        stderr.write("runstep-validator: no run-step files found in the folders given\n")
        return EXIT_ERROR
    unnamed = _not_utf8(args.inputs)
    if unnamed is not None:
        stderr.write(f"runstep-validator: {unnamed}\n")
        return EXIT_ERROR
    collision = _collision(args, given, storage_options, folders=args.dask is not None)
    if collision is not None:
        stderr.write(f"runstep-validator: {collision}; nothing was read or written\n")
        return EXIT_ERROR
    if args.dask is not None:
        return _import_on_cluster(args, profile, storage_options, stdout, stderr)
    local = [("--accepted", args.accepted), ("--rejected", args.rejected)]
    if args.report is not None:
        local.append(("--report", args.report))
    for option, path in [(o, Path(p)) for o, p in local if not is_url(p)]:
        if not path.parent.is_dir():
            stderr.write(f"runstep-validator: {option} {path}: the folder {path.parent} does not exist\n")
            return EXIT_ERROR
    unusable = _unusable(args, storage_options)
    if unusable is not None:
        stderr.write(f"runstep-validator: {unusable}\n")
        return EXIT_ERROR
    sizes = [_size(name, storage_options) for name in args.inputs]
    total = sum(size for size in sizes if size is not None) if None not in sizes else None
    importer = Importer(
        profile,
        args.workers,
        input_format=args.input_format,
        unwrap_rejected=args.unwrap_rejected,
        stdin=stdin,
        storage_options=storage_options,
        max_record_bytes=args.max_record_bytes,
    )
    try:
        with progress_bar(total, stderr) as on_progress:
            importer.on_progress = on_progress
            tally = importer.run(args.inputs, args.accepted, args.rejected, args.report)
    except Interrupted as exc:
        return _interrupted(exc, importer.committed, stderr)
    except PartialCommit as exc:  # it says what was written
        stderr.write(f"runstep-validator: {exc}\n")
        return EXIT_ERROR
    except OSError as exc:
        stderr.write(f"runstep-validator: {exc.strerror or exc}; no output was written\n")
        return EXIT_ERROR
    return _finished(tally, args.inputs, stdout, stderr)


def _interrupted(exc: Interrupted, committed: bool, stderr: TextIO) -> int:
    if committed:  # the signal came during the commit, which finished first
        stderr.write(f"runstep-validator: interrupted by {exc} after the outputs were written whole\n")
    else:
        stderr.write(f"runstep-validator: interrupted by {exc}; no output was written\n")
    return 128 + exc.signal_number


def _unusable(args: argparse.Namespace, storage_options: dict[str, Any], folders: bool = False) -> str | None:
    """An input that cannot be read or an output store that is not there, said in one line before anything is
    read or written: a symlink loop, a missing file or bucket, a store that does not answer; with `folders` (the
    Dask import's outputs, folders the run makes) a local output folder that cannot be made."""
    from ..sources.storage import filesystem, is_local, is_url

    for name in args.inputs:
        if name == "-":
            continue
        try:
            if is_url(name):
                fs, path = filesystem(name, storage_options)
                fs.size(path)
            else:
                os.stat(name)
        except OSError as exc:
            return f"{name}: {exc.strerror or exc}"
        except Exception as exc:  # a store's own error: it timed out, refused, answered nonsense
            return f"{name}: {' '.join(str(exc).split()) or type(exc).__name__}"
    outputs = [("--accepted", args.accepted), ("--rejected", args.rejected), ("--report", args.report)]
    for option, name in [(option, name) for option, name in outputs if name is not None]:
        fs, path = filesystem(name, storage_options) if is_url(name) else (None, name)
        if fs is None or is_local(fs):
            reason = _unmakeable(Path(path)) if folders and option != "--report" else None
            if reason is not None:
                return f"{option} {name}: {reason}"
            continue
        bucket = path.strip("/").split("/", 1)[0]
        try:
            present = fs.exists(bucket)
        except OSError as exc:
            return f"{option} {name}: {exc.strerror or exc}"
        if not present:
            return f"{option} {name}: the bucket {bucket} does not exist"
    return None


def _unmakeable(folder: Path) -> str | None:
    """Why a folder the run would make (or write in) cannot be made, found by making and removing a folder in the
    nearest one that exists: permissions alone do not tell (root passes them; /proc refuses anyway)."""
    import tempfile

    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is not a folder"
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".runstep-validator-probe-", dir=existing))
    except OSError as exc:
        return f"a folder cannot be made in {existing} ({exc.strerror or exc})"
    return None


def _size(name: str, storage_options: dict[str, Any]) -> int | None:
    from ..sources.storage import is_url, url_size

    if is_url(name):
        return url_size(name, storage_options)
    path = Path(name)
    return path.stat().st_size if name != "-" and path.is_file() else None


def _import_on_cluster(
    args: argparse.Namespace, profile: Profile, storage_options: dict[str, Any], stdout: TextIO, stderr: TextIO
) -> int:

    from ..importing.distributed import ClusterImport, Options, locate, refuse_existing, start_client
    from ..importing.pipeline import Interrupted, created, interruptible
    from .progress import progress_bar

    if "-" in args.inputs:
        stderr.write("runstep-validator: --dask reads files and URLs, not standard input\n")
        return EXIT_ERROR
    unusable = _unusable(args, storage_options, folders=True)
    if unusable is not None:
        stderr.write(f"runstep-validator: {unusable}\n")
        return EXIT_ERROR
    outputs = [locate(name) for name in (args.accepted, args.rejected)]
    inputs = list(args.inputs)  # named as given in rejected records and the summary
    sizes = [_size(name, storage_options) for name in inputs]
    options = Options(
        profile,
        args.input_format,
        args.unwrap_rejected,
        storage_options,
        args.max_record_bytes,
    )
    for role, output in zip(("accepted", "rejected"), outputs, strict=True):
        refuse_existing(role, output, storage_options)
    report = created("--report", args.report, storage_options) if args.report is not None else None
    try:
        client, close = start_client(args.dask, args.dask_timeout)
    except BaseException:
        if report is not None:
            report.discard()
        raise
    total = sum(size or 0 for size in sizes)
    runner = ClusterImport(client, options)
    try:
        stderr.write(f"runstep-validator: {_cluster_line(client, len(inputs))}\n")
        with interruptible(), progress_bar(total, stderr) as bar:
            on_progress: Callable[[int, int, int], None] = _PartLines(total, len(inputs), stderr).update
            if bar is not None:  # a terminal: the single-machine import's bar, by bytes
                on_progress = lambda done_bytes, records, _parts: bar(done_bytes, records)  # noqa: E731
            runner.on_progress = on_progress
            tally = runner.run(inputs, sizes, outputs[0], outputs[1], report)
    except Interrupted as exc:
        return _interrupted(exc, runner.committed, stderr)
    except OSError as exc:
        stderr.write(f"runstep-validator: {exc}; no output was written\n")
        return EXIT_ERROR
    finally:
        if report is not None and not runner.committed:
            report.discard()
        close()
    return _finished(tally, inputs, stdout, stderr)


def _finished(tally: Tally, inputs: Sequence[str], stdout: TextIO, stderr: TextIO) -> int:
    """An import's ending, wherever it ran (its report, if any, was committed with its outputs): the table, what
    was probably meant where the input says so, and the exit code."""
    stdout.write(_summary_table(tally, tally.report(list(inputs))))
    count = tally.rejected_file_lines
    if count:
        said = "1 rejected record is a line" if count == 1 else f"{count:,} rejected records are lines"
        held = "record it holds" if count == 1 else "records they hold"
        stderr.write(f"runstep-validator: {said} of a --rejected file: ")
        stderr.write(f"import again with --unwrap-rejected to check the {held}\n")
    return EXIT_INVALID if tally.rejected else EXIT_OK


def _cluster_line(client: Any, tasks: int) -> str:
    """What the run is on, with the dashboard's address when the scheduler serves one (it needs bokeh)."""
    info = client.scheduler_info()
    workers = len(info.get("workers", {}))
    line = f"{tasks} task{'' if tasks == 1 else 's'} on a Dask cluster of {workers} worker{'' if workers == 1 else 's'}"
    if info.get("services", {}).get("dashboard"):
        line += f"; dashboard at {client.dashboard_link}"
    return line


class _PartLines:
    """Progress away from a terminal (where the import's progress bar draws it): parts done, records/s and an
    ETA by bytes, a line at most every few seconds and at the end."""

    def __init__(self, total_bytes: int, parts: int, stream: TextIO) -> None:
        import time

        self.total_bytes, self.parts, self.stream = total_bytes, parts, stream
        self.started = self.shown = time.monotonic()

    def update(self, done_bytes: int, records: int, parts_done: int) -> None:
        import time

        now = time.monotonic()
        if now - self.shown < 5 and parts_done < self.parts:
            return
        self.shown = now
        elapsed = max(now - self.started, 1e-9)
        rate = records / elapsed
        left = (self.total_bytes - done_bytes) / (done_bytes / elapsed) if done_bytes else float("nan")
        eta = f"ETA {left:,.0f} s" if done_bytes and parts_done < self.parts else "done"
        self.stream.write(f"{parts_done}/{self.parts} parts, {records:,} records, {rate:,.0f} records/s, {eta}\n")
        self.stream.flush()


def _summary_table(tally: Tally, summary: dict[str, Any]) -> str:
    lines = [f"{name:<10}{getattr(tally, name):>14,}" for name in ("records", "accepted", "rejected")]
    lines.append(f"accounted: {'yes' if summary['accounted'] else 'NO'} (accepted + rejected = records read)")
    for title, key in (("error locations", "top_error_locations"), ("error kinds", "top_error_kinds")):
        if summary[key]:
            lines.append(f"most frequent {title}:")
            lines += [f"{entry['count']:>12,}  {entry['name']}" for entry in summary[key]]
    return "\n".join(lines) + "\n"


def _serve(args: argparse.Namespace) -> int:
    from ..http.config import Settings
    from ..http.server import serve

    names = ("host", "port", "workers", "share_port", "log_format")
    overrides = {name: getattr(args, name) for name in names if getattr(args, name) is not None}
    serve(Settings.load(overrides=overrides))
    return EXIT_OK


def main() -> None:
    try:
        code = run(sys.argv[1:], sys.stdout, sys.stderr, sys.stdin.buffer)
        sys.stdout.flush()
    except BrokenPipeError:
        code = EXIT_READER_GONE
    if code == EXIT_READER_GONE:
        # Python flushes standard output once more as it exits, and would complain of the closed pipe: what is
        # left goes nowhere instead (the Python documentation's advice for SIGPIPE, "Note on SIGPIPE").
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    sys.exit(code)
