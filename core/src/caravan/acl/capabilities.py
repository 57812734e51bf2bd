"""The words of the ACL rule language: policy levels, namespace capabilities, and how a
namespace ``policy`` expands into capabilities (as Nomad expands it).

A namespace rule's ``policy = "read"`` is shorthand for a set of capabilities; its
``capabilities = [...]`` list adds to that set. ``deny`` is both a policy and a capability:
wherever it appears it replaces every other capability of that namespace rule.
"""

from __future__ import annotations

POLICY_DENY = "deny"
POLICY_READ = "read"
POLICY_WRITE = "write"
POLICY_SCALE = "scale"

#: Levels a coarse block (``node``, ``agent``, ``operator``, ``quota``, ``plugin``) may take.
COARSE_POLICIES = frozenset({POLICY_DENY, POLICY_READ, POLICY_WRITE})
#: Levels a ``namespace`` block may take.
NAMESPACE_POLICIES = frozenset({POLICY_DENY, POLICY_READ, POLICY_WRITE, POLICY_SCALE})

DENY = "deny"
LIST_JOBS = "list-jobs"
PARSE_JOB = "parse-job"
READ_JOB = "read-job"
SUBMIT_JOB = "submit-job"
DISPATCH_JOB = "dispatch-job"
READ_LOGS = "read-logs"
READ_FS = "read-fs"
ALLOC_EXEC = "alloc-exec"
ALLOC_NODE_EXEC = "alloc-node-exec"
ALLOC_LIFECYCLE = "alloc-lifecycle"
CSI_REGISTER_PLUGIN = "csi-register-plugin"
CSI_WRITE_VOLUME = "csi-write-volume"
CSI_READ_VOLUME = "csi-read-volume"
CSI_LIST_VOLUME = "csi-list-volume"
CSI_MOUNT_VOLUME = "csi-mount-volume"
LIST_SCALING_POLICIES = "list-scaling-policies"
READ_SCALING_POLICY = "read-scaling-policy"
READ_JOB_SCALING = "read-job-scaling"
SCALE_JOB = "scale-job"
SUBMIT_RECOMMENDATION = "submit-recommendation"
SENTINEL_OVERRIDE = "sentinel-override"
HOST_VOLUME_READ = "host-volume-read"
HOST_VOLUME_CREATE = "host-volume-create"
HOST_VOLUME_REGISTER = "host-volume-register"
HOST_VOLUME_DELETE = "host-volume-delete"
HOST_VOLUME_WRITE = "host-volume-write"

_READ = (
    LIST_JOBS,
    PARSE_JOB,
    READ_JOB,
    CSI_LIST_VOLUME,
    CSI_READ_VOLUME,
    READ_JOB_SCALING,
    LIST_SCALING_POLICIES,
    READ_SCALING_POLICY,
    HOST_VOLUME_READ,
)
_WRITE = (
    *_READ,
    SCALE_JOB,
    SUBMIT_JOB,
    DISPATCH_JOB,
    READ_LOGS,
    READ_FS,
    ALLOC_EXEC,
    ALLOC_LIFECYCLE,
    CSI_MOUNT_VOLUME,
    CSI_WRITE_VOLUME,
    SUBMIT_RECOMMENDATION,
    HOST_VOLUME_CREATE,
)
_SCALE = (LIST_SCALING_POLICIES, READ_SCALING_POLICY, READ_JOB_SCALING, SCALE_JOB)

#: Every capability a namespace rule may list.
NAMESPACE_CAPABILITIES = frozenset(
    (
        *_WRITE,
        DENY,
        ALLOC_NODE_EXEC,
        CSI_REGISTER_PLUGIN,
        SENTINEL_OVERRIDE,
        HOST_VOLUME_REGISTER,
        HOST_VOLUME_DELETE,
        HOST_VOLUME_WRITE,
    )
)

_EXPANSION: dict[str, frozenset[str]] = {
    POLICY_DENY: frozenset({DENY}),
    POLICY_READ: frozenset(_READ),
    POLICY_WRITE: frozenset(_WRITE),
    POLICY_SCALE: frozenset(_SCALE),
}


def expand_namespace_policy(policy: str) -> frozenset[str]:
    """The capabilities a namespace ``policy`` level grants (empty for ``""``).

    :raises KeyError: ``policy`` is not one of ``deny``, ``read``, ``write``, ``scale``.
    """
    if not policy:
        return frozenset()
    return _EXPANSION[policy]


def max_privilege(current: str, new: str) -> str:
    """Combine two coarse levels from different policies: ``deny`` wins, then ``write``
    over ``read``; ``""`` means the block was not written."""
    if POLICY_DENY in (current, new):
        return POLICY_DENY
    if POLICY_WRITE in (current, new):
        return POLICY_WRITE
    if POLICY_READ in (current, new):
        return POLICY_READ
    return ""
