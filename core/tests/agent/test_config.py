"""Agent configuration: HCL files, directories, -dev defaults and flags; errors at file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from caravan.agent import AgentConfigError, load_config
from caravan.cli.agent import flag_values

GOOD = """\
region     = "europe"
datacenter = "dc2"
name       = "node-a"
data_dir   = "/var/lib/caravan"
bind_addr  = "0.0.0.0"
log_level  = "WARN"

ports {
  http = 5646
}

advertise {
  http = "10.0.0.5"
  rpc  = "10.0.0.5:5647"
}

server {
  enabled          = true
  bootstrap_expect = 3
  heartbeat_grace  = "30s"
  raft_snapshot_interval = "5m"
  server_join {
    retry_join = ["10.0.0.6", "10.0.0.7"]
  }
}

client {
  enabled    = true
  node_class = "web"
  meta {
    rack = "r1"
  }
  reserved {
    cpu    = 500
    memory = 512
  }
  max_kill_timeout = "1m"
}

plugin "raw_exec" {
  config {
    enabled = true
  }
}

plugin "docker" {
  config {
    volumes {
      enabled = true
    }
  }
}

tls {
  http = true
}
"""


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_good_config(tmp_path: Path):
    cfg = load_config([write(tmp_path, "agent.hcl", GOOD)])
    assert (cfg.region, cfg.datacenter, cfg.name) == ("europe", "dc2", "node-a")
    assert (cfg.ports.http, cfg.ports.rpc) == (5646, 4647)
    assert cfg.advertise_for("http") == "10.0.0.5:5646"
    assert cfg.advertise_for("rpc") == "10.0.0.5:5647"
    assert cfg.server.bootstrap_expect == 3 and cfg.server.heartbeat_grace == 30.0
    assert cfg.server.join_addresses() == ["10.0.0.6", "10.0.0.7"]
    assert (cfg.server.raft_snapshot_interval, cfg.server.raft_snapshot_threshold) == (300, 8192)
    assert cfg.server.raft_trailing_logs == 10240
    assert cfg.client.meta == {"rack": "r1"} and cfg.client.reserved.memory == 512
    assert cfg.client.max_kill_timeout == 60.0
    assert cfg.plugin_configs() == {
        "raw_exec": {"enabled": True},
        "docker": {"volumes": {"enabled": True}},
    }
    assert cfg.notes == []
    assert cfg.tls.http is True


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "server {\n  enabled = true\n  colour = 1\n}\n",
            'agent.hcl:3: unexpected key "server.colour"',
        ),
        ("bogus {\n}\n", 'agent.hcl:1: unexpected block "bogus"'),
        ('ports {\n  http = "x"\n}\n', 'agent.hcl:2: invalid value for "ports.http"'),
        ('server {\n  enabled = true\n  heartbeat_grace = "10"\n}\n', "heartbeat_grace"),
        ("plugin {\n}\n", 'block "plugin" needs exactly one label'),
        (
            "server {\n  enabled = true\n  raft_snapshot_threshold = 0\n}\n",
            "server.raft_snapshot_threshold must be at least 1 (got 0)",
        ),
        ("server {\n", "agent.hcl:"),
    ],
)
def test_errors_name_file_line_and_key(tmp_path: Path, text: str, expected: str):
    with pytest.raises(AgentConfigError) as err:
        load_config([write(tmp_path, "agent.hcl", text)], dev=True)
    assert expected in str(err.value)


def test_directory_merges_in_name_order_and_flags_win(tmp_path: Path):
    conf = tmp_path / "conf.d"
    conf.mkdir()
    write(conf, "a.hcl", 'datacenter = "dc-a"\nserver {\n  enabled = true\n}\n')
    write(conf, "b.json", '{"datacenter": "dc-b", "client": {"enabled": true, "meta": {"x": "1"}}}')
    write(conf, "ignored.txt", "not a config")
    cfg = load_config([str(conf)])
    assert cfg.datacenter == "dc-b"
    assert cfg.server.enabled and cfg.client.enabled and cfg.client.meta == {"x": "1"}
    flags = flag_values(dc="dc-flag", retry_join=("10.0.0.1,10.0.0.2",), plugins="docker,exec")
    cfg = load_config([str(conf)], flags=flags)
    assert cfg.datacenter == "dc-flag"
    assert cfg.server.retry_join == ["10.0.0.1", "10.0.0.2"]
    assert cfg.load_plugins == ["docker", "exec"]
    assert len(cfg.files) == 2


def test_dev_defaults():
    cfg = load_config(dev=True)
    assert cfg.dev_mode and cfg.server.enabled and cfg.client.enabled
    assert (cfg.region, cfg.datacenter, cfg.bind_addr) == ("global", "dc1", "127.0.0.1")
    assert (cfg.ports.http, cfg.ports.rpc) == (4646, 4647)
    assert cfg.server.bootstrap_expect == 1 and cfg.data_dir == ""
    assert cfg.plugin_configs() == {"raw_exec": {"enabled": True}}
    assert cfg.load_plugins is None


def test_flags_alone_start_a_server_and_need_servers_for_a_client():
    cfg = load_config(flags=flag_values(server=True, data_dir="/tmp/x", bootstrap_expect=3))
    assert cfg.server.enabled and cfg.server.bootstrap_expect == 3 and cfg.data_dir == "/tmp/x"
    with pytest.raises(AgentConfigError, match="no servers to register with"):
        load_config(flags=flag_values(client=True))
    cfg = load_config(flags=flag_values(client=True, servers=("10.0.0.1,10.0.0.2:5647",)))
    assert cfg.client.server_addresses() == ["10.0.0.1:4647", "10.0.0.2:5647"]
    with pytest.raises(AgentConfigError, match="Must specify either server, client or dev"):
        load_config()


def test_missing_config_file(tmp_path: Path):
    with pytest.raises(AgentConfigError, match="no such file"):
        load_config([str(tmp_path / "nope.hcl")], dev=True)
