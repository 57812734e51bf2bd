"""Fetching ``artifact`` blocks into a task directory before the task starts.

Sources are ``http://``/``https://`` URLs and local files (``file:///path`` or a plain
absolute path). ``options { checksum = "sha256:<hex>" }`` (also ``md5``, ``sha1``,
``sha512``) is verified before anything is written into the task directory. Archives
(``.tar.gz``, ``.tgz``, ``.tar``, ``.tar.bz2``, ``.tar.xz``, ``.zip``) are unpacked into the
destination unless ``options { archive = "false" }``; other files keep their name. The
destination (``destination``, default ``local/``) and every unpacked member must stay inside
the task directory.
"""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import tarfile
import tempfile
import zipfile
from pathlib import Path
from urllib.parse import unquote, urlparse

import aiohttp

from caravan.errors import CaravanError
from caravan.structs.task import TaskArtifact

from .taskenv import TaskEnv

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".tar", ".zip")
_HASHES = {"md5", "sha1", "sha256", "sha512"}


class ArtifactError(CaravanError):
    """An artifact could not be fetched, verified or unpacked; the message says why."""


def confined(base: Path, relative: str) -> Path:
    """``base / relative``, refusing anything that resolves outside ``base``.

    :raises ArtifactError: for absolute paths or ``..`` escapes.
    """
    target = (base / relative).resolve()
    root = base.resolve()
    if target != root and root not in target.parents:
        raise ArtifactError(f"destination {relative!r} escapes the task directory")
    return target


async def fetch_artifact(artifact: TaskArtifact, task_dir: Path, env: TaskEnv) -> Path:
    """Download (or copy), verify and place one artifact; returns the destination.

    :raises ArtifactError: naming the source and what went wrong.
    """
    source = env.replace(artifact.getter_source or "")
    if not source:
        raise ArtifactError("artifact has no source")
    options = {k: env.replace(v) for k, v in (artifact.getter_options or {}).items()}
    headers = {k: env.replace(v) for k, v in (artifact.getter_headers or {}).items()}
    dest = confined(task_dir, env.replace(artifact.relative_dest or "local/"))
    name = Path(unquote(urlparse(source).path)).name or "artifact"
    task_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=task_dir, prefix=".artifact-") as tmp:
        download = Path(tmp) / name
        await _download(source, download, headers)
        if "checksum" in options:
            await asyncio.to_thread(_verify, download, options["checksum"], source)
        archive = options.get("archive", "true").lower() not in ("false", "0", "no")
        if archive and name.lower().endswith(ARCHIVE_SUFFIXES):
            await asyncio.to_thread(_unpack, download, dest, source)
        elif artifact.getter_mode == "file":
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(download, dest)
        else:
            dest.mkdir(parents=True, exist_ok=True)
            shutil.move(download, dest / name)
    return dest


async def _download(source: str, target: Path, headers: dict[str, str]) -> None:
    parsed = urlparse(source)
    if parsed.scheme in ("http", "https"):
        try:
            timeout = aiohttp.ClientTimeout(total=600, sock_connect=30)
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.get(source, headers=headers) as resp,
            ):
                if resp.status >= 400:
                    raise ArtifactError(f"GET {source}: bad response code: {resp.status}")
                with target.open("wb") as out:
                    async for chunk in resp.content.iter_chunked(1 << 16):
                        out.write(chunk)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ArtifactError(f"GET {source}: {exc or type(exc).__name__}") from None
        return
    if parsed.scheme in ("file", ""):
        path = Path(unquote(parsed.path) if parsed.scheme else source)
        if not path.is_file():
            raise ArtifactError(f"{source}: no such file")
        await asyncio.to_thread(shutil.copyfile, path, target)
        return
    raise ArtifactError(f"{source}: unsupported scheme {parsed.scheme!r} (use http, https, file)")


def _verify(path: Path, checksum: str, source: str) -> None:
    kind, _, expected = checksum.partition(":")
    kind = kind.lower()
    if kind not in _HASHES or not expected:
        raise ArtifactError(
            f"{source}: invalid checksum {checksum!r}: expected <type>:<hex> "
            f"with type one of {', '.join(sorted(_HASHES))}"
        )
    digest = hashlib.new(kind)
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    actual = digest.hexdigest()
    if actual != expected.lower():
        raise ArtifactError(
            f"{source}: checksums did not match: expected {expected.lower()}, got {actual}"
        )


def _unpack(archive: Path, dest: Path, source: str) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    try:
        if archive.name.lower().endswith(".zip"):
            with zipfile.ZipFile(archive) as zf:
                for member in zf.namelist():
                    _inside(dest, member, source)
                zf.extractall(dest)
        else:
            with tarfile.open(archive) as tf:
                for member in tf.getmembers():
                    _inside(dest, member.name, source)
                    if member.issym() or member.islnk():
                        _inside(dest, str(Path(member.name).parent / member.linkname), source)
                tf.extractall(dest, filter="data")
    except (tarfile.TarError, zipfile.BadZipFile, OSError) as exc:
        raise ArtifactError(f"{source}: cannot unpack archive: {exc}") from None


def _inside(dest: Path, member: str, source: str) -> None:
    target = (dest / member).resolve()
    if target != dest.resolve() and dest.resolve() not in target.parents:
        raise ArtifactError(f"{source}: archive member {member!r} escapes the destination")
