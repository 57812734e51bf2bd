"""Access control: tokens, policies and their rule language, roles, one-time tokens, and the
permission checks the HTTP API makes with them (see ``docs/security.md``).
"""

from caravan.acl.evaluator import ACL
from caravan.acl.models import ACLPolicy, ACLRole, ACLToken, OneTimeToken
from caravan.acl.policy import PolicyError, PolicyRules, parse_rules
from caravan.acl.resolve import Identity, PermissionDenied, TokenNotFound, resolve

__all__ = [
    "ACL",
    "ACLPolicy",
    "ACLRole",
    "ACLToken",
    "Identity",
    "OneTimeToken",
    "PermissionDenied",
    "PolicyError",
    "PolicyRules",
    "TokenNotFound",
    "parse_rules",
    "resolve",
]
