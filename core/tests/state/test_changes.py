"""The change feed: each commit's written objects reach subscribers, in commit order."""

from __future__ import annotations

from caravan.state import StateStore
from caravan.state.changes import Change
from caravan.state.nodes import delete_nodes, upsert_node
from caravan.structs import Node


def _node(node_id: str, name: str) -> Node:
    return Node(id=node_id, name=name, datacenter="dc1", status="ready")


def test_subscribers_get_each_commit_and_can_leave() -> None:
    store = StateStore()
    seen: list[tuple[int, list[Change]]] = []
    unsubscribe = store.changes.subscribe(lambda index, changes: seen.append((index, changes)))

    txn = store.begin(5)
    upsert_node(txn, _node("n1", "first"))
    upsert_node(txn, _node("n2", "second"))
    store.commit(txn)
    txn = store.begin(6)
    delete_nodes(txn, ["n1"])
    store.commit(txn)
    store.commit(store.begin(7))  # nothing written: nothing published

    assert [index for index, _ in seen] == [5, 6]
    created = seen[0][1]
    assert [(ch.table, ch.key, ch.old) for ch in created] == [
        ("nodes", "n1", None),
        ("nodes", "n2", None),
    ]
    assert [ch.new.name for ch in created] == ["first", "second"]
    (deleted,) = seen[1][1]
    assert (deleted.key, deleted.old.name, deleted.new) == ("n1", "first", None)

    unsubscribe()
    txn = store.begin(8)
    upsert_node(txn, _node("n3", "third"))
    store.commit(txn)
    assert len(seen) == 2


def test_rejected_transactions_publish_nothing() -> None:
    store = StateStore()
    seen: list[int] = []
    store.changes.subscribe(lambda index, changes: seen.append(index))
    txn = store.begin(3)
    upsert_node(txn, _node("n1", "first"))
    # Never committed, as when the FSM rejects a command.
    assert seen == []
    assert store.node_by_id("n1") is None
