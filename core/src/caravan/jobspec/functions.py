"""The HCL functions job files can call (a subset of Terraform's standard library).

:func:`standard_functions` returns the table for one parse; ``file`` is included only when the
caller allows filesystem access (the CLI does, ``/v1/jobs/parse`` does not), and reads relative
to the job file's directory.
"""

from __future__ import annotations

import base64
import datetime
import json
import math
import os
import re
import uuid
from collections.abc import Callable
from typing import Any

from .values import ConversionError, equal, to_bool, to_int, to_number, to_string, type_name

_FORMAT_VERB = re.compile(r"%(%|[-+ 0#]*\d*(?:\.\d+)?[vdsfqtxXeEgGbo])")


def _format(spec: str, *args: Any) -> str:
    """Go-style ``format``: %s %d %f %q %t %v %x and friends, with flags and widths."""
    values = list(args)

    def verb(match: re.Match[str]) -> str:
        text = match.group(1)
        if text == "%":
            return "%"
        if not values:
            raise ValueError("not enough arguments for format string")
        value = values.pop(0)
        flags, kind = text[:-1], text[-1]
        if kind in "dxXbo":
            return ("%" + flags + kind.replace("b", "s")) % (
                format(to_int(value), "b") if kind == "b" else to_int(value)
            )
        if kind in "feEgG":
            return ("%" + flags + kind) % float(to_number(value))
        if kind == "q":
            return json.dumps(to_string(value))
        if kind == "t":
            return "true" if to_bool(value) else "false"
        if kind == "v" and isinstance(value, (list, dict)):
            return json.dumps(value, separators=(",", ":"))
        return ("%" + flags + "s") % to_string(value)

    return _FORMAT_VERB.sub(verb, to_string(spec))


def _length(value: Any) -> int:
    if isinstance(value, (str, list, dict)):
        return len(value)
    raise ConversionError(f"length needs a string, list or map, not {type_name(value)}")


def _lookup(mapping: Any, key: Any, *default: Any) -> Any:
    if not isinstance(mapping, dict):
        raise ConversionError("lookup needs a map")
    name = to_string(key)
    if name in mapping:
        return mapping[name]
    if default:
        return default[0]
    raise KeyError(f"the key {name!r} does not exist in the map")


