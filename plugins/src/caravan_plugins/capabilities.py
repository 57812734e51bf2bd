"""Linux capabilities as drivers' ``allow_caps``, ``cap_add`` and ``cap_drop`` accept them.

Job files write capability names the way Nomad and Docker do: lower or upper case, with or
without the ``CAP_`` prefix (``"net_raw"``, ``"NET_RAW"``, ``"CAP_NET_RAW"``); ``"all"``
stands for every capability. :data:`Capability` keeps them in Nomad's lower-case form
without the prefix, so configs compare equal however they were written.

:func:`task_capabilities` is Nomad's rule for the set a task finally runs with, shared by
every driver that isolates tasks (exec, java, docker).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated

from pydantic import AfterValidator

ALL = "all"

#: Every capability name and its number in the kernel's ``linux/capability.h``.
CAPABILITY_NUMBERS: dict[str, int] = {
    "chown": 0,
    "dac_override": 1,
    "dac_read_search": 2,
    "fowner": 3,
    "fsetid": 4,
    "kill": 5,
    "setgid": 6,
    "setuid": 7,
    "setpcap": 8,
    "linux_immutable": 9,
    "net_bind_service": 10,
    "net_broadcast": 11,
    "net_admin": 12,
    "net_raw": 13,
    "ipc_lock": 14,
    "ipc_owner": 15,
    "sys_module": 16,
    "sys_rawio": 17,
    "sys_chroot": 18,
    "sys_ptrace": 19,
    "sys_pacct": 20,
    "sys_admin": 21,
    "sys_boot": 22,
    "sys_nice": 23,
    "sys_resource": 24,
    "sys_time": 25,
    "sys_tty_config": 26,
    "mknod": 27,
    "lease": 28,
    "audit_write": 29,
    "audit_control": 30,
    "setfcap": 31,
    "mac_override": 32,
    "mac_admin": 33,
    "syslog": 34,
    "wake_alarm": 35,
    "block_suspend": 36,
    "audit_read": 37,
    "perfmon": 38,
    "bpf": 39,
    "checkpoint_restore": 40,
}

LINUX_CAPABILITIES = frozenset(CAPABILITY_NUMBERS)

# What Nomad allows (and gives tasks) when allow_caps is not set: Docker's defaults minus
# net_raw, which lets a task forge packets.
DEFAULT_ALLOW_CAPS = [
    "audit_write",
    "chown",
    "dac_override",
    "fowner",
    "fsetid",
    "kill",
    "mknod",
    "net_bind_service",
    "setfcap",
    "setgid",
    "setpcap",
    "setuid",
    "sys_chroot",
]

#: The capabilities Docker gives a container by default.
DOCKER_DEFAULT_CAPS = sorted([*DEFAULT_ALLOW_CAPS, "net_raw"])


def normalise_capability(name: str) -> str:
    """Return ``name`` in Nomad's form (``"CAP_NET_RAW"`` -> ``"net_raw"``).

    :raises ValueError: not a Linux capability, nor ``"all"``.
    """
    cap = name.strip().lower().removeprefix("cap_")
    if cap != ALL and cap not in LINUX_CAPABILITIES:
        raise ValueError(f"unknown Linux capability {name!r}")
    return cap


#: A capability name in a pydantic model, normalised on validation.
Capability = Annotated[str, AfterValidator(normalise_capability)]


def _expand(caps: Iterable[str]) -> set[str]:
    names = {normalise_capability(c) for c in caps}
    return set(LINUX_CAPABILITIES) if ALL in names else names


def disallowed_capabilities(allow_caps: Iterable[str], cap_add: Iterable[str]) -> list[str]:
    """The capabilities of ``cap_add`` that ``allow_caps`` does not permit, sorted.

    ``"all"`` in ``allow_caps`` permits everything; ``"all"`` in ``cap_add`` asks for
    everything.
    """
    return sorted(_expand(cap_add) - _expand(allow_caps))


def task_capabilities(
    allow_caps: Iterable[str],
    cap_add: Iterable[str] = (),
    cap_drop: Iterable[str] = (),
    basis: Iterable[str] = DEFAULT_ALLOW_CAPS,
) -> list[str]:
    """The capabilities a task runs with, by Nomad's rule.

    Start from ``basis`` (Nomad's defaults) limited to what ``allow_caps`` permits, remove
    ``cap_drop``, then add ``cap_add`` back: adding wins over dropping, so
    ``cap_drop = ["all"]`` with ``cap_add = ["chown"]`` leaves exactly ``chown``.

    :returns: the capability names, sorted.
    :raises ValueError: ``cap_add`` asks for capabilities ``allow_caps`` does not permit;
        the message names them.
    """
    adds = list(cap_add)
    missing = disallowed_capabilities(allow_caps, adds)
    if missing:
        raise ValueError(f"driver does not allow the following capabilities: {missing}")
    result = (_expand(basis) & _expand(allow_caps)) - _expand(cap_drop)
    return sorted(result | _expand(adds))
