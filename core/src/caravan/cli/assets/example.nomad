# An example job: one Redis instance run by the docker driver and published
# as the service "redis-cache". Run it with `caravan job run example.nomad`.
job "example" {
  # Datacenters the job may be placed in; caravan's dev agent is "dc1".
  datacenters = ["dc1"]

  # service: long-lived tasks restarted and rescheduled on failure.
  # Other types: batch (runs to completion), system (one per node).
  type = "service"

  # How new versions of the job roll out: one allocation at a time, each
  # one healthy for 10s before the next is replaced.
  update {
    max_parallel      = 1
    min_healthy_time  = "10s"
    healthy_deadline  = "3m"
    progress_deadline = "10m"
    auto_revert       = false
    canary            = 0
  }

  # How allocations move off a draining node.
  migrate {
    max_parallel     = 1
    health_check     = "checks"
    min_healthy_time = "10s"
    healthy_deadline = "5m"
  }

  # A group is placed as a unit; `count` is how many instances run.
  group "cache" {
    count = 1

    # Restart a failed task twice within 30 minutes, then mark it failed
    # so the scheduler can reschedule it.
    restart {
      attempts = 2
      interval = "30m"
      delay    = "15s"
      mode     = "fail"
    }

    # Scratch disk shared by the group's tasks, in MB.
    ephemeral_disk {
      size = 300
    }

    task "redis" {
      driver = "docker"

      config {
        image = "redis:3.2"

        # The container listens on 6379; the port labelled "db" is mapped to it.
        port_map {
          db = 6379
        }
      }

      resources {
        cpu    = 500 # MHz
        memory = 256 # MB

        network {
          mbits = 10
          port "db" {}
        }
      }

      # Register the task as a service, health checked over TCP.
      service {
        name = "redis-cache"
        tags = ["global", "cache"]
        port = "db"

        check {
          name     = "alive"
          type     = "tcp"
          interval = "10s"
          timeout  = "2s"
        }
      }
    }
  }
}
