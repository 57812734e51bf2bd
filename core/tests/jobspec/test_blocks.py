"""How each job-file block maps to Nomad's API JSON."""

from __future__ import annotations

from pathlib import Path

from caravan.jobspec import decode_source, job_to_api_dict

S = 1_000_000_000

MODERN = """
job "example" {
  datacenters = ["*"]
  type        = "service"
  node_pool   = "default"
  priority    = 70

  constraint {
    attribute = "${attr.kernel.name}"
    value     = "linux"
  }
  constraint {
    distinct_hosts = true
  }
  constraint {
    attribute = "${attr.os.version}"
    version   = ">= 22.04"
  }
  constraint {
    distinct_property = "${meta.rack}"
    value             = "2"
  }
  constraint {
    attribute = "${meta.tags}"
    operator  = "set_contains"
    value     = "a,b"
  }
  affinity {
    attribute = "${node.datacenter}"
    value     = "dc1"
    weight    = 100
  }
  spread {
    attribute = "${node.datacenter}"
    weight    = 80
    target "dc1" {
      percent = 60
    }
    target "dc2" {
      percent = 40
    }
  }
  update {
    max_parallel      = 2
    min_healthy_time  = "10s"
    healthy_deadline  = "3m"
    progress_deadline = "10m"
    auto_revert       = true
    canary            = 1
  }
  migrate {
    max_parallel     = 1
    health_check     = "checks"
    min_healthy_time = "10s"
    healthy_deadline = "5m"
  }
  reschedule {
    delay          = "30s"
    delay_function = "exponential"
    max_delay      = "1h"
    unlimited      = true
  }
  ui {
    description = "An example"
    link {
      label = "Docs"
      url   = "https://example.com"
    }
  }
  meta {
    owner = "team"
  }

  group "cache" {
    count = 2

    network {
      mode = "bridge"
      port "db" {
        to = 6379
      }
      port "admin" {
        static = 8080
        to     = 80
      }
    }

    service {
      name     = "redis-cache"
      tags     = ["global", "cache"]
      port     = "db"
      provider = "nomad"

      check {
        name     = "alive"
        type     = "tcp"
        interval = "10s"
        timeout  = "2s"
        check_restart {
          limit = 3
          grace = "90s"
        }
      }
    }

    restart {
      attempts = 2
      interval = "30m"
      delay    = "15s"
      mode     = "fail"
    }

    ephemeral_disk {
      size   = 300
      sticky = true
    }

    task "redis" {
      driver = "docker"
      kill_timeout = "20s"
      shutdown_delay = "10s"

      config {
        image          = "redis:7"
        ports          = ["db"]
        auth_soft_fail = true
      }

      identity {
        env  = true
        file = true
      }

      env {
        REDIS_PORT = "${NOMAD_PORT_db}"
        LEVEL      = 3
      }

      lifecycle {
        hook    = "prestart"
        sidecar = false
      }

      logs {
        max_files     = 3
        max_file_size = 15
      }

      artifact {
        source      = "https://example.com/file.tar.gz"
        destination = "local/data"
        options {
          checksum = "sha256:abc"
        }
      }

      template {
        data        = "KEY={{ key \\"k\\" }}"
        destination = "local/env"
        env         = true
      }

      resources {
        cpu        = 500
        memory     = 256
        memory_max = 512
      }
    }
  }
}
"""


def _job() -> dict:
    return job_to_api_dict(MODERN, "example.nomad.hcl")


def test_job_level_fields() -> None:
    job = _job()
    assert (job["ID"], job["Name"], job["Type"], job["Priority"]) == (
        "example",
        "example",
        "service",
        70,
    )
    assert job["Datacenters"] == ["*"]
    assert job["NodePool"] == "default"
    assert job["Meta"] == {"owner": "team"}
    assert job["UI"] == {
        "Description": "An example",
        "Links": [{"Label": "Docs", "URL": "https://example.com"}],
    }
    assert job["Update"] == {
        "MaxParallel": 2,
        "MinHealthyTime": 10 * S,
        "HealthyDeadline": 180 * S,
        "ProgressDeadline": 600 * S,
        "AutoRevert": True,
        "Canary": 1,
    }
    assert job["Migrate"] == {
        "MaxParallel": 1,
        "HealthCheck": "checks",
        "MinHealthyTime": 10 * S,
        "HealthyDeadline": 300 * S,
    }
    assert job["Reschedule"] == {
        "Delay": 30 * S,
        "DelayFunction": "exponential",
        "MaxDelay": 3600 * S,
        "Unlimited": True,
    }


