"""Input variables (``variable`` blocks, ``var.x``) and ``locals`` of an HCL2 job file.

Values come, lowest precedence first, from a variable's ``default``, the environment
(``NOMAD_VAR_<name>``, then ``CARAVAN_VAR_<name>``), ``-var-file`` files in order, and ``-var``
flags. Each value is converted to the declared type and checked by the ``validation`` blocks.
Locals are evaluated lazily, so they may reference each other in any order; cycles are errors.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from lark import Token, Tree

from caravan.errors import JobspecError

from .expressions import Scope, evaluate, position
from .syntax import Attribute, Block, Body, parse_body
from .templates import parse_expression
from .values import ConversionError, to_bool, to_number, to_string, type_name

TypeSpec = tuple[Any, ...]
ANY: TypeSpec = ("any",)
_PRIMITIVES = {"string", "number", "bool", "any"}
ENV_PREFIXES = ("NOMAD_VAR_", "CARAVAN_VAR_")


@dataclass
class Variable:
    """A declared variable: its type, default (``missing`` when none) and validations."""

    name: str
    type: TypeSpec
    default: Any
    has_default: bool
    validations: list[Block]
    line: int
    column: int


def parse_type(expr: Tree | Token, scope: Scope) -> TypeSpec:
    """Read a type constraint expression: ``string``, ``list(number)``, ``object({a=string})``."""
    node = expr
    while isinstance(node, Tree) and node.data == "expr_term" and len(node.children) == 1:
        node = node.children[0]
    if isinstance(node, Tree) and node.data == "identifier":
        name = str(node.children[0])
        if name in _PRIMITIVES:
            return (name,)
        if name in ("list", "set", "map"):
            return (name, ANY)
    if isinstance(node, Tree) and node.data == "function_call":
        kids = [c for c in node.children if isinstance(c, Tree)]
        name = str(kids[0].children[0])
        args = [c for c in kids[1].children if isinstance(c, Tree)] if len(kids) > 1 else []
        if name in ("list", "set", "map") and len(args) == 1:
            return (name, parse_type(args[0], scope))
        if name == "object" and len(args) == 1:
            return ("object", _object_type(args[0], scope))
        if name == "tuple" and len(args) == 1:
            inner = _unwrap(args[0])
            if isinstance(inner, Tree) and inner.data == "tuple":
                items = [c for c in inner.children if isinstance(c, Tree)]
                return ("tuple", [parse_type(c, scope) for c in items])
    raise scope.error(expr, "Invalid type specification")


def _unwrap(node: Tree | Token) -> Tree | Token:
    while isinstance(node, Tree) and node.data == "expr_term" and len(node.children) == 1:
        node = node.children[0]
    return node


def _object_type(expr: Tree, scope: Scope) -> dict[str, TypeSpec]:
    node = _unwrap(expr)
    if not (isinstance(node, Tree) and node.data == "object"):
        raise scope.error(expr, "Invalid type specification: object() needs {name = type, ...}")
    out = {}
    for elem in (c for c in node.children if isinstance(c, Tree) and c.data == "object_elem"):
        key_node, value_node = (c for c in elem.children if isinstance(c, Tree))
        key = "".join(str(t) for t in key_node.scan_values(lambda v: isinstance(v, Token)))
        out[key.strip('"')] = parse_type(value_node, scope)
    return out


def type_label(spec: TypeSpec) -> str:
    """Render a type the way it is written in HCL."""
    if spec[0] in _PRIMITIVES:
        return spec[0]
    if spec[0] == "object":
        return "object({" + ", ".join(f"{k}={type_label(v)}" for k, v in spec[1].items()) + "})"
    if spec[0] == "tuple":
        return "tuple([" + ", ".join(type_label(t) for t in spec[1]) + "])"
    return f"{spec[0]}({type_label(spec[1])})"


def convert(value: Any, spec: TypeSpec) -> Any:
    """Convert ``value`` to the type ``spec``; raises :class:`ConversionError` saying why."""
    kind = spec[0]
    if value is None or kind == "any":
        return value
    if kind == "string":
        return to_string(value)
    if kind == "number":
        return to_number(value)
    if kind == "bool":
        return to_bool(value)
    if kind in ("list", "set"):
        if not isinstance(value, list):
            raise ConversionError(
                f"{kind} of {type_label(spec[1])} required, got {type_name(value)}"
            )
        items = [convert(v, spec[1]) for v in value]
        if kind == "set":
            items = [v for i, v in enumerate(items) if v not in items[:i]]
        return items
    if kind == "map":
        if not isinstance(value, dict):
            raise ConversionError(f"map of {type_label(spec[1])} required, got {type_name(value)}")
        return {k: convert(v, spec[1]) for k, v in value.items()}
    if kind == "tuple":
        if not isinstance(value, list) or len(value) != len(spec[1]):
            raise ConversionError(f"a tuple of {len(spec[1])} elements is required")
        return [convert(v, t) for v, t in zip(value, spec[1], strict=True)]
    if not isinstance(value, dict):
        raise ConversionError(f"an object is required, got {type_name(value)}")
    missing = [k for k in spec[1] if k not in value]
    if missing:
        raise ConversionError(f'attribute "{missing[0]}" is required')
    return {k: convert(value[k], t) for k, t in spec[1].items()}


def declare(blocks: list[Block], scope: Scope) -> dict[str, Variable]:
    """Read ``variable "name" {}`` and ``variables {}`` blocks into declarations."""
    declared: dict[str, Variable] = {}
    for block in blocks:
        if block.type == "variables":
            if block.labels or block.body.blocks:
                raise JobspecError(
                    scope.filename,
                    block.line,
                    block.column,
                    'a variables block holds only "name = default" lines',
                )
            for attr in block.body.attributes:
                _add(
                    declared,
                    Variable(
                        attr.name, ANY, evaluate(attr.expr, scope), True, [], attr.line, attr.column
                    ),
                    scope,
                )
            continue
        if len(block.labels) != 1:
            raise JobspecError(
                scope.filename,
                block.line,
                block.column,
                'a variable block needs one label: variable "name" {}',
            )
        attrs = {a.name: a for a in block.body.attributes}
        for attr in block.body.attributes:
            if attr.name not in ("type", "default", "description", "sensitive", "nullable"):
                raise JobspecError(
                    scope.filename,
                    attr.line,
                    attr.column,
                    f'Unsupported argument: "{attr.name}" is not expected in a variable block',
                )
        for inner in block.body.blocks:
            if inner.type != "validation":
                raise JobspecError(
                    scope.filename,
                    inner.line,
                    inner.column,
                    f'Unsupported block type: "{inner.type}" is not expected here',
                )
        spec = parse_type(attrs["type"].expr, scope) if "type" in attrs else ANY
        default, has_default = None, "default" in attrs
        if has_default:
            raw = evaluate(attrs["default"].expr, scope)
            try:
                default = convert(raw, spec)
            except ConversionError as err:
                attr = attrs["default"]
                raise JobspecError(
                    scope.filename,
                    attr.line,
                    attr.column,
                    f"Invalid default value for variable: {err}",
                ) from None
        variable = Variable(
            block.labels[0],
            spec,
            default,
            has_default,
            [b for b in block.body.blocks],
            block.line,
            block.column,
        )
        _add(declared, variable, scope)
    return declared


def _add(declared: dict[str, Variable], variable: Variable, scope: Scope) -> None:
    if variable.name in declared:
        first = declared[variable.name]
        raise JobspecError(
            scope.filename,
            variable.line,
            variable.column,
            f'Duplicate variable "{variable.name}"; first declared at line {first.line}',
        )
    declared[variable.name] = variable


def _from_text(text: str, spec: TypeSpec, scope: Scope) -> Any:
    """A ``-var``/environment value: plain text for strings, an HCL expression otherwise."""
    if spec[0] in ("string", "any"):
        return text
    try:
        return evaluate(
            parse_expression(text, scope.filename, 0),
            Scope(scope.filename, functions=scope.functions),
        )
    except JobspecError:
        return text


def read_var_file(path: str) -> tuple[str, str]:
    """Read a ``-var-file`` from disk; returns (name, text) for :func:`resolve`."""
    try:
        with open(path, encoding="utf-8") as handle:
            return path, handle.read()
    except (OSError, UnicodeDecodeError) as err:
        raise JobspecError(path, 0, 0, f"cannot read variable file: {err}") from None


def var_file_assignments(name: str, source: str) -> list[Attribute]:
    """The ``key = value`` lines of variable-file text; blocks are an error."""
    body = parse_body(source, name)
    if body.blocks:
        block = body.blocks[0]
        raise JobspecError(
            name,
            block.line,
            block.column,
            f'a variable file holds only "name = value" lines, not blocks ({block.type})',
        )
    return body.attributes


def resolve(
    declared: dict[str, Variable],
    scope: Scope,
    *,
    env: Mapping[str, str],
    var_files: list[tuple[str, str]],
    variables: Mapping[str, str],
) -> dict[str, Any]:
    """Compute every variable's final value; raises JobspecError for unknown, missing, invalid.

    ``var_files`` are (name, text) pairs of variable files, lowest precedence first.
    """
    values: dict[str, Any] = {n: v.default for n, v in declared.items() if v.has_default}
    for prefix in ENV_PREFIXES:
        for key, text in env.items():
            name = key[len(prefix) :]
            if key.startswith(prefix) and name in declared:
                values[name] = _checked(
                    text, declared[name], scope, f"environment variable {key}", True
                )
    for path, text in var_files:
        file_scope = Scope(path, functions=scope.functions)
        for attr in var_file_assignments(path, text):
            if attr.name not in declared:
                raise JobspecError(
                    path,
                    attr.line,
                    attr.column,
                    f'Undefined variable: "{attr.name}" is not declared in the job file',
                )
            raw = evaluate(attr.expr, file_scope)
            values[attr.name] = _checked(raw, declared[attr.name], file_scope, path, False, attr)
    for name, text in variables.items():
        if name not in declared:
            raise JobspecError(
                scope.filename,
                0,
                0,
                f'Undefined -var variable: "{name}" is not declared in the job file',
            )
        values[name] = _checked(text, declared[name], scope, f"-var {name}", True)
    for name, variable in declared.items():
        if name not in values:
            raise JobspecError(
                scope.filename,
                variable.line,
                variable.column,
                f'Unset variable "{name}": a value is required (it has no default); '
                f"set it with -var, -var-file or NOMAD_VAR_{name}",
            )
    for variable in declared.values():
        _validate(variable, values[variable.name], scope)
    return values


def _checked(
    raw: Any,
    variable: Variable,
    scope: Scope,
    origin: str,
    text: bool,
    attr: Attribute | None = None,
) -> Any:
    value = _from_text(raw, variable.type, scope) if text else raw
    try:
        return convert(value, variable.type)
    except ConversionError as err:
        line, column = (attr.line, attr.column) if attr else (0, 0)
        raise JobspecError(
            scope.filename,
            line,
            column,
            f'Invalid value for variable "{variable.name}" (from {origin}): {err}',
        ) from None


def _validate(variable: Variable, value: Any, scope: Scope) -> None:
    for block in variable.validations:
        attrs = {a.name: a for a in block.body.attributes}
        if "condition" not in attrs:
            raise JobspecError(
                scope.filename, block.line, block.column, "a validation block needs a condition"
            )
        check = Scope(scope.filename, {variable.name: value}, scope.functions)
        condition = attrs["condition"]
        try:
            ok = to_bool(evaluate(condition.expr, check))
        except ConversionError as err:
            raise JobspecError(
                scope.filename,
                condition.line,
                condition.column,
                f"Invalid validation condition: {err}",
            ) from None
        if not ok:
            message = "the value does not pass validation"
            if "error_message" in attrs:
                message = to_string(evaluate(attrs["error_message"].expr, check))
            line, column = position(condition.expr)
            raise JobspecError(
                scope.filename,
                line or condition.line,
                column or condition.column,
                f'Invalid value for variable "{variable.name}": {message}',
            )


def locals_resolver(blocks: list[Block], scope: Scope) -> Callable[[str, Tree | Token], Any]:
    """A lookup for ``local.<name>`` that evaluates on first use and detects cycles."""
    exprs: dict[str, Attribute] = {}
    for block in blocks:
        for attr in block.body.attributes:
            if attr.name in exprs:
                raise JobspecError(
                    scope.filename,
                    attr.line,
                    attr.column,
                    f'Duplicate local value "{attr.name}"; first defined at line '
                    f"{exprs[attr.name].line}",
                )
            exprs[attr.name] = attr
    done: dict[str, Any] = {}
    active: list[str] = []

    def lookup(name: str, node: Tree | Token) -> Any:
        if name in done:
            return done[name]
        if name not in exprs:
            raise scope.error(node, f'Unsupported attribute: no local value named "{name}"')
        if name in active:
            cycle = " -> ".join([*active[active.index(name) :], name])
            attr = exprs[name]
            raise JobspecError(scope.filename, attr.line, attr.column, f"Cycle in locals: {cycle}")
        active.append(name)
        try:
            done[name] = evaluate(
                exprs[name].expr, Scope(scope.filename, scope.variables, scope.functions, lookup)
            )
        finally:
            active.pop()
        return done[name]

    return lookup


def collect(body: Body) -> tuple[list[Block], list[Block], list[Block]]:
    """Split top-level blocks into (variable declarations, locals, everything else)."""
    variables = [b for b in body.blocks if b.type in ("variable", "variables")]
    local_blocks = [b for b in body.blocks if b.type == "locals"]
    rest = [b for b in body.blocks if b.type not in ("variable", "variables", "locals")]
    return variables, local_blocks, rest
