"""caravan_discovery_builtin."""
