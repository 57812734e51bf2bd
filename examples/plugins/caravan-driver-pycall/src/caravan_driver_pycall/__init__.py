"""caravan_driver_pycall: the ``pycall`` task driver (a Python callable as a task)."""
