"""Nomad's ``job plan`` text for a job diff (without colours).

Layout follows Nomad's CLI: a ``+``/``-``/``+/-`` marker per line, names padded so that values
line up within a block, annotations in parentheses, and each task group's desired updates
(``1 create, 2 in-place update``) after its name.
"""

from __future__ import annotations

from typing import Any

_MARKERS = {"Added": "+ ", "Deleted": "- ", "Edited": "+/- "}


def _marker(kind: str) -> str:
    return _MARKERS.get(kind, "")


def format_diff(
    diff: dict[str, Any],
    verbose: bool = False,
    updates: dict[str, dict[str, int]] | None = None,
) -> str:
    """Render a :func:`diff_jobs` result as ``nomad job plan`` prints it.

    :param verbose: also show the fields of added/deleted tasks and unchanged groups.
    :param updates: per task group, the scheduler's desired changes (``{"create": 1}``);
        defaults to each group diff's own ``Updates``.
    """
    out = f'{_marker(diff["Type"])}Job: "{diff["ID"]}"\n'
    fields, objects = diff.get("Fields") or [], diff.get("Objects") or []
    longest_field, longest_marker = _longest(fields, objects)
    for tg in diff.get("TaskGroups") or []:
        longest_marker = max(longest_marker, len(_marker(tg["Type"])))
    if diff["Type"] == "Edited" or verbose:
        block = _aligned(fields, objects, 0, longest_field, longest_marker)
        if block:
            out += block + "\n"
    for tg in diff.get("TaskGroups") or []:
        pad = longest_marker - len(_marker(tg["Type"]))
        group_updates = (updates or {}).get(tg["Name"], tg.get("Updates"))
        out += _group(tg, pad, verbose, group_updates) + "\n"
    return out


def _group(tg: dict[str, Any], pad: int, verbose: bool, updates: dict[str, int] | None) -> str:
    out = f'{_marker(tg["Type"])}{" " * pad}Task Group: "{tg["Name"]}"'
    if updates:
        out += " (" + ", ".join(f"{updates[k]} {k}" for k in sorted(updates)) + ")"
    out += "\n"
    fields, objects = tg.get("Fields") or [], tg.get("Objects") or []
    longest_field, longest_marker = _longest(fields, objects)
    for task in tg.get("Tasks") or []:
        longest_marker = max(longest_marker, len(_marker(task["Type"])))
    start = pad + 2
    if tg["Type"] == "Edited" or verbose:
        block = _aligned(fields, objects, start, longest_field, longest_marker)
        if block:
            out += block + "\n"
    for task in tg.get("Tasks") or []:
        task_pad = longest_marker - len(_marker(task["Type"]))
        out += _task(task, start, task_pad, verbose) + "\n"
    return out


def _task(task: dict[str, Any], start: int, pad: int, verbose: bool) -> str:
    out = f'{" " * start}{_marker(task["Type"])}{" " * pad}Task: "{task["Name"]}"'
    if task.get("Annotations"):
        out += f" ({', '.join(task['Annotations'])})"
    if task["Type"] == "None" or (task["Type"] in ("Added", "Deleted") and not verbose):
        return out
    fields, objects = task.get("Fields") or [], task.get("Objects") or []
    longest_field, longest_marker = _longest(fields, objects)
    return out + "\n" + _aligned(fields, objects, start + 2, longest_field, longest_marker)


def _longest(fields: list[dict], objects: list[dict]) -> tuple[int, int]:
    longest_field = max((len(f["Name"]) for f in fields), default=0)
    longest_marker = max((len(_marker(x["Type"])) for x in (*fields, *objects)), default=0)
    return longest_field, longest_marker


def _aligned(
    fields: list[dict], objects: list[dict], start: int, longest_field: int, longest_marker: int
) -> str:
    lines = [
        _field(f, start, longest_marker - len(_marker(f["Type"])), longest_field - len(f["Name"]))
        for f in fields
    ]
    lines += [_object(o, start, longest_marker - len(_marker(o["Type"]))) for o in objects]
    return "\n".join(lines)


def _object(obj: dict[str, Any], start: int, pad: int) -> str:
    marker = _marker(obj["Type"])
    out = f"{' ' * start}{marker}{' ' * pad}{obj['Name']} {{\n"
    fields, objects = obj.get("Fields") or [], obj.get("Objects") or []
    longest_field, longest_marker = _longest(fields, objects)
    out += _aligned(fields, objects, start + pad + 2, longest_field, longest_marker)
    return f"{out}\n{' ' * (start + len(marker) + pad)}}}"


def _field(field: dict[str, Any], start: int, pad: int, value_pad: int) -> str:
    out = f"{' ' * start}{_marker(field['Type'])}{' ' * pad}{field['Name']}: {' ' * value_pad}"
    kind = field["Type"]
    if kind == "Deleted":
        out += _quote(field["Old"])
    elif kind == "Edited":
        out += f"{_quote(field['Old'])} => {_quote(field['New'])}"
    else:
        out += _quote(field["New"])
    if field.get("Annotations"):
        out += f" ({', '.join(field['Annotations'])})"
    return out


def _quote(value: str) -> str:
    # Go's %q: double quotes with backslash escapes.
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'
