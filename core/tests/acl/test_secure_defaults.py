"""Secure defaults: what a fresh install refuses until an operator allows it."""

from __future__ import annotations

import io
import tokenize
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from caravan.api import AgentInfo, create_app
from caravan.client.artifacts import ArtifactError, confined
from caravan.client.errors import PathEscapeError
from caravan.client.fs import resolve_in_alloc
from caravan.client.template.spec import TemplateSpecError, resolve_path
from caravan.server.server import Server

from .conftest import running_alloc

REPO = Path(__file__).resolve().parents[3]
SOURCE_DIRS = [
    REPO / "core" / "src",
    REPO / "plugins" / "src",
    *REPO.glob("drivers/*/src"),
    *REPO.glob("discovery/*/src"),
    *REPO.glob("loadbalancers/*/src"),
]
#: Modules that may use these, and why. None of them deserializes anything.
ALLOWED: dict[str, str] = {
    "core/src/caravan/state/render.py": (
        "compiles one render function per caravan model class from the class's own field "
        "table (field and JSON names, literal defaults); no request, log or snapshot data "
        "reaches the compiled source"
    ),
}
_UNSAFE_MODULES = {"pickle", "cPickle", "marshal", "shelve", "dill"}
_UNSAFE_CALLS = {"eval", "exec"}


def _unsafe_uses(path: Path) -> list[str]:
    found = []
    tokens = list(tokenize.generate_tokens(io.StringIO(path.read_text()).readline))
    for i, tok in enumerate(tokens):
        if tok.type != tokenize.NAME:
            continue
        before = tokens[i - 1].string if i else ""
        after = tokens[i + 1].string if i + 1 < len(tokens) else ""
        if tok.string in _UNSAFE_MODULES and before in ("import", "from", ",", ""):
            found.append(f"{path}:{tok.start[0]}: imports {tok.string}")
        elif tok.string in _UNSAFE_CALLS and after == "(" and before not in (".", "def"):
            found.append(f"{path}:{tok.start[0]}: calls {tok.string}()")
    return found


def test_nothing_is_deserialized_with_pickle_or_eval() -> None:
    files = [p for d in SOURCE_DIRS for p in d.rglob("*.py")]
    assert len(files) > 50
    found = [
        use
        for path in files
        if str(path.relative_to(REPO)) not in ALLOWED
        for use in _unsafe_uses(path)
    ]
    assert found == []


def test_raw_exec_is_off_unless_enabled() -> None:
    from caravan_driver_raw_exec.config import RawExecConfig

    assert RawExecConfig().enabled is False


def test_docker_volumes_and_privileged_are_off_unless_allowed() -> None:
    from caravan_driver_docker.config import DockerConfig

    config = DockerConfig()
    assert config.volumes.enabled is False
    assert config.allow_privileged is False


@pytest.mark.parametrize("escape", ["../../etc", "/etc/passwd", "a/../../x", "out"])
def test_artifact_and_template_destinations_are_confined(tmp_path: Path, escape: str) -> None:
    task = tmp_path / "task"
    task.mkdir()
    (task / "out").symlink_to(tmp_path.parent)
    target = escape if escape != "out" else "out/x"
    with pytest.raises(ArtifactError):
        confined(task, target)
    with pytest.raises(TemplateSpecError):
        resolve_path(target, task, {}, "template")


@pytest.mark.parametrize("escape", ["..", "../x", "/alloc/../../etc", "link/passwd"])
def test_fs_paths_cannot_leave_the_alloc_dir(tmp_path: Path, escape: str) -> None:
    root = tmp_path / "alloc-root"
    (root / "alloc").mkdir(parents=True)
    (root / "link").symlink_to("/etc")
    with pytest.raises(PathEscapeError):
        resolve_in_alloc(root, escape)
    assert resolve_in_alloc(root, "/alloc") == root / "alloc"


class DirClient:
    """Serves one allocation's directory through the real path check."""

    def __init__(self, alloc_id: str, root: Path) -> None:
        self.alloc_id, self.root = alloc_id, root

    def has_alloc(self, alloc_id: str) -> bool:
        return alloc_id == self.alloc_id

    async def alloc_fs_dir(self, alloc_id: str, path: str) -> list[dict[str, Any]]:
        target = resolve_in_alloc(self.root, path)
        return [{"Name": p.name, "IsDir": p.is_dir()} for p in target.iterdir()]

    async def alloc_fs_stat(self, alloc_id: str, path: str) -> dict[str, Any]:
        target = resolve_in_alloc(self.root, path)
        return {"Name": target.name, "IsDir": target.is_dir(), "Size": 0}

    async def alloc_fs_cat(self, alloc_id: str, path: str) -> AsyncIterator[bytes]:
        yield resolve_in_alloc(self.root, path).read_bytes()


@pytest.fixture
async def fs_api(server: Server, tmp_path: Path) -> AsyncIterator[tuple[TestClient, str]]:
    alloc_id = await running_alloc(server)
    root = tmp_path / "root"
    (root / "alloc").mkdir(parents=True)
    (root / "alloc" / "ok.txt").write_text("fine")
    (root / "link").symlink_to(tmp_path)
    (tmp_path / "secret.txt").write_text("top secret")
    app = create_app(server, client=DirClient(alloc_id, root), agent_info=AgentInfo())
    async with TestClient(TestServer(app)) as client:
        yield client, alloc_id


@pytest.mark.parametrize("path", ["../secret.txt", "/../secret.txt", "link/secret.txt"])
async def test_fs_endpoints_refuse_traversal(fs_api: tuple[TestClient, str], path: str) -> None:
    api, alloc_id = fs_api
    ok = await api.get(f"/v1/client/fs/cat/{alloc_id}", params={"path": "alloc/ok.txt"})
    assert ok.status == 200 and await ok.text() == "fine"
    for kind in ("cat", "stat", "ls"):
        resp = await api.get(f"/v1/client/fs/{kind}/{alloc_id}", params={"path": path})
        assert resp.status in (400, 403), (kind, resp.status)
        assert "top secret" not in await resp.text()


async def test_request_bodies_are_size_limited(api: TestClient) -> None:
    resp = await api.put("/v1/jobs", data=b"{" + b" " * (11 * 1024 * 1024) + b"}")
    assert resp.status == 413
