"""The validation core: schemas, the fast and the full-report engines, reports, messages and warnings.

It takes payloads (bytes, text or parsed values) and returns result objects. It never reads files, writes to a
stream or exits: the input layer (`sources`) and the edges (`cli`, `http`, `importing`) do that.
"""
