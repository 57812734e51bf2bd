"""The java driver on a real JVM: config schemas, fingerprint, the conformance suite, and
a tiny jar (compiled here with javac) that prints, sleeps and handles SIGTERM."""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import subprocess
import tempfile
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest
from caravan_driver_exec.chroot import DEFAULT_CHROOT_ENV
from caravan_driver_exec.testing import leftovers_of
from caravan_driver_java.driver import JavaDriver
from caravan_driver_java.jvm import parse_version_output

from caravan_plugins import NotSupportedError, PluginConfigError, TaskHandle
from caravan_plugins.testing import TaskDriverConformance

SOURCE = """
import sun.misc.Signal;

public class Hello {
    public static void main(String[] args) throws Exception {
        String mode = args.length > 0 ? args[0] : "sleep";
        switch (mode) {
            case "print":
                System.out.println(args[1]);
                return;
            case "exit":
                System.exit(Integer.parseInt(args[1]));
            case "trap":
                Signal.handle(new Signal("TERM"), signal -> {});
                break;
            default:
                Runtime.getRuntime().addShutdownHook(
                    new Thread(() -> System.out.println("stopping on SIGTERM")));
        }
        System.out.println("hello from java");
        System.out.flush();
        Thread.sleep(60_000);
    }
}
"""

#: Where the jar is built on the host (named after its source, so an edit rebuilds it),
#: and where java tasks see it (bound by chroot_env).
HOST_JAR_DIR = Path(tempfile.gettempdir()) / (
    "caravan-java-driver-tests-" + hashlib.sha256(SOURCE.encode()).hexdigest()[:12]
)
TASK_JAR_DIR = "/opt/caravan-test"
JAR = f"{TASK_JAR_DIR}/hello.jar"


@pytest.fixture(scope="module", autouse=True)
def hello_jar() -> Path:
    """Compile ``Hello.java`` into ``hello.jar`` (Main-Class: Hello) under HOST_JAR_DIR."""
    jar = HOST_JAR_DIR / "hello.jar"
    if jar.exists():
        return jar
    build = Path(tempfile.mkdtemp(prefix="caravan-javac-"))
    (build / "Hello.java").write_text(SOURCE)
    subprocess.run(
        ["javac", "-nowarn", "-XDignore.symbol.file", "Hello.java"],
        cwd=build,
        check=True,
        capture_output=True,
    )
    HOST_JAR_DIR.mkdir(exist_ok=True)
    partial = HOST_JAR_DIR / "hello.jar.partial"
    subprocess.run(["jar", "cfe", str(partial), "Hello", "Hello.class"], cwd=build, check=True)
    partial.rename(jar)
    shutil.copy(build / "Hello.class", HOST_JAR_DIR / "Hello.class")
    shutil.rmtree(build)
    return jar


# Small and quick to start: these programs print a line and sleep.
JVM_OPTIONS = ["-Xmx32m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"]


def hello(*args: str) -> dict[str, Any]:
    return {"jar_path": JAR, "jvm_options": JVM_OPTIONS, "args": list(args)}


class TestJavaConformance(TaskDriverConformance):
    driver_class = JavaDriver
    driver_config = {"chroot_env": {**DEFAULT_CHROOT_ENV, str(HOST_JAR_DIR): TASK_JAR_DIR}}
    # The JVM needs a moment before the program has installed its SIGTERM handler.
    startup_grace = 0.8

    def config_sleep(self) -> dict[str, Any]:
        return hello("sleep")

    def config_exit(self, code: int) -> dict[str, Any]:
        return hello("exit", str(code))

    def config_print(self, text: str) -> dict[str, Any]:
        return hello("print", text)

    def config_trap_sigterm(self) -> dict[str, Any]:
        return hello("trap")

    def leftovers(self, handle: TaskHandle) -> list[str]:
        return leftovers_of(handle)


def test_entry_point_loads_the_driver() -> None:
    (ep,) = [ep for ep in entry_points(group="caravan.drivers") if ep.name == "java"]
    assert ep.load() is JavaDriver


