"""Output shapes against recorded API JSON: what `status`, `job plan`, `alloc status`,
`node status`, `server members` and the evaluation monitor print."""

from __future__ import annotations

import os
import time

import pytest

from caravan.cli.alloc import format_alloc_status
from caravan.cli.deployment import deployed_table
from caravan.cli.job_plan import format_plan, plan_exit_code
from caravan.cli.job_status import format_job_status
from caravan.cli.node import node_list_table
from caravan.cli.server import members_table

from . import recorded as r


@pytest.fixture(autouse=True)
def madrid_time(monkeypatch: pytest.MonkeyPatch):
    """Times print in local time; pin the zone the walkthrough was recorded in."""
    monkeypatch.setenv("TZ", "Europe/Madrid")
    time.tzset()
    yield
    monkeypatch.delenv("TZ")
    time.tzset()


def test_job_status_matches_the_walkthrough():
    text = format_job_status(r.job(), r.SUMMARY, r.DEPLOYMENT, [r.alloc_stub()], evals=[])
    assert (
        text
        == """\
ID            = example
Name          = example
Submit Date   = 2020-06-21T20:36:27+02:00
Type          = service
Priority      = 50
Datacenters   = dc1
Namespace     = default
Status        = running
Periodic      = false
Parameterized = false

Summary
Task Group  Queued  Starting  Running  Failed  Complete  Lost
cache       0       0         1        0       0         0

Latest Deployment
ID          = 3a364864
Status      = successful
Description = Deployment completed successfully

Deployed
Task Group  Desired  Placed  Healthy  Unhealthy  Progress Deadline
cache       1        1       1        0          2020-06-21T20:46:45+02:00

Allocations
ID        Node ID   Task Group  Version  Desired  Status   Created    Modified
0f09c03d  06484218  cache       0        run      running  3m28s ago  3m10s ago"""
    )


def test_canary_deployment_shows_the_extra_columns():
    dep = dict(r.DEPLOYMENT)
    dep["TaskGroups"] = {
        "demo": {
            **r.DEPLOYMENT["TaskGroups"]["cache"],
            "AutoRevert": True,
            "DesiredCanaries": 1,
            "DesiredTotal": 3,
            "HealthyAllocs": 1,
        }
    }
    assert deployed_table(dep).splitlines() == [
        "Task Group  Auto Revert  Promoted  Desired  Canaries  Placed  Healthy  Unhealthy"
        "  Progress Deadline",
        "demo        true         false     3        1         1       1        0"
        "          2020-06-21T20:46:45+02:00",
    ]


def test_stopped_job_and_placement_failure():
    evals = [
        {
            "ID": "e1",
            "Status": "complete",
            "BlockedEval": "e2",
            "CreateIndex": 5,
            "FailedTGAllocs": {
                "cache": {
                    "NodesEvaluated": 1,
                    "NodesExhausted": 1,
                    "DimensionExhausted": {"memory": 1},
                }
            },
        },
        {"ID": "e2", "Status": "blocked", "CreateIndex": 6},
    ]
    text = format_job_status(r.job(Stop=True, Status="dead"), r.SUMMARY, None, [], evals)
    assert "Status        = dead (stopped)" in text
    assert (
        'Placement Failure\nTask Group "cache":\n  * Resources exhausted on 1 nodes\n'
        '  * Dimension "memory" exhausted on 1 nodes'
    ) in text
    assert text.endswith("Allocations\nNo allocations placed")


#: Nomad's plan diff for the walkthrough's count 1 -> 3 (unchanged tasks are listed, Type None).
COUNT_DIFF = {
    "Type": "Edited",
    "ID": "example",
    "Fields": None,
    "Objects": None,
    "TaskGroups": [
        {
            "Type": "Edited",
            "Name": "cache",
            "Objects": None,
            "Updates": None,
            "Fields": [
                {
                    "Type": "Edited",
                    "Name": "Count",
                    "Old": "1",
                    "New": "3",
                    "Annotations": ["forces create"],
                }
            ],
            "Tasks": [
                {
                    "Type": "None",
                    "Name": "redis",
                    "Fields": None,
                    "Objects": None,
                    "Annotations": None,
                }
            ],
        }
    ],
}


