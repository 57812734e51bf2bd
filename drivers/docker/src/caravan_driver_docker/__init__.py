"""caravan's ``docker`` task driver: runs tasks as containers of a real dockerd.

The driver class is :class:`caravan_driver_docker.driver.DockerDriver`, published as the
entry point ``docker`` in ``caravan.drivers``.
"""
