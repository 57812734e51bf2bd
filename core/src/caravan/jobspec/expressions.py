"""Evaluating HCL2 expressions from python-hcl2's lark tree.

Supports what job files use: literals, string templates (``${...}``, ``%{ if }``, ``%{ for }``),
heredocs, tuples and objects, arithmetic, comparison and logic, ``a ? b : c``, ``for``
expressions, indexing, attribute access, splats and function calls. Names resolve through
:class:`Scope`: ``var.*``, ``local.*`` and ``for`` iterators.

A template interpolation whose references are rooted anywhere else (``${NOMAD_PORT_db}``,
``${node.unique.name}``, ``${meta.rack}``, ``${env["x"]}``) is kept verbatim: those are
interpolated later, by the scheduler or the client, not by the parser.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lark import Token, Tree

from caravan.errors import JobspecError

from .templates import Directive, Interp, TemplatePart, render, scan_heredoc, string_parts
from .values import (
    ConversionError,
    equal,
    normalize_number,
    to_bool,
    to_number,
    to_string,
    type_name,
)

# Roots the parser resolves itself; anything else inside ``${...}`` is left for runtime.
PARSE_TIME_ROOTS = frozenset({"var", "local"})

Function = Callable[..., Any]


@dataclass
class Scope:
    """What names mean while evaluating: variables, locals, iterators and functions.

    ``lookup_local`` resolves a local lazily (so locals can reference each other in any order);
    ``filename`` and ``line_offset`` place error messages.
    """

    filename: str
    variables: dict[str, Any] = field(default_factory=dict)
    functions: dict[str, Function] = field(default_factory=dict)
    lookup_local: Callable[[str, Tree | Token], Any] | None = None
    bound: dict[str, Any] = field(default_factory=dict)
    line_offset: int = 0

    def child(self, **bound: Any) -> Scope:
        """A scope with extra iterator names bound (for ``for`` expressions and directives)."""
        return Scope(
            self.filename,
            self.variables,
            self.functions,
            self.lookup_local,
            {**self.bound, **bound},
            self.line_offset,
        )

    def error(self, node: Tree | Token | None, message: str) -> JobspecError:
        """A :class:`JobspecError` at ``node``'s position."""
        line, column = position(node)
        return JobspecError(self.filename, line + self.line_offset if line else 0, column, message)


def position(node: Tree | Token | None) -> tuple[int, int]:
    """(line, column) of a lark node, or (0, 0) if it has none."""
    if isinstance(node, Token):
        return node.line or 0, node.column or 0
    if isinstance(node, Tree) and not node.meta.empty:
        return node.meta.line, node.meta.column
    return 0, 0


def _trees(node: Tree) -> list[Tree]:
    return [c for c in node.children if isinstance(c, Tree) and c.data != "new_line_or_comment"]


def _tokens(node: Tree) -> list[Token]:
    return [c for c in node.children if isinstance(c, Token)]


def evaluate(node: Tree | Token, scope: Scope) -> Any:
    """Evaluate an expression tree; raises :class:`JobspecError` at the offending position."""
    try:
        return _eval(node, scope)
    except ConversionError as err:
        raise scope.error(node, f"Invalid value: {err}") from None
    except RecursionError:
        raise scope.error(node, "expression is nested too deeply") from None


def _eval(node: Tree | Token, scope: Scope) -> Any:
    if isinstance(node, Token):
        raise scope.error(node, f"unexpected {node!s}")
    handler = _HANDLERS.get(node.data)
    if handler is None:
        raise scope.error(node, f"unsupported expression ({node.data})")
    return handler(node, scope)


def _expr_term(node: Tree, scope: Scope) -> Any:
    inner = _trees(node)
    if len(inner) == 1:
        return _eval(inner[0], scope)
    raise scope.error(node, "empty expression")


def _identifier(node: Tree, scope: Scope) -> Any:
    name = str(node.children[0])
    if name in scope.bound:
        return scope.bound[name]
    if name == "var":
        return scope.variables
    if name == "local":
        return _LocalsView(scope)
    raise scope.error(node, f'Unknown variable: there is no variable named "{name}"')


