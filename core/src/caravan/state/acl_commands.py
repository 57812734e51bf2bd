"""FSM commands for ACL policies and tokens: their log entries and how the FSM applies them.

Entries use the same envelope as every other command (:func:`caravan.state.commands.encode`);
the FSM merges :data:`HANDLERS` into its own table. Token and policy objects travel in API JSON
form and are stamped with ``CreateIndex``/``ModifyIndex`` here, at the index they commit at.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from caravan.state.commands import encode
from caravan.state.errors import StateError
from caravan.state.tables import ACL_POLICIES, ACL_TOKENS
from caravan.state.txn import WriteTxn

ACL_POLICY_UPSERT = "ACLPolicyUpsert"
ACL_POLICY_DELETE = "ACLPolicyDelete"
ACL_TOKEN_UPSERT = "ACLTokenUpsert"
ACL_TOKEN_DELETE = "ACLTokenDelete"
ACL_TOKEN_BOOTSTRAP = "ACLTokenBootstrap"

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
