"""Reads of the ACL tables (policies by name, tokens by accessor and by secret, roles by ID
and by name, one-time tokens by secret) and their part of the FSM snapshot.

The tables themselves are declared with the others in :mod:`caravan.state.tables`; they are
written only by the commands in :mod:`caravan.state.acl_commands`.
"""

from __future__ import annotations

from typing import Any

from caravan.state.snapshot import StateReader
from caravan.state.tables import ACL_ONE_TIME_TOKENS, ACL_POLICIES, ACL_ROLES, ACL_TOKENS
from caravan.state.txn import WriteTxn


def acl_policy(reader: StateReader, name: str) -> Any | None:
    """The policy called ``name``, or ``None``."""
    return reader._table(ACL_POLICIES).get(name)


def acl_policies(reader: StateReader, prefix: str = "") -> list[Any]:
    """Every policy whose name starts with ``prefix``, sorted by name."""
    table = reader._table(ACL_POLICIES)
    return [table[k] for k in sorted(table.keys()) if k.startswith(prefix)]


def acl_token(reader: StateReader, accessor_id: str) -> Any | None:
    """The token with this ``AccessorID``, or ``None``."""
    return reader._table(ACL_TOKENS).get(accessor_id)


def acl_token_by_secret(reader: StateReader, secret_id: str) -> Any | None:
    """The token with this ``SecretID``, or ``None``."""
    found = reader._members(f"{ACL_TOKENS}.secret", secret_id)
    return found[0] if found else None


def acl_tokens(reader: StateReader, prefix: str = "") -> list[Any]:
    """Every token whose ``AccessorID`` starts with ``prefix``, sorted by accessor."""
    if prefix:
        return reader.by_prefix(ACL_TOKENS, prefix)
    table = reader._table(ACL_TOKENS)
    return [table[k] for k in sorted(table.keys())]


def acl_bootstrapped(reader: StateReader) -> bool:
    """Whether a management token was ever created by bootstrap (any management token)."""
    return any(t.management for t in reader._table(ACL_TOKENS).values())


def acl_role(reader: StateReader, role_id: str) -> Any | None:
    """The role with this ``ID``, or ``None``."""
    return reader._table(ACL_ROLES).get(role_id)


def acl_role_by_name(reader: StateReader, name: str) -> Any | None:
    """The role called ``name`` (names are unique), or ``None``."""
    found = reader._members(f"{ACL_ROLES}.name", name)
    return found[0] if found else None


def acl_roles(reader: StateReader, prefix: str = "") -> list[Any]:
    """Every role whose ``ID`` starts with ``prefix``, sorted by name."""
    table = reader._table(ACL_ROLES)
    return sorted((r for k, r in table.items() if k.startswith(prefix)), key=lambda r: r.name)


def one_time_token(reader: StateReader, secret_id: str) -> Any | None:
    """The one-time token with this ``OneTimeSecretID``, or ``None``."""
    return reader._table(ACL_ONE_TIME_TOKENS).get(secret_id)


def one_time_tokens(reader: StateReader) -> list[Any]:
    """Every one-time token, expired ones included (they are removed by later writes)."""
    return list(reader._table(ACL_ONE_TIME_TOKENS).values())


# ---------------------------------------------------------------------- snapshots

#: The ACL tables a snapshot carries, and the model each decodes with.
_SNAPSHOT_TABLES = (ACL_POLICIES, ACL_TOKENS, ACL_ROLES, ACL_ONE_TIME_TOKENS)


def dump(data: Any) -> dict[str, list[dict[str, Any]]]:
    """The ACL tables of ``data`` (a ``StateData``) as API JSON lists, for the snapshot."""
    return {name: [obj.to_api() for obj in data.tables[name].values()] for name in _SNAPSHOT_TABLES}


def load(txn: WriteTxn, tables: dict[str, Any]) -> None:
    """Put the ACL objects of a decoded snapshot into ``txn``."""
    from caravan.acl.models import ACLPolicy, ACLRole, ACLToken, OneTimeToken

    models = (ACLPolicy, ACLToken, ACLRole, OneTimeToken)
    for name, model in zip(_SNAPSHOT_TABLES, models, strict=True):
        for entry in tables.get(name, ()):
            txn.upsert(name, model.from_api(entry))
