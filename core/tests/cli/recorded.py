"""Recorded API JSON (the shapes a caravan or Nomad agent answers) for output tests."""

from __future__ import annotations

import time

S = 1_000_000_000

JOB_ID = "example"
ALLOC_ID = "0f09c03d-5c6a-4d5e-9d5f-1d9a0c3e6b21"
NODE_ID = "06484218-aa1c-4b0c-9bd5-6ce0f8cf1f3f"
EVAL_ID = "14ec58bf-7d0c-4a76-8c38-3c1c7c8b2a11"
DEPLOYMENT_ID = "3a364864-3d7b-4f21-8d67-fb0e8b7c8f90"


def job(**extra):
    return {
        "ID": JOB_ID,
        "Name": JOB_ID,
        "Namespace": "default",
        "Type": "service",
        "Priority": 50,
        "Datacenters": ["dc1"],
        "Status": "running",
        "Stop": False,
        "SubmitTime": 1592764587 * S,
        "Version": 0,
        "Periodic": None,
        "ParameterizedJob": None,
        **extra,
    }


SUMMARY = {
    "JobID": JOB_ID,
    "Summary": {
        "cache": {
            "Queued": 0,
            "Starting": 0,
            "Running": 1,
            "Failed": 0,
            "Complete": 0,
            "Lost": 0,
            "Unknown": 0,
        }
    },
}

DEPLOYMENT = {
    "ID": DEPLOYMENT_ID,
    "JobID": JOB_ID,
    "JobVersion": 0,
    "JobModifyIndex": 8,
    "Status": "successful",
    "StatusDescription": "Deployment completed successfully",
    "TaskGroups": {
        "cache": {
            "AutoRevert": False,
            "Promoted": False,
            "DesiredCanaries": 0,
            "DesiredTotal": 1,
            "PlacedAllocs": 1,
            "HealthyAllocs": 1,
            "UnhealthyAllocs": 0,
            "ProgressDeadline": 600 * S,
            "RequireProgressBy": "2020-06-21T18:46:45Z",
        }
    },
    "CreateIndex": 9,
}


def event(kind, seconds, message):
    return {"Type": kind, "Time": seconds * S, "DisplayMessage": message}


def alloc_stub(**extra):
    now = time.time_ns()
    return {
        "ID": ALLOC_ID,
        "EvalID": EVAL_ID,
        "Name": "example.cache[0]",
        "NodeID": NODE_ID,
        "NodeName": "chuso-TM1703",
        "JobID": JOB_ID,
        "JobVersion": 0,
        "TaskGroup": "cache",
        "DesiredStatus": "run",
        "ClientStatus": "running",
        "CreateIndex": 9,
        "ModifyIndex": 11,
        "CreateTime": now - 208 * S,
        "ModifyTime": now - 190 * S,
        **extra,
    }


ALLOCATION = alloc_stub(
    ClientDescription="Tasks are running",
    DesiredDescription="",
    DeploymentID=DEPLOYMENT_ID,
    DeploymentStatus={"Healthy": True, "Canary": False},
    AllocatedResources={
        "Tasks": {
            "redis": {
                "Cpu": {"CpuShares": 500},
                "Memory": {"MemoryMB": 256},
                "Networks": [
                    {"IP": "127.0.0.1", "DynamicPorts": [{"Label": "db", "Value": 27908}]}
                ],
            }
        },
        "Shared": {"DiskMB": 300},
    },
    TaskStates={
        "redis": {
            "State": "running",
            "Failed": False,
            "Restarts": 0,
            "StartedAt": "2020-06-21T18:36:46.123456789Z",
            "FinishedAt": "0001-01-01T00:00:00Z",
            "LastRestart": "0001-01-01T00:00:00Z",
            "Events": [
                {
                    "Type": "Received",
                    "Time": 1592764588 * S,
                    "DisplayMessage": "Task received by client",
                },
                {
                    "Type": "Task Setup",
                    "Time": 1592764588 * S,
                    "DisplayMessage": "Building Task Directory",
                },
                {
                    "Type": "Started",
                    "Time": 1592764606 * S,
                    "DisplayMessage": "Task started by client",
                },
            ],
        }
    },
)

NODE = {
    "ID": NODE_ID,
    "Name": "chuso-TM1703",
    "Datacenter": "dc1",
    "NodeClass": "",
    "Drain": False,
    "SchedulingEligibility": "eligible",
    "Status": "ready",
    "Address": "127.0.0.1",
    "Version": "0.1.0",
    "Drivers": {
        "raw_exec": {"Detected": True, "Healthy": True, "HealthDescription": "Healthy"},
        "docker": {"Detected": False, "Healthy": False, "HealthDescription": "no dockerd"},
    },
    "NodeResources": {
        "Cpu": {"CpuShares": 4000},
        "Memory": {"MemoryMB": 8192},
        "Disk": {"DiskMB": 51200},
    },
    "Attributes": {"kernel.name": "linux", "cpu.arch": "amd64"},
    "Events": [],
}
