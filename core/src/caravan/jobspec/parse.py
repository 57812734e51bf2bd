"""Reading a job file end to end: text -> API JSON (with positions) -> a validated Job.

HCL2 and JSON are told apart by the first non-blank character (``{`` means JSON). HCL goes
through variables, locals and the decoder; JSON is taken as Nomad API JSON. Then the job model
builds, canonicalises and validates the job; its errors (JSON field paths) are reported with
the file, line and column each path came from.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lark.exceptions import LarkError

from caravan.errors import FieldError, JobspecError, JobValidationError

from .decode import Decoder, Location, Path
from .errors import JobFileValidationError, JobspecErrors
from .expressions import Scope
from .functions import standard_functions
from .jsonfile import read_json_job
from .syntax import parse_body
from .variables import collect, declare, locals_resolver, read_var_file, resolve

if TYPE_CHECKING:
    from caravan.structs import Job


@dataclass
class DecodedJob:
    """A job file read into Nomad API JSON, before the job model sees it.

    ``api`` is the bare job object (what ``/v1/jobs/parse`` returns with ``Canonicalize=false``),
    ``positions`` maps each JSON path in it to its (line, column) in ``filename``.
    """

    api: dict[str, Any]
    filename: str
    positions: dict[Path, Location] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def locate(self, path: Path) -> Location:
        """The position of ``path``, or of its nearest ancestor the file defines."""
        while path not in self.positions and path:
            path = path[:-1]
        return self.positions.get(path, (0, 0))


@dataclass
class ParsedJob:
    """A parsed, canonicalised and validated job, with the parser's and validator's warnings."""

    job: Job
    warnings: list[str]
    source: DecodedJob

    def api_json(self) -> dict[str, Any]:
        """The ``{"Job": {...}}`` body, as ``nomad job run -output`` prints it."""
        return {"Job": self.job.to_api()}


def decode_source(
    source: str,
    filename: str = "<input>",
    *,
    variables: Mapping[str, str] | None = None,
    var_files: list[str] | None = None,
    env: Mapping[str, str] | None = None,
    allow_fs: bool = False,
    variables_text: str | None = None,
) -> DecodedJob:
    """Read HCL2 or JSON job text into API JSON plus positions, without the job model.

    :param variables: ``-var`` values (highest precedence).
    :param var_files: ``-var-file`` paths, applied in order.
    :param env: where ``NOMAD_VAR_x``/``CARAVAN_VAR_x`` are looked up (nothing when None).
    :param allow_fs: enable ``file()``, relative to the job file's directory.
    :param variables_text: variable-file text (``/v1/jobs/parse``'s ``Variables``), applied
        after ``var_files`` and before ``variables``.
    :raises JobspecError: one problem; :class:`JobspecErrors`: several.
    """
    try:
        if source.lstrip().startswith("{"):
            api, positions = read_json_job(source, filename)
            return DecodedJob(api, filename, positions)
        files = [read_var_file(path) for path in var_files or []]
        if variables_text:
            files.append(("<variables>", variables_text))
        return _decode_hcl(source, filename, dict(variables or {}), files, env or {}, allow_fs)
    except RecursionError:
        raise JobspecError(filename, 0, 0, "the job file is nested too deeply") from None
    except LarkError as err:
        raise JobspecError(filename, 0, 0, f"invalid HCL: {err}") from None


def _decode_hcl(
    source: str,
    filename: str,
    variables: dict[str, str],
    var_files: list[tuple[str, str]],
    env: Mapping[str, str],
    allow_fs: bool,
) -> DecodedJob:
    body = parse_body(source, filename)
    base_dir = None
    if allow_fs:
        parent = os.path.dirname(os.path.abspath(filename)) if filename != "<input>" else None
        base_dir = parent or os.getcwd()
    functions = standard_functions(base_dir=base_dir)
    base = Scope(filename, functions=functions)
    var_blocks, local_blocks, rest = collect(body)
    declared = declare(var_blocks, base)
    values = resolve(declared, base, env=env, var_files=var_files, variables=variables)
    scope = Scope(filename, values, functions)
    scope.lookup_local = locals_resolver(local_blocks, scope)
    decoder = Decoder(scope)
    api = decoder.job(body, [b for b in rest if b.type == "job"])
    if len(decoder.errors) == 1:
        raise decoder.errors[0]
    if decoder.errors:
        raise JobspecErrors(decoder.errors)
    return DecodedJob(api, filename, decoder.positions, decoder.warnings)


def job_to_api_dict(
    source: str,
    filename: str = "<input>",
    *,
    variables: Mapping[str, str] | None = None,
    var_files: list[str] | None = None,
    env: Mapping[str, str] | None = None,
    allow_fs: bool = False,
    variables_text: str | None = None,
) -> dict[str, Any]:
    """The bare job API JSON of a job file, not canonicalised (see :func:`decode_source`)."""
    return decode_source(
        source,
        filename,
        variables=variables,
        var_files=var_files,
        env=env,
        allow_fs=allow_fs,
        variables_text=variables_text,
    ).api


def build_job(decoded: DecodedJob) -> ParsedJob:
    """Turn decoded API JSON into a canonicalised, validated job.

    :raises JobFileValidationError: the job model rejected it; each error names the file
        position of its JSON path.
    """
    from pydantic import ValidationError

    from caravan.structs import Job, canonicalize, validate_job

    try:
        job = canonicalize(Job.from_api(decoded.api))
        warnings = [*decoded.warnings, *validate_job(job)]
    except JobValidationError as err:
        raise JobFileValidationError(
            err.errors, err.warnings, decoded.filename, decoded.positions
        ) from None
    except ValidationError as err:
        errors = [FieldError(tuple(e["loc"]), e["msg"]) for e in err.errors()]
        raise JobFileValidationError(errors, [], decoded.filename, decoded.positions) from None
    return ParsedJob(job, warnings, decoded)


def parse_string(
    source: str,
    filename: str = "<input>",
    *,
    variables: Mapping[str, str] | None = None,
    var_files: list[str] | None = None,
    env: Mapping[str, str] | None = None,
    allow_fs: bool = False,
    variables_text: str | None = None,
) -> ParsedJob:
    """Parse job text (HCL2, or JSON when it starts with ``{``) into a validated job.

    :raises JobspecError: / :class:`JobspecErrors`: the file cannot be read as a job.
    :raises JobFileValidationError: the job is invalid (a :class:`JobValidationError`).
    """
    decoded = decode_source(
        source,
        filename,
        variables=variables,
        var_files=var_files,
        env=env,
        allow_fs=allow_fs,
        variables_text=variables_text,
    )
    return build_job(decoded)


def parse_file(
    path: str,
    *,
    variables: Mapping[str, str] | None = None,
    var_files: list[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> ParsedJob:
    """Parse a job file from disk; ``file()`` reads relative to its directory.

    :raises JobspecError: the file cannot be read or parsed (named with line and column).
    :raises JobFileValidationError: the job is invalid.
    """
    try:
        with open(path, encoding="utf-8") as handle:
            source = handle.read()
    except (OSError, UnicodeDecodeError) as err:
        raise JobspecError(path, 0, 0, f"cannot read job file: {err}") from None
    return parse_string(
        source, path, variables=variables, var_files=var_files, env=env, allow_fs=True
    )
