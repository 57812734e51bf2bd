"""Reading agent config files: HCL text -> plain dicts, checked against the config's schema.

The schema is a nested dict: a key maps to a value kind (``str``, ``int``, ``bool``, ``list``,
``map``, ``duration``), to a nested schema (a block such as ``ports { ... }``), or to
:data:`FREE_FORM` (a block taken as is: a plugin's ``config``). ``plugin "NAME" { ... }``-style
labelled blocks are declared with :class:`Labelled`. Every key not in the schema is an error
naming file:line and the key, as Nomad reports them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from caravan.errors import CaravanError, JobspecError
from caravan.jobspec.expressions import Scope, evaluate
from caravan.jobspec.functions import standard_functions
from caravan.jobspec.syntax import Attribute, Block, Body, parse_body
from caravan_plugins.durations import parse_duration


class AgentConfigError(CaravanError):
    """An agent config file or flag that cannot be used; the message names file:line and key."""


#: A block kept as written (nested blocks become dicts, repeated ones lists of dicts).
FREE_FORM = "free-form"
#: A block accepted so that existing Nomad configs load, reported as not supported yet.
UNSUPPORTED = "unsupported"


@dataclass(frozen=True)
class Labelled:
    """A block that takes one label (``plugin "docker" { ... }``); ``schema`` is its body's."""

    schema: dict[str, Any]


Schema = dict[str, Any]


def parse_config_text(text: str, filename: str, schema: Schema) -> tuple[dict[str, Any], list[str]]:
    """Parse one config file.

    :returns: the values as nested dicts (labelled blocks as ``{label: body}``) and the notes
        for blocks accepted but not supported yet (``"tls (agent.hcl:12): not supported yet"``).
    :raises AgentConfigError: a syntax error, an unknown key, or a value of the wrong kind.
    """
    try:
        body = parse_body(text, filename)
    except JobspecError as err:
        raise AgentConfigError(str(err)) from None
    scope = Scope(filename, functions=standard_functions())
    notes: list[str] = []
    return _decode_body(body, schema, scope, "", notes), notes


def _where(scope: Scope, line: int) -> str:
    return f"{scope.filename}:{line}"


def _decode_body(
    body: Body, schema: Schema, scope: Scope, prefix: str, notes: list[str]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for attr in body.attributes:
        key = prefix + attr.name
        kind = schema.get(attr.name)
        if kind is None or isinstance(kind, Labelled) or kind == UNSUPPORTED:
            raise AgentConfigError(f'{_where(scope, attr.line)}: unexpected key "{key}"')
        if isinstance(kind, dict):
            raise AgentConfigError(
                f'{_where(scope, attr.line)}: "{key}" is a block; write {attr.name} {{ ... }}'
            )
        out[attr.name] = _value(attr, kind, scope, key)
    for block in body.blocks:
        key = prefix + block.type
        kind = schema.get(block.type)
        if kind is None:
            raise AgentConfigError(f'{_where(scope, block.line)}: unexpected block "{key}"')
        if kind == UNSUPPORTED:
            notes.append(f"{key} ({_where(scope, block.line)}): not supported yet, ignored")
            continue
        if isinstance(kind, Labelled):
            if len(block.labels) != 1:
                raise AgentConfigError(
                    f'{_where(scope, block.line)}: block "{key}" needs exactly one label, '
                    f'as in {block.type} "name" {{ ... }}'
                )
            label = block.labels[0]
            decoded = _decode_body(block.body, kind.schema, scope, f"{key}.{label}.", notes)
            out.setdefault(block.type, {})[label] = decoded
            continue
        _no_labels(block, key, scope)
        if kind == FREE_FORM:
            out[block.type] = free_form(block.body, scope)
        elif kind == "map":
            out[block.type] = {k: _string(v) for k, v in free_form(block.body, scope).items()}
        elif isinstance(kind, dict):
            out[block.type] = _decode_body(block.body, kind, scope, key + ".", notes)
        else:
            raise AgentConfigError(
                f'{_where(scope, block.line)}: "{key}" is a value; write {block.type} = ...'
            )
    return out


def _no_labels(block: Block, key: str, scope: Scope) -> None:
    if block.labels:
        raise AgentConfigError(f'{_where(scope, block.line)}: block "{key}" takes no label')


def free_form(body: Body, scope: Scope) -> dict[str, Any]:
    """A block's contents as plain values; a block type used twice becomes a list."""
    out: dict[str, Any] = {attr.name: evaluate(attr.expr, scope) for attr in body.attributes}
    for block in body.blocks:
        value = free_form(block.body, scope)
        for label in reversed(block.labels):
            value = {label: value}
        if block.type in out:
            previous = out[block.type]
            out[block.type] = (
                [*previous, value] if isinstance(previous, list) else [previous, value]
            )
        else:
            out[block.type] = value
    return out


def _string(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _value(attr: Attribute, kind: str, scope: Scope, key: str) -> Any:
    value = evaluate(attr.expr, scope)
    where = _where(scope, attr.line)
    try:
        return convert(value, kind)
    except ValueError as err:
        raise AgentConfigError(f'{where}: invalid value for "{key}": {err}') from None


def convert(value: Any, kind: str) -> Any:
    """Convert an HCL (or flag) value to ``kind``; raises ``ValueError`` saying what was wanted."""
    if kind == "str":
        if isinstance(value, (dict, list)):
            raise ValueError(f"expected a string, got {value!r}")
        return _string(value)
    if kind == "int":
        if isinstance(value, bool):
            raise ValueError(f"expected a number, got {value!r}")
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ValueError(f"expected a number, got {value!r}") from None
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise ValueError(f"expected true or false, got {value!r}")
    if kind == "list":
        if isinstance(value, str):
            return [value]
        if not isinstance(value, list):
            raise ValueError(f"expected a list of strings, got {value!r}")
        return [_string(v) for v in value]
    if kind == "map":
        if not isinstance(value, dict):
            raise ValueError(f"expected a map, got {value!r}")
        return {str(k): _string(v) for k, v in value.items()}
    if kind == "duration":
        try:
            return parse_duration(value)
        except ValueError as err:
            raise ValueError(str(err)) from None
    raise ValueError(f"unknown kind {kind}")