def test_agent_config() -> None:
    config = JavaDriver.from_config({"default_pid_mode": "host", "allow_caps": ["SETUID"]}).config
    assert (config.default_pid_mode, config.default_ipc_mode) == ("host", "private")
    assert config.allow_caps == ["setuid"]
    with pytest.raises(PluginConfigError, match="allow_cap: unknown key"):
        JavaDriver.from_config({"allow_cap": []})


@pytest.mark.parametrize(
    "config",
    [
        {"jar_path": "local/example.jar", "jvm_options": ["-Xmx2048m", "-Xms256m"]},
        {"class": "Hello", "class_path": "${NOMAD_TASK_DIR}", "args": ["-port", "8080"]},
        {"jar_path": "local/a.jar", "class": "Main", "cap_drop": ["all"], "work_dir": "/x"},
    ],
)
def test_nomad_task_examples_are_valid(config: dict) -> None:
    assert JavaDriver.validate_task_config(config) == []


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        ({"jvm_options": ["-Xmx1g"]}, 'set "class" or "jar_path" (or both)'),
        ({"jar": "a.jar"}, "jar: unknown key"),
        ({"class": "Main", "jvm_options": "-Xmx1g"}, "jvm_options: Input should be a valid list"),
    ],
)
def test_bad_task_config(config: dict, problem: str) -> None:
    assert problem in [str(p) for p in JavaDriver.validate_task_config(config)]


VERSION_OUTPUT = """openjdk version "17.0.15" 2025-04-15
OpenJDK Runtime Environment (build 17.0.15+6-Debian-1deb12u1)
OpenJDK 64-Bit Server VM (build 17.0.15+6-Debian-1deb12u1, mixed mode, sharing)
"""


def test_version_output_parsed_into_nomad_attributes() -> None:
    assert parse_version_output(VERSION_OUTPUT) == {
        "driver.java": "1",
        "driver.java.version": "17.0.15",
        "driver.java.runtime": "OpenJDK Runtime Environment (build 17.0.15+6-Debian-1deb12u1)",
        "driver.java.vm": (
            "OpenJDK 64-Bit Server VM (build 17.0.15+6-Debian-1deb12u1, mixed mode, sharing)"
        ),
    }


async def test_fingerprint_reports_the_installed_jvm() -> None:
    fingerprint = await JavaDriver.from_config({}).fingerprint()
    assert fingerprint.health == "healthy"
    installed = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr
    assert fingerprint.attributes == parse_version_output(installed)
    assert fingerprint.attributes["driver.java.version"].startswith("17")


async def test_no_jvm_is_undetected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    fingerprint = await JavaDriver.from_config({}).fingerprint()
    assert (fingerprint.health, fingerprint.attributes) == ("undetected", {})


async def test_jar_runs_and_stops_on_sigterm(tmp_task_dirs) -> None:
    driver = JavaDriver.from_config(TestJavaConformance.driver_config)
    task = tmp_task_dirs().task_config(hello("sleep"))
    handle = await driver.start_task(task)
    try:
        for _ in range(100):
            if "hello from java" in task.stdout_path.read_text():
                break
            await asyncio.sleep(0.05)
        await driver.stop_task(task.id, timeout=10)
        result = await driver.wait_task(task.id)
        # The JVM's shutdown hooks ran: it was SIGTERM, not the SIGKILL fallback.
        assert task.stdout_path.read_text() == "hello from java\nstopping on SIGTERM\n"
        assert result.exit_code == 143 and not result.oom_killed
        with pytest.raises(NotSupportedError):
            await driver.signal_task(task.id, "SIGHUP")
    finally:
        await driver.destroy_task(task.id, force=True)
    assert leftovers_of(handle) == []


async def test_main_class_on_class_path(tmp_task_dirs) -> None:
    driver = JavaDriver.from_config(TestJavaConformance.driver_config)
    config = {"class": "Hello", "class_path": TASK_JAR_DIR, "args": ["print", "by class"]}
    task = tmp_task_dirs().task_config({**config, "jvm_options": JVM_OPTIONS})
    await driver.start_task(task)
    result = await asyncio.wait_for(driver.wait_task(task.id), 15)
    await driver.destroy_task(task.id)
    assert result.successful
    assert task.stdout_path.read_text() == "by class\n"
