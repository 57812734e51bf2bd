"""HCL job bodies -> Nomad API JSON, with the source position of every field produced.

The decoder walks blocks according to :mod:`.schema`, evaluates attributes through
:mod:`.expressions`, converts values to the declared kinds and applies the same normalisations
Nomad's HCL2 parser does (labels to ``Name``/``Label``, constraint shorthands, static ports to
``ReservedPorts``, template defaults, ``task`` directly under ``job`` wrapped in a group). It
keeps going after a problem so that one run reports every unknown field and bad value.

Driver ``config`` (and other schema-less maps) keep their shape: attributes become keys, a
nested block becomes a map (``port_map { db = 6379 }`` -> ``"port_map": {"db": 6379}``), a block
type written several times becomes a list of maps, and a block label adds a level keyed by the
label. Nomad 1.x's own HCL2 parser wraps even a single nested block in a one-element list
(``"port_map": [{"db": 6379}]``); caravan emits the map. JSON jobs submitted by Nomad tooling
may still carry the list form, so whatever reads ``Config`` should accept both.
"""

from __future__ import annotations

from typing import Any

from caravan.errors import JobspecError
from caravan.structs.durations import parse_duration as duration_ns

from .expressions import Scope, evaluate
from .schema import MAP_KINDS, OPERATOR_SHORTHANDS, SPECS, Attr, Nested
from .syntax import Attribute, Block, Body
from .values import ConversionError, is_number, to_bool, to_int, to_number, to_string, type_name

Path = tuple[str | int, ...]
Location = tuple[int, int]


