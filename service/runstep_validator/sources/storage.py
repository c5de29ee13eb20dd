"""Object storage and other filesystems by URL (`s3://bucket/2026/*/steps-*.jsonl.gz`, `gs://…`, `file://…`),
through fsspec, with credentials and endpoints found the way each store's own tools find them (environment,
profiles) plus `--storage-option key=value`.

fsspec and the stores' drivers (s3fs, gcsfs, adlfs) are the optional `cluster` extra: a plain path never needs
them, and a URL without them is one clear error.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final

from ..core.errors import RunStepValidatorError

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

GLOB_CHARACTERS: Final = frozenset("*?[")
TRUE_WORDS: Final = {"true": True, "false": False}


class StorageError(RunStepValidatorError):
    """A URL that cannot be used: its filesystem is not installed, a bad storage option, nothing matches a glob."""


def is_url(name: str) -> bool:
    """Whether `name` names a file through fsspec (`scheme://…`) rather than a local path."""
    scheme, separator, _ = name.partition("://")
    return bool(separator) and scheme.replace("+", "").replace("-", "").isalnum()


def parse_storage_options(pairs: Iterable[str]) -> dict[str, Any]:
    """`key=value` pairs as fsspec takes them: `true`/`false` and integers converted, dotted keys nested
    (`client_kwargs.region_name=eu-west-1`)."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, separator, text = pair.partition("=")
        if not separator or not key:
            raise StorageError(f"--storage-option {pair!r}: give it as key=value")
        value: Any = TRUE_WORDS.get(text.lower(), text)
        if isinstance(value, str) and value.lstrip("-").isdigit():
            value = int(value)
        *parents, leaf = key.split(".")
        target = options
        for parent in parents:
            target = target.setdefault(parent, {})
        target[leaf] = value
    return options


def filesystem(url: str, options: Mapping[str, Any] | None = None) -> tuple[AbstractFileSystem, str]:
    """The filesystem behind `url` and the path in it."""
    try:
        from fsspec.core import url_to_fs  # noqa: PLC0415  # the optional extra, only for URLs
    except ImportError:  # pragma: no cover - the dev install has it
        raise StorageError(f"{url}: URLs need fsspec: pip install 'runstep-validator[cluster]'") from None
    try:
        fs, path = url_to_fs(url, **dict(options or {}))
    except (ImportError, ValueError) as exc:
        raise StorageError(f"{url}: {exc}") from None
    return fs, path


def protocols(fs: AbstractFileSystem) -> tuple[str, ...]:
    """The names a filesystem answers to (fsspec gives one or a tuple), and whether it is the local disk."""
    return fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)


def is_local(fs: AbstractFileSystem) -> bool:
    return not {"file", "local"}.isdisjoint(protocols(fs))


def expand_url(url: str, options: Mapping[str, Any] | None = None) -> list[str]:
    """A URL as given, or the files a glob matches, sorted, as URLs of the same scheme."""
    if not GLOB_CHARACTERS & set(url.partition("://")[2]):
        return [url]
    fs, pattern = filesystem(url, options)
    matched = sorted(fs.glob(pattern))
    if not matched:
        raise StorageError(f"{url}: no file matches")
    return [fs.unstrip_protocol(path) for path in matched if not fs.isdir(path)]


def url_size(url: str, options: Mapping[str, Any] | None = None) -> int | None:
    fs, path = filesystem(url, options)
    size = fs.size(path)
    return int(size) if size is not None else None
