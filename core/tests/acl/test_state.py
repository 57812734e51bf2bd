"""ACL objects in the replicated state: FSM commands, indexes, snapshots."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from caravan.acl.models import ACLPolicy, ACLRole, ACLRolePolicyLink, ACLToken, OneTimeToken
from caravan.state import FSM, StateError, StateStore
from caravan.state import acl_commands as ac
from caravan.state.acl_tables import (
    acl_policies,
    acl_policy,
    acl_role,
    acl_role_by_name,
    acl_roles,
    acl_token,
    acl_token_by_secret,
    acl_tokens,
    one_time_token,
)


def test_commands_stamp_indexes_and_survive_a_snapshot() -> None:
    fsm = FSM(StateStore())
    fsm.apply(1, ac.acl_policy_upsert([ACLPolicy(name="ro", rules='node { policy = "read" }')]))
    root = ACLToken(accessor_id="a1", secret_id="s1", type="management", name="root")
    fsm.apply(2, ac.acl_token_bootstrap(root))
    again = fsm.apply(3, ac.acl_token_bootstrap(root.model_copy(update={"accessor_id": "a2"})))
    assert isinstance(again, StateError) and str(again) == "ACL bootstrap already done"
    fsm.apply(4, ac.acl_policy_upsert([ACLPolicy(name="ro", rules='node { policy = "write" }')]))
    policy = acl_policy(fsm.store, "ro")
    assert (policy.create_index, policy.modify_index) == (1, 4)

    restored = FSM(StateStore())
    restored.restore(fsm.snapshot())
    assert acl_token_by_secret(restored.store, "s1").accessor_id == "a1"
    assert [p.name for p in acl_policies(restored.store)] == ["ro"]
    assert acl_policy(restored.store, "ro").rules == 'node { policy = "write" }'

    fsm.apply(5, ac.acl_token_delete(["a1"]))
    assert acl_token(fsm.store, "a1") is None and acl_token_by_secret(fsm.store, "s1") is None
    assert acl_tokens(fsm.store) == []
    missing = fsm.apply(6, ac.acl_policy_delete(["nope"]))
    assert isinstance(missing, StateError)


def test_roles_and_one_time_tokens_replicate_and_survive_a_snapshot() -> None:
    fsm = FSM(StateStore())
    fsm.apply(1, ac.acl_policy_upsert([ACLPolicy(name="ro", rules='node { policy = "read" }')]))
    role = ACLRole(id="r1", name="ops", policies=[ACLRolePolicyLink(name="ro")]).with_hash()
    fsm.apply(2, ac.acl_roles_upsert([role]))
    clash = fsm.apply(3, ac.acl_roles_upsert([role.model_copy(update={"id": "r2"})]))
    assert isinstance(clash, StateError) and "ACL role with name ops already exists" in str(clash)
    fsm.apply(4, ac.acl_roles_upsert([role.model_copy(update={"description": "d"})]))
    stored = acl_role(fsm.store, "r1")
    assert (stored.create_index, stored.modify_index, stored.description) == (2, 4, "d")
    now = datetime(2030, 1, 1, tzinfo=UTC)
    ott = OneTimeToken(one_time_secret_id="o1", accessor_id="a1", expires_at=now)
    fsm.apply(5, ac.one_time_token_upsert(ott, now - timedelta(minutes=1)))

    restored = FSM(StateStore())
    restored.restore(fsm.snapshot())
    assert acl_role_by_name(restored.store, "ops").policy_names == ["ro"]
    assert [r.id for r in acl_roles(restored.store)] == ["r1"]
    assert one_time_token(restored.store, "o1").accessor_id == "a1"

    # The exchange is checked against the clock in the entry: every server agrees.
    late = restored.apply(6, ac.one_time_token_exchange("o1", now))
    assert isinstance(late, StateError)
    used = fsm.apply(6, ac.one_time_token_exchange("o1", now - timedelta(seconds=1)))
    assert used["AccessorID"] == "a1" and one_time_token(fsm.store, "o1") is None
    fsm.apply(7, ac.acl_roles_delete(["r1"]))
    assert acl_role(fsm.store, "r1") is None and acl_roles(fsm.store) == []
    assert isinstance(fsm.apply(8, ac.acl_roles_delete(["r1"])), StateError)
