"""End to end: a ``system`` job runs nginx with raw_exec on a real ``caravan agent -dev``;
its ``template`` renders nginx.conf from ``service("bootcamp-demo")`` and nginx reloads when
the instances change: by SIGHUP (``change_mode = "signal"``) or by ``nginx -s reload`` run
inside the task (``change_mode = "script"``). A change script that fails with
``fail_on_error`` kills its task. Instances are registered through the HTTP API."""

from __future__ import annotations

import http.client
import json
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from caravan_plugins.testing.ports import free_ports

pytestmark = pytest.mark.integration

JOB = """\
job "lb" {
  datacenters = ["dc1"]
  type        = "system"
  group "lb" {
    task "nginx" {
      driver = "raw_exec"
      config {
        command = "NGINX"
        args    = ["-g", "daemon off;", "-c", "${NOMAD_TASK_DIR}/nginx.conf",
                   "-p", "${NOMAD_TASK_DIR}", "-e", "stderr"]
      }
      template {
        destination   = "local/nginx.conf"
        RELOAD
        splay         = "0s"
        data          = <<EOT
worker_processes 1;
pid nginx.pid;
error_log stderr;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path body;
  proxy_temp_path proxy;
  fastcgi_temp_path fastcgi;
  uwsgi_temp_path uwsgi;
  scgi_temp_path scgi;
  upstream backend {
{% for s in service("bootcamp-demo") %}
    server {{ s.Address }}:{{ s.Port }};
{% else %}
    server 127.0.0.1:65535;
{% endfor %}
  }
  server {
    listen 127.0.0.1:PORT;
    location / { proxy_pass http://backend; }
  }
}
EOT
      }
    }
  }
}
"""


def wait_for(check: Callable[[], object], what: str, timeout: float = 30.0) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = check()
        except OSError:
            value = None
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


class Backend:
    def __init__(self, ident: str) -> None:
        backend = self
        self.ident = ident

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = backend.ident.encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def registration(self) -> dict:
        return {
            "ID": f"bootcamp-{self.ident}",
            "ServiceName": "bootcamp-demo",
            "Address": "127.0.0.1",
            "Port": self.port,
            "Tags": ["urlprefix-/"],
        }


def api(address: str, method: str, path: str, body: object = None) -> object:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(address + path, data=data, method=method)
    with urllib.request.urlopen(req, timeout=10) as resp:
        raw = resp.read()
    return json.loads(raw) if raw else None


