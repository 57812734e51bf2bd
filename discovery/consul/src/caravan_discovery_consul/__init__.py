"""caravan_discovery_consul."""
