"""Reading job files for the CLI: ``-var``/``-var-file`` flags and Nomad's error wording."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import click

from caravan.errors import CaravanError, JobValidationError
from caravan.jobspec import ParsedJob, parse_file

from .output import CLIError


def variable_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add Nomad's ``-var 'key=value'`` and ``-var-file=FILE`` flags (both repeatable)."""
    func = click.option(
        "-var-file",
        "--var-file",
        "var_files",
        multiple=True,
        type=click.Path(dir_okay=False),
        help="HCL file of variable values (repeatable).",
    )(func)
    return click.option(
        "-var", "--var", "variables", multiple=True, help="A variable, as key=value (repeatable)."
    )(func)


def parse_var_flags(values: tuple[str, ...]) -> dict[str, str]:
    """Turn ``-var`` flags into a dict; a flag without ``=`` is a user error."""
    out: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise CLIError(f'Error parsing -var "{item}": expected the form key=value')
        out[key.strip()] = value
    return out


def load_job(path: str, variables: tuple[str, ...], var_files: tuple[str, ...]) -> ParsedJob:
    """Parse and validate a job file (``-`` reads standard input) the way ``nomad job run`` does.

    Raises :class:`CLIError` with Nomad's wording: ``Error getting job struct: ...`` for a file
    that cannot be read or parsed, ``Job validation errors: ...`` for an invalid job.
    """
    var_map = parse_var_flags(variables)
    try:
        if path == "-":
            from caravan.jobspec import parse_string

            return parse_string(
                click.get_text_stream("stdin").read(),
                "<stdin>",
                variables=var_map,
                var_files=list(var_files),
                env=os.environ,
            )
        if not os.path.exists(path):
            raise CLIError(
                f"Error getting job struct: Error getting jobfile from {path!r}: no such file"
            )
        return parse_file(path, variables=var_map, var_files=list(var_files), env=os.environ)
    except JobValidationError as err:
        raise CLIError(f"Job validation errors:\n{err}") from None
    except CaravanError as err:
        raise CLIError(
            f"Error getting job struct: Error parsing job file from {path}:\n{err}"
        ) from None
