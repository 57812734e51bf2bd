"""Small docker images for tests, built locally from the host's static busybox.

No image registry is reachable where caravan's integration tests run, so tests build the
images they need with ``docker import`` of a root filesystem holding ``/bin/busybox`` (Debian's
``busybox-static``, installed by ``scripts/system-deps.sh``) and a link for every applet it
offers (``sh``, ``sleep``, ``echo``, ``httpd``, ``kill``, ...)::

    from caravan_plugins.testing.images import (
        BOOTCAMP_TAG, BUSYBOX_TAG, bootcamp_image, ensure_busybox_image,
    )

    ensure_busybox_image(BUSYBOX_TAG)      # "caravan-test/busybox:1"
    bootcamp_image(BOOTCAMP_TAG, version=1)  # "jocatalin/kubernetes-bootcamp:v1"

Building is idempotent: every image carries a label with a digest of its content, and a tag
that already holds an image with the same digest is left alone, so a test session pays for a
build once per content change (about a tenth of a second). Needs the ``docker`` Python package
and a running dockerd.
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import tarfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import docker
from docker.errors import DockerException, ImageNotFound

BUSYBOX = Path("/bin/busybox")
CONTENT_LABEL = "org.caravan.test-image.digest"
BOOTCAMP_PORT = 8080
#: Tags tests share, so a session builds each image once.
BUSYBOX_TAG = "caravan-test/busybox:1"
BOOTCAMP_TAG = "jocatalin/kubernetes-bootcamp:v1"

_BOOTCAMP_START = """#!/bin/sh
# Serves the bootcamp greeting, computed once at start (the host name is fixed per container).
mkdir -p /www
echo "Hello Kubernetes bootcamp! | Running on: $(hostname) | v={version}" > /www/index.html
exec httpd -f -p {port} -h /www
"""


_PASSWD = b"root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534::/:/bin/sh\n"


class ImageBuildError(RuntimeError):
    """A test image could not be built: busybox is missing or dockerd refused the import."""


def ensure_busybox_image(
    tag: str,
    *,
    files: Mapping[str, bytes] | None = None,
    cmd: Sequence[str] | None = None,
    entrypoint: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    expose: Sequence[int] | None = None,
    client: docker.DockerClient | None = None,
) -> str:
    """Make sure image ``tag`` exists locally: busybox plus ``files``, with the given config.

    :param tag: ``repository[:tag]`` to give the image (``latest`` when no tag).
    :param files: extra files by absolute path inside the image; paths ending in ``.sh`` or
        ``.cgi`` or under ``/bin`` are made executable.
    :param cmd: the image's ``CMD`` (default: none, so tasks must give a command).
    :param entrypoint: the image's ``ENTRYPOINT``.
    :param env: the image's ``ENV``.
    :param expose: ports for ``EXPOSE`` (tcp).
    :param client: the docker client to use; default: from the environment.
    :returns: the image id.
    :raises ImageBuildError: ``/bin/busybox`` is missing (run ``scripts/system-deps.sh``) or
        dockerd cannot be reached or rejects the image.
    """
    if not BUSYBOX.exists():
        raise ImageBuildError(
            f"{BUSYBOX} is missing: run scripts/system-deps.sh (installs busybox-static)"
        )
    files = dict(files or {})
    changes = _changes(cmd, entrypoint, env, expose)
    digest = _digest(files, changes)
    client = client or docker.from_env()
    try:
        existing = client.images.get(tag)
        if (existing.labels or {}).get(CONTENT_LABEL) == digest:
            return existing.id
    except ImageNotFound:
        pass
    except DockerException as exc:
        raise ImageBuildError(f"cannot reach dockerd to build {tag!r}: {exc}") from exc
    repository, _, version = tag.rpartition(":") if ":" in tag.split("/")[-1] else (tag, "", "")
    try:
        client.api.import_image_from_data(
            _rootfs(files),
            repository=repository,
            tag=version or "latest",
            changes=[*changes, f"LABEL {CONTENT_LABEL}={digest}"],
        )
        return client.images.get(tag).id
    except DockerException as exc:
        raise ImageBuildError(f"dockerd refused to import test image {tag!r}: {exc}") from exc


def bootcamp_image(
    tag: str = BOOTCAMP_TAG,
    version: int = 1,
    *,
    client: docker.DockerClient | None = None,
) -> str:
    """Build an image that behaves like ``jocatalin/kubernetes-bootcamp:v<version>``.

    A container of it serves HTTP on port 8080, answering every ``GET /`` with
    ``Hello Kubernetes bootcamp! | Running on: <hostname> | v=<version>``.

    :returns: the image id.
    :raises ImageBuildError: as :func:`ensure_busybox_image`.
    """
    start = _BOOTCAMP_START.format(version=version, port=BOOTCAMP_PORT)
    return ensure_busybox_image(
        tag,
        files={"/bin/bootcamp.sh": start.encode()},
        cmd=["/bin/bootcamp.sh"],
        expose=[BOOTCAMP_PORT],
        client=client,
    )


def _changes(
    cmd: Sequence[str] | None,
    entrypoint: Sequence[str] | None,
    env: Mapping[str, str] | None,
    expose: Sequence[int] | None,
) -> list[str]:
    # Dockerfile instructions as `docker import --change` takes them, in JSON (exec) form.
    changes = ["ENV PATH=/bin:/sbin:/usr/bin:/usr/sbin"]
    changes += [f"ENV {name}={json.dumps(value)}" for name, value in sorted((env or {}).items())]
    changes += [f"EXPOSE {port}/tcp" for port in expose or ()]
    if entrypoint:
        changes.append(f"ENTRYPOINT {json.dumps(list(entrypoint))}")
    if cmd:
        changes.append(f"CMD {json.dumps(list(cmd))}")
    return changes


def _digest(files: Mapping[str, bytes], changes: list[str]) -> str:
    digest = hashlib.sha256(BUSYBOX.read_bytes())
    for path in sorted(files):
        digest.update(path.encode() + b"\0" + hashlib.sha256(files[path]).digest())
    digest.update(json.dumps(changes).encode())
    return digest.hexdigest()[:32]


def _applets() -> list[str]:
    listed = subprocess.run([str(BUSYBOX), "--list"], capture_output=True, check=True, text=True)
    return [name for name in listed.stdout.split() if name and name != "busybox"]


def _rootfs(files: Mapping[str, bytes]) -> bytes:
    """A tar of ``/bin/busybox``, one symlink per applet, the usual empty dirs, and ``files``."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for directory in ("bin", "etc", "tmp", "var", "www", "proc", "sys", "dev"):
            info = tarfile.TarInfo(directory)
            info.type = tarfile.DIRTYPE
            info.mode = 0o1777 if directory == "tmp" else 0o755
            tar.addfile(info)
        tar.add(BUSYBOX, arcname="bin/busybox")
        for applet in _applets():
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type = tarfile.SYMTYPE
            link.linkname = "busybox"
            tar.addfile(link)
        _add_file(tar, "etc/passwd", _PASSWD)
        _add_file(tar, "etc/group", b"root:x:0:\nnogroup:x:65534:\n")
        for path, content in files.items():
            name = path.lstrip("/")
            executable = name.startswith("bin/") or name.endswith((".sh", ".cgi"))
            _add_file(tar, name, content, 0o755 if executable else 0o644)
    return buffer.getvalue()


def _add_file(tar: tarfile.TarFile, name: str, content: bytes, mode: int = 0o644) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(content)
    info.mode = mode
    tar.addfile(info, io.BytesIO(content))
