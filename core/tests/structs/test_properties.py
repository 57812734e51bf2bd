"""Properties over generated jobs: round trips, idempotent defaults, only people-errors."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from caravan.errors import JobValidationError
from caravan.structs import Job, canonicalize, validate_job

names = st.text(alphabet="abcdefgh-_ 1", min_size=0, max_size=8)
small = st.integers(min_value=-5, max_value=200)
durations = st.integers(min_value=-(10**9), max_value=10**12)

ports = st.fixed_dictionaries({"Label": names}, optional={"Value": small, "To": small})
checks = st.fixed_dictionaries(
    {},
    optional={
        "Type": st.sampled_from(["http", "tcp", "script", "bogus", ""]),
        "Interval": durations,
        "Timeout": durations,
        "Path": st.sampled_from(["/", "", "http://x/"]),
        "PortLabel": names,
    },
)
services = st.fixed_dictionaries(
    {"Name": names},
    optional={
        "PortLabel": names,
        "Tags": st.lists(names, max_size=3),
        "Checks": st.lists(checks, max_size=2),
    },
)
tasks = st.fixed_dictionaries(
    {"Name": names},
    optional={
        "Driver": st.sampled_from(["docker", "exec", ""]),
        "Config": st.fixed_dictionaries(
            {}, optional={"image": names, "ports": st.lists(names, max_size=2)}
        ),
        "Resources": st.fixed_dictionaries({}, optional={"CPU": small, "MemoryMB": small}),
        "Services": st.lists(services, max_size=2),
        "KillTimeout": durations,
        "Env": st.dictionaries(names, names, max_size=2),
    },
)
groups = st.fixed_dictionaries(
    {"Name": names},
    optional={
        "Count": small,
        "Tasks": st.lists(tasks, max_size=2),
        "Networks": st.lists(
            st.fixed_dictionaries(
                {},
                optional={
                    "DynamicPorts": st.lists(ports, max_size=2),
                    "ReservedPorts": st.lists(ports, max_size=2),
                },
            ),
            max_size=1,
        ),
        "Update": st.fixed_dictionaries(
            {}, optional={"MaxParallel": small, "Canary": small, "MinHealthyTime": durations}
        ),
        "RestartPolicy": st.fixed_dictionaries(
            {}, optional={"Attempts": small, "Mode": st.sampled_from(["fail", "delay", "x"])}
        ),
        "Constraints": st.lists(
            st.fixed_dictionaries(
                {},
                optional={
                    "LTarget": names,
                    "RTarget": st.sampled_from(["(", "1", ">= 1.0", ""]),
                    "Operand": st.sampled_from(
                        ["", "=", "regexp", "version", "distinct_hosts", "~"]
                    ),
                },
            ),
            max_size=2,
        ),
    },
)
jobs = st.fixed_dictionaries(
    {},
    optional={
        "ID": names,
        "Type": st.sampled_from(["service", "batch", "system", "sysbatch", "daemon"]),
        "Priority": small,
        "Datacenters": st.lists(names, max_size=2),
        "TaskGroups": st.lists(groups, max_size=2),
        "Meta": st.dictionaries(names, names, max_size=2),
    },
)

fast = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@fast
@given(jobs)
def test_api_round_trip(data: dict[str, Any]) -> None:
    job = Job.from_api(data)
    assert Job.from_api(job.to_api()) == job
    canonical = canonicalize(job)
    assert Job.from_api(canonical.to_api()) == canonical


@fast
@given(jobs)
def test_canonicalize_is_idempotent(data: dict[str, Any]) -> None:
    once = canonicalize(Job.from_api(data))
    assert canonicalize(once) == once


@fast
@given(jobs)
def test_validate_raises_only_job_validation_errors(data: dict[str, Any]) -> None:
    job = canonicalize(Job.from_api(data))
    try:
        warnings = validate_job(job)
    except JobValidationError as err:
        assert err.errors and all(e.message for e in err.errors)
    else:
        assert isinstance(warnings, list)
