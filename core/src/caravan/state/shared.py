"""Decoding many objects of one class from a command, sharing their equal nested values.

The allocations of one plan repeat most nested values: every instance of a task group holds
the same allocated resources (unless it has ports), and nearly all carry an empty desired
transition. Decoding each copy separately would cost time on every commit and memory for as
long as the allocations live. :class:`SharedDecoder` decodes each distinct nested value once
and hands the same (never mutated) model object to every object that has an equal one, the
way the scheduler already shares them before the plan is encoded.
"""

from __future__ import annotations

from typing import Any

from caravan.state.models import field_from_api, replace

#: The nested values allocations of one plan (or one snapshot) usually have in common.
ALLOC_SHARED_FIELDS = ("AllocatedResources", "DesiredTransition")

#: How many distinct values of one nested field a decoder remembers. Plans place a handful of
#: task groups; a value that matches none of the recent ones is simply decoded again.
_RECENT = 8


class SharedDecoder:
    """Decodes API JSON objects into ``model_cls``; equal values of ``fields`` are shared.

    ``fields`` are API JSON keys (``"AllocatedResources"``); those the model does not have are
    ignored, so stand-in models work unchanged. :meth:`decode` raises what ``from_api`` and
    pydantic raise for a value that does not fit.
    """

    def __init__(self, model_cls: Any, fields: tuple[str, ...]) -> None:
        self.model_cls = model_cls
        model_fields = model_cls.model_fields
        by_key = {info.alias or name: name for name, info in model_fields.items()}
        self._fields = {key: by_key[key] for key in fields if key in by_key}
        self._recent: dict[str, list[tuple[Any, Any]]] = {key: [] for key in self._fields}
        self._recent_objects: dict[str, list[Any]] = {key: [] for key in self._fields}
        # A field left out of the payload (at its default) would get a fresh default each.
        self._defaults = {
            key: model_fields[field].default_factory()
            for key, field in self._fields.items()
            if model_fields[field].default_factory is not None
        }

    def decode(self, item: dict[str, Any]) -> Any:
        """The model for ``item``. ``item`` (freshly decoded from a command) is changed."""
        for key, field in self._fields.items():
            raw = item.get(key)
            if raw is not None:
                item[key] = self._shared(key, field, raw)
            elif key in self._defaults and key not in item:
                item[key] = self._defaults[key]
        return self.model_cls.from_api(item)

    def share(self, obj: Any) -> Any:
        """``obj`` (an already built model) with its nested values replaced by equal ones seen
        before; values seen for the first time are remembered. Objects built by one scheduler
        evaluation mostly share these already, which is checked first (by identity)."""
        changes: dict[str, Any] = {}
        for key, field in self._fields.items():
            value = getattr(obj, field)
            if value is None:
                continue
            recent = self._recent_objects[key]
            if any(seen is value for seen in recent):
                continue
            for seen in recent:
                if seen == value:
                    changes[field] = seen
                    break
            else:
                recent.insert(0, value)
                del recent[_RECENT:]
        return replace(obj, **changes) if changes else obj

    def _shared(self, key: str, field: str, raw: Any) -> Any:
        recent = self._recent[key]
        for seen, value in recent:
            # Normalised plans hand every allocation the same decoded value: identity first.
            if seen is raw or seen == raw:
                return value
        value = field_from_api(self.model_cls, field, raw)
        recent.insert(0, (raw, value))
        del recent[_RECENT:]
        return value


def alloc_decoder(model_cls: Any) -> SharedDecoder:
    """A decoder for allocations that shares their common nested values."""
    return SharedDecoder(model_cls, ALLOC_SHARED_FIELDS)
