"""caravan_plugins."""
