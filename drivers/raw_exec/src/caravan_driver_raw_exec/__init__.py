"""caravan_driver_raw_exec."""
