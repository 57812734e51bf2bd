"""``caravan acl``: bootstrap, tokens and policies, with Nomad's verbs and output (roles are
in :mod:`caravan.cli.acl_role`)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import click

from caravan_plugins.durations import parse_duration_ns

from .acl_role import role_group
from .agent_client import AgentClient, api_options
from .formatting import format_rfc3339, kv, parse_rfc3339
from .output import CLIError, columns, print_json


@click.group("acl")
def acl_group() -> None:
    """Manage ACL tokens, policies and roles."""


acl_group.add_command(role_group)


def _token_text(token: dict[str, Any]) -> str:
    return kv(
        [
            ("Accessor ID", token.get("AccessorID", "")),
            ("Secret ID", token.get("SecretID", "")),
            ("Name", token.get("Name", "")),
            ("Type", token.get("Type", "")),
            ("Global", str(bool(token.get("Global"))).lower()),
            ("Create Time", format_rfc3339(token.get("CreateTime"))),
            ("Expiry Time", format_rfc3339(token.get("ExpirationTime"))),
            ("Create Index", token.get("CreateIndex", 0)),
            ("Modify Index", token.get("ModifyIndex", 0)),
            ("Policies", ", ".join(token.get("Policies") or []) or "n/a"),
            (
                "Roles",
                ", ".join(r.get("Name") or r["ID"] for r in token.get("Roles") or []) or "n/a",
            ),
        ]
    )


def _show_token(token: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(token)
    else:
        click.echo(_token_text(token))


_JSON = click.option("-json", "--json", "as_json", is_flag=True, help="Output as JSON.")


@acl_group.command("bootstrap")
@_JSON
@api_options
def bootstrap(api: AgentClient, as_json: bool) -> None:
    """Create the first management token (works once per cluster)."""
    _show_token(api.write("/v1/acl/bootstrap", {}, "bootstrapping"), as_json)


# ---------------------------------------------------------------------- tokens


@acl_group.group("token")
def token_group() -> None:
    """Create, list, read and delete ACL tokens."""


@token_group.command("create")
@click.option("-name", "--name", "name", default="", help="A name for the token.")
@click.option("-type", "--type", "token_type", default="client", help="client or management.")
@click.option("-policy", "--policy", "policies", multiple=True, help="A policy (repeatable).")
@click.option(
    "-role-name", "--role-name", "role_names", multiple=True, help="A role, by name (repeatable)."
)
@click.option(
    "-role-id", "--role-id", "role_ids", multiple=True, help="A role, by ID (repeatable)."
)
@click.option("-global", "--global", "is_global", is_flag=True, help="Replicate to all regions.")
@click.option("-ttl", "--ttl", "ttl", default="", help="Expire the token after this duration.")
@_JSON
@api_options
def token_create(
    api: AgentClient,
    name: str,
    token_type: str,
    policies: tuple[str, ...],
    role_names: tuple[str, ...],
    role_ids: tuple[str, ...],
    is_global: bool,
    ttl: str,
    as_json: bool,
) -> None:
    """Create a token and print its secret."""
    body: dict[str, Any] = {
        "Name": name,
        "Type": token_type,
        "Policies": list(policies),
        "Roles": [{"Name": n} for n in role_names] + [{"ID": i} for i in role_ids],
        "Global": is_global,
    }
    if ttl:
        try:
            body["ExpirationTTL"] = parse_duration_ns(ttl)
        except ValueError as err:
            raise CLIError(f"Error parsing -ttl: {err}") from None
    _show_token(api.write("/v1/acl/token", body, "creating token"), as_json)


@token_group.command("list")
@_JSON
@api_options
def token_list(api: AgentClient, as_json: bool) -> None:
    """List tokens (management token required)."""
    tokens = api.read("/v1/acl/tokens", "retrieving ACL tokens")
    if as_json:
        print_json(tokens)
        return
    now = dt.datetime.now(dt.UTC)
    rows = [["Name", "Type", "Global", "Accessor ID", "Expired"]]
    for t in tokens:
        expiry = parse_rfc3339(t.get("ExpirationTime"))
        expired = expiry is not None and expiry <= now
        rows.append(
            [t["Name"], t["Type"], str(t["Global"]).lower(), t["AccessorID"], str(expired).lower()]
        )
    click.echo(columns(rows))


@token_group.command("info")
@_JSON
@api_options
@click.argument("accessor_id")
def token_info(api: AgentClient, accessor_id: str, as_json: bool) -> None:
    """Show one token."""
    _show_token(api.read(f"/v1/acl/token/{accessor_id}", "fetching token"), as_json)


@token_group.command("self")
@_JSON
@api_options
def token_self(api: AgentClient, as_json: bool) -> None:
    """Show the token this command runs with."""
    _show_token(api.read("/v1/acl/token/self", "fetching self token"), as_json)


@token_group.command("delete")
@api_options
@click.argument("accessor_id")
def token_delete(api: AgentClient, accessor_id: str) -> None:
    """Delete a token; its secret stops working at once."""
    api.delete(f"/v1/acl/token/{accessor_id}", "deleting token")
    click.echo(f"Token {accessor_id} successfully deleted")


# ---------------------------------------------------------------------- policies


@acl_group.group("policy")
def policy_group() -> None:
    """Write, list, read and delete ACL policies."""


@policy_group.command("apply")
@click.option("-description", "--description", default="", help="What the policy is for.")
@api_options
@click.argument("name")
@click.argument("path", type=click.Path(allow_dash=True))
def policy_apply(api: AgentClient, name: str, path: str, description: str) -> None:
    """Create or replace policy NAME with the rules in PATH (``-`` reads standard input)."""
    try:
        with click.open_file(path) as fh:
            rules = fh.read()
    except OSError as err:
        raise CLIError(f"Error reading policy file {path}: {err.strerror}") from None
    body = {"Name": name, "Description": description, "Rules": rules}
    api.write(f"/v1/acl/policy/{name}", body, "writing policy")
    click.echo(f'Successfully wrote "{name}" ACL policy!')


@policy_group.command("list")
@_JSON
@api_options
def policy_list(api: AgentClient, as_json: bool) -> None:
    """List policies."""
    policies = api.read("/v1/acl/policies", "retrieving ACL policies")
    if as_json:
        print_json(policies)
    elif not policies:
        click.echo("No policies found")
    else:
        rows = [["Name", "Description"]] + [[p["Name"], p["Description"]] for p in policies]
        click.echo(columns(rows))


@policy_group.command("info")
@_JSON
@api_options
@click.argument("name")
def policy_info(api: AgentClient, name: str, as_json: bool) -> None:
    """Show a policy and its rules."""
    policy = api.read(f"/v1/acl/policy/{name}", "retrieving policy")
    if as_json:
        print_json(policy)
        return
    click.echo(
        kv(
            [
                ("Name", policy["Name"]),
                ("Description", policy["Description"]),
                ("CreateIndex", policy["CreateIndex"]),
                ("ModifyIndex", policy["ModifyIndex"]),
            ]
        )
    )
    click.echo(f"\nRules\n\n{policy['Rules']}")


@policy_group.command("delete")
@api_options
@click.argument("name")
def policy_delete(api: AgentClient, name: str) -> None:
    """Delete a policy."""
    api.delete(f"/v1/acl/policy/{name}", "deleting policy")
    click.echo(f'Successfully deleted "{name}" ACL policy!')