def _merge(*maps: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for mapping in maps:
        if mapping is None:
            continue
        if not isinstance(mapping, dict):
            raise ConversionError(f"merge needs maps, not {type_name(mapping)}")
        out.update(mapping)
    return out


def _coalesce(*values: Any) -> Any:
    for value in values:
        if value is not None and value != "":
            return value
    raise ValueError("no non-null, non-empty-string arguments")


def _substr(text: Any, offset: Any, length: Any) -> str:
    chars = to_string(text)
    start = to_int(offset)
    if start < 0:
        start = max(len(chars) + start, 0)
    count = to_int(length)
    return chars[start:] if count < 0 else chars[start : start + count]


def _range(*args: Any) -> list[int | float]:
    nums = [to_number(a) for a in args]
    if not 1 <= len(nums) <= 3:
        raise ValueError("range takes one to three arguments")
    start, step = 0, 1
    if len(nums) == 1:
        end = nums[0]
    else:
        start, end = nums[0], nums[1]
        step = nums[2] if len(nums) == 3 else (1 if end >= start else -1)
    if step == 0:
        raise ValueError("range step must not be zero")
    count = max(math.ceil((end - start) / step), 0)
    if count > 1024:
        raise ValueError("range would produce more than 1024 numbers")
    return [start + i * step for i in range(count)]


def _element(items: Any, index: Any) -> Any:
    if not isinstance(items, list) or not items:
        raise ValueError("element needs a non-empty list")
    return items[to_int(index) % len(items)]


def _tolist(value: Any) -> list[Any]:
    if isinstance(value, list):
        return list(value)
    raise ConversionError(f"a list is required, not {type_name(value)}")


def _tomap(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return dict(value)
    raise ConversionError(f"a map is required, not {type_name(value)}")


def _keys(value: Any) -> list[str]:
    return sorted(_tomap(value))


def _values(value: Any) -> list[Any]:
    mapping = _tomap(value)
    return [mapping[k] for k in sorted(mapping)]


def _tostring(value: Any) -> str | None:
    return None if value is None else to_string(value)


def _tonumber(value: Any) -> int | float | None:
    return None if value is None else to_number(value)


def _tobool(value: Any) -> bool | None:
    return None if value is None else to_bool(value)


def _join(sep: Any, *lists: Any) -> str:
    items: list[str] = []
    for items_list in lists:
        items.extend(to_string(v) for v in _tolist(items_list))
    return to_string(sep).join(items)


def _concat(*lists: Any) -> list[Any]:
    out: list[Any] = []
    for items in lists:
        out.extend(_tolist(items))
    return out


def _minmax(pick: Callable[..., Any]) -> Callable[..., Any]:
    def run(*args: Any) -> Any:
        if not args:
            raise ValueError("at least one number is required")
        return pick(to_number(a) for a in args)

    return run


def _replace(text: Any, search: Any, repl: Any) -> str:
    source, pattern, replacement = to_string(text), to_string(search), to_string(repl)
    if len(pattern) > 2 and pattern.startswith("/") and pattern.endswith("/"):
        go_refs = re.sub(r"\$\{?(\w+)\}?", r"\\g<\1>", replacement)
        return re.sub(pattern[1:-1], go_refs, source)
    return source.replace(pattern, replacement)


def _jsonencode(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _jsondecode(text: Any) -> Any:
    try:
        return json.loads(to_string(text))
    except json.JSONDecodeError as err:
        raise ValueError(f"invalid JSON: {err.msg}") from None


def _b64decode(text: Any) -> str:
    try:
        return base64.b64decode(to_string(text), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        raise ValueError("the string is not valid base64-encoded UTF-8") from None


def _timestamp() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _file_reader(base_dir: str) -> Callable[[Any], str]:
    def read(path: Any) -> str:
        full = os.path.join(base_dir, os.path.expanduser(to_string(path)))
        try:
            with open(full, encoding="utf-8") as handle:
                return handle.read()
        except (OSError, UnicodeDecodeError) as err:
            raise ValueError(f"cannot read {to_string(path)!r}: {err}") from None

    return read


def _distinct(items: Any) -> list[Any]:
    out: list[Any] = []
    for item in _tolist(items):
        if not any(equal(item, seen) for seen in out):
            out.append(item)
    return out


def _abs(value: Any) -> int | float:
    return abs(to_number(value))


def _contains(items: Any, value: Any) -> bool:
    return any(equal(item, value) for item in _tolist(items))


def standard_functions(*, base_dir: str | None = None) -> dict[str, Callable[..., Any]]:
    """The function table; ``file`` is present only when ``base_dir`` is given."""
    table: dict[str, Callable[..., Any]] = {
        "upper": lambda s: to_string(s).upper(),
        "lower": lambda s: to_string(s).lower(),
        "title": lambda s: to_string(s).title(),
        "format": _format,
        "join": _join,
        "split": lambda sep, s: to_string(s).split(to_string(sep)),
        "concat": _concat,
        "length": _length,
        "lookup": _lookup,
        "merge": _merge,
        "contains": _contains,
        "coalesce": _coalesce,
        "replace": _replace,
        "trimspace": lambda s: to_string(s).strip(),
        "trimprefix": lambda s, p: to_string(s).removeprefix(to_string(p)),
        "trimsuffix": lambda s, p: to_string(s).removesuffix(to_string(p)),
        "substr": _substr,
        "min": _minmax(min),
        "max": _minmax(max),
        "abs": _abs,
        "ceil": lambda n: math.ceil(to_number(n)),
        "floor": lambda n: math.floor(to_number(n)),
        "range": _range,
        "keys": _keys,
        "values": _values,
        "element": _element,
        "tostring": _tostring,
        "tonumber": _tonumber,
        "tobool": _tobool,
        "tolist": _tolist,
        "toset": _distinct,
        "tomap": _tomap,
        "jsonencode": _jsonencode,
        "jsondecode": _jsondecode,
        "base64encode": lambda s: base64.b64encode(to_string(s).encode()).decode("ascii"),
        "base64decode": _b64decode,
        "uuidv4": lambda: str(uuid.uuid4()),
        "timestamp": _timestamp,
        "reverse": lambda v: list(reversed(_tolist(v))),
        "distinct": _distinct,
        "flatten": lambda v: [y for x in _tolist(v) for y in (x if isinstance(x, list) else [x])],
        "compact": lambda v: [to_string(x) for x in _tolist(v) if x not in (None, "")],
        "zipmap": lambda k, v: dict(
            zip((to_string(x) for x in _tolist(k)), _tolist(v), strict=False)
        ),
        "startswith": lambda s, p: to_string(s).startswith(to_string(p)),
        "endswith": lambda s, p: to_string(s).endswith(to_string(p)),
        "strrev": lambda s: to_string(s)[::-1],
        "chomp": lambda s: to_string(s).rstrip("\r\n"),
        "parseint": lambda s, b: int(to_string(s), to_int(b)),
        "signum": lambda n: (to_number(n) > 0) - (to_number(n) < 0),
    }
    if base_dir is not None:
        table["file"] = _file_reader(base_dir)
    return table
