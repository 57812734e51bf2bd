"""Schemathesis fuzzes every operation of ``/v1/openapi.json`` on a real dev agent and checks
that the API keeps to its own document: no unexpected server error, only documented status
codes, response bodies and content types that match their schemas, and ``405`` with an
``Allow`` header for a method a path does not take.

Nomad answers 500 in exactly two situations that a well-formed request can reach, and
caravan keeps them for compatibility: a ``region`` this agent does not serve (``No path to
region``) and a failed check-and-set (``Enforcing job modify index ...``). Both are
documented for every operation; any other 5xx fails the test.

The two streaming operations (``/v1/event/stream`` and ``/v1/client/fs/logs/:id``, which
may follow forever) are left out: their framing is tested in ``core/tests/api``.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import APIOperation, Case, CheckContext, GenerationMode, Response
from schemathesis.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from .conftest import DevAgent

pytestmark = pytest.mark.integration

#: 500 answers Nomad gives on purpose (see the module docstring); the body starts with one.
NOMAD_500_MESSAGES = ("No path to region", "Enforcing job modify index")

#: Requests per operation and generation mode (keeps the run well under three minutes).
EXAMPLES = 12

STREAMING_PATHS = ("/v1/event/stream", "/v1/client/fs/logs/{alloc_id}")


def no_unexpected_server_error(ctx: CheckContext, response: Response, case: Case) -> bool:
    """Fails on any 5xx except Nomad's deliberate 500s."""
    if response.status_code >= 500 and not response.text.startswith(NOMAD_500_MESSAGES):
        raise AssertionError(f"{response.status_code}: {response.text[:200]}")
    return True


CHECKS = [
    no_unexpected_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    unsupported_method,
]


def _short_wait(operation: APIOperation) -> dict[str, str] | None:
    # A blocking query holds the request up to ``wait`` (five minutes by default) when the
    # fuzzed ``index`` is ahead of the state: a short wait keeps each call quick while the
    # blocking path is still exercised.
    names = {p.name for p in operation.query}
    return {"wait": "50ms"} if "wait" in names else None


def fuzz(operation: APIOperation, mode: GenerationMode) -> None:
    """Run a bounded, reproducible batch of ``mode`` requests against ``operation``."""

    @given(case=operation.as_strategy(generation_mode=mode, query=_short_wait(operation)))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Case) -> None:
        case.call_and_validate(checks=CHECKS, timeout=10)

    run()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_api_keeps_to_its_document(dev_agent: DevAgent, mode: GenerationMode) -> None:
    schema = schemathesis.openapi.from_url(f"{dev_agent.address}/v1/openapi.json")
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path in STREAMING_PATHS:
            continue
        try:
            fuzz(operation, mode)
        except (Exception, BaseExceptionGroup) as exc:  # report every operation's failures
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    assert not failures, "\n\n".join(failures)
