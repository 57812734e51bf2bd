"""The task ``template`` block: rendering, re-rendering on catalog changes with each change
mode, and destinations confined to the task directory (with an in-memory catalog)."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import pytest

from caravan.client.allocdir import AllocDir
from caravan.client.hooks import HookError, TaskHookContext
from caravan.client.hooks.template_hook import TemplateHook
from caravan.client.logrotate import LogRotator
from caravan.client.taskenv import TaskEnv
from caravan.lb import CatalogError, CatalogSnapshot
from caravan.structs import Allocation
from caravan.structs.allocation import TaskEvent
from caravan.structs.task import ChangeScript, Task, Template, WaitConfig

NGINX = """upstream backend {
{% for s in service("web") %}
  server {{ s.Address }}:{{ s.Port }};
{% else %}
  server 127.0.0.1:65535;
{% endfor %}
}
"""


class MemoryCatalog:
    """A catalog whose changes tests make; ``snapshot`` blocks like the HTTP API's."""

    def __init__(self) -> None:
        self.index = 1
        self.regs: dict[str, list[dict[str, Any]]] = {}
        self.changed = asyncio.Condition()
        self.down = False

    async def set(self, service: str, *instances: tuple[str, int], **fields: Any) -> None:
        self.regs[service] = [
            {"ID": f"{service}-{port}", "ServiceName": service, "Address": addr, "Port": port}
            | fields
            for addr, port in instances
        ]
        async with self.changed:
            self.index += 1
            self.changed.notify_all()

    async def snapshot(self, index: int = 0, wait: float = 300.0) -> CatalogSnapshot:
        if self.down:
            raise CatalogError("Error listing services: connection refused")
        if index:
            async with self.changed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.changed.wait_for(lambda: self.index != index), wait)
        return CatalogSnapshot(self.index, {k: list(v) for k, v in self.regs.items()})


class Lifecycle:
    def __init__(self) -> None:
        self.actions: list[str] = []
        self.can_exec = True
        self.exit_code = 0

    async def restart(self) -> None:
        self.actions.append("restart")

    async def signal(self, signal: str) -> None:
        self.actions.append(signal)

    async def exec(self, cmd: list[str], timeout: float) -> tuple[int, str]:
        self.actions.append(f"exec {' '.join(cmd)} ({timeout:g}s)")
        return self.exit_code, "" if self.exit_code == 0 else "config test failed"

    async def fail(self, reason: str) -> None:
        self.actions.append(f"fail: {reason}")


class Setup:
    def __init__(self, tmp_path: Path, *templates: Template) -> None:
        self.catalog = MemoryCatalog()
        self.lifecycle = Lifecycle()
        self.delays: list[float] = []

        async def sleep(delay: float) -> None:
            self.delays.append(delay)

        self.hook = TemplateHook(
            self.lifecycle, lambda: self.catalog, rand=lambda: 0.5, sleep=sleep, block=5.0
        )
        alloc_dir = AllocDir.for_alloc(tmp_path, "a1")
        alloc_dir.build()
        task_dir = alloc_dir.task("web")
        task_dir.build()
        self.events: list[TaskEvent] = []
        self.ctx = TaskHookContext(
            alloc=Allocation(id="a1"),
            task=Task(name="web", templates=list(templates)),
            alloc_dir=alloc_dir,
            task_dir=task_dir,
            env=TaskEnv(env={"GREETING": "hello"}),
            rotator=LogRotator(),
            emit=self.events.append,
        )
        self.root = task_dir.root

    def read(self, relative: str) -> str:
        return (self.root / relative).read_text()

    async def wait_for(self, check: Any) -> None:
        for _ in range(200):
            if check():
                return
            await asyncio.sleep(0.01)
        raise AssertionError("condition not met")


def template(data: str = NGINX, dest: str = "local/nginx.conf", **fields: Any) -> Template:
    return Template(embedded_tmpl=data, dest_path=dest, **fields)