class Decoder:
    """Decodes one job file; collects ``errors``, ``warnings`` and ``positions`` as it goes."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self.errors: list[JobspecError] = []
        self.warnings: list[str] = []
        self.positions: dict[Path, Location] = {}

    # -- reporting -------------------------------------------------------------------------

    def error(self, line: int, column: int, message: str) -> None:
        """Record a problem and carry on decoding."""
        self.errors.append(JobspecError(self.scope.filename, line, column, message))

    def relocate(self, old: Path, new: Path) -> None:
        """Move the positions recorded under ``old`` (a prefix) to ``new``."""
        moved = {k: v for k, v in self.positions.items() if k[: len(old)] == old}
        for key in moved:
            del self.positions[key]
        for key, value in moved.items():
            self.positions[new + key[len(old) :]] = value

    # -- the job ---------------------------------------------------------------------------

    def job(self, body: Body, job_blocks: list[Block]) -> dict[str, Any]:
        """Decode the file's single ``job`` block; other top-level content is an error."""
        for attr in body.attributes:
            self.error(
                attr.line,
                attr.column,
                f'Unsupported argument: "{attr.name}" is not '
                "expected at the top level of a job file",
            )
        for block in body.blocks:
            if block.type not in ("job", "variable", "variables", "locals"):
                self.error(
                    block.line,
                    block.column,
                    f'Unsupported block type: "{block.type}" '
                    "is not expected at the top level (expected job, variable, locals)",
                )
        if not job_blocks:
            self.error(1, 1, 'no job block found: a job file must contain one job "name" { ... }')
            return {}
        first = job_blocks[0]
        for extra in job_blocks[1:]:
            self.error(
                extra.line,
                extra.column,
                f"only one job per file is allowed (the first is at line {first.line})",
            )
        if len(first.labels) != 1:
            self.error(first.line, first.column, 'a job block needs one label: job "name" { ... }')
            return {}
        self.positions[()] = (first.line, first.column)
        legacy_tasks = [b for b in first.body.blocks if b.type == "task"]
        out = self.block(first.body, "job", (), skip={"task"})
        job_id = first.labels[0]
        out = {"ID": out.pop("ID", job_id), "Name": out.pop("Name", job_id), **out}
        self.positions.setdefault(("ID",), (first.line, first.column))
        self.positions.setdefault(("Name",), (first.line, first.column))
        if legacy_tasks:
            self._wrap_tasks(out, legacy_tasks)
        if "Periodic" in out and ("Spec" in out["Periodic"] or "Specs" in out["Periodic"]):
            out["Periodic"]["SpecType"] = "cron"
        return out

    def _wrap_tasks(self, job: dict[str, Any], tasks: list[Block]) -> None:
        """A ``task`` directly under ``job`` runs in a group of its own, listed first."""
        groups = job.get("TaskGroups", [])
        for i in reversed(range(len(groups))):
            self.relocate(("TaskGroups", i), ("TaskGroups", i + len(tasks)))
        wrapped = []
        for i, block in enumerate(tasks):
            path: Path = ("TaskGroups", i)
            self.positions[path] = (block.line, block.column)
            self.positions[(*path, "Name")] = (block.line, block.column)
            task = self.nested(block, Nested("Tasks", "task", True, "Name"), (*path, "Tasks", 0))
            wrapped.append({"Name": task.get("Name", ""), "Tasks": [task]})
        job["TaskGroups"] = wrapped + groups

    # -- generic blocks --------------------------------------------------------------------

    def block(
        self, body: Body, spec_name: str, path: Path, skip: frozenset[str] | set[str] = frozenset()
    ) -> dict[str, Any]:
        """Decode a block body by its spec; unknown attributes and blocks are errors."""
        spec = SPECS[spec_name]
        out: dict[str, Any] = {}
        seen: dict[str, int] = {}
        for attr in body.attributes:
            if attr.name in seen:
                self.error(
                    attr.line,
                    attr.column,
                    f'Attribute redefined: "{attr.name}" was already set at line {seen[attr.name]}',
                )
                continue
            seen[attr.name] = attr.line
            known = spec.attrs.get(attr.name)
            if known is None:
                self.error(
                    attr.line,
                    attr.column,
                    f'Unsupported argument: "{attr.name}" is not '
                    f"expected in a {_title(spec_name)} block",
                )
                continue
            self._attribute(attr, known, out, path)
        for block in body.blocks:
            if block.type in skip:
                continue
            known_attr = spec.attrs.get(block.type)
            if known_attr is not None and known_attr.kind in MAP_KINDS:
                if block.type in seen:
                    self.error(
                        block.line,
                        block.column,
                        f'"{block.type}" is set twice (first at line {seen[block.type]})',
                    )
                    continue
                seen[block.type] = block.line
                self._map_block(block, known_attr, out, path)
                continue
            nested = spec.blocks.get(block.type)
            if nested is None:
                if block.type in spec.ignored:
                    self.warnings.append(
                        f"{self.scope.filename}:{block.line}: the {block.type} "
                        "block is not supported by caravan and was ignored"
                    )
                    continue
                self.error(
                    block.line,
                    block.column,
                    f'Unsupported block type: "{block.type}" '
                    f"is not expected in a {_title(spec_name)} block",
                )
                continue
            if nested.keyed:
                entries = out.setdefault(nested.json, {})
                self.positions.setdefault((*path, nested.json), (block.line, block.column))
                key = block.labels[0] if block.labels else ""
                if key in entries:
                    self.error(block.line, block.column, f'Duplicate {block.type} "{key}"')
                    continue
                entries[key] = self.nested(block, nested, (*path, nested.json, key))
            elif nested.repeated:
                items = out.setdefault(nested.json, [])
                self.positions.setdefault((*path, nested.json), (block.line, block.column))
                items.append(self.nested(block, nested, (*path, nested.json, len(items))))
            elif nested.json in out:
                self.error(
                    block.line,
                    block.column,
                    f"Duplicate {block.type} block: only one "
                    f"is allowed here (first at line {seen.get(block.type, '?')})",
                )
            else:
                seen[block.type] = block.line
                out[nested.json] = self.nested(block, nested, (*path, nested.json))
        hook = _HOOKS.get(spec_name)
        if hook is not None:
            hook(self, out, path)
        return out

    def nested(self, block: Block, nested: Nested, path: Path) -> dict[str, Any]:
        """Decode one nested block, checking its labels."""
        self.positions[path] = (block.line, block.column)
        want = 1 if nested.label else 0
        if len(block.labels) != want:
            shape = f'{block.type} "name" {{ ... }}' if want else f"{block.type} {{ ... }}"
            self.error(
                block.line,
                block.column,
                f"a {block.type} block takes {want or 'no'} "
                f"label{'s' if not want else ''}: {shape}",
            )
        out: dict[str, Any] = {}
        if nested.label and block.labels:
            out[nested.label] = block.labels[0]
            self.positions[(*path, nested.label)] = (block.line, block.column)
        out.update(self.block(block.body, nested.spec, path))
        return out

    # -- values ----------------------------------------------------------------------------

    def _attribute(self, attr: Attribute, known: Attr, out: dict[str, Any], path: Path) -> None:
        try:
            raw = evaluate(attr.expr, self.scope)
        except JobspecError as err:
            self.errors.append(err)
            return
        if raw is None:
            return
        try:
            value = convert_kind(raw, known.kind)
        except (ConversionError, ValueError) as err:
            self.error(
                attr.line, attr.column, f'Inappropriate value for attribute "{attr.name}": {err}'
            )
            return
        out[known.json] = value
        self.positions[(*path, known.json)] = (attr.line, attr.column)

    def _map_block(self, block: Block, known: Attr, out: dict[str, Any], path: Path) -> None:
        """``meta { ... }``, ``env { ... }``, ``config { ... }``: a block written as a map."""
        if block.labels:
            self.error(block.line, block.column, f"a {block.type} block takes no labels")
            return
        try:
            raw = self.free_form(block.body, (*path, known.json), known.kind == "any")
            value = convert_kind(raw, known.kind)
        except JobspecError as err:
            self.errors.append(err)
            return
        except (ConversionError, ValueError) as err:
            self.error(block.line, block.column, f'Inappropriate value in "{block.type}": {err}')
            return
        out[known.json] = value
        self.positions[(*path, known.json)] = (block.line, block.column)

    def free_form(self, body: Body, path: Path, allow_blocks: bool) -> dict[str, Any]:
        """A body with no schema: attributes as keys; nested blocks become maps (a repeated
        block type becomes a list of maps; a label adds a level keyed by the label)."""
        out: dict[str, Any] = {}
        for attr in body.attributes:
            if attr.name in out:
                raise JobspecError(
                    self.scope.filename,
                    attr.line,
                    attr.column,
                    f'Attribute redefined: "{attr.name}"',
                )
            out[attr.name] = evaluate(attr.expr, self.scope)
            self.positions[(*path, attr.name)] = (attr.line, attr.column)
        counts: dict[str, int] = {}
        for block in body.blocks:
            counts[block.type] = counts.get(block.type, 0) + 1
        for block in body.blocks:
            if not allow_blocks:
                raise JobspecError(
                    self.scope.filename,
                    block.line,
                    block.column,
                    f'Unexpected block "{block.type}": only "key = value" lines are allowed here',
                )
            if block.type in out and counts[block.type] == 1:
                raise JobspecError(
                    self.scope.filename,
                    block.line,
                    block.column,
                    f'"{block.type}" is set both as an attribute and a block',
                )
            value: Any = self.free_form(block.body, (*path, block.type), True)
            for label in reversed(block.labels):
                value = {label: value}
            if counts[block.type] > 1:
                out.setdefault(block.type, []).append(value)
            else:
                out[block.type] = value
            self.positions.setdefault((*path, block.type), (block.line, block.column))
        return out


