"""caravan_driver_docker."""
