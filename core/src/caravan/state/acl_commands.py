"""FSM commands for ACL policies, tokens, roles and one-time tokens: their log entries and
how the FSM applies them.

Entries use the same envelope as every other command (:func:`caravan.state.commands.encode`);
the FSM merges :data:`HANDLERS` into its own table. Token and policy objects travel in API JSON
form and are stamped with ``CreateIndex``/``ModifyIndex`` here, at the index they commit at.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from caravan.state.commands import encode
from caravan.state.errors import StateError
from caravan.state.tables import ACL_ONE_TIME_TOKENS, ACL_POLICIES, ACL_ROLES, ACL_TOKENS
from caravan.state.txn import WriteTxn
from caravan.structs.base import format_go_time

ACL_POLICY_UPSERT = "ACLPolicyUpsert"
ACL_POLICY_DELETE = "ACLPolicyDelete"
ACL_TOKEN_UPSERT = "ACLTokenUpsert"
ACL_TOKEN_DELETE = "ACLTokenDelete"
ACL_TOKEN_BOOTSTRAP = "ACLTokenBootstrap"
ACL_ROLES_UPSERT = "ACLRolesUpsert"
ACL_ROLES_DELETE = "ACLRolesDelete"
ONE_TIME_TOKEN_UPSERT = "OneTimeTokenUpsert"
ONE_TIME_TOKEN_EXCHANGE = "OneTimeTokenExchange"

#: The message Nomad answers a second bootstrap with.
BOOTSTRAP_DONE = "ACL bootstrap already done"

Handler = Callable[[WriteTxn, dict[str, Any]], Any]
#: (command type, version) -> handler, merged into :data:`caravan.state.fsm.HANDLERS`.
HANDLERS: dict[tuple[str, int], Handler] = {}


def _handles(command: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        HANDLERS[(command, 1)] = fn
        return fn

    return register


# ---------------------------------------------------------------------- constructors


def acl_policy_upsert(policies: Iterable[Any]) -> bytes:
    """Create or replace policies (``ACLPolicy`` objects)."""
    return encode(ACL_POLICY_UPSERT, {"Policies": [p.to_api() for p in policies]})


def acl_policy_delete(names: Iterable[str]) -> bytes:
    return encode(ACL_POLICY_DELETE, {"Names": list(names)})


def acl_token_upsert(tokens: Iterable[Any]) -> bytes:
    """Create or replace tokens (``ACLToken`` objects, secrets included)."""
    return encode(ACL_TOKEN_UPSERT, {"Tokens": [t.to_api() for t in tokens]})


def acl_token_delete(accessor_ids: Iterable[str]) -> bytes:
    return encode(ACL_TOKEN_DELETE, {"AccessorIDs": list(accessor_ids)})


def acl_token_bootstrap(token: Any) -> bytes:
    """Create the first management token; refused once any management token exists."""
    return encode(ACL_TOKEN_BOOTSTRAP, {"Token": token.to_api()})


def acl_roles_upsert(roles: Iterable[Any]) -> bytes:
    """Create or replace roles (``ACLRole`` objects with their ``ID`` set)."""
    return encode(ACL_ROLES_UPSERT, {"Roles": [r.to_api() for r in roles]})


def acl_roles_delete(role_ids: Iterable[str]) -> bytes:
    return encode(ACL_ROLES_DELETE, {"RoleIDs": list(role_ids)})


def one_time_token_upsert(token: Any, now: datetime) -> bytes:
    """Store a one-time token (``OneTimeToken``); those expired at ``now`` (the leader's
    clock, carried in the entry so that every server removes the same ones) go with it."""
    return encode(
        ONE_TIME_TOKEN_UPSERT, {"OneTimeToken": token.to_api(), "Now": format_go_time(now)}
    )


def one_time_token_exchange(secret_id: str, now: datetime) -> bytes:
    """Use up the one-time token ``secret_id``; refused when it is unknown or expired at
    ``now``. The result names the ``AccessorID`` it stood for."""
    return encode(
        ONE_TIME_TOKEN_EXCHANGE, {"OneTimeSecretID": secret_id, "Now": format_go_time(now)}
    )


# ---------------------------------------------------------------------- handlers


def _stamp(txn: WriteTxn, table: str, key: str, obj: Any) -> Any:
    old = txn.get(table, key)
    create = old.create_index if old is not None else txn.index
    return obj.model_copy(update={"create_index": create, "modify_index": txn.index})


@_handles(ACL_POLICY_UPSERT)
def _policy_upsert(txn: WriteTxn, p: dict[str, Any]) -> dict[str, int]:
    from caravan.acl.models import ACLPolicy

    for data in p["Policies"]:
        policy = ACLPolicy.from_api(data)
        txn.upsert(ACL_POLICIES, _stamp(txn, ACL_POLICIES, policy.name, policy))
    return {"Index": txn.index}


@_handles(ACL_POLICY_DELETE)
def _policy_delete(txn: WriteTxn, p: dict[str, Any]) -> dict[str, int]:
    for name in p["Names"]:
        if txn.get(ACL_POLICIES, name) is None:
            raise StateError(f"ACL policy not found: {name}")
        txn.delete(ACL_POLICIES, name)
    return {"Index": txn.index}


def _upsert_tokens(txn: WriteTxn, tokens: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from caravan.acl.models import ACLToken

    written = []
    for data in tokens:
        token = ACLToken.from_api(data)
        stamped = _stamp(txn, ACL_TOKENS, token.accessor_id, token)
        txn.upsert(ACL_TOKENS, stamped)
        written.append(stamped.to_api())
    return written


@_handles(ACL_TOKEN_UPSERT)
def _token_upsert(txn: WriteTxn, p: dict[str, Any]) -> dict[str, Any]:
    return {"Index": txn.index, "Tokens": _upsert_tokens(txn, p["Tokens"])}


@_handles(ACL_TOKEN_DELETE)
def _token_delete(txn: WriteTxn, p: dict[str, Any]) -> dict[str, int]:
    for accessor in p["AccessorIDs"]:
        if txn.get(ACL_TOKENS, accessor) is None:
            raise StateError(f"ACL token not found: {accessor}")
        txn.delete(ACL_TOKENS, accessor)
    return {"Index": txn.index}


@_handles(ACL_TOKEN_BOOTSTRAP)
def _token_bootstrap(txn: WriteTxn, p: dict[str, Any]) -> dict[str, Any]:
    if any(t.management for t in txn.base.tables[ACL_TOKENS].values()):
        raise StateError(BOOTSTRAP_DONE)
    return {"Index": txn.index, "Tokens": _upsert_tokens(txn, [p["Token"]])}


@_handles(ACL_ROLES_UPSERT)
def _roles_upsert(txn: WriteTxn, p: dict[str, Any]) -> dict[str, Any]:
    from caravan.acl.models import ACLRole

    written = []
    for data in p["Roles"]:
        role = ACLRole.from_api(data)
        # Names are unique: checked here too, so two racing creates cannot both win.
        for other in txn.base.tables[ACL_ROLES].values():
            if other.name == role.name and other.id != role.id:
                raise StateError(f"ACL role with name {role.name} already exists")
        stamped = _stamp(txn, ACL_ROLES, role.id, role)
        txn.upsert(ACL_ROLES, stamped)
        written.append(stamped.to_api())
    return {"Index": txn.index, "Roles": written}


@_handles(ACL_ROLES_DELETE)
def _roles_delete(txn: WriteTxn, p: dict[str, Any]) -> dict[str, int]:
    for role_id in p["RoleIDs"]:
        if txn.get(ACL_ROLES, role_id) is None:
            raise StateError("ACL role not found")
        txn.delete(ACL_ROLES, role_id)
    return {"Index": txn.index}


def _expire_one_time_tokens(txn: WriteTxn, now: datetime) -> None:
    for secret, ott in txn.base.tables[ACL_ONE_TIME_TOKENS].items():
        if ott.expired(now):
            txn.delete(ACL_ONE_TIME_TOKENS, secret)


@_handles(ONE_TIME_TOKEN_UPSERT)
def _one_time_token_upsert(txn: WriteTxn, p: dict[str, Any]) -> dict[str, Any]:
    from caravan.acl.models import OneTimeToken

    _expire_one_time_tokens(txn, datetime.fromisoformat(p["Now"]))
    ott = OneTimeToken.from_api(p["OneTimeToken"])
    stamped = _stamp(txn, ACL_ONE_TIME_TOKENS, ott.one_time_secret_id, ott)
    txn.upsert(ACL_ONE_TIME_TOKENS, stamped)
    return {"Index": txn.index, "OneTimeToken": stamped.to_api()}


@_handles(ONE_TIME_TOKEN_EXCHANGE)
def _one_time_token_exchange(txn: WriteTxn, p: dict[str, Any]) -> dict[str, Any]:
    secret = p["OneTimeSecretID"]
    ott = txn.get(ACL_ONE_TIME_TOKENS, secret)
    if ott is None or ott.expired(datetime.fromisoformat(p["Now"])):
        raise StateError("one-time token not found or expired")
    txn.delete(ACL_ONE_TIME_TOKENS, secret)
    return {"Index": txn.index, "AccessorID": ott.accessor_id}
