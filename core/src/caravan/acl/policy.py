"""ACL policy rules: HCL (or JSON) text -> a checked, expanded :class:`PolicyRules`.

The language is Nomad's::

    namespace "default" { policy = "read"  capabilities = ["submit-job"] }
    namespace "prod-*"  { policy = "deny" }
    node     { policy = "read" }
    agent    { policy = "read" }
    operator { policy = "read" }
    quota    { policy = "read" }
    plugin   { policy = "read" }
    host_volume "*" { policy = "write" }

Namespace labels may be globs (``*`` matches any run of characters). Each namespace rule is
stored already expanded: its policy's capabilities plus the listed ones, or just ``deny``
when ``deny`` appears in either.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from caravan.acl.capabilities import (
    COARSE_POLICIES,
    DENY,
    NAMESPACE_CAPABILITIES,
    NAMESPACE_POLICIES,
    expand_namespace_policy,
)
from caravan.agent.hcl import FREE_FORM, AgentConfigError, Labelled, parse_config_text
from caravan.errors import CaravanError, JobspecError
from caravan.jobspec.syntax import parse_body

_COARSE = {"policy": "str"}
_NAMESPACE = {"policy": "str", "capabilities": "list", "variables": FREE_FORM}
SCHEMA: dict[str, Any] = {
    "namespace": Labelled(_NAMESPACE),
    "node": _COARSE,
    "agent": _COARSE,
    "operator": _COARSE,
    "quota": _COARSE,
    "plugin": _COARSE,
    "node_pool": Labelled({"policy": "str", "capabilities": "list"}),
    "host_volume": Labelled({"policy": "str", "capabilities": "list"}),
}

#: The coarse blocks, in the order :class:`PolicyRules` keeps them.
COARSE_BLOCKS = ("node", "agent", "operator", "quota", "plugin")


class PolicyError(CaravanError):
    """Policy rules that cannot be used; the message names the policy and what is wrong."""

    http_status = 400


@dataclass(frozen=True)
class PolicyRules:
    """One policy's rules: expanded capabilities per namespace label, and coarse levels.

    ``coarse`` maps a block name (``node``, ``agent``...) to its level; a block that was not
    written is absent.
    """

    namespaces: dict[str, frozenset[str]] = field(default_factory=dict)
    coarse: dict[str, str] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.namespaces and not self.coarse


def parse_rules(text: str, name: str = "policy") -> PolicyRules:
    """Parse and check a policy's ``Rules``.

    :param text: HCL, or JSON when it starts with ``{``.
    :param name: the policy's name, used in error messages.
    :raises PolicyError: a syntax error, an unknown block or key, an unknown policy level or
        capability, or rules that grant nothing at all.
    """
    where = f'policy "{name}"'
    data = _decode(text, where)
    rules = PolicyRules()
    for label, body in (data.get("namespace") or {}).items():
        rules.namespaces[label] = _namespace_capabilities(
            body or {}, f'{where} namespace "{label}"'
        )
    for block in COARSE_BLOCKS:
        if block in data:
            rules.coarse[block] = _coarse_level((data[block] or {}).get("policy", ""), where, block)
    if rules.empty and not data.get("host_volume") and not data.get("node_pool"):
        raise PolicyError(f"Failed to parse ACL policy {name!r}: it grants nothing")
    return rules


def _decode(text: str, where: str) -> dict[str, Any]:
    if text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise PolicyError(f"{where}:{err.lineno}: invalid JSON: {err.msg}") from None
        if not isinstance(data, dict):
            raise PolicyError(f"{where}: rules must be an object")
        unknown = sorted(set(data) - set(SCHEMA))
        if unknown:
            raise PolicyError(f'{where}: unexpected block "{unknown[0]}"')
        return data
    try:
        data, _ = parse_config_text(text, where, SCHEMA)
        blocks = parse_body(text, where).blocks
    except (AgentConfigError, JobspecError) as err:
        raise PolicyError(str(err)) from None
    seen: set[tuple[str, ...]] = set()
    for block in blocks:
        key = (block.type, *block.labels)
        if key in seen:
            # Later blocks would silently replace earlier ones; say so instead.
            raise PolicyError(
                f"{where}:{block.line}: {' '.join(repr(k) for k in key)} is written more than "
                "once; merge the blocks"
            )
        seen.add(key)
    return data


def _namespace_capabilities(body: dict[str, Any], where: str) -> frozenset[str]:
    policy = body.get("policy", "") or ""
    if policy and policy not in NAMESPACE_POLICIES:
        raise PolicyError(
            f'{where}: invalid policy "{policy}" (one of {", ".join(sorted(NAMESPACE_POLICIES))})'
        )
    listed = body.get("capabilities") or []
    if not isinstance(listed, list):
        raise PolicyError(f"{where}: capabilities must be a list of strings")
    for cap in listed:
        if cap not in NAMESPACE_CAPABILITIES:
            raise PolicyError(f'{where}: invalid capability "{cap}"')
    caps = expand_namespace_policy(policy) | frozenset(listed)
    # Deny anywhere in a rule replaces everything else it grants.
    return frozenset({DENY}) if DENY in caps else caps


def _coarse_level(level: Any, where: str, block: str) -> str:
    if level not in COARSE_POLICIES:
        raise PolicyError(f'{where} {block}: invalid policy "{level}" (one of deny, read, write)')
    return level