class _LocalsView:
    """Stands for ``local`` until an attribute picks one local, which is then evaluated."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope

    def get(self, name: str, node: Tree) -> Any:
        if self.scope.lookup_local is None:
            raise self.scope.error(node, "locals cannot be used here")
        return self.scope.lookup_local(name, node)


def _literal(node: Tree, scope: Scope) -> Any:
    word = str(node.children[0])
    return {"true": True, "false": False, "null": None}[word]


def _int(node: Tree, scope: Scope) -> Any:
    return int(str(node.children[0]))


def _float(node: Tree, scope: Scope) -> Any:
    return normalize_number(float(str(node.children[0])))


def _tuple(node: Tree, scope: Scope) -> Any:
    return [_eval(c, scope) for c in _trees(node)]


def _object(node: Tree, scope: Scope) -> Any:
    out: dict[str, Any] = {}
    for elem in _trees(node):
        key_node, value_node = _trees(elem)
        out[_object_key(key_node, scope)] = _eval(value_node, scope)
    return out


def _object_key(node: Tree, scope: Scope) -> str:
    inner = _trees(node)
    if not inner:
        return str(_tokens(node)[0])
    term = inner[0]
    # A bare name as a key is the key itself, not a variable reference.
    parts = _trees(term) if term.data == "expr_term" else []
    if len(parts) == 1 and parts[0].data == "identifier" and len(term.children) == 1:
        return str(parts[0].children[0])
    key = _eval(term, scope)
    if isinstance(key, (dict, list)) or key is None:
        raise scope.error(node, f"object keys must be strings, not {type_name(key)}")
    return _string(key, scope, node)


def _string(value: Any, scope: Scope, node: Tree) -> str:
    try:
        return to_string(value)
    except ConversionError as err:
        raise scope.error(node, f"Invalid template interpolation value: {err}") from None


def _string_template(node: Tree, scope: Scope) -> Any:
    return render_template(string_parts(node), scope)


def _heredoc(node: Tree, scope: Scope) -> Any:
    token = node.children[0]
    return render_template(scan_heredoc(token, scope.filename), scope)


def _template_string(node: Tree, scope: Scope) -> Any:
    from .syntax import unescape

    return unescape(str(node.children[0])[2:-2])


def render_template(parts: list[TemplatePart], scope: Scope) -> Any:
    """Render template parts; a lone ``${expr}`` yields the expression's value unconverted."""
    if len(parts) == 1 and isinstance(parts[0], Interp):
        part = parts[0]
        return part.raw if runtime_only(part.expr) else _eval_part(part, scope)
    return render(parts, lambda part, bound: _piece(part, scope.child(**bound)))


def _eval_part(part: Interp | Directive, scope: Scope) -> Any:
    if part.line_offset:
        scope = scope.child()
        scope.line_offset += part.line_offset
    return _eval(part.expr, scope)


def _piece(part: Interp | Directive, scope: Scope) -> Any:
    if isinstance(part, Interp):
        if runtime_only(part.expr, set(scope.bound)):
            return part.raw
        return _string(_eval_part(part, scope), scope, part.expr)
    return _eval_part(part, scope)


def runtime_only(expr: Tree | Token, bound: set[str] | None = None) -> bool:
    """True when ``expr`` references a name the parser does not resolve (kept verbatim)."""
    return any(root not in PARSE_TIME_ROOTS for root in free_roots(expr, set(bound or ())))


def free_roots(node: Tree | Token, bound: set[str]) -> set[str]:
    """The root names an expression references, ignoring function names, keys and iterators."""
    if not isinstance(node, Tree):
        return set()
    if node.data == "identifier":
        name = str(node.children[0])
        return set() if name in bound else {name}
    if node.data == "function_call":
        return set().union(*(free_roots(c, bound) for c in _trees(node)[1:]))
    if node.data == "get_attr":
        return set()
    if node.data == "object_elem_key":
        inner = _trees(node)
        term = inner[0] if inner else None
        if term is not None and len(_trees(term)) == 1 and _trees(term)[0].data == "identifier":
            return set()
    if node.data in ("for_tuple_expr", "for_object_expr"):
        intro = _trees(node)[0]
        names = {str(c.children[0]) for c in _trees(intro) if c.data == "identifier"}
        collection = [c for c in _trees(intro) if c.data != "identifier"]
        roots = set().union(*(free_roots(c, bound) for c in collection))
        return roots.union(*(free_roots(c, bound | names) for c in _trees(node)[1:]))
    return set().union(*(free_roots(c, bound) for c in node.children))


