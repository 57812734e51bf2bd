"""The conformance suite every load balancer plugin runs in its own tests.

Subclass :class:`LoadBalancerConformance` as ``Test...``, set ``lb_class`` and ``lb_config``,
and return from :meth:`LoadBalancerConformance.routed_instances` instances the plugin routes
(with the tags it reads, e.g. ``urlprefix-/`` for fabio). Set ``reload_in_tests = False``
when reloading needs a running proxy the tests do not start.
"""

from __future__ import annotations

from abc import abstractmethod
from pathlib import Path
from typing import Any, ClassVar

import pytest

from ..loadbalancers import LoadBalancer, RenderOptions
from ..services import ServiceInstance


class LoadBalancerConformance:
    """Behaviour every :class:`LoadBalancer` must have."""

    lb_class: ClassVar[type[LoadBalancer]]
    lb_config: ClassVar[dict[str, Any]] = {}
    reload_in_tests: ClassVar[bool] = True
    #: A config text the plugin's validate() must reject.
    invalid_config_text: ClassVar[str] = "this is { not a valid configuration"

    @abstractmethod
    def routed_instances(self) -> list[ServiceInstance]:
        """At least two passing instances, on distinct ports, that the plugin routes."""

    def render_options(self) -> RenderOptions:
        """Options for every render in the suite."""
        return RenderOptions()

    @pytest.fixture
    def lb(self) -> LoadBalancer:
        lb = self.lb_class.from_config(self.lb_config)
        if not self.reload_in_tests:
            reloads: list[Path] = []

            async def record_reload(path: Path) -> None:
                reloads.append(path)

            lb.reload = record_reload  # type: ignore[method-assign]
        return lb

    def test_render_names_every_instance(self, lb: LoadBalancer) -> None:
        instances = self.routed_instances()
        text = lb.render(instances, self.render_options())
        for inst in instances:
            assert f"{inst.address}:{inst.port}" in text

    def test_render_ignores_order(self, lb: LoadBalancer) -> None:
        instances = self.routed_instances()
        options = self.render_options()
        assert lb.render(instances, options) == lb.render(list(reversed(instances)), options)

    def test_render_leaves_out_critical_instances(self, lb: LoadBalancer) -> None:
        first, *rest = self.routed_instances()
        sick = first.model_copy(update={"checks": {"alive": "critical"}})
        text = lb.render([sick, *rest], self.render_options())
        assert f"{sick.address}:{sick.port}" not in text
        assert f"{rest[0].address}:{rest[0].port}" in text

    async def test_rendered_config_validates(self, lb: LoadBalancer) -> None:
        result = await lb.validate(lb.render(self.routed_instances(), self.render_options()))
        assert result.ok, result.errors

    async def test_invalid_config_rejected(self, lb: LoadBalancer) -> None:
        result = await lb.validate(self.invalid_config_text)
        assert not result.ok
        assert result.errors

    async def test_apply_writes_once(self, lb: LoadBalancer, tmp_path: Path) -> None:
        path = tmp_path / "lb" / Path(lb.default_path).name
        instances = self.routed_instances()
        assert await lb.apply(instances, self.render_options(), path) is True
        assert path.read_text() == lb.render(instances, self.render_options())
        assert await lb.apply(instances, self.render_options(), path) is False
