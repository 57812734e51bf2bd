"""``caravan acl role``: create, list, read, update and delete ACL roles, with Nomad's verbs
and output (``nomad acl role ...``)."""

from __future__ import annotations

from typing import Any

import click

from .agent_client import AgentClient, api_options
from .formatting import kv
from .output import CLIError, columns, print_json

_JSON = click.option("-json", "--json", "as_json", is_flag=True, help="Output as JSON.")
_NAME = click.option(
    "-name", "--name", "name", default="", help="The role's name (letters, digits, dashes)."
)
_DESCRIPTION = click.option(
    "-description", "--description", "description", default="", help="What the role is for."
)
_POLICY = click.option(
    "-policy", "--policy", "policies", multiple=True, help="A policy of the role (repeatable)."
)


@click.group("role")
def role_group() -> None:
    """Create, list, read, update and delete ACL roles."""


def _policy_names(role: dict[str, Any]) -> str:
    return ",".join(p["Name"] for p in role.get("Policies") or [])


def _show_role(role: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(role)
        return
    click.echo(
        kv(
            [
                ("ID", role["ID"]),
                ("Name", role["Name"]),
                ("Description", role.get("Description") or "<none>"),
                ("Policies", _policy_names(role)),
                ("Create Index", role.get("CreateIndex", 0)),
                ("Modify Index", role.get("ModifyIndex", 0)),
            ]
        )
    )


def _links(policies: tuple[str, ...]) -> list[dict[str, str]]:
    return [{"Name": name} for name in policies]


@role_group.command("create")
@_NAME
@_DESCRIPTION
@_POLICY
@_JSON
@api_options
def role_create(
    api: AgentClient, name: str, description: str, policies: tuple[str, ...], as_json: bool
) -> None:
    """Create a role holding one or more policies."""
    if not name:
        raise CLIError("ACL role name must be specified using the -name flag")
    if not policies:
        raise CLIError("At least one policy name must be specified using the -policy flag")
    body = {"Name": name, "Description": description, "Policies": _links(policies)}
    _show_role(api.write("/v1/acl/role", body, "creating ACL role"), as_json)


@role_group.command("list")
@_JSON
@api_options
def role_list(api: AgentClient, as_json: bool) -> None:
    """List roles (a client token sees the roles it holds)."""
    roles = api.read("/v1/acl/roles", "listing ACL roles")
    if as_json:
        print_json(roles)
    elif not roles:
        click.echo("No ACL roles found")
    else:
        rows = [["ID", "Name", "Description", "Policies"]] + [
            [r["ID"], r["Name"], r.get("Description") or "<none>", _policy_names(r)] for r in roles
        ]
        click.echo(columns(rows))


@role_group.command("info")
@click.option("-by-name", "--by-name", "by_name", is_flag=True, help="Look the role up by name.")
@_JSON
@api_options
@click.argument("identifier")
def role_info(api: AgentClient, identifier: str, by_name: bool, as_json: bool) -> None:
    """Show the role with ID IDENTIFIER (or name, with -by-name)."""
    path = f"/v1/acl/role/name/{identifier}" if by_name else f"/v1/acl/role/{identifier}"
    _show_role(api.read(path, "reading ACL role"), as_json)


@role_group.command("update")
@_NAME
@_DESCRIPTION
@_POLICY
@click.option(
    "-no-merge",
    "--no-merge",
    "no_merge",
    is_flag=True,
    help="Replace every field instead of merging with the current role.",
)
@_JSON
@api_options
@click.argument("role_id")
def role_update(
    api: AgentClient,
    role_id: str,
    name: str,
    description: str,
    policies: tuple[str, ...],
    no_merge: bool,
    as_json: bool,
) -> None:
    """Change role ROLE_ID; fields not given keep their value unless -no-merge."""
    if no_merge:
        if not name:
            raise CLIError("ACL role name must be specified using the -name flag")
        if not policies:
            raise CLIError("At least one policy name must be specified using the -policy flag")
        body = {"ID": role_id, "Name": name, "Description": description}
        body["Policies"] = _links(policies)
    else:
        body = api.read(f"/v1/acl/role/{role_id}", "reading ACL role")
        body["Name"] = name or body["Name"]
        body["Description"] = description or body.get("Description", "")
        if policies:
            body["Policies"] = _links(policies)
    _show_role(api.write(f"/v1/acl/role/{role_id}", body, "updating ACL role"), as_json)


@role_group.command("delete")
@api_options
@click.argument("role_id")
def role_delete(api: AgentClient, role_id: str) -> None:
    """Delete role ROLE_ID; tokens holding it lose its policies at once."""
    api.delete(f"/v1/acl/role/{role_id}", "deleting ACL role")
    click.echo(f"ACL role {role_id} successfully deleted")
