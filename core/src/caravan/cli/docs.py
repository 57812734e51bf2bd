"""The flag reference of ``docs/cli.md``, generated from the click commands themselves.

``python -m caravan.cli.docs`` rewrites the part of ``docs/cli.md`` between the
``<!-- BEGIN GENERATED -->`` and ``<!-- END GENERATED -->`` markers; a test fails when the
file and the commands disagree.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

BEGIN = "<!-- BEGIN GENERATED -->"
END = "<!-- END GENERATED -->"


def _commands(group: click.Group, prefix: str) -> list[tuple[str, click.Command]]:
    out: list[tuple[str, click.Command]] = []
    for name in sorted(group.commands):
        command = group.commands[name]
        path = f"{prefix} {name}"
        if isinstance(command, click.Group):
            out += _commands(command, path)
        else:
            out.append((path, command))
    return out


def _usage(path: str, command: click.Command) -> str:
    args = [
        (p.human_readable_name if p.required else f"[{p.human_readable_name}]")
        for p in command.params
        if isinstance(p, click.Argument)
    ]
    return " ".join([path, "[flags]", *args])


def render_reference(cli: click.Group) -> str:
    """One section per command: usage, summary and a table of its flags."""
    parts = []
    for path, command in _commands(cli, "caravan"):
        doc = (command.help or "").strip().split("\n\n")[0].replace("\n", " ")
        parts.append(f"### `{path}`\n\n`{_usage(path, command)}`\n\n{doc}\n")
        rows = []
        for param in command.params:
            if not isinstance(param, click.Option) or param.hidden:
                continue
            flags = ", ".join(f"`{o}`" for o in param.opts if not o.startswith("--"))
            flags += ", ".join(f"/`{o}`" for o in param.secondary_opts if not o.startswith("--"))
            kind = "flag" if param.is_flag else ("repeatable" if param.multiple else "value")
            rows.append(f"| {flags} | {kind} | {(param.help or '').replace('|', '/')} |")
        if rows:
            parts.append("| flag | takes | meaning |\n|---|---|---|\n" + "\n".join(rows) + "\n")
    return "\n".join(parts)


def update(doc: Path, cli: click.Group) -> bool:
    """Rewrite the generated part of ``doc``; returns whether it changed."""
    text = doc.read_text()
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    new = f"{head}{BEGIN}\n\n{render_reference(cli)}\n{END}{tail}"
    if new != text:
        doc.write_text(new)
        return True
    return False


if __name__ == "__main__":
    from caravan.cli.main import cli as root

    target = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/cli.md")
    print(f"{target}: {'updated' if update(target, root) else 'up to date'}")