def convert_kind(value: Any, kind: str) -> Any:
    """Convert an evaluated value to a schema kind; raises ConversionError/ValueError."""
    if kind == "str":
        return to_string(value)
    if kind == "int":
        return to_int(value)
    if kind == "number":
        return to_number(value)
    if kind == "bool":
        return to_bool(value)
    if kind == "duration":
        if is_number(value):
            return to_int(value)
        return duration_ns(to_string(value))
    if kind == "strings":
        if not isinstance(value, list):
            raise ConversionError(f"a list of strings is required, but found {type_name(value)}")
        return [to_string(v) for v in value]
    if kind == "strmap":
        return {str(k): to_string(v) for k, v in _mapping(value).items()}
    if kind == "headers":
        return {
            str(k): [to_string(x) for x in (v if isinstance(v, list) else [v])]
            for k, v in _mapping(value).items()
        }
    return value


def _mapping(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConversionError(f"a map is required, but found {type_name(value)}")
    return value


def _title(spec_name: str) -> str:
    return spec_name.replace("_", " ")


# -- per-block normalisation ---------------------------------------------------------------


def _constraint(dec: Decoder, out: dict[str, Any], path: Path) -> None:
    """Constraint and affinity shorthands, as Nomad's parser applies them."""
    for name in OPERATOR_SHORTHANDS:
        value = out.pop(name, "")
        if value:
            out["Operand"] = name
            out["RTarget"] = value
            dec.positions[(*path, "Operand")] = dec.positions[(*path, name)]
            dec.positions[(*path, "RTarget")] = dec.positions[(*path, name)]
    if out.pop("distinct_hosts", False):
        out["Operand"] = "distinct_hosts"
        out.setdefault("RTarget", "true")
    prop = out.pop("distinct_property", "")
    if prop:
        out["Operand"] = "distinct_property"
        out["LTarget"] = prop
    for name in ("is_set", "is_not_set"):
        target = out.pop(name, "")
        if target:
            out["Operand"] = name
            out["LTarget"] = target
    out.setdefault("LTarget", "")
    out.setdefault("RTarget", "")
    if not out.get("Operand"):
        out["Operand"] = "="


def _network(dec: Decoder, out: dict[str, Any], path: Path) -> None:
    """Ports with a static value are reserved; the rest stay dynamic (Value 0)."""
    ports = out.pop("DynamicPorts", [])
    if not ports:
        return
    dynamic, reserved = [], []
    temp = (*path, "\0ports")
    dec.relocate((*path, "DynamicPorts"), temp)
    for i, port in enumerate(ports):
        port.setdefault("Value", 0)
        port.setdefault("To", 0)
        target = reserved if port["Value"] > 0 else dynamic
        field = "ReservedPorts" if target is reserved else "DynamicPorts"
        dec.relocate((*temp, i), (*path, field, len(target)))
        target.append(port)
    if dynamic:
        out["DynamicPorts"] = dynamic
    if reserved:
        out["ReservedPorts"] = reserved


def _template(dec: Decoder, out: dict[str, Any], path: Path) -> None:
    out.setdefault("ChangeMode", "restart")
    out.setdefault("Perms", "0644")
    out.setdefault("Splay", 5_000_000_000)
    out.setdefault("ErrMissingKey", False)
    script = out.get("ChangeScript")
    if script is not None:
        script.setdefault("Args", [])
        script.setdefault("Timeout", 5_000_000_000)
        script.setdefault("FailOnError", False)


def _task(dec: Decoder, out: dict[str, Any], path: Path) -> None:
    """An ``identity`` block without a name is the task's default identity."""
    identities = out.pop("Identities", [])
    named = []
    temp = (*path, "\0identities")
    dec.relocate((*path, "Identities"), temp)
    for i, ident in enumerate(identities):
        if ident.get("Name") and ident.get("Name") != "default":
            dec.relocate((*temp, i), (*path, "Identities", len(named)))
            named.append(ident)
        elif "Identity" not in out:
            dec.relocate((*temp, i), (*path, "Identity"))
            out["Identity"] = ident
    if named:
        out["Identities"] = named


def _scaling(dec: Decoder, out: dict[str, Any], path: Path) -> None:
    out.setdefault("Type", "horizontal")


def _spread(dec: Decoder, out: dict[str, Any], path: Path) -> None:
    out.setdefault("SpreadTarget", [])


_HOOKS = {
    "constraint": _constraint,
    "affinity": _constraint,
    "network": _network,
    "template": _template,
    "task": _task,
    "scaling": _scaling,
    "spread": _spread,
}
