"""The model classes the store builds objects from, and the two ways it changes them.

The store keeps model objects (``caravan.structs``) and never mutates one in place: snapshots
share them. A change is a shallow copy with some attributes replaced (:func:`replace`), or, for
objects whose nested counters change many times in one transaction (job summaries, deployment
task-group states), an edit of the object's Nomad API JSON that is turned back into a model once
per transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

from pydantic import TypeAdapter


@dataclass(frozen=True)
class ModelSet:
    """The classes objects are decoded into; each has ``from_api(dict)`` and ``to_api()``."""

    job: Any
    node: Any
    allocation: Any
    evaluation: Any
    deployment: Any
    service_registration: Any
    job_summary: Any

    @classmethod
    def default(cls) -> ModelSet:
        """caravan's own models (``caravan.structs``)."""
        from caravan import structs

        return cls(
            job=structs.Job,
            node=structs.Node,
            allocation=structs.Allocation,
            evaluation=structs.Evaluation,
            deployment=structs.Deployment,
            service_registration=structs.ServiceRegistration,
            job_summary=structs.JobSummary,
        )


_set = object.__setattr__


#: Distinct "fields sets" handed out by :func:`replace`, to share; bounded by :data:`_INTERN_LIMIT`.
_FIELDS_SETS: dict[frozenset[str], set[str]] = {}
_INTERN_LIMIT = 4096


def _interned(names: set[str]) -> set[str]:
    # Every stored allocation has a fields set of some 25 names (2 KiB each); the stored
    # objects of one kind have only a handful of distinct ones, and are never mutated, so
    # they share them.
    key = frozenset(names)
    shared = _FIELDS_SETS.get(key)
    if shared is None:
        if len(_FIELDS_SETS) >= _INTERN_LIMIT:
            _FIELDS_SETS.clear()
        shared = _FIELDS_SETS[key] = names
    return shared


#: (id of a fields set, names added) -> (that fields set, the shared union); the set is kept
#: so that its id is not reused while the entry exists.
_UNIONS: dict[tuple[int, tuple[str, ...]], tuple[set[str], set[str]]] = {}


def _with_names(fields_set: set[str], names: tuple[str, ...]) -> set[str]:
    # Every write copies an object with the same few names changed: remember the union
    # instead of building and hashing a set of some 25 names each time.
    key = (id(fields_set), names)
    hit = _UNIONS.get(key)
    if hit is None or hit[0] is not fields_set:
        if len(_UNIONS) >= _INTERN_LIMIT:
            _UNIONS.clear()
        hit = _UNIONS[key] = (fields_set, _interned(fields_set | set(names)))
    return hit[1]


def replace(obj: Any, **changes: Any) -> Any:
    """A shallow copy of a model object with ``changes`` (attribute names) applied.

    The same result as ``obj.model_copy(update=changes)`` (the changed names join the fields
    set), built directly: the FSM copies every allocation it writes, and pydantic's generic
    copy costs several times more.
    """
    if obj.__pydantic_private__ or obj.model_config.get("extra") == "allow":
        return obj.model_copy(update=changes)
    new = object.__new__(type(obj))
    _set(new, "__dict__", {**obj.__dict__, **changes})
    _set(new, "__pydantic_fields_set__", _with_names(obj.__pydantic_fields_set__, tuple(changes)))
    _set(new, "__pydantic_extra__", None)
    _set(new, "__pydantic_private__", None)
    return new


def replace_each(objs: Iterable[Any], changes: dict[str, Any]) -> list[Any]:
    """:func:`replace` of each of ``objs`` with the same ``changes`` (a plan's new
    allocations all get the same job and indexes)."""
    names = tuple(changes)
    # id of a fields set -> its union with ``names``; the objects keep the sets alive.
    unions: dict[int, set[str]] = {}
    out = []
    for obj in objs:
        if obj.__pydantic_private__ or obj.model_config.get("extra") == "allow":
            out.append(obj.model_copy(update=changes))
            continue
        fields_set = obj.__pydantic_fields_set__
        union = unions.get(id(fields_set))
        if union is None:
            union = unions[id(fields_set)] = _with_names(fields_set, names)
        new = object.__new__(type(obj))
        _set(new, "__dict__", {**obj.__dict__, **changes})
        _set(new, "__pydantic_fields_set__", union)
        _set(new, "__pydantic_extra__", None)
        _set(new, "__pydantic_private__", None)
        out.append(new)
    return out


@cache
def _adapter(model_cls: type, field: str) -> TypeAdapter:
    return TypeAdapter(model_cls.model_fields[field].annotation)


def field_from_api(model_cls: type, field: str, value: Any) -> Any:
    """Validate ``value`` (Nomad API JSON) as the type of ``model_cls.field``.

    Used to set nested values (task states, deployment status, drain strategy) that commands
    carry as JSON; raises ``pydantic.ValidationError`` when the value does not fit.
    """
    if value is None:
        return None
    return _adapter(model_cls, field).validate_python(value)


def merge_field(model_cls: type, field: str, current: Any, changes: dict[str, Any]) -> Any:
    """``current`` (a nested model or ``None``) with ``changes`` (API JSON keys) applied."""
    base = current.model_dump(by_alias=True, mode="json") if current is not None else {}
    return field_from_api(model_cls, field, {**base, **changes})
