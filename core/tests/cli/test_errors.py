"""Bad input gives one clear message and exit code 1, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            'job "x" {\n  type = "daemon"\n  group "g" { task "t" { driver = "raw_exec" } }\n}\n',
            "bad.nomad:2,3: Type: Invalid job type: 'daemon'",
        ),
        (
            'job "x" {\n  group "g" {\n    colour = "red"\n'
            '    task "t" { driver = "raw_exec" }\n  }\n}\n',
            'bad.nomad:3,5: Unsupported argument: "colour" is not expected in a group block',
        ),
        ('job "a" {}\njob "b" {}\n', "only one job"),
        (
            'job "x" {\n  group "g" {\n    task "t" {\n      driver = "docker"\n'
            '      service {\n        name = "web"\n        port = "http"\n      }\n'
            "    }\n  }\n}\n",
            "bad.nomad:7,9: TaskGroups[0].Tasks[0].Services[0].PortLabel: "
            "port label 'http' is not defined",
        ),
    ],
)
def test_bad_job_file(run_cli, tmp_path: Path, text: str, expected: str):
    path = tmp_path / "bad.nomad"
    path.write_text(text)
    res = run_cli("job", "validate", str(path))
    assert res.code == 1
    assert expected in res.err
    assert "Traceback" not in res.err


def test_missing_file(run_cli, tmp_path: Path):
    res = run_cli("job", "validate", str(tmp_path / "nope.nomad"))
    assert res.code == 1
    assert "nope.nomad" in res.err and "no such file" in res.err


def test_bad_var_flag(run_cli, examples_dir: Path):
    res = run_cli("job", "run", "-output", "-var", "novalue", str(examples_dir / "demo.nomad"))
    assert res.code == 1
    assert 'Error parsing -var "novalue"' in res.err


def test_submit_without_agent_says_so_in_one_line(tmp_path: Path, examples_dir: Path):
    """`job run` with no agent listening: one line naming the address, exit 1."""
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "caravan.cli.main",
            "job",
            "run",
            "-address",
            "http://127.0.0.1:9",
            str(examples_dir / "demo.nomad"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 1
    assert res.stderr.count("\n") == 1
    assert res.stderr == (
        'Error submitting job: Put "http://127.0.0.1:9/v1/jobs": '
        "dial tcp 127.0.0.1:9: connect: connection refused\n"
    )


def test_version(run_cli):
    res = run_cli("version")
    assert res.code == 0 and res.out.startswith("Caravan v")