def test_plan_after_count_one_to_three():
    resp = {
        "Diff": COUNT_DIFF,
        "Annotations": {"DesiredTGUpdates": {"cache": {"Place": 2, "InPlaceUpdate": 1}}},
        "FailedTGAllocs": None,
        "JobModifyIndex": 10,
        "CreatedEvals": None,
        "Warnings": "",
    }
    text = format_plan(resp, "example.nomad", "service", diff=True, verbose=False)
    assert text.startswith("""\
+/- Job: "example"
+/- Task Group: "cache" (2 create, 1 in-place update)
  +/- Count: "1" => "3" (forces create)
      Task: "redis"

Scheduler dry-run:
- All tasks successfully allocated.

Job Modify Index: 10
To submit the job with version verification run:

caravan job run -check-index 10 example.nomad
""")
    assert plan_exit_code(resp) == 1
    resp["Annotations"]["DesiredTGUpdates"]["cache"] = {"Ignore": 1}
    assert plan_exit_code(resp) == 0


def test_plan_placement_failure():
    resp = {
        "Diff": None,
        "JobModifyIndex": 0,
        "Annotations": {"DesiredTGUpdates": {"cache": {"Place": 3}}},
        "FailedTGAllocs": {
            "cache": {
                "NodesEvaluated": 2,
                "CoalescedFailures": 2,
                "ConstraintFiltered": {"${attr.kernel.name} = windows": 2},
            }
        },
    }
    text = format_plan(resp, "x.nomad", "service", diff=True, verbose=False)
    assert text.startswith("""\
Scheduler dry-run:
- WARNING: Failed to place all allocations.
  Task Group "cache" (failed to place 3 allocations):
    * Constraint "${attr.kernel.name} = windows": 2 nodes excluded by filter

Job Modify Index: 0""")


def test_alloc_status():
    text = format_alloc_status(r.ALLOCATION)
    head, _, tasks = text.partition("\n\n")
    assert head.splitlines()[:3] == [
        "ID                  = 0f09c03d",
        "Eval ID             = 14ec58bf",
        "Name                = example.cache[0]",
    ]
    assert "Deployment Health   = healthy" in head
    assert tasks.splitlines()[:3] == [
        'Task "redis" is "running"',
        "Task Resources",
        "CPU      Memory   Disk     Addresses",
    ]
    assert "500 MHz  256 MiB  300 MiB  db: 127.0.0.1:27908" in tasks
    assert "Started At     = 2020-06-21T20:36:46+02:00" in tasks
    assert "Finished At    = N/A" in tasks
    assert tasks.splitlines()[-4:] == [
        "Time                       Type        Description",
        "2020-06-21T20:36:46+02:00  Started     Task started by client",
        "2020-06-21T20:36:28+02:00  Task Setup  Building Task Directory",
        "2020-06-21T20:36:28+02:00  Received    Task received by client",
    ]


def test_node_list_and_server_members():
    assert node_list_table([r.NODE]).splitlines() == [
        "ID        DC   Name          Class   Drain  Eligibility  Status",
        "06484218  dc1  chuso-TM1703  <none>  false  eligible     ready",
    ]
    member = {
        "Name": "chuso-TM1703.global",
        "Addr": "127.0.0.1",
        "Port": 4648,
        "Status": "alive",
        "Tags": {
            "rpc_addr": "127.0.0.1",
            "port": "4647",
            "build": "0.1.0",
            "dc": "dc1",
            "region": "global",
        },
    }
    assert members_table([member], "127.0.0.1:4647").splitlines() == [
        "Name                 Address    Port  Status  Leader  Raft Version  Build  Datacenter"
        "  Region",
        "chuso-TM1703.global  127.0.0.1  4648  alive   true    3             0.1.0  dc1"
        "         global",
    ]


def test_tz_is_restored_for_other_tests():
    assert os.environ["TZ"] == "Europe/Madrid"
