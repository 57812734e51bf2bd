"""Fixtures shared by the SDK's tests: a throwaway installed distribution with plugins."""

from __future__ import annotations

import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from stevedore import ExtensionManager


@pytest.fixture
def fake_distribution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SimpleNamespace]:
    """Install, for this test only, a distribution with one plugin of every fate:

    drivers ``broken`` (its module raises ImportError), ``strict`` (a working driver with a
    strict config schema) and ``notadriver`` (not a TaskDriver); hook plugins ``audit``
    (working) and ``typo`` (implements a misspelled hook). Yields the distribution's
    ``name`` and the ``prefix`` of its module names.
    """
    prefix = f"cvtest_{uuid.uuid4().hex[:8]}"
    dist = f"caravan-test-plugins-{prefix[7:]}"
    site = tmp_path / "site"
    site.mkdir()
    (site / f"{prefix}_broken.py").write_text('raise ImportError("libfoo.so.1 not found")\n')
    (site / f"{prefix}_strict.py").write_text(
        textwrap.dedent(
            """
            from pydantic import BaseModel, ConfigDict
            from caravan_plugins.mock_driver import MockDriver

            class StrictConfig(BaseModel):
                model_config = ConfigDict(extra="forbid")
                endpoint: str = "unix:///run/strict.sock"
                retries: int = 3

            class StrictDriver(MockDriver):
                name = "strict"
                config_schema = StrictConfig

            class NotADriver:
                name = "notadriver"
            """
        )
    )
    (site / f"{prefix}_hooks.py").write_text(
        textwrap.dedent(
            """
            from caravan_plugins import hookimpl

            @hookimpl
            def caravan_validate_job(job):
                return [] if job.get("Meta", {}).get("owner") else ["Meta.owner is required"]
            """
        )
    )
    (site / f"{prefix}_typo.py").write_text(
        textwrap.dedent(
            """
            from caravan_plugins import hookimpl

            @hookimpl
            def caravan_validate_jbo(job):
                return ["never called"]
            """
        )
    )
    info = site / f"{dist.replace('-', '_')}-0.3.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.3.1\n")
    (info / "entry_points.txt").write_text(
        textwrap.dedent(
            f"""
            [caravan.drivers]
            broken = {prefix}_broken:BrokenDriver
            strict = {prefix}_strict:StrictDriver
            notadriver = {prefix}_strict:NotADriver

            [caravan]
            audit = {prefix}_hooks
            typo = {prefix}_typo
            """
        )
    )
    monkeypatch.syspath_prepend(str(site))
    # stevedore remembers each group's entry points for the life of the process; a
    # distribution installed mid-process is only seen once that memory is cleared.
    monkeypatch.setattr(ExtensionManager, "ENTRY_POINT_CACHE", {})
    yield SimpleNamespace(name=dist, prefix=prefix)
    for module in [m for m in sys.modules if m.startswith(prefix)]:
        del sys.modules[module]