def test_constraints_affinities_spreads() -> None:
    job = _job()
    assert job["Constraints"] == [
        {"LTarget": "${attr.kernel.name}", "RTarget": "linux", "Operand": "="},
        {"LTarget": "", "RTarget": "true", "Operand": "distinct_hosts"},
        {"LTarget": "${attr.os.version}", "RTarget": ">= 22.04", "Operand": "version"},
        {"LTarget": "${meta.rack}", "RTarget": "2", "Operand": "distinct_property"},
        {"LTarget": "${meta.tags}", "RTarget": "a,b", "Operand": "set_contains"},
    ]
    assert job["Affinities"] == [
        {"LTarget": "${node.datacenter}", "RTarget": "dc1", "Operand": "=", "Weight": 100}
    ]
    assert job["Spreads"] == [
        {
            "Attribute": "${node.datacenter}",
            "Weight": 80,
            "SpreadTarget": [{"Value": "dc1", "Percent": 60}, {"Value": "dc2", "Percent": 40}],
        }
    ]


def test_group_network_and_services() -> None:
    group = _job()["TaskGroups"][0]
    assert group["Name"] == "cache"
    assert group["Count"] == 2
    assert group["Networks"] == [
        {
            "Mode": "bridge",
            "DynamicPorts": [{"Label": "db", "Value": 0, "To": 6379}],
            "ReservedPorts": [{"Label": "admin", "Value": 8080, "To": 80}],
        }
    ]
    assert group["Services"] == [
        {
            "Name": "redis-cache",
            "Tags": ["global", "cache"],
            "PortLabel": "db",
            "Provider": "nomad",
            "Checks": [
                {
                    "Name": "alive",
                    "Type": "tcp",
                    "Interval": 10 * S,
                    "Timeout": 2 * S,
                    "CheckRestart": {"Limit": 3, "Grace": 90 * S},
                }
            ],
        }
    ]
    assert group["RestartPolicy"] == {
        "Attempts": 2,
        "Interval": 1800 * S,
        "Delay": 15 * S,
        "Mode": "fail",
    }
    assert group["EphemeralDisk"] == {"SizeMB": 300, "Sticky": True}


def test_task_fields() -> None:
    task = _job()["TaskGroups"][0]["Tasks"][0]
    assert task["Name"] == "redis"
    assert task["KillTimeout"] == 20 * S
    assert task["ShutdownDelay"] == 10 * S
    assert task["Config"] == {"image": "redis:7", "ports": ["db"], "auth_soft_fail": True}
    assert task["Identity"] == {"Env": True, "File": True}
    assert task["Env"] == {"REDIS_PORT": "${NOMAD_PORT_db}", "LEVEL": "3"}
    assert task["Lifecycle"] == {"Hook": "prestart", "Sidecar": False}
    assert task["LogConfig"] == {"MaxFiles": 3, "MaxFileSizeMB": 15}
    assert task["Artifacts"] == [
        {
            "GetterSource": "https://example.com/file.tar.gz",
            "RelativeDest": "local/data",
            "GetterOptions": {"checksum": "sha256:abc"},
        }
    ]
    assert task["Templates"] == [
        {
            "EmbeddedTmpl": 'KEY={{ key "k" }}',
            "DestPath": "local/env",
            "Envvars": True,
            "ChangeMode": "restart",
            "Perms": "0644",
            "Splay": 5 * S,
            "ErrMissingKey": False,
        }
    ]
    assert task["Resources"] == {"CPU": 500, "MemoryMB": 256, "MemoryMaxMB": 512}


def test_task_directly_under_job_gets_its_own_group() -> None:
    source = """
job "batch" {
  type = "batch"
  group "later" {
    task "b" {
      driver = "exec"
    }
  }
  task "a" {
    driver = "raw_exec"
    config {
      command = "/bin/true"
    }
  }
}
"""
    decoded = decode_source(source, "b.nomad")
    groups = decoded.api["TaskGroups"]
    assert [g["Name"] for g in groups] == ["a", "later"]
    assert groups[0]["Tasks"] == [
        {"Name": "a", "Driver": "raw_exec", "Config": {"command": "/bin/true"}}
    ]
    assert decoded.positions[("TaskGroups", 0, "Tasks", 0, "Driver")] == (10, 5)
    assert decoded.positions[("TaskGroups", 1, "Tasks", 0, "Driver")] == (6, 7)


def test_periodic_and_parameterized() -> None:
    source = """
job "cron" {
  type = "batch"
  periodic {
    cron             = "*/15 * * * *"
    prohibit_overlap = true
    time_zone        = "Europe/Paris"
  }
  parameterized {
    payload       = "optional"
    meta_required = ["who"]
  }
}
"""
    job = job_to_api_dict(source, "c.nomad")
    assert job["Periodic"] == {
        "Spec": "*/15 * * * *",
        "SpecType": "cron",
        "ProhibitOverlap": True,
        "TimeZone": "Europe/Paris",
    }
    assert job["ParameterizedJob"] == {"Payload": "optional", "MetaRequired": ["who"]}