async def test_first_render_writes_the_file_before_the_task_starts(tmp_path: Path) -> None:
    setup = Setup(tmp_path, template(perms="0600"))
    await setup.catalog.set("web", ("10.0.0.1", 8080), ("10.0.0.2", 8081))
    await setup.hook.prestart(setup.ctx)
    assert setup.read("local/nginx.conf") == (
        "upstream backend {\n  server 10.0.0.1:8080;\n  server 10.0.0.2:8081;\n}\n"
    )
    assert (setup.root / "local/nginx.conf").stat().st_mode & 0o777 == 0o600


async def test_no_instances_renders_the_else_branch(tmp_path: Path) -> None:
    setup = Setup(tmp_path, template())
    await setup.hook.prestart(setup.ctx)
    assert "server 127.0.0.1:65535;" in setup.read("local/nginx.conf")


async def test_functions_filters_and_delimiters(tmp_path: Path) -> None:
    text = (
        "[[ env('GREETING') ]] [[ services() | map(attribute='Name') | join(',') ]]\n"
        "{% for s in nomad_service('api', tag='v2', healthy=False) %}[[ s.ID ]] {% endfor %}\n"
        "{% for s in service('api') %}[[ s.ID ]] {% endfor %}\n"
    )
    tmpl = template(text, "local/out.txt", left_delim="[[", right_delim="]]")
    setup = Setup(tmp_path, tmpl)
    await setup.catalog.set("web", ("10.0.0.1", 1))
    setup.catalog.regs["api"] = [
        {"ID": "a", "ServiceName": "api", "Address": "h", "Port": 1, "Tags": ["v2"]},
        {
            "ID": "b",
            "ServiceName": "api",
            "Address": "h",
            "Port": 2,
            "Tags": ["v2"],
            "Checks": {"http": "critical"},
        },
        {"ID": "c", "ServiceName": "api", "Address": "h", "Port": 3, "Tags": ["v1"]},
    ]
    await setup.hook.prestart(setup.ctx)
    assert setup.read("local/out.txt") == "hello api,web\na b a c "


async def test_env_template_sets_task_variables(tmp_path: Path) -> None:
    data = '{% for s in service("db") %}DB_ADDR={{ s.Address }}:{{ s.Port }}\n{% endfor %}'
    setup = Setup(tmp_path, template(data, "secrets/db.env", envvars=True))
    await setup.catalog.set("db", ("10.0.0.9", 5432))
    await setup.hook.prestart(setup.ctx)
    assert setup.ctx.env.env["DB_ADDR"] == "10.0.0.9:5432"


async def test_change_restarts_the_task_after_the_splay(tmp_path: Path) -> None:
    setup = Setup(tmp_path, template(splay=4_000_000_000))
    await setup.catalog.set("web", ("10.0.0.1", 8080))
    await setup.hook.prestart(setup.ctx)
    await setup.hook.poststart(setup.ctx)
    await setup.catalog.set("web", ("10.0.0.1", 8080), ("10.0.0.3", 9090))
    await setup.wait_for(lambda: setup.lifecycle.actions)
    await setup.hook.stop(setup.ctx)
    assert setup.lifecycle.actions == ["restart"]
    assert setup.delays == [2.0]
    assert "10.0.0.3:9090" in setup.read("local/nginx.conf")


async def test_signals_are_sent_once_each_and_restart_wins(tmp_path: Path) -> None:
    setup = Setup(
        tmp_path,
        template(change_mode="signal", change_signal="SIGHUP"),
        template(dest="local/b.conf", change_mode="signal", change_signal="SIGHUP"),
        template(dest="local/c.conf", change_mode="signal", change_signal="SIGUSR1"),
        template("static\n", dest="local/d.conf"),
    )
    await setup.hook.prestart(setup.ctx)
    await setup.hook.poststart(setup.ctx)
    await setup.catalog.set("web", ("10.0.0.1", 8080))
    await setup.wait_for(lambda: len(setup.lifecycle.actions) == 2)
    assert setup.lifecycle.actions == ["SIGHUP", "SIGUSR1"]
    await setup.hook.stop(setup.ctx)

    mixed = Setup(
        tmp_path / "mixed",
        template(change_mode="signal", change_signal="SIGHUP"),
        template(dest="local/b.conf"),
    )
    await mixed.hook.prestart(mixed.ctx)
    await mixed.hook.poststart(mixed.ctx)
    await mixed.catalog.set("web", ("10.0.0.1", 8080))
    await mixed.wait_for(lambda: mixed.lifecycle.actions)
    await asyncio.sleep(0.05)
    await mixed.hook.stop(mixed.ctx)
    assert mixed.lifecycle.actions == ["restart"]


