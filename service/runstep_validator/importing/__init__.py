"""Bulk validation for import pipelines: stream records, pass the valid ones on, set the invalid ones aside."""

from .pipeline import Importer, ImportResult, Interrupted, Tally, iter_validate

__all__ = ["ImportResult", "Importer", "Interrupted", "Tally", "iter_validate"]
