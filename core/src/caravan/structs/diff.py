"""Nomad's job diff (``JobDiff`` JSON), as ``job plan`` and ``/v1/job/:id/plan`` show it.

A diff is a tree: the job, its task groups, their tasks, and within each *fields* (primitive
values, rendered as strings) and *objects* (nested blocks). Every node has a ``Type``:
``Added``, ``Deleted``, ``Edited`` or ``None``. Non-contextual diffs list only what changed;
contextual ones also list unchanged fields and blocks next to the changes, as ``None``.
Annotations say what a change does to running allocations.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from caravan.structs.job import Job

ADDED, DELETED, EDITED, NONE = "Added", "Deleted", "Edited", "None"

FORCES_CREATE = "forces create"
FORCES_DESTROY = "forces destroy"
FORCES_INPLACE = "forces in-place update"
FORCES_DESTRUCTIVE = "forces create/destroy update"

# Server-set or separately handled job fields that never appear in a diff.
_JOB_SKIP = frozenset(
    {
        "ID",
        "Status",
        "StatusDescription",
        "Version",
        "Stable",
        "CreateIndex",
        "ModifyIndex",
        "JobModifyIndex",
        "SubmitTime",
        "NomadTokenID",
        "VaultToken",
        "ConsulToken",
        "Update",
        "TaskGroups",
        "VersionTag",
    }
)
# String maps shown as ``Meta[key]`` fields of their parent rather than as a block.
_INLINE_MAPS = frozenset({"Meta", "Env", "CanaryMeta", "TaggedAddresses"})
# Block names as Nomad prints them (lists are named after one element).
_OBJECT_NAMES = {
    "Constraints": "Constraint",
    "Affinities": "Affinity",
    "Spreads": "Spread",
    "Services": "Service",
    "Checks": "Check",
    "Networks": "Network",
    "Templates": "Template",
    "Artifacts": "Artifact",
    "ReservedPorts": "Static Port",
    "DynamicPorts": "Dynamic Port",
    "VolumeMounts": "VolumeMount",
    "Devices": "Device",
    "Identities": "Identity",
    "ScalingPolicies": "ScalingPolicy",
    "Actions": "Action",
}
# Task fields and blocks whose changes the client applies without restarting the task.
_INPLACE_TASK_FIELDS = frozenset({"KillTimeout"})
_INPLACE_TASK_OBJECTS = frozenset({"Service", "Constraint"})


def diff_jobs(old: Job | None, new: Job, contextual: bool = False) -> dict[str, Any]:
    """Nomad's ``JobDiff`` JSON between two versions of a job (``old=None``: a new job).

    :param contextual: also list unchanged fields and blocks (as ``Type: "None"``).
    :returns: ``{"Type", "ID", "Fields", "Objects", "TaskGroups"}``; each task group diff has
        ``Updates: None``, for the caller to fill with the scheduler's desired updates.
    """
    top = _object("Job", old, new, contextual, skip=_JOB_SKIP)
    groups = _named_pairs(old.task_groups if old else None, new.task_groups)
    tg_diffs = []
    for name, og, ng in groups:
        tg = _group(name, og, ng, contextual)
        if tg["Type"] != NONE or contextual:
            tg_diffs.append(tg)
    kind = top["Type"]
    if kind == NONE and any(tg["Type"] != NONE for tg in tg_diffs):
        kind = EDITED
    return {
        "Type": kind,
        "ID": new.id,
        "Fields": top["Fields"],
        "Objects": top["Objects"],
        "TaskGroups": tg_diffs,
    }


def _group(name: str, old: Any, new: Any, contextual: bool) -> dict[str, Any]:
    body = _object("TaskGroup", old, new, contextual, skip=frozenset({"Name", "Tasks"}))
    tasks = []
    for tname, ot, nt in _named_pairs(old.tasks if old else None, new.tasks if new else None):
        task = _object("Task", ot, nt, contextual, skip=frozenset({"Name"}))
        tdiff = {
            "Type": task["Type"],
            "Name": tname,
            "Fields": task["Fields"],
            "Objects": task["Objects"],
            "Annotations": None,
        }
        if tdiff["Type"] != NONE or contextual:
            tasks.append(tdiff)
    kind = body["Type"]
    if kind == NONE and any(t["Type"] != NONE for t in tasks):
        kind = EDITED
    for t in tasks:
        t["Annotations"] = _task_annotations(t, kind)
    if kind == EDITED:
        for f in body["Fields"]:
            if f["Name"] == "Count" and f["Type"] == EDITED:
                grew = int(f["New"] or 0) > int(f["Old"] or 0)
                f["Annotations"] = [FORCES_CREATE if grew else FORCES_DESTROY]
    return {
        "Type": kind,
        "Name": name,
        "Fields": body["Fields"],
        "Objects": body["Objects"],
        "Tasks": tasks,
        "Updates": None,
    }


def _task_annotations(task: dict[str, Any], group_type: str) -> list[str] | None:
    kind = task["Type"]
    if kind == NONE:
        return None
    if group_type in (ADDED, DELETED) or kind in (ADDED, DELETED):
        return [FORCES_CREATE if kind == ADDED else FORCES_DESTROY]
    destructive = any(
        f["Type"] != NONE and f["Name"] not in _INPLACE_TASK_FIELDS for f in task["Fields"]
    ) or any(o["Type"] != NONE and o["Name"] not in _INPLACE_TASK_OBJECTS for o in task["Objects"])
    return [FORCES_DESTRUCTIVE if destructive else FORCES_INPLACE]


def _named_pairs(old: list[Any] | None, new: list[Any] | None) -> list[tuple[str, Any, Any]]:
    olds = {x.name: x for x in reversed(old or [])}
    news = {x.name: x for x in reversed(new or [])}
    return [(n, olds.get(n), news.get(n)) for n in sorted(olds.keys() | news.keys())]


def go_string(value: Any) -> str:
    """A value as Nomad's diff prints it: ``true``, ``10``, ``redis:7``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def flatten(value: Any, prefix: str = "") -> dict[str, str]:
    """Free-form JSON flattened to ``{"a.b[0]": "x"}`` (Nomad's flatmap)."""
    out: dict[str, str] = {}
    if isinstance(value, dict):
        for k, v in value.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out.update(flatten(v, f"{prefix}[{i}]"))
    elif value is not None:
        out[prefix] = go_string(value)
    return out


