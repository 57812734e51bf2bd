"""A task's ``template`` block checked and resolved against its task directory.

``destination`` and ``source`` are relative to the task directory (``${NOMAD_TASK_DIR}``,
``${NOMAD_SECRETS_DIR}`` and ``${NOMAD_ALLOC_DIR}`` are expanded first); a path that leaves
the task directory — ``..`` components, an absolute path elsewhere, or a symlink pointing
out — is refused, so a job cannot write or read files of the host or of other tasks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from caravan.errors import CaravanError
from caravan.structs.task import Template

from .render import CompiledTemplate

CHANGE_RESTART = "restart"
CHANGE_SIGNAL = "signal"
CHANGE_NOOP = "noop"
CHANGE_SCRIPT = "script"

#: Nomad's defaults: ``splay = "5s"``, ``perms = "0644"``, ``change_script.timeout = "5s"``.
DEFAULT_SPLAY_NS = 5_000_000_000
DEFAULT_PERMS = "0644"
DEFAULT_SCRIPT_TIMEOUT_NS = 5_000_000_000

_NS = 1_000_000_000


class TemplateSpecError(CaravanError):
    """A ``template`` block the client cannot honour; names the block and the field."""


@dataclass(frozen=True)
class ChangeScript:
    """What ``change_mode = "script"`` runs inside the task when the file changed.

    :ivar timeout: seconds before the script is killed (and counts as failed).
    :ivar fail_on_error: a failed script kills the task (it fails) instead of being
        reported only.
    """

    command: str
    args: tuple[str, ...]
    timeout: float
    fail_on_error: bool


@dataclass(frozen=True)
class TemplateSpec:
    """One resolved ``template`` block.

    :ivar label: how messages name the block: ``template[0] (local/nginx.conf)``.
    :ivar splay: seconds; the change action waits a random time up to this.
    :ivar wait_min, wait_max: seconds; the catalog must be quiet for ``wait_min`` before a
        re-render, but no longer than ``wait_max`` after the first change.
    """

    label: str
    template: CompiledTemplate
    destination: Path
    change_mode: str
    change_signal: str
    splay: float
    perms: int
    envvars: bool
    once: bool
    wait_min: float
    wait_max: float
    change_script: ChangeScript | None = None


def resolve_path(raw: str, task_root: Path, dirs: Mapping[str, Path], label: str) -> Path:
    """``raw`` as an absolute path inside ``task_root``.

    :param dirs: host paths of the ``NOMAD_*_DIR`` variables that may start ``raw``.
    :raises TemplateSpecError: the path leaves the task directory.
    """
    text = raw
    for name, path in dirs.items():
        text = text.replace(f"${{{name}}}", str(path))
    path = Path(text)
    full = (path if path.is_absolute() else task_root / path).resolve()
    if not full.is_relative_to(task_root.resolve()):
        raise TemplateSpecError(f"{label}: {raw!r} is outside the task directory")
    return full


def prepare(
    template: Template, index: int, task_root: Path, dirs: Mapping[str, Path]
) -> TemplateSpec:
    """Check ``template`` (the task's ``templates[index]``) and compile it.

    :raises TemplateSpecError: a missing or escaping path, both or neither of ``data`` and
        ``source``, an unknown ``change_mode``, ``signal`` without ``change_signal``,
        ``script`` without ``change_script.command``, ``env`` with ``signal``, unreadable
        source or a template syntax error.
    """
    label = f"template[{index}]"
    if not template.dest_path:
        raise TemplateSpecError(f"{label}: destination is required")
    label = f"{label} ({template.dest_path})"
    destination = resolve_path(template.dest_path, task_root, dirs, f"{label}: destination")
    # Canonical jobs carry "" for the unused one of the pair.
    has_data, has_source = bool(template.embedded_tmpl), bool(template.source_path)
    if (has_data and has_source) or (not has_source and template.embedded_tmpl is None):
        raise TemplateSpecError(f"{label}: exactly one of data and source must be set")
    if has_source:
        source = resolve_path(template.source_path or "", task_root, dirs, f"{label}: source")
        try:
            text = source.read_text()
        except OSError as err:
            raise TemplateSpecError(f"{label}: source {source}: {err.strerror}") from None
    else:
        text = template.embedded_tmpl or ""
    mode = template.change_mode or CHANGE_RESTART
    if mode not in (CHANGE_RESTART, CHANGE_SIGNAL, CHANGE_NOOP, CHANGE_SCRIPT):
        raise TemplateSpecError(
            f"{label}: change_mode {mode!r} is not restart, signal, script or noop"
        )
    script = None
    if mode == CHANGE_SCRIPT:
        script = _change_script(template, label)
    if mode == CHANGE_SIGNAL and not template.change_signal:
        raise TemplateSpecError(f'{label}: change_mode "signal" needs change_signal')
    if template.envvars and mode == CHANGE_SIGNAL:
        raise TemplateSpecError(f'{label}: env = true cannot be used with change_mode "signal"')
    perms = template.perms or DEFAULT_PERMS
    try:
        mode_bits = int(perms, 8)
    except ValueError:
        raise TemplateSpecError(f"{label}: perms {perms!r} is not an octal mode") from None
    wait = template.wait
    wait_min = (wait.min or 0) / _NS if wait else 0.0
    wait_max = (wait.max or 0) / _NS if wait else 0.0
    splay = template.splay if template.splay is not None else DEFAULT_SPLAY_NS
    return TemplateSpec(
        label=label,
        template=CompiledTemplate(
            text,
            label,
            left_delimiter=template.left_delim or "{{",
            right_delimiter=template.right_delim or "}}",
            error_on_missing_key=bool(template.err_missing_key),
        ),
        destination=destination,
        change_mode=mode,
        change_signal=template.change_signal or "",
        splay=splay / _NS,
        perms=mode_bits,
        envvars=bool(template.envvars),
        once=bool(template.once),
        wait_min=wait_min,
        wait_max=max(wait_max, wait_min),
        change_script=script,
    )


def _change_script(template: Template, label: str) -> ChangeScript:
    block = template.change_script
    if block is None or not block.command:
        raise TemplateSpecError(f'{label}: change_mode "script" needs change_script.command')
    timeout = block.timeout if block.timeout else DEFAULT_SCRIPT_TIMEOUT_NS
    return ChangeScript(
        command=block.command,
        args=tuple(block.args or ()),
        timeout=timeout / _NS,
        fail_on_error=bool(block.fail_on_error),
    )


def parse_env_file(text: str) -> dict[str, str]:
    """``KEY=value`` lines (``#`` comments and blank lines skipped) of an ``env`` template.

    :raises TemplateSpecError: a line has no ``=`` or an empty key.
    """
    out = {}
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        key, eq, value = stripped.removeprefix("export ").partition("=")
        if not eq or not key.strip():
            raise TemplateSpecError(f"env template line {number}: expected KEY=value")
        out[key.strip()] = value.strip().strip('"')
    return out
