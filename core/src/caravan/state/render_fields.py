"""The field tables :mod:`caravan.state.render` generates its render functions from.

For each model class: every field's attribute, JSON name (as ``by_alias=True`` writes it),
default (what ``exclude_defaults=True`` compares with) and how its values are rendered. Only
types whose JSON rendering is plain are described (``str``, ``int``, ``bool``, finite
``float``, nested models, ``list`` and ``dict[str, ...]`` of those, ``Any`` holding JSON-shaped
data); anything else is left to pydantic.
"""

from __future__ import annotations

import math
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, PlainSerializer, WrapSerializer

from caravan.structs.base import format_go_time

if TYPE_CHECKING:
    from caravan.state.render import Renderer


class Fallback(Exception):
    """A value the tables cannot render exactly as pydantic would: pydantic renders it."""


#: The default of a field that has none (never equal to a value).
NO_DEFAULT = object()

#: Renders one non-``None`` value of a field with a :class:`Renderer`; raises
#: :class:`Fallback` for a value of another type than the field's.
ValueFn = Callable[["Renderer", Any], Any]


@dataclass(frozen=True)
class FieldSpec:
    """One field. ``kind`` is ``scalar`` (``type`` exactly), ``float``, ``model`` (``type``
    exactly, rendered once per renderer), ``map`` (a ``dict`` rendered by ``fn`` once per
    renderer), ``value`` (rendered by ``fn``), ``call`` (``fn(value)`` for a value of ``type``
    exactly: the field's own serializer) or ``slow`` (by pydantic); ``optional`` when ``None``
    is a valid value."""

    name: str
    alias: str
    default: Any
    kind: str
    type: Any = None
    fn: ValueFn | None = None
    optional: bool = False


_PLAIN_SCALARS = (str, int, bool, type(None))


def _plain(renderer: Renderer, value: Any) -> Any:
    """A value of an ``Any`` field: JSON-shaped data is copied, anything else is pydantic's."""
    tp = type(value)
    if tp in _PLAIN_SCALARS or (tp is float and math.isfinite(value)):
        return value
    if tp is dict:
        if not all(type(k) is str for k in value):
            raise Fallback
        return {k: _plain(renderer, v) for k, v in value.items()}
    if tp is list:
        return [_plain(renderer, v) for v in value]
    raise Fallback


def _check(tp: type) -> Callable[[Any], bool]:
    if tp is float:
        return lambda v: type(v) is float and math.isfinite(v)
    return lambda v: type(v) is tp


def _item_fn(tp: Any) -> ValueFn | None:
    """How to render one non-field value (an item of a list or map) of type ``tp``."""
    if tp in (str, int, bool, float):
        ok = _check(tp)

        def scalar(_: Renderer, v: Any) -> Any:
            if ok(v):
                return v
            raise Fallback

        return scalar
    if isinstance(tp, type) and issubclass(tp, BaseModel):

        def model(renderer: Renderer, v: Any) -> Any:
            if type(v) is not tp:
                raise Fallback
            return renderer.nested(v)

        return model
    return _value_fn(tp)


_STR = frozenset({str})


def _scalar_map(tp: type) -> ValueFn:
    # Types checked by C-level passes over keys and values: these maps are most of a metric.
    allowed = frozenset({tp})
    finite = tp is float

    def render(_: Renderer, value: Any) -> dict[str, Any]:
        if type(value) is not dict:
            raise Fallback
        if value and not (
            _STR.issuperset(map(type, value))
            and allowed.issuperset(map(type, value.values()))
            and (not finite or all(map(math.isfinite, value.values())))
        ):
            raise Fallback
        return dict(value)

    return render


def _map(item: ValueFn) -> ValueFn:
    def render(renderer: Renderer, value: Any) -> dict[str, Any]:
        if type(value) is not dict or not all(type(k) is str for k in value):
            raise Fallback
        return {k: item(renderer, v) for k, v in value.items()}

    return render


def _shared(render: ValueFn) -> ValueFn:
    """``render`` of a map remembered by identity, for maps inside lists and maps."""

    def shared(renderer: Renderer, value: Any) -> Any:
        return renderer.shared(value, render)

    return shared


def _model_list(cls: type) -> ValueFn:
    def render(renderer: Renderer, value: Any) -> list[Any]:
        if type(value) is not list:
            raise Fallback
        memo, out = renderer._memo, []
        for v in value:
            if type(v) is not cls:
                raise Fallback
            hit = memo.get(id(v))
            out.append(hit[2] if hit is not None else renderer.nested(v))
        return out

    return render


