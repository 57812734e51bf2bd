"""Output helpers shared by the CLI commands: errors, columns and JSON, in Nomad's shapes."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

import click


class CLIError(click.ClickException):
    """A user-facing failure of a command: printed as ``Error ...`` on stderr, exit code 1."""

    exit_code = 1

    def show(self, file: Any = None) -> None:
        click.echo(self.format_message(), err=True)


def columns(rows: Sequence[Sequence[Any]], sep: str = "  ") -> str:
    """Align rows in columns, as Nomad's ``columnize`` does (left aligned, two spaces apart)."""
    if not rows:
        return ""
    widths = [0] * max(len(r) for r in rows)
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(str(cell)))
    lines = []
    for row in rows:
        cells = [str(c).ljust(widths[i]) for i, c in enumerate(row)]
        lines.append(sep.join(cells).rstrip())
    return "\n".join(lines)


def print_json(data: Any) -> None:
    """Print ``data`` as Nomad's CLI prints JSON: indented by four spaces, keys in given order."""
    sys.stdout.write(json.dumps(data, indent=4) + "\n")


def output_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``-json`` and ``-t TEMPLATE`` to a read command (its ``as_json``/``template``)."""
    func = click.option(
        "-t",
        "--t",
        "template",
        default=None,
        help="Format the API JSON with a Go-like template ({{.Field}}, {{range}}, {{if}}).",
    )(func)
    return click.option("-json", "--json", "as_json", is_flag=True, help="Print the API JSON.")(
        func
    )


def emit_formatted(data: Any, as_json: bool, template: str | None) -> bool:
    """Print ``data`` as ``-json`` or ``-t`` asked; returns whether it was printed."""
    if as_json and template:
        raise CLIError("Both json and template formatting are not allowed")
    if as_json:
        print_json(data)
        return True
    if template is not None:
        from .template import render

        sys.stdout.write(render(template, data))
        if not template.endswith("\n"):
            sys.stdout.write("\n")
        return True
    return False
