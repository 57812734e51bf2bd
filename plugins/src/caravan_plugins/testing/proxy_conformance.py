"""The suite every :class:`~caravan_plugins.proxy.ProxyLoadBalancer` plugin runs: the load
balancer contract, its shared config keys, reloading, and a real proxy serving traffic.

Subclass :class:`ProxyLoadBalancerConformance` as ``Test...`` and set ``lb_class``,
``proxy_setup`` (e.g. :func:`~caravan_plugins.testing.proxies.nginx_setup`), and a
``broken_template`` that renders a config with an unknown ``bogus`` directive, which the
proxy rejects with exactly the one error ``broken_template_error``. The tests marked
``integration`` start the real binary, which must be installed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from pathlib import Path
from typing import ClassVar

import pytest

from ..errors import ConfigRejectedError, PluginConfigError, PluginError
from ..loadbalancers import RenderOptions
from ..proxy import ProxyLoadBalancer
from ..services import ServiceInstance
from .backends import Backend, Traffic, sample_instance
from .lb_conformance import LoadBalancerConformance
from .proxies import ProxySetup


async def _no_reload(path: Path) -> None:
    # The proxy is started after the first apply; there is nothing to reload yet.
    return None


class ProxyLoadBalancerConformance(LoadBalancerConformance):
    """Behaviour every template-rendered, binary-checked proxy plugin must have."""

    lb_class: ClassVar[type[ProxyLoadBalancer]]
    reload_in_tests: ClassVar[bool] = False
    #: Makes the plugin config and starts the real proxy in a test's temporary directory.
    proxy_setup: ClassVar[Callable[[Path], ProxySetup]]
    #: A user template whose output the proxy rejects; it sees the template variables of a
    #: config with one route.
    broken_template: ClassVar[str]
    #: The only error :meth:`ProxyLoadBalancer.validate` reports for it.
    broken_template_error: ClassVar[str]

    def routed_instances(self) -> list[ServiceInstance]:
        return [sample_instance(0, "urlprefix-/"), sample_instance(1, "urlprefix-/")]

    @pytest.fixture
    def proxy(self, tmp_path: Path) -> Iterator[ProxySetup]:
        setup = type(self).proxy_setup(tmp_path)
        yield setup
        setup.stop_all()

    def started_lb(self, proxy: ProxySetup) -> ProxyLoadBalancer:
        """The plugin on ``proxy``'s config, not reloading: the test starts the proxy
        after the first apply."""
        lb = self.lb_class.from_config(proxy.config)
        lb.reload = _no_reload  # type: ignore[method-assign]
        return lb

    # --- the plugin and its config ----------------------------------------------------

    def test_entry_point_loads_the_balancer(self) -> None:
        name = self.lb_class.name
        (ep,) = [ep for ep in entry_points(group="caravan.loadbalancers") if ep.name == name]
        assert ep.load() is self.lb_class

    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            ({"listen_port": 80}, "listen_port: unknown key"),
            ({"listen": "0.0.0.0:http"}, 'listen: expected "port" or "address:port"'),
            ({"reload_signal": "SIGNOPE"}, "reload_signal: 'SIGNOPE' is not a signal name"),
            ({"checks_required": "some"}, "checks_required: Input should be 'one' or 'all'"),
        ],
    )
    def test_bad_config_names_the_key(self, raw: dict, expected: str) -> None:
        with pytest.raises(PluginConfigError) as err:
            self.lb_class.from_config(raw)
        assert f'plugin "{self.lb_class.name}" config: {expected}' in str(err.value)

    def test_broken_user_template_names_the_line(self, tmp_path: Path) -> None:
        template = tmp_path / "t.j2"
        template.write_text("ok\n{% for x in %}\n")
        lb = self.lb_class.from_config({"template": str(template)})
        with pytest.raises(PluginError, match=r"t.j2:2: "):
            lb.render([sample_instance(0, "urlprefix-/")], RenderOptions())

    async def test_reload_without_pid_file_says_so(self, tmp_path: Path) -> None:
        lb = self.lb_class.from_config({"pid_file": str(tmp_path / "none.pid")})
        name = self.lb_class.name
        with pytest.raises(PluginError, match=rf"pid file .* not found; is {name} running"):
            await lb.reload(tmp_path / self.lb_class.scratch_name)

    async def test_reload_command_failure_is_reported(self, tmp_path: Path) -> None:
        lb = self.lb_class.from_config({"reload_command": ["false"]})
        with pytest.raises(PluginError, match="reload_command exited with 1"):
            await lb.reload(tmp_path / self.lb_class.scratch_name)

    # --- a real proxy serving traffic -------------------------------------------------

    @pytest.mark.integration
    async def test_round_robin_over_three_backends(
        self, http_backends: list[Backend], proxy: ProxySetup, traffic: type[Traffic]
    ) -> None:
        await self.started_lb(proxy).apply([b.instance("urlprefix-/") for b in http_backends])
        counts = traffic.spread(proxy.start().port, 300)
        assert set(counts) == {"b0", "b1", "b2"}
        assert all(75 <= n <= 135 for n in counts.values()), counts

    @pytest.mark.integration
    async def test_split_90_10_by_version_meta(
        self, http_backends: list[Backend], proxy: ProxySetup, traffic: type[Traffic]
    ) -> None:
        meta = {"lb_split": "v1=0.9,v2=0.1", "lb_split_key": "version"}
        instances = [
            http_backends[0].instance("urlprefix-/", meta={**meta, "version": "v1"}),
            http_backends[1].instance("urlprefix-/", meta={**meta, "version": "v2"}),
        ]
        await self.started_lb(proxy).apply(instances)
        counts = traffic.spread(proxy.start().port, 2000)
        assert abs(counts["b1"] / 2000 - 0.10) <= 0.03, counts

    @pytest.mark.integration
    async def test_critical_instance_gets_no_traffic(
        self, http_backends: list[Backend], proxy: ProxySetup, traffic: type[Traffic]
    ) -> None:
        sick = http_backends[0].instance(
            "urlprefix-/", checks={"http": "critical", "tcp": "passing"}
        )
        instances = [sick, *(b.instance("urlprefix-/") for b in http_backends[1:])]
        await self.started_lb(proxy).apply(instances)
        assert f"127.0.0.1:{http_backends[0].port}" not in proxy.out.read_text()
        assert set(traffic.spread(proxy.start().port, 30)) == {"b1", "b2"}

    @pytest.mark.integration
    async def test_service_without_healthy_instance_answers_503(
        self, http_backends: list[Backend], proxy: ProxySetup, traffic: type[Traffic]
    ) -> None:
        sick = [b.instance("urlprefix-/app", checks={"http": "critical"}) for b in http_backends]
        await self.started_lb(proxy).apply(sick)
        port = proxy.start().port
        assert traffic.get(port, "/app/x")[0] == 503
        assert traffic.get(port, "/elsewhere")[0] == 503

    @pytest.mark.integration
    async def test_host_path_and_strip_routing(
        self, http_backends: list[Backend], proxy: ProxySetup, traffic: type[Traffic]
    ) -> None:
        instances = [
            http_backends[0].instance("urlprefix-/api strip=/api", service="api"),
            http_backends[1].instance("urlprefix-Shop.Example/", service="shop"),
            http_backends[2].instance("urlprefix-/", service="site"),
        ]
        await self.started_lb(proxy).apply(instances)
        port = proxy.start().port
        assert traffic.get(port, "/api/x?q=1") == (200, "b0 /x?q=1")
        assert traffic.get(port, "/api") == (200, "b0 /")
        # Fabio tries the host's routes first: shop.example/ wins over the longer /api.
        assert traffic.get(port, "/api/x", host="shop.example") == (200, "b1 /api/x")
        assert traffic.get(port, "/other") == (200, "b2 /other")

    @pytest.mark.integration
    async def test_rejected_config_keeps_the_old_file(
        self, http_backends: list[Backend], proxy: ProxySetup, tmp_path: Path
    ) -> None:
        await self.started_lb(proxy).apply([http_backends[0].instance("urlprefix-/")])
        before = proxy.out.read_text()
        template = tmp_path / "broken.j2"
        template.write_text(self.broken_template)
        broken = self.lb_class.from_config({**proxy.config, "template": str(template)})
        text = broken.render([http_backends[1].instance("urlprefix-/")], RenderOptions())
        result = await broken.validate(text)
        assert result.errors == [self.broken_template_error]
        with pytest.raises(ConfigRejectedError, match="bogus"):
            await broken.apply([http_backends[1].instance("urlprefix-/")])
        assert proxy.out.read_text() == before

    @pytest.mark.integration
    async def test_apply_reloads_the_running_proxy(
        self, http_backends: list[Backend], proxy: ProxySetup, traffic: type[Traffic]
    ) -> None:
        lb = self.started_lb(proxy)
        await lb.apply([http_backends[0].instance("urlprefix-/")])
        port = proxy.start().port
        assert traffic.get(port)[1].startswith("b0")
        del lb.reload
        assert await lb.apply([http_backends[2].instance("urlprefix-/")]) is True
        traffic.wait_until(lambda: traffic.get(port)[1].startswith("b2"), "the reload")
