"""ACL objects in the replicated state: FSM commands, indexes, snapshots."""

from __future__ import annotations

from caravan.acl.models import ACLPolicy, ACLToken
from caravan.state import FSM, StateError, StateStore
from caravan.state import acl_commands as ac
from caravan.state.acl_tables import (
    acl_policies,
    acl_policy,
    acl_token,
    acl_token_by_secret,
    acl_tokens,
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
