"""The package's entry point."""

from __future__ import annotations

import pytest

from caravan.scheduler import GenericScheduler, SystemScheduler, new_scheduler


def test_new_scheduler_by_type() -> None:
    clock = lambda: 0  # noqa: E731
    assert isinstance(new_scheduler("service", clock=clock), GenericScheduler)
    batch = new_scheduler("batch", clock=clock)
    assert isinstance(batch, GenericScheduler) and batch.batch
    assert isinstance(new_scheduler("system", clock=clock), SystemScheduler)
    assert isinstance(new_scheduler("sysbatch", clock=clock), SystemScheduler)
    with pytest.raises(ValueError, match="no scheduler for job type 'cron'"):
        new_scheduler("cron", clock=clock)