def _field_diffs(old: dict[str, str], new: dict[str, str], contextual: bool) -> list[dict]:
    out = []
    for name in sorted(old.keys() | new.keys()):
        o, n = old.get(name), new.get(name)
        if o == n:
            if not contextual:
                continue
            kind = NONE
        elif o is None:
            kind = ADDED
        elif n is None:
            kind = DELETED
        else:
            kind = EDITED
        out.append(
            {"Type": kind, "Name": name, "Old": o or "", "New": n or "", "Annotations": None}
        )
    return out


def _kind(old: Any, new: Any, fields: list[dict], objects: list[dict]) -> str:
    if old is None and new is not None:
        return ADDED
    if new is None and old is not None:
        return DELETED
    changed = any(x["Type"] != NONE for x in (*fields, *objects))
    return EDITED if changed else NONE


def _object(
    name: str, old: Any, new: Any, contextual: bool, skip: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """The diff of two values of one model class (either may be ``None``)."""
    model = type(new if new is not None else old)
    o_prims: dict[str, str] = {}
    n_prims: dict[str, str] = {}
    objects: list[dict] = []
    for attr, info in model.model_fields.items():
        alias = info.alias or attr
        if alias in skip:
            continue
        ov = getattr(old, attr) if old is not None else None
        nv = getattr(new, attr) if new is not None else None
        sample = nv if nv is not None else ov
        if sample is None:
            continue
        if isinstance(sample, BaseModel):
            objects.append(_object(alias, ov, nv, contextual))
        elif isinstance(sample, list) and any(isinstance(x, BaseModel) for x in (ov or nv or [])):
            objects.extend(_model_list(_OBJECT_NAMES.get(alias, alias), ov, nv, contextual))
        elif isinstance(sample, list):
            objects.append(_primitive_set(alias, ov, nv, contextual))
        elif isinstance(sample, dict) and alias in _INLINE_MAPS:
            o_prims.update({f"{alias}[{k}]": go_string(v) for k, v in (ov or {}).items()})
            n_prims.update({f"{alias}[{k}]": go_string(v) for k, v in (nv or {}).items()})
        elif isinstance(sample, dict):
            objects.append(_free_form(alias, ov, nv, contextual))
        else:
            if ov is not None:
                o_prims[alias] = go_string(ov)
            if nv is not None:
                n_prims[alias] = go_string(nv)
    fields = _field_diffs(o_prims, n_prims, contextual or old is None or new is None)
    objects = [o for o in objects if o["Type"] != NONE or contextual]
    objects.sort(key=lambda o: o["Name"])
    return {
        "Type": _kind(old, new, fields, objects),
        "Name": name,
        "Fields": fields,
        "Objects": objects,
    }


def _free_form(name: str, old: Any, new: Any, contextual: bool) -> dict[str, Any]:
    fields = _field_diffs(
        flatten(old or {}), flatten(new or {}), contextual or old is None or new is None
    )
    return {"Type": _kind(old, new, fields, []), "Name": name, "Fields": fields, "Objects": []}


def _primitive_set(name: str, old: Any, new: Any, contextual: bool) -> dict[str, Any]:
    # Lists of strings (tags, datacenters) are compared as sets, one field per value.
    fields = []
    o_set, n_set = set(map(go_string, old or ())), set(map(go_string, new or ()))
    for value in sorted(o_set | n_set):
        if value in o_set and value in n_set:
            if contextual:
                fields.append(_value_field(NONE, name, value, value))
        elif value in n_set:
            fields.append(_value_field(ADDED, name, "", value))
        else:
            fields.append(_value_field(DELETED, name, value, ""))
    kind = _kind(old, new, fields, [])
    return {"Type": kind, "Name": name, "Fields": fields, "Objects": []}


def _value_field(kind: str, name: str, old: str, new: str) -> dict[str, Any]:
    return {"Type": kind, "Name": name, "Old": old, "New": new, "Annotations": None}


def _element_key(item: BaseModel) -> Any:
    name = getattr(item, "name", None) or getattr(item, "label", None)
    if name:
        return ("name", name)
    return ("value", repr(item.model_dump(mode="json")))


def _model_list(name: str, old: Any, new: Any, contextual: bool) -> list[dict[str, Any]]:
    # Named elements (services, checks, ports) are matched by name and diffed field by field;
    # anonymous ones (constraints) by value, so a change shows as one deleted and one added.
    olds = {_element_key(x): x for x in reversed(old or [])}
    news = {_element_key(x): x for x in reversed(new or [])}
    out = []
    for key in sorted(olds.keys() | news.keys()):
        diff = _object(name, olds.get(key), news.get(key), contextual)
        if diff["Type"] != NONE or contextual:
            out.append(diff)
    return out
