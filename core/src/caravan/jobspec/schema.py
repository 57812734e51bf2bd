"""Which attributes and blocks each job-file block accepts, and their API JSON names.

This mirrors the names Nomad's HCL2 job parser accepts (its ``hcl:"..."`` struct tags). Each
:class:`BlockSpec` lists attributes (HCL name -> JSON name and value kind) and nested blocks
(HCL name -> JSON name, spec, whether repeated, which JSON field the label fills). Anything not
listed is an error naming it; blocks in ``ignored`` are accepted with a warning.

Value kinds: ``str``, ``int``, ``number``, ``bool``, ``duration`` (string such as ``"10s"`` or a
number of nanoseconds -> int nanoseconds), ``strings`` (list of strings), ``strmap`` (map of
strings; may also be written as a block), ``headers`` (map of string lists; also a block),
``any`` (free-form; also a block, as for driver ``config``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

MAP_KINDS = frozenset({"strmap", "headers", "any"})


@dataclass(frozen=True)
class Attr:
    """An attribute: its JSON field name and value kind."""

    json: str
    kind: str


@dataclass(frozen=True)
class Nested:
    """A nested block: JSON field, spec name, repeated (a list) or single, label field.

    ``keyed`` blocks are repeated but collected into a map keyed by their label (group
    ``volume "name"`` -> ``"Volumes": {"name": {...}}``).
    """

    json: str
    spec: str
    repeated: bool = False
    label: str | None = None
    keyed: bool = False


@dataclass(frozen=True)
class BlockSpec:
    """The attributes and blocks one kind of block accepts."""

    attrs: dict[str, Attr]
    blocks: dict[str, Nested] = field(default_factory=dict)
    ignored: frozenset[str] = frozenset()


def _attrs(*rows: str) -> dict[str, Attr]:
    """Rows are ``"hcl_name JsonName kind"``."""
    out = {}
    for row in rows:
        name, json, kind = row.split()
        out[name] = Attr(json, kind)
    return out


_CONSTRAINT_ATTRS = (
    "attribute LTarget str",
    "value RTarget str",
    "operator Operand str",
    "version version str",
    "semver semver str",
    "regexp regexp str",
    "set_contains set_contains str",
    "set_contains_all set_contains_all str",
    "set_contains_any set_contains_any str",
)
_PLACEMENT = {
    "constraint": Nested("Constraints", "constraint", repeated=True),
    "affinity": Nested("Affinities", "affinity", repeated=True),
}

SPECS: dict[str, BlockSpec] = {
    "job": BlockSpec(
        _attrs(
            "id ID str",
            "name Name str",
            "region Region str",
            "namespace Namespace str",
            "type Type str",
            "priority Priority int",
            "all_at_once AllAtOnce bool",
            "datacenters Datacenters strings",
            "node_pool NodePool str",
            "meta Meta strmap",
            "consul_token ConsulToken str",
            "vault_token VaultToken str",
        ),
        {
            **_PLACEMENT,
            "spread": Nested("Spreads", "spread", repeated=True),
            "group": Nested("TaskGroups", "group", repeated=True, label="Name"),
            "task": Nested("Tasks", "task", repeated=True, label="Name"),
            "update": Nested("Update", "update"),
            "multiregion": Nested("Multiregion", "multiregion"),
            "periodic": Nested("Periodic", "periodic"),
            "parameterized": Nested("ParameterizedJob", "parameterized"),
            "reschedule": Nested("Reschedule", "reschedule"),
            "migrate": Nested("Migrate", "migrate"),
            "ui": Nested("UI", "ui"),
        },
        frozenset({"vault", "consul"}),
    ),
    "group": BlockSpec(
        _attrs(
            "count Count int",
            "meta Meta strmap",
            "shutdown_delay ShutdownDelay duration",
            "stop_after_client_disconnect StopAfterClientDisconnect duration",
            "max_client_disconnect MaxClientDisconnect duration",
            "prevent_reschedule_on_lost PreventRescheduleOnLost bool",
        ),
        {
            **_PLACEMENT,
            "spread": Nested("Spreads", "spread", repeated=True),
            "task": Nested("Tasks", "task", repeated=True, label="Name"),
            "volume": Nested("Volumes", "volume", label="Name", keyed=True),
            "restart": Nested("RestartPolicy", "restart"),
            "reschedule": Nested("ReschedulePolicy", "reschedule"),
            "ephemeral_disk": Nested("EphemeralDisk", "ephemeral_disk"),
            "update": Nested("Update", "update"),
            "migrate": Nested("Migrate", "migrate"),
            "network": Nested("Networks", "network", repeated=True),
            "service": Nested("Services", "service", repeated=True),
            "scaling": Nested("Scaling", "scaling"),
            "disconnect": Nested("Disconnect", "disconnect"),
        },
        frozenset({"vault", "consul"}),
    ),
    "task": BlockSpec(
        _attrs(
            "driver Driver str",
            "user User str",
            "kill_timeout KillTimeout duration",
            "kill_signal KillSignal str",
            "leader Leader bool",
            "shutdown_delay ShutdownDelay duration",
            "kind Kind str",
            "env Env strmap",
            "meta Meta strmap",
            "config Config any",
        ),
        {
            **_PLACEMENT,
            "lifecycle": Nested("Lifecycle", "lifecycle"),
            "service": Nested("Services", "service", repeated=True),
            "resources": Nested("Resources", "resources"),
            "restart": Nested("RestartPolicy", "restart"),
            "logs": Nested("LogConfig", "logs"),
            "artifact": Nested("Artifacts", "artifact", repeated=True),
            "template": Nested("Templates", "template", repeated=True),
            "dispatch_payload": Nested("DispatchPayload", "dispatch_payload"),
            "volume_mount": Nested("VolumeMounts", "volume_mount", repeated=True),
            "identity": Nested("Identities", "identity", repeated=True),
            "action": Nested("Actions", "action", repeated=True, label="Name"),
        },
        frozenset({"vault", "consul", "csi_plugin", "scaling"}),
    ),
    "constraint": BlockSpec(
        _attrs(
            *_CONSTRAINT_ATTRS,
            "distinct_hosts distinct_hosts bool",
            "distinct_property distinct_property str",
            "is_set is_set str",
            "is_not_set is_not_set str",
        )
    ),
    "affinity": BlockSpec(_attrs(*_CONSTRAINT_ATTRS, "weight Weight int")),
    "spread": BlockSpec(
        _attrs("attribute Attribute str", "weight Weight int"),
        {"target": Nested("SpreadTarget", "spread_target", repeated=True, label="Value")},
    ),
    "spread_target": BlockSpec(_attrs("value Value str", "percent Percent int")),
    "update": BlockSpec(
        _attrs(
            "stagger Stagger duration",
            "max_parallel MaxParallel int",
            "health_check HealthCheck str",
            "min_healthy_time MinHealthyTime duration",
            "healthy_deadline HealthyDeadline duration",
            "progress_deadline ProgressDeadline duration",
            "auto_revert AutoRevert bool",
            "auto_promote AutoPromote bool",
            "canary Canary int",
        )
    ),
    "migrate": BlockSpec(
        _attrs(
            "max_parallel MaxParallel int",
            "health_check HealthCheck str",
            "min_healthy_time MinHealthyTime duration",
            "healthy_deadline HealthyDeadline duration",
        )
    ),
    "reschedule": BlockSpec(
        _attrs(
            "attempts Attempts int",
            "interval Interval duration",
            "delay Delay duration",
            "delay_function DelayFunction str",
            "max_delay MaxDelay duration",
            "unlimited Unlimited bool",
        )
    ),
    "restart": BlockSpec(
        _attrs(
            "attempts Attempts int",
            "interval Interval duration",
            "delay Delay duration",
            "mode Mode str",
            "render_templates RenderTemplates bool",
        )
    ),
    "ephemeral_disk": BlockSpec(
        _attrs("sticky Sticky bool", "migrate Migrate bool", "size SizeMB int")
    ),
    "periodic": BlockSpec(
        _attrs(
            "cron Spec str",
            "crons Specs strings",
            "prohibit_overlap ProhibitOverlap bool",
            "time_zone TimeZone str",
            "enabled Enabled bool",
        )
    ),
    "parameterized": BlockSpec(
        _attrs(
            "payload Payload str",
            "meta_required MetaRequired strings",
            "meta_optional MetaOptional strings",
        )
    ),
    "multiregion": BlockSpec(
        {},
        {
            "strategy": Nested("Strategy", "multiregion_strategy"),
            "region": Nested("Regions", "multiregion_region", repeated=True, label="Name"),
        },
    ),
    "multiregion_strategy": BlockSpec(
        _attrs("max_parallel MaxParallel int", "on_failure OnFailure str")
    ),
    "multiregion_region": BlockSpec(
        _attrs(
            "count Count int",
            "datacenters Datacenters strings",
            "node_pool NodePool str",
            "meta Meta strmap",
        )
    ),
    "ui": BlockSpec(
        _attrs("description Description str"),
        {"link": Nested("Links", "ui_link", repeated=True)},
    ),
    "ui_link": BlockSpec(_attrs("label Label str", "url URL str")),
    "volume": BlockSpec(
        _attrs(
            "type Type str",
            "source Source str",
            "read_only ReadOnly bool",
            "access_mode AccessMode str",
            "attachment_mode AttachmentMode str",
            "per_alloc PerAlloc bool",
            "sticky Sticky bool",
        ),
        {"mount_options": Nested("MountOptions", "mount_options")},
    ),
    "mount_options": BlockSpec(_attrs("fs_type FSType str", "mount_flags MountFlags strings")),
    "network": BlockSpec(
        _attrs(
            "mode Mode str",
            "device Device str",
            "cidr CIDR str",
            "ip IP str",
            "mbits MBits int",
            "hostname Hostname str",
        ),
        {
            "port": Nested("DynamicPorts", "port", repeated=True, label="Label"),
            "dns": Nested("DNS", "dns"),
            "cni": Nested("CNI", "cni"),
        },
    ),
    "port": BlockSpec(
        _attrs(
            "static Value int",
            "to To int",
            "host_network HostNetwork str",
            "ignore_collision IgnoreCollision bool",
        )
    ),
    "dns": BlockSpec(
        _attrs("servers Servers strings", "searches Searches strings", "options Options strings")
    ),
    "cni": BlockSpec(_attrs("args Args strmap")),
    "service": BlockSpec(
        _attrs(
            "name Name str",
            "tags Tags strings",
            "canary_tags CanaryTags strings",
            "enable_tag_override EnableTagOverride bool",
            "port PortLabel str",
            "address_mode AddressMode str",
            "address Address str",
            "task TaskName str",
            "on_update OnUpdate str",
            "provider Provider str",
            "cluster Cluster str",
            "kind Kind str",
            "meta Meta strmap",
            "canary_meta CanaryMeta strmap",
            "tagged_addresses TaggedAddresses strmap",
        ),
        {
            "check": Nested("Checks", "check", repeated=True),
            "check_restart": Nested("CheckRestart", "check_restart"),
            "weights": Nested("Weights", "weights"),
            "identity": Nested("Identity", "identity"),
        },
        frozenset({"connect"}),
    ),
    "weights": BlockSpec(_attrs("passing Passing int", "warning Warning int")),
    "check": BlockSpec(
        _attrs(
            "name Name str",
            "type Type str",
            "command Command str",
            "args Args strings",
            "path Path str",
            "protocol Protocol str",
            "port PortLabel str",
            "expose Expose bool",
            "address_mode AddressMode str",
            "advertise Advertise str",
            "interval Interval duration",
            "timeout Timeout duration",
            "initial_status InitialStatus str",
            "notes Notes str",
            "tls_server_name TLSServerName str",
            "tls_skip_verify TLSSkipVerify bool",
            "method Method str",
            "body Body str",
            "grpc_service GRPCService str",
            "grpc_use_tls GRPCUseTLS bool",
            "task TaskName str",
            "success_before_passing SuccessBeforePassing int",
            "failures_before_critical FailuresBeforeCritical int",
            "failures_before_warning FailuresBeforeWarning int",
            "on_update OnUpdate str",
            "header Header headers",
        ),
        {"check_restart": Nested("CheckRestart", "check_restart")},
    ),
    "check_restart": BlockSpec(
        _attrs("limit Limit int", "grace Grace duration", "ignore_warnings IgnoreWarnings bool")
    ),
    "resources": BlockSpec(
        _attrs(
            "cpu CPU int",
            "cores Cores int",
            "memory MemoryMB int",
            "memory_max MemoryMaxMB int",
            "disk DiskMB int",
            "iops IOPS int",
            "secrets SecretsMB int",
        ),
        {
            "network": Nested("Networks", "network", repeated=True),
            "device": Nested("Devices", "device", repeated=True, label="Name"),
            "numa": Nested("NUMA", "numa"),
        },
    ),
    "device": BlockSpec(_attrs("count Count int"), dict(_PLACEMENT)),
    "numa": BlockSpec(_attrs("affinity Affinity str", "devices Devices strings")),
    "lifecycle": BlockSpec(_attrs("hook Hook str", "sidecar Sidecar bool")),
    "logs": BlockSpec(
        _attrs(
            "max_files MaxFiles int",
            "max_file_size MaxFileSizeMB int",
            "disabled Disabled bool",
            "enabled Enabled bool",
        )
    ),
    "artifact": BlockSpec(
        _attrs(
            "source GetterSource str",
            "destination RelativeDest str",
            "mode GetterMode str",
            "options GetterOptions strmap",
            "headers GetterHeaders strmap",
            "insecure GetterInsecure bool",
            "chown Chown bool",
        )
    ),
    "template": BlockSpec(
        _attrs(
            "source SourcePath str",
            "destination DestPath str",
            "data EmbeddedTmpl str",
            "change_mode ChangeMode str",
            "change_signal ChangeSignal str",
            "splay Splay duration",
            "perms Perms str",
            "uid Uid int",
            "gid Gid int",
            "left_delimiter LeftDelim str",
            "right_delimiter RightDelim str",
            "env Envvars bool",
            "vault_grace VaultGrace duration",
            "error_on_missing_key ErrMissingKey bool",
            "once Once bool",
        ),
        {
            "wait": Nested("Wait", "template_wait"),
            "change_script": Nested("ChangeScript", "change_script"),
        },
    ),
    "template_wait": BlockSpec(_attrs("min Min duration", "max Max duration")),
    "change_script": BlockSpec(
        _attrs(
            "command Command str",
            "args Args strings",
            "timeout Timeout duration",
            "fail_on_error FailOnError bool",
        )
    ),
    "dispatch_payload": BlockSpec(_attrs("file File str")),
    "volume_mount": BlockSpec(
        _attrs(
            "volume Volume str",
            "destination Destination str",
            "read_only ReadOnly bool",
            "propagation_mode PropagationMode str",
            "selinux_label SELinuxLabel str",
        )
    ),
    "identity": BlockSpec(
        _attrs(
            "name Name str",
            "aud Audience strings",
            "env Env bool",
            "file File bool",
            "filepath Filepath str",
            "change_mode ChangeMode str",
            "change_signal ChangeSignal str",
            "ttl TTL duration",
            "service_name ServiceName str",
        )
    ),
    "action": BlockSpec(_attrs("command Command str", "args Args strings")),
    "scaling": BlockSpec(
        _attrs(
            "min Min int",
            "max Max int",
            "enabled Enabled bool",
            "type Type str",
            "policy Policy any",
        )
    ),
    "disconnect": BlockSpec(
        _attrs(
            "lost_after LostAfter duration",
            "replace Replace bool",
            "reconcile Reconcile str",
            "stop_on_client_after StopOnClientAfter duration",
        )
    ),
}

# Constraint/affinity attributes that are shorthands for an operator (see decode).
OPERATOR_SHORTHANDS = (
    "version",
    "semver",
    "regexp",
    "set_contains_any",
    "set_contains_all",
    "set_contains",
)
