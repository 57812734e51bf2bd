"""caravan's Consul-compatible HTTP surface (default port 8500) over its service catalog."""

from caravan.consul.app import DEFAULT_PORT, create_consul_app, serve_consul

__all__ = ["DEFAULT_PORT", "create_consul_app", "serve_consul"]
