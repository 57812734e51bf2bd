"""``caravan plugin ...``: what plugins are installed, loaded, and why one is not.

``plugin list`` shows every installed plugin as this process loads it (every one, with its
default config). ``plugin info NAME`` shows one plugin in depth: what provides it, the keys
its ``plugin "NAME" { config { ... } }`` block takes, a driver's capabilities, the hooks a
hook plugin implements and, when an agent answers at ``-address``, whether that agent loaded
it and how healthy a driver is on the agent's node (``GET /v1/plugins``).
"""

from __future__ import annotations

import importlib.metadata
import json
import types
import typing
from typing import Any

import click
from pydantic import BaseModel
from pydantic_core import PydanticUndefined, to_jsonable_python

from caravan_plugins import Plugins
from caravan_plugins.loader import GROUPS, PluginInfo, get_registry, list_plugins
from caravan_plugins.plugins import hook_names

from .agent_client import AgentClient, api_options
from .output import CLIError, columns, print_json

#: How long ``plugin info`` waits for an agent before showing no health.
AGENT_TIMEOUT = 3.0


@click.group("plugin")
def plugin_group() -> None:
    """Inspect installed plugins."""


@plugin_group.command("list")
@click.option("-json", "--json", "as_json", is_flag=True, help="Print the list as JSON.")
def plugin_list(as_json: bool) -> None:
    """List the installed drivers, discovery backends, load balancers and hook plugins."""
    infos = list_plugins()
    if as_json:
        print_json([info.model_dump(mode="json") for info in infos])
        return
    rows: list[list[str]] = [["Name", "Kind", "Distribution", "Version", "Status"]]
    for info in infos:
        status = "loaded" if info.loaded else f"not loaded: {info.reason}"
        rows.append([info.name, info.kind, info.distribution, info.version, status])
    click.echo(columns(rows))


@plugin_group.command("info")
@click.argument("name")
@click.option("-json", "--json", "as_json", is_flag=True, help="Print the details as JSON.")
@api_options
def plugin_info(name: str, as_json: bool, api: AgentClient) -> None:
    """Show one plugin: distribution, config keys, capabilities, hooks, health on the agent."""
    details = describe(name, api)
    if as_json:
        print_json(details)
        return
    click.echo(render(details))


def describe(name: str, api: AgentClient | None = None) -> dict[str, Any]:
    """Everything ``plugin info`` shows about ``name``, in the shape ``-json`` prints.

    :param api: the agent to ask for its view (``None``: do not ask).
    :raises CLIError: no installed plugin has this name.
    """
    infos = {info.name: info for info in list_plugins()}
    info = infos.get(name)
    if info is None or info.kind == "unknown":
        known = ", ".join(sorted(infos)) or "none"
        raise CLIError(
            f'Error looking up plugin: no installed plugin is named "{name}" (installed: {known})'
        )
    details: dict[str, Any] = {
        "Name": info.name,
        "Kind": info.kind,
        "Group": info.group,
        "Distribution": info.distribution,
        "Version": info.version,
        "Loaded": info.loaded,
        "Reason": info.reason,
        "Config": None,
        "Capabilities": None,
        "Hooks": None,
        "Agent": agent_view(api, name) if api is not None else None,
    }
    target = _load_target(info)
    if target is None:
        return details
    if info.kind == "hooks":
        details["Hooks"] = implemented_hooks(target, name)
        return details
    details["Config"] = config_keys(target.config_schema)
    if info.kind == "driver" and info.loaded:
        caps = get_registry().driver(name).capabilities()
        details["Capabilities"] = caps.model_dump(mode="json")
    return details


def _load_target(info: PluginInfo) -> Any:
    """The class (or hook module) the plugin's entry point names; None if it cannot load."""
    for ep in importlib.metadata.entry_points(group=GROUPS[info.kind]):  # type: ignore[index]
        if ep.name == info.name:
            try:
                return ep.load()
            except Exception:
                return None
    return None


def config_keys(schema: type[BaseModel], prefix: str = "") -> list[dict[str, Any]]:
    """One row per key of a ``plugin "NAME" { config { ... } }`` block: key, type, default,
    whether it is required, and its description. Keys of nested blocks are dotted
    (``gc.image``)."""
    rows = []
    for field_name, field in schema.model_fields.items():
        key = prefix + (field.alias or field_name)
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            rows += config_keys(field.annotation, key + ".")
            continue
        required = field.is_required()
        default: Any = None
        if not required:
            default = (
                field.default_factory()  # type: ignore[call-arg]
                if field.default_factory is not None
                else field.default
            )
            if default is PydanticUndefined:
                default = None
        rows.append(
            {
                "Key": key,
                "Type": type_name(field.annotation),
                "Default": to_jsonable_python(default),
                "Required": required,
                "Description": field.description or "",
            }
        )
    return rows


