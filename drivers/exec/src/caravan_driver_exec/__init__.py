"""caravan_driver_exec."""
