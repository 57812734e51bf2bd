"""The base of every caravan model: Nomad's JSON names, case-insensitive decoding, encoding.

Python attributes are snake_case; each has a JSON alias that is Nomad's exact PascalCase name
(``job_id`` <-> ``JobID``, ``memory_mb`` <-> ``MemoryMB``). Decoding matches keys the way Go's
``encoding/json`` does, ignoring case, so ``{"id": "x"}`` and ``{"ID": "x"}`` both set ``id``.

Two flavours: :class:`JobStruct` for what users submit (unknown keys are errors) and
:class:`ApiModel` for what servers and clients exchange (unknown keys are dropped, so newer
peers can add fields).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
    ValidationError,
    model_validator,
)

from caravan.errors import JobValidationError
from caravan.structs.decode_errors import field_errors

# Words that Nomad spells in capitals (or oddly) inside its PascalCase JSON names.
_SPECIAL_WORDS = {
    "id": "ID",
    "mb": "MB",
    "cpu": "CPU",
    "http": "HTTP",
    "tls": "TLS",
    "grpc": "GRPC",
    "ip": "IP",
    "dns": "DNS",
    "cidr": "CIDR",
    "ui": "UI",
    "iops": "IOPS",
    "numa": "NUMA",
    "cni": "CNI",
    "csi": "CSI",
    "mbits": "MBits",
    "ltarget": "LTarget",
    "rtarget": "RTarget",
    "url": "URL",
    "tg": "TG",
}


def api_name(field_name: str) -> str:
    """Nomad's JSON name for a snake_case attribute: ``http_addr`` -> ``HTTPAddr``."""
    return "".join(_SPECIAL_WORDS.get(w, w.capitalize()) for w in field_name.split("_"))


#: How Go renders the zero ``time.Time``; caravan models hold ``None`` for it.
ZERO_TIME = "0001-01-01T00:00:00Z"


def _parse_go_time(value: Any) -> datetime | None:
    if value is None or value == "" or value == ZERO_TIME:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str):
        parsed = datetime.fromisoformat(value)
        if parsed.year == 1:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise ValueError(f"expected an RFC 3339 timestamp, got {value!r}")


def format_go_time(value: datetime | None) -> str:
    """Render a timestamp as Go's ``time.Time`` JSON (RFC 3339, UTC); ``None`` is Go's zero."""
    if value is None:
        return ZERO_TIME
    utc = value.astimezone(UTC)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if utc.microsecond:
        text += f".{utc.microsecond:06d}".rstrip("0")
    return text + "Z"


#: A Go ``time.Time`` field: ``datetime`` (UTC) or ``None`` in Python, an RFC 3339 string in JSON.
GoTime = Annotated[
    datetime | None,
    BeforeValidator(_parse_go_time),
    PlainSerializer(format_go_time, return_type=str),
]

# Per model class: lower-cased JSON name or attribute name -> the JSON name pydantic expects.
_KEY_MAPS: dict[type, tuple[frozenset[str], dict[str, str]]] = {}


def _key_map(cls: type[BaseModel]) -> tuple[frozenset[str], dict[str, str]]:
    entry = _KEY_MAPS.get(cls)
    if entry is None:
        exact: set[str] = set()
        folded: dict[str, str] = {}
        for name, info in cls.model_fields.items():
            alias = info.alias or name
            exact.update((alias, name))
            folded.setdefault(alias.lower(), alias)
        entry = _KEY_MAPS[cls] = (frozenset(exact), folded)
    return entry


class ApiModel(BaseModel):
    """A model exchanged between caravan's servers, clients and API users.

    Unknown JSON keys are ignored. Build one from Nomad JSON with :meth:`from_api`; render it
    with :meth:`to_api`.
    """

    model_config = ConfigDict(
        alias_generator=api_name,
        populate_by_name=True,
        extra="ignore",
        ser_json_inf_nan="constants",
    )

    @model_validator(mode="before")
    @classmethod
    def _match_keys_ignoring_case(cls, data: Any) -> Any:
        # Go's encoding/json matches object keys to fields case-insensitively; so do we.
        if not isinstance(data, dict):
            return data
        exact, folded = _key_map(cls)
        if data.keys() <= exact:
            return data
        return {
            (k if not isinstance(k, str) or k in exact else folded.get(k.lower(), k)): v
            for k, v in data.items()
        }

    @classmethod
    def from_api(cls, data: Any) -> Self:
        """Decode Nomad API JSON (keys in any case) into a model.

        :raises JobValidationError: listing every field that does not fit, each with its
            JSON path (``("TaskGroups", 0, "Count")``) and a message for people.
        """
        try:
            return cls.model_validate(data)
        except ValidationError as err:
            raise JobValidationError(field_errors(err)) from None

    def to_api(self) -> dict[str, Any]:
        """Nomad's JSON for this object: PascalCase keys, every field, ``null`` for unset ones."""
        return self.model_dump(by_alias=True, mode="json")


class JobStruct(ApiModel):
    """A part of a job as users submit it: unknown keys are reported as errors."""

    model_config = ConfigDict(extra="forbid")