def test_meta_and_env_as_attributes_allow_any_keys() -> None:
    source = """
job "a" {
  meta = { "my.key" = "v", n = 1 }
  group "g" {
    task "t" {
      env = { "A.B" = true }
    }
  }
}
"""
    job = job_to_api_dict(source, "a.nomad")
    assert job["Meta"] == {"my.key": "v", "n": "1"}
    assert job["TaskGroups"][0]["Tasks"][0]["Env"] == {"A.B": "true"}


def test_check_headers_and_group_level_blocks() -> None:
    source = """
job "a" {
  group "g" {
    shutdown_delay = "5s"
    update {
      canary = 2
    }
    reschedule {
      attempts = 0
      unlimited = false
    }
    scaling {
      min = 1
      max = 5
      policy {
        cooldown = "1m"
      }
    }
    service {
      name = "web"
      port = "http"
      check {
        type = "http"
        path = "/health"
        interval = "5s"
        timeout = "1s"
        header {
          Authorization = ["Basic x"]
        }
      }
    }
  }
}
"""
    group = job_to_api_dict(source, "a.nomad")["TaskGroups"][0]
    assert group["ShutdownDelay"] == 5 * S
    assert group["Update"] == {"Canary": 2}
    assert group["ReschedulePolicy"] == {"Attempts": 0, "Unlimited": False}
    assert group["Scaling"] == {
        "Min": 1,
        "Max": 5,
        "Policy": {"cooldown": "1m"},
        "Type": "horizontal",
    }
    assert group["Services"][0]["Checks"][0]["Header"] == {"Authorization": ["Basic x"]}


def test_vault_block_is_ignored_with_a_warning() -> None:
    source = (
        'job "a" {\n  group "g" {\n    task "t" {\n'
        '      vault {\n        policies = ["x"]\n      }\n    }\n  }\n}\n'
    )
    decoded = decode_source(source, "a.nomad")
    assert "Vault" not in decoded.api["TaskGroups"][0]["Tasks"][0]
    assert decoded.warnings == [
        "a.nomad:4: the vault block is not supported by caravan and was ignored"
    ]


def test_positions_follow_fields(examples_dir) -> None:
    path = examples_dir / "example.nomad"
    decoded = decode_source(path.read_text(), str(path))
    task = ("TaskGroups", 0, "Tasks", 0)
    assert decoded.positions[(*task, "Services", 0, "PortLabel")] == (50, 9)
    assert decoded.positions[(*task, "Resources", "Networks", 0, "DynamicPorts", 0)] == (44, 11)
    assert decoded.positions[("TaskGroups", 0, "Count")] == (15, 5)
    assert decoded.locate(("TaskGroups", 0, "Tasks", 0, "Services", 0, "Nope")) == (47, 7)


def test_group_volumes_are_keyed_by_name() -> None:
    source = """
job "a" {
  group "g" {
    volume "data" {
      type      = "host"
      source    = "data"
      read_only = true
    }
  }
}
"""
    decoded = decode_source(source, "a.nomad")
    assert decoded.api["TaskGroups"][0]["Volumes"] == {
        "data": {"Name": "data", "Type": "host", "Source": "data", "ReadOnly": True}
    }
    assert decoded.positions[("TaskGroups", 0, "Volumes", "data", "Source")] == (6, 7)


def test_every_block_decodes() -> None:
    path = Path(__file__).parent / "fixtures" / "every-block.nomad"
    job = job_to_api_dict(path.read_text(), str(path))
    group = job["TaskGroups"][0]
    task = group["Tasks"][0]
    assert job["Multiregion"]["Regions"][0]["Name"] == "west"
    assert group["Networks"][0]["ReservedPorts"] == [
        {"Label": "p", "Value": 1234, "To": 80, "HostNetwork": "default", "IgnoreCollision": False}
    ]
    assert group["Networks"][0]["DNS"] == {
        "Servers": ["1.1.1.1"],
        "Searches": ["x"],
        "Options": ["ndots:2"],
    }
    assert group["Disconnect"] == {
        "LostAfter": 3600 * S,
        "Replace": True,
        "Reconcile": "best_score",
    }
    assert task["Identities"] == [
        {"Name": "vault", "Audience": ["v"], "Env": True, "File": True, "TTL": 3600 * S}
    ]
    assert task["Actions"] == [{"Name": "hello", "Command": "echo", "Args": ["hi"]}]
    assert task["Templates"][0]["ChangeScript"] == {
        "Command": "/bin/x",
        "Args": [],
        "Timeout": 5 * S,
        "FailOnError": False,
    }
    assert task["Templates"][0]["Wait"] == {"Min": S, "Max": 2 * S}
    device = task["Resources"]["Devices"][0]
    assert (device["Name"], device["Count"]) == ("nvidia/gpu", 1)
    assert device["Affinities"][0]["Weight"] == 10
