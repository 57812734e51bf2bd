"""Rendering model objects as API JSON for the log and snapshots, without pydantic per object.

Commands and snapshots carry objects as ``model_dump(by_alias=True, mode="json",
exclude_defaults=True)`` (:func:`caravan.state.commands.encode_object`). pydantic's serializer
costs the same for every object it is handed, and a plan hands it a thousand allocations whose
placement metrics are built from shared parts: one ``ScoreMetaData`` entry, ``Scores`` map or
``NodesAvailable`` map appears in many allocations (the scheduler shares them by identity).

A :class:`Renderer` renders each model class with a function generated once from the class's
fields (JSON name, default, how to render the value: :mod:`caravan.state.render_fields`), and
renders every nested model object or map once, remembering the result by identity for as long
as the renderer lives (one plan, one chunk of a snapshot). Its output equals pydantic's:
whatever the tables do not know, it hands to pydantic instead of guessing:

* a class with a model serializer, computed fields, excluded or extra fields is dumped by
  pydantic whole;
* a field with its own serializer (``GoTime``), a type the tables cannot render, or a value not
  exactly of its declared type (``True`` in an ``int`` field, an infinite float) is dumped by
  pydantic on its own (``include={field}``); a field at its default is left out first, as
  pydantic does before calling any serializer.

The objects rendered must not change while the renderer lives; renderings it returns share
nested maps with each other, and must not be changed either.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection
from typing import Any

from pydantic import BaseModel

from caravan.state.render_fields import Fallback, FieldSpec, field_specs

_DUMP = {"by_alias": True, "mode": "json", "exclude_defaults": True}

RenderFn = Callable[["Renderer", Any], dict[str, Any]]


def _literal(value: Any) -> str | None:
    """``value`` as source text when it reads back as an equal value of the same type."""
    if type(value) in (str, int, bool, type(None)) or (
        type(value) is float and math.isfinite(value)
    ):
        return repr(value)
    return None


def _source(specs: tuple[FieldSpec, ...]) -> tuple[str, dict[str, Any]]:
    """The source of a class's render function and the globals it refers to. Names, JSON
    names and plain defaults are literals in it: this runs once per rendered object."""
    names: dict[str, Any] = {"Fallback": Fallback, "isfinite": math.isfinite}
    lines = [
        "def render(r, obj):",
        "    d = obj.__dict__",
        "    memo = r._memo",
        "    out = {}",
    ]
    for i, spec in enumerate(specs):
        name, alias = repr(spec.name), repr(spec.alias)
        names[f"D{i}"], names[f"F{i}"], names[f"T{i}"] = spec.default, spec.fn, spec.type
        default = _literal(spec.default) or f"D{i}"
        lines.append(f"    v = d[{name}]")
        if spec.default is None:
            lines.append("    if v is None: pass")
        else:
            lines.append(f"    if v == {default}: pass")
            if spec.optional:
                lines.append(f"    elif v is None: out[{alias}] = None")
        if spec.kind == "scalar":
            lines.append(f"    elif type(v) is {spec.type.__name__}: out[{alias}] = v")
        elif spec.kind == "float":
            lines.append(f"    elif type(v) is float and isfinite(v): out[{alias}] = v")
        elif spec.kind == "call":
            lines.append(f"    elif type(v) is T{i}: out[{alias}] = F{i}(v)")
        elif spec.kind == "model":
            lines += [
                f"    elif type(v) is T{i}:",
                "        h = memo.get(id(v))",
                f"        out[{alias}] = h[2] if h is not None else r.nested(v)",
            ]
        elif spec.kind == "map":
            lines += [
                "    elif type(v) is dict:",
                "        h = memo.get(id(v))",
                f"        if h is not None and h[1] is F{i}: out[{alias}] = h[2]",
                "        else:",
                "            try:",
                f"                h = memo[id(v)] = (v, F{i}, F{i}(r, v))",
                f"                out[{alias}] = h[2]",
                "            except Fallback:",
                f"                r.slow(obj, {name}, out)",
            ]
        elif spec.kind == "value":
            lines += [
                "    else:",
                "        try:",
                f"            out[{alias}] = F{i}(r, v)",
                "        except Fallback:",
                f"            r.slow(obj, {name}, out)",
            ]
            continue
        lines += ["    else:", f"        r.slow(obj, {name}, out)"]
    lines.append("    return out")
    return "\n".join(lines), names


def _compile(specs: tuple[FieldSpec, ...]) -> RenderFn:
    source, names = _source(specs)
    exec(compile(source, "<caravan.state.render>", "exec"), names)
    return names["render"]


#: Generated functions by (class, included fields); plans include a handful of distinct sets.
_COMPILED: dict[tuple[type, frozenset[str] | None], RenderFn | None] = {}
_COMPILED_LIMIT = 1024
#: The functions rendering whole objects of a class, for nested objects.
_WHOLE: dict[type, RenderFn] = {}


def _render_fn(cls: type, names: frozenset[str] | None) -> RenderFn | None:
    """The generated function rendering ``cls`` (only ``names`` when given), or ``None`` when
    pydantic must render its objects whole."""
    key = (cls, names)
    if key in _COMPILED:
        return _COMPILED[key]
    if len(_COMPILED) >= _COMPILED_LIMIT:
        _COMPILED.clear()
    specs = field_specs(cls)
    fn = None
    if specs is not None:
        fn = _compile(specs if names is None else tuple(s for s in specs if s.name in names))
    _COMPILED[key] = fn
    if names is None and fn is not None:
        _WHOLE[cls] = fn
    return fn


class Renderer:
    """Renders model objects as ``model_dump(by_alias=True, mode="json",
    exclude_defaults=True)`` does, each nested object or map once per renderer."""

    __slots__ = ("_memo",)

    def __init__(self) -> None:
        # id -> (the object, what rendered it, its rendering): the object is kept so that its
        # id is not reused meanwhile; a map may be rendered by fields of different types.
        self._memo: dict[int, tuple[Any, Any, Any]] = {}

    def render(self, obj: BaseModel, include: Collection[str] | None = None) -> dict[str, Any]:
        """``obj``'s API JSON without fields at their default; only the attributes in
        ``include`` when given (a frozenset is best: it is the key of a cache)."""
        if include is None:
            names = None
            fn = _WHOLE.get(type(obj)) or _render_fn(type(obj), None)
        else:
            names = frozenset(include)
            fn = _render_fn(type(obj), names)
        if fn is not None:
            try:
                return fn(self, obj)
            except KeyError:
                # An attribute missing from the object: pydantic decides what that renders.
                pass
        return obj.model_dump(include=names, **_DUMP)

    def nested(self, obj: BaseModel) -> dict[str, Any]:
        """:meth:`render` of a nested object, remembered by identity."""
        hit = self._memo.get(id(obj))
        if hit is not None:
            return hit[2]
        out = self.render(obj)
        self._memo[id(obj)] = (obj, None, out)
        return out

    def shared(self, value: Any, fn: Callable[[Renderer, Any], Any]) -> Any:
        """``fn``'s rendering of a map ``value``, remembered by identity (and ``fn``)."""
        hit = self._memo.get(id(value))
        if hit is not None and hit[1] is fn:
            return hit[2]
        out = fn(self, value)
        self._memo[id(value)] = (value, fn, out)
        return out

    @staticmethod
    def slow(obj: BaseModel, name: str, out: dict[str, Any]) -> None:
        """Render field ``name`` of ``obj`` into ``out`` with pydantic."""
        out.update(obj.model_dump(include={name}, **_DUMP))
