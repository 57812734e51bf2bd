"""The haproxy load balancer: the SDK's proxy suite (config, reloads, a real HAProxy serving
traffic) and what only HAProxy renders."""

from __future__ import annotations

from pathlib import Path

from caravan_lb_haproxy.balancer import HAProxyLoadBalancer

from caravan_plugins import RenderOptions, ServiceInstance
from caravan_plugins.testing import haproxy_setup
from caravan_plugins.testing import sample_instance as inst
from caravan_plugins.testing.proxy_conformance import ProxyLoadBalancerConformance


class TestHAProxyConformance(ProxyLoadBalancerConformance):
    lb_class = HAProxyLoadBalancer
    proxy_setup = haproxy_setup
    broken_template = "frontend f\n    bind {{ listen }}\n    bogus {{ http[0].name }}\n"
    broken_template_error = "[ALERT] line 3: unknown keyword 'bogus' in 'frontend' section"


def render(*instances: ServiceInstance, **config: object) -> str:
    return HAProxyLoadBalancer.from_config(config).render(list(instances), RenderOptions())


def test_backend_has_weighted_checked_servers() -> None:
    text = render(inst(0, "urlprefix-/"), inst(1, "urlprefix-/"))
    assert "    balance roundrobin\n" in text
    assert "server s0 10.0.0.5:8080 weight 256 check # web-0" in text
    assert "option forwardfor" in text and "X-Real-IP %[src]" in text


def test_host_routes_come_first_longest_prefix_first() -> None:
    text = render(
        inst(0, "urlprefix-/"),
        inst(1, "urlprefix-/api/v1"),
        inst(2, "urlprefix-a.com/"),
        inst(3, "urlprefix-a.com/x/y"),
    )
    uses = [line.split()[1] for line in text.splitlines() if "use_backend" in line]
    assert uses == ["web_0", "web_1", "web_2", "web_3"]
    assert "acl web_0_path path_beg '/x/y'" in text
    assert "acl web_0_host req.hdr(host),field(1,:) -m str -i a.com" in text


def test_malformed_tag_is_reported_in_the_config() -> None:
    text = render(inst(0, "urlprefix-nothing"))
    assert '# note: service "web": tag "urlprefix-nothing": route \'nothing\' needs a "/"' in text


def test_tcp_route_gets_a_tcp_frontend() -> None:
    text = render(inst(0, "urlprefix-:5432 pxyproto=true"), listen="127.0.0.1:80")
    tcp = text[text.index("frontend tcp_5432") :]
    assert "mode tcp" in tcp and "bind 127.0.0.1:5432" in tcp
    assert "server s0 10.0.0.5:8080 weight 256 check send-proxy # web-0" in tcp


def test_redirect_strip_prepend_and_access_lists() -> None:
    text = render(
        inst(0, "urlprefix-/old redirect=301,https://new.example$path"),
        inst(1, "urlprefix-/admin allow=ip:10.0.0.0/8"),
        inst(2, "urlprefix-/a.b strip=/a.b prepend=/v1", service="api"),
    )
    assert "http-request redirect code 301 location 'https://new.example%[capture.req.uri]'" in text
    assert "http-request deny if !{ src 10.0.0.0/8 }" in text
    assert "http-request replace-path '^/a\\.b/?(.*)$' '/\\1'" in text
    assert "http-request set-path '/v1%[path]'" in text


def test_user_template_renders(tmp_path: Path) -> None:
    template = tmp_path / "t.j2"
    template.write_text("{% for b in http %}{{ b.name }} {{ b.servers[0].address }}{% endfor %}")
    text = render(inst(0, "urlprefix-/"), template=str(template))
    assert text == "web_0 10.0.0.5:8080\n"