def scripted(fail_on_error: bool = False, dest: str = "local/nginx.conf") -> Template:
    script = ChangeScript(command="/reload", args=["-q"], fail_on_error=fail_on_error)
    return template(dest=dest, change_mode="script", change_script=script)


async def test_change_scripts_run_once_each_after_signals(tmp_path: Path) -> None:
    setup = Setup(
        tmp_path,
        scripted(),
        scripted(dest="local/b.conf"),
        template(dest="local/c.conf", change_mode="signal", change_signal="SIGHUP"),
    )
    await setup.hook.prestart(setup.ctx)
    await setup.hook.poststart(setup.ctx)
    await setup.catalog.set("web", ("10.0.0.1", 8080))
    await setup.wait_for(lambda: len(setup.lifecycle.actions) == 2)
    await asyncio.sleep(0.05)
    await setup.hook.stop(setup.ctx)
    # Both script templates name the same script: it runs once, with Nomad's 5s timeout.
    assert setup.lifecycle.actions == ["SIGHUP", "exec /reload -q (5s)"]
    assert [e.message for e in setup.events] == [
        "Template successfully ran script /reload with arguments ['-q']. Exit code: 0"
    ]


@pytest.mark.parametrize("fail_on_error", [False, True])
async def test_a_failed_change_script_is_reported_or_fails_the_task(
    tmp_path: Path, fail_on_error: bool
) -> None:
    setup = Setup(tmp_path, scripted(fail_on_error=fail_on_error))
    setup.lifecycle.exit_code = 2
    await setup.hook.prestart(setup.ctx)
    await setup.hook.poststart(setup.ctx)
    await setup.catalog.set("web", ("10.0.0.1", 8080))
    await setup.wait_for(lambda: setup.events)
    await asyncio.sleep(0.05)
    await setup.hook.stop(setup.ctx)
    assert [e.message for e in setup.events] == [
        "Template failed to run script /reload with arguments ['-q'] on change: "
        "exit code 2: config test failed"
    ]
    killed = ["fail: Template script failed, task is being killed"] if fail_on_error else []
    assert setup.lifecycle.actions == ["exec /reload -q (5s)", *killed]


async def test_a_script_template_needs_a_driver_that_can_exec(tmp_path: Path) -> None:
    setup = Setup(tmp_path, scripted())
    setup.lifecycle.can_exec = False
    with pytest.raises(HookError) as err:
        await setup.hook.prestart(setup.ctx)
    assert 'change_mode "script" needs a driver that can exec into the task' in str(err.value)
    assert not err.value.recoverable


async def test_noop_rewrites_the_file_only(tmp_path: Path) -> None:
    setup = Setup(tmp_path, template(change_mode="noop"))
    await setup.hook.prestart(setup.ctx)
    await setup.hook.poststart(setup.ctx)
    await setup.catalog.set("web", ("10.0.0.7", 80))
    await setup.wait_for(lambda: "10.0.0.7" in setup.read("local/nginx.conf"))
    await asyncio.sleep(0.05)
    await setup.hook.stop(setup.ctx)
    assert setup.lifecycle.actions == []


async def test_unrelated_changes_do_not_notify(tmp_path: Path) -> None:
    setup = Setup(tmp_path, template())
    await setup.catalog.set("web", ("10.0.0.1", 8080))
    await setup.hook.prestart(setup.ctx)
    await setup.hook.poststart(setup.ctx)
    await setup.catalog.set("other", ("10.0.0.5", 1))
    await asyncio.sleep(0.1)
    await setup.hook.stop(setup.ctx)
    assert setup.lifecycle.actions == []


