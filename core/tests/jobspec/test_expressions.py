"""HCL2 expressions, templates and functions, and runtime interpolation kept verbatim."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from caravan.errors import JobspecError
from caravan.jobspec import job_to_api_dict


def meta(body: str, **kwargs: object) -> dict:
    """Evaluate ``key = expr`` lines inside a job's meta block."""
    source = 'job "a" {\n  meta {\n' + body + "\n  }\n}\n"
    return job_to_api_dict(source, "a.nomad", **kwargs)["Meta"]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("1 + 2 * 3", "7"),
        ("(1 + 2) * 3", "9"),
        ("7 / 2", "3.5"),
        ("8 / 2", "4"),
        ("7 % 3", "1"),
        ("-3 + 1", "-2"),
        ("2 > 1 && !false", "true"),
        ("1 == 1.0", "true"),
        ('1 == "1"', "false"),
        ('true ? "a" : "b"', "a"),
        ("[10, 20, 30][1]", "20"),
        ('{a = {b = "c"}}.a.b', "c"),
        ('{a = {b = "c"}}["a"]["b"]', "c"),
        ('join(",", [for s in ["x", "y"] : upper(s)])', "X,Y"),
        ('join(",", [for i, s in ["x", "y", "z"] : "${i}${s}" if s != "y"])', "0x,2z"),
        ("jsonencode({for k, v in {b = 2, a = 1} : v => k})", '{"1":"a","2":"b"}'),
        ('jsonencode({for s in ["a", "b", "a"] : s => s...})', '{"a":["a","a"],"b":["b"]}'),
        ('join(",", [{n = "a"}, {n = "b"}][*].n)', "a,b"),
        ('"%{ if 1 < 2 }yes%{ else }no%{ endif }"', "yes"),
        ('"%{ for x in [1, 2] }<${x}>%{ endfor }"', "<1><2>"),
        ('"a  %{~ if true ~}  b  %{~ endif ~}  c"', "abc"),
        ('"$${literal}"', "${literal}"),
        ('"tab\\tquote\\"u\\u00e9"', 'tab\tquote"u\u00e9'),
    ],
)
def test_expressions(expr: str, expected: str) -> None:
    assert meta(f"    v = {expr}")["v"] == expected


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ('upper("a")', "A"),
        ('lower("A")', "a"),
        ('format("%s-%03d-%.1f-%q-%t", "x", 7, 1.25, "q", true)', 'x-007-1.2-"q"-true'),
        ('join("-", split(",", "a,b,c"))', "a-b-c"),
        ("length(concat([1], [2, 3]))", "3"),
        ('lookup({a = "1"}, "b", "dflt")', "dflt"),
        ("jsonencode(merge({a = 1}, {b = 2}, {a = 3}))", '{"a":3,"b":2}'),
        ('contains(["a", "b"], "b")', "true"),
        ('coalesce("", "x")', "x"),
        ('replace("a-b-c", "-", "+")', "a+b+c"),
        ('replace("a1b22", "/[0-9]+/", "#")', "a#b#"),
        ('trimspace("  x ")', "x"),
        ('trimprefix("foobar", "foo")', "bar"),
        ('trimsuffix("foobar", "bar")', "foo"),
        ('substr("hello", 1, 3)', "ell"),
        ("min(3, 1, 2)", "1"),
        ("max(3, 1, 2)", "3"),
        ("abs(-4)", "4"),
        ("ceil(1.2)", "2"),
        ("floor(1.8)", "1"),
        ("jsonencode(range(3))", "[0,1,2]"),
        ("jsonencode(keys({b = 1, a = 2}))", '["a","b"]'),
        ("jsonencode(values({b = 1, a = 2}))", "[2,1]"),
        ('element(["a", "b"], 3)', "b"),
        ("tostring(5)", "5"),
        ('tonumber("5") + 1', "6"),
        ('tobool("true")', "true"),
        ('jsonencode(tolist(["a"]))', '["a"]'),
        ('jsonencode(tomap({a = "b"}))', '{"a":"b"}'),
        ('jsondecode("{\\"a\\": [1]}").a[0]', "1"),
        ('base64decode(base64encode("hi"))', "hi"),
        ("length(uuidv4())", "36"),
        ("substr(timestamp(), 4, 1)", "-"),
    ],
)
def test_functions(expr: str, expected: str) -> None:
    assert meta(f"    v = {expr}")["v"] == expected


def test_file_function_reads_relative_to_the_job(tmp_path: Path) -> None:
    (tmp_path / "motd.txt").write_text("hello\n")
    job_path = tmp_path / "job.nomad"
    source = 'job "a" {\n  meta {\n    motd = trimspace(file("motd.txt"))\n  }\n}\n'
    job = job_to_api_dict(source, str(job_path), allow_fs=True)
    assert job["Meta"]["motd"] == "hello"


def test_file_function_is_unavailable_without_filesystem_access() -> None:
    with pytest.raises(JobspecError, match='no function named "file"'):
        meta('    motd = file("/etc/hostname")')


@pytest.mark.parametrize(
    "text",
    [
        "${NOMAD_PORT_db}",
        "${node.unique.name}",
        "${attr.kernel.name}",
        "${meta.rack}",
        '${env["weird.name"]}',
        "http://${NOMAD_ADDR_http}/health",
        "${NOMAD_META_x}-${node.datacenter}",
    ],
)
def test_runtime_interpolation_is_kept_verbatim(text: str) -> None:
    assert meta(f'    v = "{text}"')["v"] == text


def test_runtime_and_parse_time_interpolations_mix() -> None:
    source = (
        'variable "svc" { default = "web" }\n'
        'job "a" {\n  meta {\n    v = "${var.svc}-${NOMAD_ALLOC_INDEX}"\n  }\n}\n'
    )
    assert job_to_api_dict(source, "a.nomad")["Meta"]["v"] == "web-${NOMAD_ALLOC_INDEX}"


def test_heredoc_templates() -> None:
    source = (
        'variable "port" { default = 8080 }\n'
        'job "a" {\n  group "g" {\n    task "t" {\n'
        "      template {\n"
        '        destination = "local/app.conf"\n'
        "        data = <<-EOT\n"
        "          port = ${var.port}\n"
        "          host = ${NOMAD_IP_http}\n"
        '          {{ key "x" }}\n'
        "          EOT\n"
        "      }\n    }\n  }\n}\n"
    )
    template = job_to_api_dict(source, "a.nomad")["TaskGroups"][0]["Tasks"][0]["Templates"][0]
    assert template["EmbeddedTmpl"] == 'port = 8080\nhost = ${NOMAD_IP_http}\n{{ key "x" }}\n'


def test_config_keeps_structure() -> None:
    source = """
job "a" {
  group "g" {
    task "t" {
      driver = "docker"
      config {
        image = "nginx"
        args  = ["-p", 80]
        labels = { team = "web" }
        port_map {
          http = 80
        }
        mount {
          type = "bind"
        }
        mount {
          type = "tmpfs"
        }
      }
    }
  }
}
"""
    task = job_to_api_dict(source, "a.nomad")["TaskGroups"][0]["Tasks"][0]
    assert task["Config"] == {
        "image": "nginx",
        "args": ["-p", 80],
        "labels": {"team": "web"},
        "port_map": {"http": 80},
        "mount": [{"type": "bind"}, {"type": "tmpfs"}],
    }
    json.dumps(task)


def test_division_by_zero_is_an_error_with_position() -> None:
    with pytest.raises(JobspecError) as info:
        meta("    v = 1 / 0")
    assert info.value.line == 3
