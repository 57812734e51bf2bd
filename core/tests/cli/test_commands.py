"""Commands against a canned agent: IDs by prefix, tokens, -json/-t, monitor exit codes."""

from __future__ import annotations

from pathlib import Path

from . import recorded as r


def test_unknown_job(run_cli, fake_agent):
    fake_agent.routes[("GET", "/v1/jobs")] = []
    res = run_cli("job", "status", "nope")
    assert (res.code, res.err) == (1, 'No job(s) with prefix or id "nope" found\n')


def test_job_status_by_prefix_sends_the_token(run_cli, fake_agent, monkeypatch):
    monkeypatch.setenv("NOMAD_TOKEN", "secret")
    base = "/v1/job/example"
    fake_agent.routes.update(
        {
            ("GET", "/v1/jobs"): [r.job()],
            ("GET", base): r.job(),
            ("GET", base + "/summary"): r.SUMMARY,
            ("GET", base + "/deployment"): r.DEPLOYMENT,
            ("GET", base + "/allocations"): [r.alloc_stub()],
            ("GET", base + "/evaluations"): [],
        }
    )
    res = run_cli("status", "exa")
    assert res.code == 0, res.err
    assert "ID            = example" in res.out and "\nLatest Deployment\n" in res.out
    assert all(headers.get("X-Nomad-Token") == "secret" for *_, headers in fake_agent.requests)
    res = run_cli("job", "status", "-t", "{{.ID}} v{{.Version}}", "example")
    assert res.out == "example v0\n"
    res = run_cli("job", "status", "-json", "example")
    assert res.json()["Datacenters"] == ["dc1"]


def test_prefix_matching_several_allocations(run_cli, fake_agent):
    other = r.alloc_stub(ID="0f09c03d-ffff-4d5e-9d5f-1d9a0c3e6b21", TaskGroup="web")
    fake_agent.routes[("GET", "/v1/allocations")] = [r.alloc_stub(), other]
    res = run_cli("alloc", "status", "0f09")
    assert res.code == 1
    lines = res.err.splitlines()
    assert lines[0] == "Prefix matched multiple allocations"
    assert lines[2].split() == [
        "ID",
        "Node",
        "ID",
        "Task",
        "Group",
        "Version",
        "Desired",
        "Status",
        "Created",
        "Modified",
    ]
    assert len(lines) == 5


def _eval(status: str, **extra):
    return {
        "ID": r.EVAL_ID,
        "JobID": "example",
        "Type": "batch",
        "Status": status,
        "CreateIndex": 8,
        **extra,
    }


def test_job_run_monitors_the_evaluation(run_cli, fake_agent, examples_dir: Path):
    states = iter([_eval("pending"), _eval("complete")])
    fake_agent.routes.update(
        {
            ("PUT", "/v1/jobs"): {"EvalID": r.EVAL_ID, "JobModifyIndex": 8},
            ("GET", f"/v1/evaluation/{r.EVAL_ID}"): lambda q: next(states),
            ("GET", f"/v1/evaluation/{r.EVAL_ID}/allocations"): [r.alloc_stub()],
        }
    )
    res = run_cli("job", "run", str(examples_dir / "example.nomad"))
    assert res.code == 0, res.err
    assert res.out.splitlines() == [
        '==> Monitoring evaluation "14ec58bf"',
        '    Evaluation triggered by job "example"',
        '    Allocation "0f09c03d" created: node "06484218", group "cache"',
        '    Evaluation status changed: "pending" -> "complete"',
        '==> Evaluation "14ec58bf" finished with status "complete"',
    ]


def test_job_run_placement_failure_exits_2(run_cli, fake_agent, examples_dir: Path):
    failed = {
        "cache": {"NodesEvaluated": 1, "NodesExhausted": 1, "DimensionExhausted": {"memory": 1}}
    }
    fake_agent.routes.update(
        {
            ("PUT", "/v1/jobs"): {"EvalID": r.EVAL_ID},
            ("GET", f"/v1/evaluation/{r.EVAL_ID}"): _eval(
                "complete", FailedTGAllocs=failed, BlockedEval="b10c4ed0-0000"
            ),
            ("GET", f"/v1/evaluation/{r.EVAL_ID}/allocations"): [],
        }
    )
    res = run_cli("job", "run", "-check-index", "0", str(examples_dir / "example.nomad"))
    assert res.code == 2
    assert res.out.splitlines()[-5:] == [
        '==> Evaluation "14ec58bf" finished with status "complete" but failed to place all '
        "allocations:",
        '    Task Group "cache" (failed to place 1 allocation):',
        "      * Resources exhausted on 1 nodes",
        '      * Dimension "memory" exhausted on 1 nodes',
        '    Evaluation "b10c4ed0" waiting for additional capacity to place remainder',
    ]
    assert fake_agent.bodies[0]["EnforceIndex"] is True
    assert fake_agent.bodies[0]["JobModifyIndex"] == 0


def test_stale_check_index_is_rejected(run_cli, fake_agent, examples_dir: Path):
    fake_agent.routes[("PUT", "/v1/jobs")] = (
        500,
        "Enforcing job modify index 5: job exists with conflicting job modify index: 12",
    )
    res = run_cli("job", "run", "-check-index", "5", str(examples_dir / "example.nomad"))
    assert res.code == 1
    assert res.err == (
        "Enforcing job modify index 5: job exists with conflicting job modify index: 12\n"
        "Job not updated\n"
    )


def test_plan_error_exits_255(run_cli, fake_agent, examples_dir: Path):
    fake_agent.routes[("PUT", "/v1/job/example/plan")] = (500, "no leader")
    res = run_cli("job", "plan", str(examples_dir / "example.nomad"))
    assert (res.code, res.err) == (
        255,
        "Error during plan: Unexpected response code: 500 (no leader)\n",
    )


def test_node_drain_needs_enable_or_disable(run_cli, fake_agent):
    res = run_cli("node", "drain", "abc")
    assert (res.code, res.err) == (1, "Either the '-enable' or '-disable' flag must be set\n")


def test_node_drain_sends_nomad_deadlines(run_cli, fake_agent):
    fake_agent.routes[("GET", "/v1/nodes")] = [r.NODE]
    fake_agent.routes[("GET", f"/v1/node/{r.NODE_ID}")] = r.NODE
    fake_agent.routes[("PUT", f"/v1/node/{r.NODE_ID}/drain")] = {}
    res = run_cli("node", "drain", "-enable", "-force", "-detach", "0648")
    assert res.code == 0, res.err
    assert fake_agent.bodies[-1] == {
        "DrainSpec": {"Deadline": -1_000_000_000, "IgnoreSystemJobs": False},
        "MarkEligible": False,
    }
    run_cli("node", "drain", "-enable", "-deadline", "10m", "-detach", "0648")
    assert fake_agent.bodies[-1]["DrainSpec"]["Deadline"] == 600_000_000_000
    res = run_cli("node", "drain", "-disable", "0648")
    assert res.out == f'Node "{r.NODE_ID}" drain strategy unset\n'
    assert fake_agent.bodies[-1] == {"DrainSpec": None, "MarkEligible": True}


def test_template_range(run_cli, fake_agent):
    fake_agent.routes[("GET", "/v1/nodes")] = [r.NODE, {**r.NODE, "Name": "b"}]
    res = run_cli("node", "status", "-t", "{{range .}}{{.Name}} {{end}}")
    assert res.out == "chuso-TM1703 b \n"
    res = run_cli("node", "status", "-t", "{{.Nope}}")
    assert res.code == 1 and "can't evaluate field Nope" in res.err
