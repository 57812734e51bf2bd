"""The ``caravan`` command line: Nomad's verbs, flags and output shapes, one module per group."""
