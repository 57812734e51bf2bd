"""caravan."""