async def test_wait_coalesces_changes(tmp_path: Path) -> None:
    setup = Setup(tmp_path, template(wait=WaitConfig(min=200_000_000, max=2_000_000_000)))
    await setup.hook.prestart(setup.ctx)
    await setup.hook.poststart(setup.ctx)
    for port in (1, 2, 3):
        await setup.catalog.set("web", ("10.0.0.1", port))
        await asyncio.sleep(0.02)
    await setup.wait_for(lambda: setup.lifecycle.actions)
    await asyncio.sleep(0.3)
    await setup.hook.stop(setup.ctx)
    assert setup.lifecycle.actions == ["restart"]
    assert "10.0.0.1:3;" in setup.read("local/nginx.conf")


async def test_failed_rerender_keeps_the_previous_file(tmp_path: Path) -> None:
    data = "{% for s in service('web') %}{{ s.Meta['zone'] }}{% endfor %}\n"
    setup = Setup(tmp_path, template(data, "local/z.txt", err_missing_key=True))
    await setup.catalog.set("web", ("10.0.0.1", 80), Meta={"zone": "a"})
    await setup.hook.prestart(setup.ctx)
    await setup.hook.poststart(setup.ctx)
    await setup.catalog.set("web", ("10.0.0.1", 80), Meta={})
    await setup.wait_for(lambda: setup.events)
    await setup.hook.stop(setup.ctx)
    assert setup.read("local/z.txt") == "a"
    assert "keeping the previous z.txt" in setup.events[0].message
    assert setup.lifecycle.actions == []


@pytest.mark.parametrize(
    ("dest", "source"),
    [
        ("../../escape.conf", None),
        ("/etc/caravan-escape.conf", None),
        ("${NOMAD_ALLOC_DIR}/shared.conf", None),
        ("local/ok.conf", "../../../etc/passwd"),
    ],
)
async def test_paths_outside_the_task_directory_are_refused(
    tmp_path: Path, dest: str, source: str | None
) -> None:
    tmpl = Template(dest_path=dest, source_path=source, embedded_tmpl=None if source else "x")
    setup = Setup(tmp_path, tmpl)
    with pytest.raises(HookError) as err:
        await setup.hook.prestart(setup.ctx)
    assert not err.value.recoverable
    assert "is outside the task directory" in str(err.value)
    assert setup.events[0].type == "Task hook failed"
    assert not Path("/etc/caravan-escape.conf").exists()


async def test_task_dir_variables_and_sources_inside_the_task_dir(tmp_path: Path) -> None:
    setup = Setup(tmp_path, Template(source_path="local/in.j2", dest_path="${NOMAD_TASK_DIR}/o"))
    (setup.root / "local/in.j2").write_text("{{ env('GREETING') }}\n")
    await setup.hook.prestart(setup.ctx)
    assert setup.read("local/o") == "hello\n"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"change_mode": "signal"}, 'change_mode "signal" needs change_signal'),
        ({"change_mode": "reboot"}, "change_mode 'reboot' is not restart, signal, script or noop"),
        ({"change_mode": "script"}, 'change_mode "script" needs change_script.command'),
        ({"data": "{% for %}"}, "template[0] (local/nginx.conf):1:"),
        ({"data": "{{ nope }}", "err_missing_key": True}, "'nope' is undefined"),
        ({"perms": "rw-r--r--"}, "perms 'rw-r--r--' is not an octal mode"),
    ],
)
async def test_bad_blocks_fail_the_task(tmp_path: Path, fields: dict, message: str) -> None:
    data = fields.pop("data", NGINX)
    setup = Setup(tmp_path, template(data, **fields))
    with pytest.raises(HookError) as err:
        await setup.hook.prestart(setup.ctx)
    assert message in str(err.value)
    assert not err.value.recoverable


async def test_unreachable_catalog_is_a_recoverable_start_failure(tmp_path: Path) -> None:
    setup = Setup(tmp_path, template())
    setup.catalog.down = True
    with pytest.raises(HookError) as err:
        await setup.hook.prestart(setup.ctx)
    assert err.value.recoverable
    assert "connection refused" in setup.events[0].message


async def test_tasks_without_templates_are_untouched(tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    setup.catalog.down = True
    await setup.hook.prestart(setup.ctx)
    await setup.hook.poststart(setup.ctx)
    await setup.hook.stop(setup.ctx)
    assert setup.events == []