def hits(port: int, n: int) -> set[str]:
    seen = set()
    for _ in range(n):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            conn.request("GET", "/")
            seen.add(conn.getresponse().read().decode())
        finally:
            conn.close()
    return seen


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[str]:
    http_port, rpc, serf = free_ports(3)
    config = tmp_path / "agent.hcl"
    config.write_text(f"ports {{\n  http = {http_port}\n  rpc = {rpc}\n  serf = {serf}\n}}\n")
    log = (tmp_path / "agent.log").open("w")
    command = [sys.executable, "-m", "caravan.cli.main", "agent", "-dev", "-config", str(config)]
    proc = subprocess.Popen(
        [*command, "-data-dir", str(tmp_path / "data"), "-plugins", "raw_exec"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    address = f"http://127.0.0.1:{http_port}"
    try:
        wait_for(lambda: api(address, "GET", "/v1/nodes"), "the client to register")
        yield address
    finally:
        try:
            for job in api(address, "GET", "/v1/jobs") or []:
                api(address, "DELETE", f"/v1/job/{job['ID']}?purge=true")
            time.sleep(1)
        except OSError:
            pass
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


RELOADS = {
    "signal": 'change_mode   = "signal"\n        change_signal = "SIGHUP"',
    "script": (
        'change_mode   = "script"\n'
        "        change_script {\n"
        '          command = "/bin/sh"\n'
        '          args    = ["-c", "NGINX -s reload -e stderr -p $NOMAD_TASK_DIR '
        '-c $NOMAD_TASK_DIR/nginx.conf"]\n'
        "        }"
    ),
}


def run_job(agent: str, path: Path, text: str) -> None:
    """``caravan job run -detach`` of ``text`` written to ``path``."""
    path.write_text(text)
    run = subprocess.run(
        [sys.executable, "-m", "caravan.cli.main", "job", "run", "-detach", str(path)],
        capture_output=True,
        text=True,
        env={"CARAVAN_ADDR": agent, "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert run.returncode == 0, run.stderr


@pytest.mark.parametrize("reload", ["signal", "script"])
def test_nginx_template_follows_the_catalog(agent: str, tmp_path: Path, reload: str) -> None:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    backends = [Backend(f"b{i}") for i in range(3)]
    api(agent, "PUT", "/v1/caravan/services", {"Services": [backends[0].registration()]})
    (port,) = free_ports(1)
    job = JOB.replace("RELOAD", RELOADS[reload]).replace("NGINX", nginx)
    run_job(agent, tmp_path / "lb.nomad", job.replace("PORT", str(port)))
    wait_for(lambda: hits(port, 3) == {"b0"}, "nginx serving b0")

    api(agent, "PUT", "/v1/caravan/services", {"Services": [b.registration() for b in backends]})
    wait_for(lambda: hits(port, 30) == {"b0", "b1", "b2"}, "b1 and b2 after a reload")

    api(agent, "DELETE", "/v1/caravan/service/bootcamp-b0")
    wait_for(lambda: hits(port, 30) == {"b1", "b2"}, "b0 gone after a reload")

    def nginx_state() -> dict:
        (alloc,) = api(agent, "GET", "/v1/job/lb/allocations")
        return alloc["TaskStates"]["nginx"]

    def reloads(state: dict) -> list[dict]:
        if reload == "signal":
            return [e for e in state["Events"] if e["Type"] == "Signaling"]
        return [
            e
            for e in state["Events"]
            if e["Type"] == "Task hook message"
            and e["DisplayMessage"].startswith("Template successfully ran script /bin/sh")
        ]

    # The client sends task events to the servers in batches: they may trail the reload.
    wait_for(lambda: len(reloads(nginx_state())) >= 2, "both reloads' events on the servers")
    state = nginx_state()
    assert state["State"] == "running"
    assert state["Restarts"] == 0
    if reload == "signal":
        assert all(e["TaskSignal"] == "SIGHUP" for e in reloads(state))
    else:
        assert not any(e["Type"] == "Signaling" for e in state["Events"])


FAILING = """\
job "fragile" {
  datacenters = ["dc1"]
  group "app" {
    restart {
      attempts = 0
      mode     = "fail"
    }
    reschedule {
      attempts  = 0
      unlimited = false
    }
    task "sleep" {
      driver = "raw_exec"
      config {
        command = "/bin/sleep"
        args    = ["600"]
      }
      template {
        destination = "local/backends.txt"
        change_mode = "script"
        splay       = "0s"
        change_script {
          command       = "/bin/sh"
          args          = ["-c", "echo reload refused >&2; exit 3"]
          fail_on_error = true
        }
        data        = <<EOT
{% for s in service("bootcamp-demo") %}{{ s.Port }} {% endfor %}
EOT
      }
    }
  }
}
"""


def test_a_failed_change_script_with_fail_on_error_kills_the_task(
    agent: str, tmp_path: Path
) -> None:
    run_job(agent, tmp_path / "fragile.nomad", FAILING)

    def task_state() -> dict:
        allocs = api(agent, "GET", "/v1/job/fragile/allocations")
        return allocs[0]["TaskStates"]["sleep"] if allocs and allocs[0]["TaskStates"] else {}

    wait_for(lambda: task_state().get("State") == "running", "the task running")
    api(agent, "PUT", "/v1/caravan/services", {"Services": [Backend("b0").registration()]})
    wait_for(lambda: task_state().get("State") == "dead", "the task killed")
    state = task_state()
    assert state["Failed"] is True
    messages = [(e["Type"], e["DisplayMessage"]) for e in state["Events"]]
    assert (
        "Task hook message",
        "Template failed to run script /bin/sh with arguments "
        "['-c', 'echo reload refused >&2; exit 3'] on change: exit code 3: reload refused",
    ) in messages
    assert ("Killing", "Template script failed, task is being killed") in messages
    (alloc,) = api(agent, "GET", "/v1/job/fragile/allocations")
    assert alloc["ClientStatus"] == "failed"
