"""caravan_policy_owner: reject jobs that do not name their owning team."""