def _list(item: ValueFn) -> ValueFn:
    def render(renderer: Renderer, value: Any) -> list[Any]:
        if type(value) is not list:
            raise Fallback
        return [item(renderer, v) for v in value]

    return render


def _map_fn(item_type: Any) -> ValueFn | None:
    """How to render a ``dict[str, item_type]`` (not remembered), or ``None``."""
    if item_type in (str, int, bool, float):
        return _scalar_map(item_type)
    item = _item_fn(item_type)
    return None if item is None else _map(item)


def _value_fn(tp: Any) -> ValueFn | None:
    """How to render a list, map or ``Any`` value of type ``tp``; ``None`` if only pydantic
    knows."""
    if tp is Any:
        return _plain
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is dict and len(args) == 2 and args[0] is str:
        fn = _map_fn(args[1])
        return None if fn is None else _shared(fn)
    if origin is list and len(args) == 1:
        if isinstance(args[0], type) and issubclass(args[0], BaseModel):
            return _model_list(args[0])
        item = _item_fn(args[0])
        return None if item is None else _list(item)
    return None


def _kind(tp: Any) -> tuple[str, Any, ValueFn | None, bool]:
    """``(kind, type, fn, optional)`` of a field annotated ``tp``."""
    optional = False
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        rest = [a for a in args if a is not type(None)]
        if len(rest) != 1 or len(args) != 2:
            return "slow", None, None, False
        tp, optional = rest[0], True
    if tp in (str, int, bool):
        return "scalar", tp, None, optional
    if tp is float:
        return "float", tp, None, optional
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return "model", tp, None, optional
    args = typing.get_args(tp)
    if typing.get_origin(tp) is dict and len(args) == 2 and args[0] is str:
        fn = _map_fn(args[1])
        return ("slow", None, None, False) if fn is None else ("map", None, fn, optional)
    fn = _value_fn(tp)
    return ("slow", None, None, False) if fn is None else ("value", None, fn, optional)


def _default(info: Any) -> tuple[Any, bool]:
    """``(default, known)``: what ``exclude_defaults`` compares a field's value with."""
    if info.default_factory is None:
        return (NO_DEFAULT if info.is_required() else info.default), True
    if getattr(info, "default_factory_takes_data", False):
        return NO_DEFAULT, False
    default = info.default_factory()
    # pydantic builds a fresh default for each comparison; one built here must be equal.
    return default, bool(default == info.default_factory())


#: Serializers the tables call themselves: function -> the type of value it is called with.
#: pydantic calls them for every value that is not at the default; those of another type
#: (``None`` for a ``GoTime`` whose default is not ``None``) are left to pydantic.
_KNOWN_SERIALIZERS: dict[Callable[[Any], Any], type] = {format_go_time: datetime}


def _known_serializer(info: Any) -> Callable[[Any], Any] | None:
    """The function of a field's plain serializer if it is one of ``_KNOWN_SERIALIZERS``."""
    found = [m for m in info.metadata if isinstance(m, PlainSerializer | WrapSerializer)]
    if len(found) != 1 or not isinstance(found[0], PlainSerializer):
        return None
    serializer = found[0]
    if serializer.when_used != "always" or serializer.func not in _KNOWN_SERIALIZERS:
        return None
    return serializer.func


def _spec(name: str, info: Any, custom: bool) -> FieldSpec:
    alias = info.serialization_alias or info.alias or name
    default, known = _default(info)
    if not known:
        return FieldSpec(name, alias, NO_DEFAULT, "slow")
    if custom or getattr(info, "exclude_if", None) is not None:
        return FieldSpec(name, alias, default, "slow")
    if any(isinstance(m, PlainSerializer | WrapSerializer) for m in info.metadata):
        func = _known_serializer(info)
        if func is None:
            return FieldSpec(name, alias, default, "slow")
        return FieldSpec(name, alias, default, "call", _KNOWN_SERIALIZERS[func], func)
    kind, tp, fn, optional = _kind(info.annotation)
    return FieldSpec(name, alias, default, kind, tp, fn, optional)


@cache
def field_specs(cls: type) -> tuple[FieldSpec, ...] | None:
    """The fields of model class ``cls`` in declaration order, or ``None`` when pydantic must
    render its objects whole."""
    if not (isinstance(cls, type) and issubclass(cls, BaseModel)):
        return None
    decorators = cls.__pydantic_decorators__
    if (
        decorators.model_serializers
        or cls.model_computed_fields
        or cls.model_config.get("extra") == "allow"
        or any(info.exclude for info in cls.model_fields.values())
    ):
        return None
    serialized = {n for d in decorators.field_serializers.values() for n in d.info.fields}
    return tuple(_spec(name, info, name in serialized) for name, info in cls.model_fields.items())
