"""caravan_driver_java."""