def _unary(node: Tree, scope: Scope) -> Any:
    op = str(_tokens(node)[0])
    value = _eval(_trees(node)[0], scope)
    if op == "!":
        return not to_bool(value)
    return normalize_number(-to_number(value))


def _binary(node: Tree, scope: Scope) -> Any:
    left_node, term = _trees(node)[:2]
    op_node, right_node = _trees(term)[:2]
    op = str(op_node.children[0]).strip()
    left = _eval(left_node, scope)
    if op == "&&":
        return to_bool(left) and to_bool(_eval(right_node, scope))
    if op == "||":
        return to_bool(left) or to_bool(_eval(right_node, scope))
    right = _eval(right_node, scope)
    if op == "==":
        return equal(left, right)
    if op == "!=":
        return not equal(left, right)
    a, b = to_number(left), to_number(right)
    if op in ("<", ">", "<=", ">="):
        return {"<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[op]
    if op in ("/", "%") and b == 0:
        raise scope.error(node, "Division by zero")
    if op == "+":
        result = a + b
    elif op == "-":
        result = a - b
    elif op == "*":
        result = a * b
    elif op == "/":
        result = a / b
    else:
        result = a - b * int(a / b)
    if isinstance(result, float) and (result != result or abs(result) == float("inf")):
        raise scope.error(node, "arithmetic result is not a finite number")
    return normalize_number(result)


def _conditional(node: Tree, scope: Scope) -> Any:
    cond, then, other = _trees(node)
    try:
        chosen = to_bool(_eval(cond, scope))
    except ConversionError as err:
        raise scope.error(cond, f"Incorrect condition type: {err}") from None
    return _eval(then if chosen else other, scope)


def get_attribute(value: Any, name: str, scope: Scope, node: Tree) -> Any:
    """``value.name``; an unknown key or a non-object is an error naming the attribute."""
    if isinstance(value, _LocalsView):
        return value.get(name, node)
    if isinstance(value, dict):
        if name not in value:
            what = "variable" if value is scope.variables else "attribute"
            raise scope.error(node, f'Unsupported attribute: no {what} named "{name}"')
        return value[name]
    raise scope.error(node, f'Unsupported attribute "{name}": {type_name(value)} has no attributes')


def get_index(value: Any, key: Any, scope: Scope, node: Tree) -> Any:
    """``value[key]`` for lists (whole-number keys) and objects (string keys)."""
    if isinstance(value, _LocalsView):
        return value.get(_string(key, scope, node), node)
    if isinstance(value, list):
        try:
            index = int(to_number(key))
        except ConversionError:
            raise scope.error(node, f"Invalid index: a number is required, not {key!r}") from None
        if not 0 <= index < len(value):
            raise scope.error(node, f"Invalid index: {index} is out of range ({len(value)} items)")
        return value[index]
    if isinstance(value, dict):
        name = _string(key, scope, node)
        if name not in value:
            raise scope.error(node, f'Invalid index: the given key "{name}" does not exist')
        return value[name]
    raise scope.error(node, f"Invalid index: a {type_name(value)} cannot be indexed")


def _apply_step(value: Any, step: Tree, scope: Scope) -> Any:
    if step.data == "get_attr":
        return get_attribute(value, str(_trees(step)[0].children[0]), scope, step)
    if step.data == "short_index":
        return get_index(value, int(str(_tokens(step)[-1])), scope, step)
    return get_index(value, _eval(_trees(step)[0], scope), scope, step)


def _index_term(node: Tree, scope: Scope) -> Any:
    base, step = _trees(node)
    return _apply_step(_eval(base, scope), step, scope)


def _splat(node: Tree, scope: Scope) -> Any:
    base, splat = _trees(node)
    value = _eval(base, scope)
    items = [] if value is None else value if isinstance(value, list) else [value]
    out = []
    for item in items:
        for step in _trees(splat):
            item = _apply_step(item, step, scope)
        out.append(item)
    return out


def _function_call(node: Tree, scope: Scope) -> Any:
    parts = _trees(node)
    name = str(parts[0].children[0])
    func = scope.functions.get(name)
    if func is None:
        raise scope.error(node, f'Call to unknown function: there is no function named "{name}"')
    args: list[Any] = []
    expand = False
    if len(parts) > 1:
        arg_node = parts[-1]
        args = [_eval(c, scope) for c in _trees(arg_node)]
        expand = any(t.type == "ELLIPSIS" for t in _tokens(arg_node))
    if expand:
        if not args or not isinstance(args[-1], list):
            raise scope.error(node, f'Invalid expanding argument for "{name}": a list is required')
        args = args[:-1] + args[-1]
    try:
        return func(*args)
    except JobspecError:
        raise
    except (ConversionError, ValueError, TypeError, KeyError, IndexError, OverflowError) as err:
        raise scope.error(node, f'Error in function call "{name}": {err}') from None


def _for_items(intro: Tree, scope: Scope) -> tuple[list[str], list[tuple[Any, Any]]]:
    names = [str(c.children[0]) for c in _trees(intro) if c.data == "identifier"]
    collection_node = next(c for c in _trees(intro) if c.data != "identifier")
    collection = _eval(collection_node, scope)
    if isinstance(collection, list):
        pairs = list(enumerate(collection))
    elif isinstance(collection, dict):
        pairs = sorted(collection.items())
    else:
        raise scope.error(
            collection_node, f"Iteration over non-iterable value: {type_name(collection)}"
        )
    return names, pairs


def _bind(names: list[str], key: Any, value: Any) -> dict[str, Any]:
    if len(names) == 1:
        return {names[0]: value}
    return {names[0]: key, names[1]: value}


def _for_cond(node: Tree, scope: Scope) -> bool:
    cond = [c for c in _trees(node) if c.data == "for_cond"]
    if not cond:
        return True
    try:
        return to_bool(_eval(_trees(cond[0])[0], scope))
    except ConversionError as err:
        raise scope.error(cond[0], f"Invalid for condition: {err}") from None


def _for_tuple(node: Tree, scope: Scope) -> Any:
    intro, body = _trees(node)[:2]
    names, pairs = _for_items(intro, scope)
    out = []
    for key, value in pairs:
        inner = scope.child(**_bind(names, key, value))
        if _for_cond(node, inner):
            out.append(_eval(body, inner))
    return out


def _for_object(node: Tree, scope: Scope) -> Any:
    intro, key_node, value_node = _trees(node)[:3]
    grouping = any(isinstance(c, Token) and c.type == "ELLIPSIS" for c in node.children)
    names, pairs = _for_items(intro, scope)
    out: dict[str, Any] = {}
    for key, value in pairs:
        inner = scope.child(**_bind(names, key, value))
        if not _for_cond(node, inner):
            continue
        out_key = _string(_eval(key_node, inner), scope, key_node)
        out_value = _eval(value_node, inner)
        if grouping:
            out.setdefault(out_key, []).append(out_value)
        elif out_key in out:
            raise scope.error(key_node, f'Duplicate object key "{out_key}" (use "..." to group)')
        else:
            out[out_key] = out_value
    return out


_HANDLERS: dict[str, Callable[[Tree, Scope], Any]] = {
    "expr_term": _expr_term,
    "identifier": _identifier,
    "literal_value": _literal,
    "int_lit": _int,
    "float_lit": _float,
    "string": _string_template,
    "template_string": _template_string,
    "heredoc_template": _heredoc,
    "heredoc_template_trim": _heredoc,
    "tuple": _tuple,
    "object": _object,
    "unary_op": _unary,
    "binary_op": _binary,
    "conditional": _conditional,
    "index_expr_term": _index_term,
    "get_attr_expr_term": _index_term,
    "attr_splat_expr_term": _splat,
    "full_splat_expr_term": _splat,
    "function_call": _function_call,
    "for_tuple_expr": _for_tuple,
    "for_object_expr": _for_object,
}