def type_name(annotation: Any) -> str:
    """A type as users read it in a config block: ``bool``, ``list[str]``, ``a | b``."""
    if annotation is None or annotation is type(None):
        return "null"
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return " | ".join(json.dumps(a) for a in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        return " | ".join(type_name(a) for a in typing.get_args(annotation))
    if origin is typing.Annotated:
        return type_name(typing.get_args(annotation)[0])
    if origin is not None:
        args = ", ".join(type_name(a) for a in typing.get_args(annotation))
        return f"{getattr(origin, '__name__', str(origin))}[{args}]"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "block"
    if isinstance(annotation, type) and issubclass(annotation, dict):
        return "map"
    return getattr(annotation, "__name__", str(annotation))


def implemented_hooks(module: Any, name: str) -> list[str]:
    """The caravan hooks a hook plugin implements, in the order they fire."""
    plugins = Plugins()
    try:
        plugins.register(module, name=name)
    except Exception:
        return []
    implemented = {c.name for c in plugins.pm.get_hookcallers(module) or []}
    return [hook for hook in hook_names() if hook in implemented]


def agent_view(api: AgentClient, name: str) -> dict[str, Any] | None:
    """The agent's ``/v1/plugins`` entry for ``name``, or None when no agent answers (or it
    does not know the plugin)."""
    try:
        entries = api.read("/v1/plugins", "querying plugins", timeout=AGENT_TIMEOUT)
    except CLIError:
        return None
    entry = next((e for e in entries if e.get("Name") == name), None)
    if entry is None:
        return None
    return {"Address": api.address, **entry}


def render(details: dict[str, Any]) -> str:
    """``plugin info``'s text: Nomad's ``key = value`` header, then one section each."""
    status = "loaded" if details["Loaded"] else f"not loaded: {details['Reason']}"
    head = [
        ("Name", details["Name"]),
        ("Kind", details["Kind"]),
        ("Entry Point Group", details["Group"]),
        ("Distribution", details["Distribution"] or "<none>"),
        ("Version", details["Version"] or "<none>"),
        ("Status", status),
    ]
    out = [columns([[k, "=", v] for k, v in head], sep=" ")]
    if details["Config"] is not None:
        out += ["", f'Config (plugin "{details["Name"]}" {{ config {{ ... }} }})']
        if details["Config"]:
            rows = [["Key", "Type", "Default", "Description"]]
            for row in details["Config"]:
                default = "(required)" if row["Required"] else _hcl(row["Default"])
                rows.append([row["Key"], row["Type"], default, row["Description"]])
            out.append(columns(rows))
        else:
            out.append("No config keys")
    if details["Capabilities"] is not None:
        caps = [[k, "=", _hcl(v)] for k, v in details["Capabilities"].items()]
        out += ["", "Capabilities", columns(caps, sep=" ")]
    if details["Hooks"] is not None:
        out += ["", "Hooks", "\n".join(details["Hooks"]) or "No hooks"]
    out += ["", *agent_section(details["Agent"], details["Kind"])]
    return "\n".join(out)


def agent_section(agent: dict[str, Any] | None, kind: str) -> list[str]:
    """The lines saying what the agent at ``-address`` made of the plugin."""
    if agent is None:
        return ["Agent", "No agent answered, or it does not know this plugin"]
    status = "loaded" if agent["Loaded"] else f"not loaded: {agent['Reason']}"
    rows = [["Address", "=", agent["Address"]], ["Status", "=", status]]
    health = agent.get("Health")
    if kind == "driver":
        if health is None:
            rows.append(["Health", "=", "<no client on this agent>"])
        else:
            state = "undetected"
            if health["Detected"]:
                state = "healthy" if health["Healthy"] else "unhealthy"
            rows.append(["Health", "=", state])
            rows.append(["Health Description", "=", health["HealthDescription"] or "<none>"])
    return ["Agent", columns(rows, sep=" ")]


def _hcl(value: Any) -> str:
    """A value as an agent config would write it."""
    if isinstance(value, str):
        return value
    return json.dumps(value)
