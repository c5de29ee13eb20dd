"""Validation for dataframe engines: one function for a partition (pandas or Arrow in, the same kind out, with a
verdict, a headline and the errors added as columns), and its Dask forms for a bag of JSON lines and a column of a
dataframe.

`validate_partition` is plain Python over plain data, so any engine that maps a function over pandas or Arrow
partitions can use it. Its validators are built once per process (a `Profile` keeps them, and a worker unpickles
the same one for every partition), never per partition.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import msgspec

from ..core.profile import Profile, selected, untimed
from ..core.schemas import AUTO, DEFAULT_DIALECT

if TYPE_CHECKING:
    import dask.bag
    import dask.dataframe
    import pandas
    import pyarrow

VALID: Final = "valid"
HEADLINE: Final = "headline"
ERRORS: Final = "errors"  # the error units as a JSON array, in the report's `basic` shape
_encoder = msgspec.json.Encoder()


def _verdicts(values: list[Any], profile: Profile) -> tuple[list[bool], list[str | None], list[str]]:
    validator = profile.validator
    valid: list[bool] = []
    headlines: list[str | None] = []
    errors: list[str] = []
    for value in values:
        if value is None:
            raw = b""
        elif isinstance(value, str):
            raw = value.encode("utf-8", errors="surrogatepass")
        else:
            raw = bytes(value)
        report = validator.validate(raw)
        valid.append(report.valid)
        headlines.append(None if report.valid else report.errors[0].describe())
        errors.append(_encoder.encode(report.errors).decode() if report.errors else "[]")
    return valid, headlines, errors


def _chosen(profile: Profile | None, schema: str, strict: bool, dialect: str) -> Profile:
    """The selection of a frame's records: no time limit per record, as for the import."""
    return untimed(selected(profile, schema, strict, dialect), "the frames' validation")


def validate_partition(
    partition: pandas.DataFrame | pyarrow.Table,
    column: str = "record",
    *,
    schema: str = AUTO,
    strict: bool = False,
    dialect: str = DEFAULT_DIALECT,
    profile: Profile | None = None,
) -> pandas.DataFrame | pyarrow.Table:
    """`partition` with `valid` (bool), `headline` (the first error, or null) and `errors` (a JSON array) added,
    for the JSON text (str or bytes) in `column`. A pandas DataFrame gives a DataFrame, an Arrow table a table.
    A `profile` gives the whole selection instead of `schema`, `strict` and `dialect`."""
    chosen = _chosen(profile, schema, strict, dialect)
    if hasattr(partition, "schema") and hasattr(partition, "append_column"):  # pyarrow.Table
        import pyarrow as pa  # noqa: PLC0415  # the optional extra

        valid, headlines, errors = _verdicts(partition.column(column).to_pylist(), chosen)
        table = partition.append_column(VALID, pa.array(valid, pa.bool_()))
        table = table.append_column(HEADLINE, pa.array(headlines, pa.string()))
        return table.append_column(ERRORS, pa.array(errors, pa.string()))
    valid, headlines, errors = _verdicts(partition[column].tolist(), chosen)
    result = partition.copy()
    result[VALID] = valid
    result[HEADLINE] = headlines
    result[ERRORS] = errors
    return result


def validate_dataframe(
    frame: dask.dataframe.DataFrame,
    column: str = "record",
    *,
    schema: str = AUTO,
    strict: bool = False,
    dialect: str = DEFAULT_DIALECT,
    profile: Profile | None = None,
) -> dask.dataframe.DataFrame:
    """A Dask dataframe with the verdict columns of `validate_partition` added, partition by partition."""
    import pandas as pd  # noqa: PLC0415  # the optional extra

    # Documented at dask.dataframe.utils.make_meta; the module re-exports it without an `__all__` mypy reads.
    from dask.dataframe.utils import make_meta  # type: ignore[attr-defined]  # noqa: PLC0415

    meta = make_meta(frame).copy()  # dask's public way to the empty frame that describes its columns
    meta[VALID] = pd.Series(dtype=bool)
    meta[HEADLINE] = pd.Series(dtype=object)
    meta[ERRORS] = pd.Series(dtype=object)
    chosen = _chosen(profile, schema, strict, dialect)
    validated: dask.dataframe.DataFrame = frame.map_partitions(validate_partition, column, profile=chosen, meta=meta)
    return validated


def validate_bag(
    lines: dask.bag.Bag,
    *,
    schema: str = AUTO,
    strict: bool = False,
    dialect: str = DEFAULT_DIALECT,
    profile: Profile | None = None,
) -> dask.bag.Bag:
    """A bag of JSON lines (`dask.bag.read_text(...)`) to a bag of `{"record", "valid", "headline", "errors"}`;
    blank lines are dropped, as the import drops them."""

    chosen = _chosen(profile, schema, strict, dialect)

    def partition(part: list[str]) -> list[dict[str, Any]]:
        records = [line.rstrip("\r\n") for line in part if line.strip()]
        valid, headlines, errors = _verdicts(records, chosen)
        return [
            {"record": record, VALID: ok, HEADLINE: headline, ERRORS: found}
            for record, ok, headline, found in zip(records, valid, headlines, errors, strict=True)
        ]

    validated: dask.bag.Bag = lines.map_partitions(partition)
    return validated
