"""Job files: HCL2 and JSON job specifications -> Nomad API JSON -> validated jobs.

``parse_file``/``parse_string`` give a :class:`ParsedJob` (the canonicalised ``caravan.structs``
job plus warnings); ``job_to_api_dict``/``decode_source`` stop before the job model and give the
raw API JSON (and the file position of every field). Errors are
:class:`~caravan.errors.JobspecError` (one problem, with file:line,col),
:class:`JobspecErrors` (several) and :class:`JobFileValidationError` (the job model rejected
the job; a :class:`~caravan.errors.JobValidationError` whose lines carry file positions).
"""

from .errors import JobFileValidationError, JobspecErrors
from .parse import (
    DecodedJob,
    ParsedJob,
    build_job,
    decode_source,
    job_to_api_dict,
    parse_file,
    parse_string,
)

__all__ = [
    "DecodedJob",
    "JobFileValidationError",
    "JobspecErrors",
    "ParsedJob",
    "build_job",
    "decode_source",
    "job_to_api_dict",
    "parse_file",
    "parse_string",
]
