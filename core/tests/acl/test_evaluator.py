"""The ACL evaluator against a small reference model of Nomad's policy semantics."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from caravan.acl import ACL, PolicyError, parse_rules
from caravan.acl.capabilities import expand_namespace_policy

LABELS = ["default", "prod", "prod-api", "prod-*", "*-api", "*", "dev-*"]
NAMESPACES = ["default", "prod", "prod-api", "dev-web", "staging-api", "other"]
LEVELS = ["", "deny", "read", "write", "scale"]
CAPS = ["list-jobs", "read-job", "submit-job", "read-logs", "alloc-exec", "scale-job", "deny"]
COARSE = ["node", "agent", "operator"]

rule = st.tuples(st.sampled_from(LABELS), st.sampled_from(LEVELS), st.sets(st.sampled_from(CAPS)))
policy = st.tuples(
    st.lists(rule, max_size=3, unique_by=lambda r: r[0]),
    st.dictionaries(st.sampled_from(COARSE), st.sampled_from(["deny", "read", "write"])),
)


def render(p: tuple[list, dict]) -> str:
    rules, coarse = p
    out = []
    for label, level, caps in rules:
        body = f'policy = "{level}"\n' if level else ""
        body += "capabilities = [" + ", ".join(f'"{c}"' for c in sorted(caps)) + "]\n"
        out.append(f'namespace "{label}" {{\n{body}}}')
    out += [f'{block} {{ policy = "{level}" }}' for block, level in coarse.items()]
    return "\n".join(out)


def reference_allows(policies: list[tuple[list, dict]], namespace: str, cap: str) -> bool:
    """Nomad's semantics, written out directly over the raw rules."""
    granted: dict[str, set[str]] = {}
    for rules, _ in policies:
        for label, level, caps in rules:
            granted.setdefault(label, set()).update(expand_namespace_policy(level) | caps)
    if namespace in granted:
        chosen = granted[namespace]
    else:
        matching = [
            label
            for label in granted
            if "*" in label and re.fullmatch(".*".join(map(re.escape, label.split("*"))), namespace)
        ]
        if not matching:
            return False
        # Closest glob: fewest characters left to the wildcard; ties go to the first by name.
        best = min(matching, key=lambda lbl: (len(namespace) - len(lbl.replace("*", "")), lbl))
        chosen = granted[best]
    return "deny" not in chosen and cap in chosen


def reference_coarse(policies: list[tuple[list, dict]], block: str, level: str) -> bool:
    levels = {c[block] for _, c in policies if block in c}
    if not levels or "deny" in levels:
        return False
    return "write" in levels or level == "read"


def compile_all(policies: list[tuple[list, dict]]) -> ACL:
    compiled = []
    for p in policies:
        try:
            compiled.append(parse_rules(render(p), "p"))
        except PolicyError:
            # A policy that grants nothing is refused when written; it contributes nothing.
            assert not p[0] and not p[1]
    return ACL.compile(compiled)


@settings(max_examples=150, deadline=None)
@given(st.lists(policy, max_size=3), st.sampled_from(NAMESPACES), st.sampled_from(CAPS[:-1]))
def test_namespace_checks_match_reference(policies, namespace, cap) -> None:
    acl = compile_all(policies)
    assert acl.allow_namespace_operation(namespace, cap) == reference_allows(
        policies, namespace, cap
    )


@settings(max_examples=100, deadline=None)
@given(st.lists(policy, max_size=3), st.sampled_from(COARSE), st.sampled_from(["read", "write"]))
def test_coarse_checks_match_reference(policies, block, level) -> None:
    assert compile_all(policies).allow(block, level) == reference_coarse(policies, block, level)


def test_deny_wins_and_closest_glob_wins() -> None:
    acl = ACL.compile(
        [
            parse_rules('namespace "prod-*" { policy = "write" }', "a"),
            parse_rules('namespace "*-api" { policy = "deny" }', "b"),
            parse_rules('namespace "prod-api" { policy = "read" }', "c"),
            parse_rules('namespace "prod-api" { capabilities = ["deny"] }', "d"),
        ]
    )
    assert not acl.allow_namespace_operation("prod-api", "read-job")
    assert acl.allow_namespace_operation("prod-web", "submit-job")
    assert not acl.allow_namespace_operation("dev-api", "read-job")


def test_management_allows_everything() -> None:
    acl = ACL.management_acl()
    assert acl.allow_namespace_operation("anything", "alloc-exec")
    assert acl.allow("operator", "write")


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ('namespace "x" { policy = "admin" }', 'invalid policy "admin"'),
        ('namespace "x" { capabilities = ["fly"] }', 'invalid capability "fly"'),
        ('node { policy = "scale" }', 'invalid policy "scale"'),
        ('nodes { policy = "read" }', 'unexpected block "nodes"'),
        ('namespace "x" { policy = ', "policy"),
        ("", "grants nothing"),
        ('node { policy = "read" }\nnode { policy = "write" }', "more than once"),
    ],
)
def test_bad_rules_name_the_problem(rules: str, message: str) -> None:
    with pytest.raises(PolicyError) as err:
        parse_rules(rules, "ops")
    assert message in str(err.value)


def test_json_rules() -> None:
    rules = parse_rules(
        '{"namespace": {"default": {"policy": "read"}}, "node": {"policy": "read"}}'
    )
    assert "read-job" in rules.namespaces["default"]
    assert rules.coarse == {"node": "read"}
