"""Mutated job files either parse or fail with a CaravanError that says where; nothing else."""

from __future__ import annotations

import json
import re
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from caravan.errors import CaravanError, JobspecError
from caravan.jobspec import JobFileValidationError, JobspecErrors, job_to_api_dict, parse_string

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
HCL_TEXTS = [p.read_text() for p in sorted(EXAMPLES.glob("*.nomad"))]
JSON_TEXTS = [json.dumps({"Job": job_to_api_dict(text, "x.nomad")}, indent=2) for text in HCL_TEXTS]
TOKENS = [
    '"',
    "{",
    "}",
    "[",
    "]",
    "=",
    ",",
    "${",
    "%{",
    "\n",
    "job",
    "group",
    "task",
    "port",
    '"10s"',
    "-1",
    "var.x",
    "local.y",
    "null",
    "true",
    "#",
    "/*",
    "<<EOT\n",
    ":",
    "(",
    ")",
    "..",
    "~",
    "\\",
    "1e999",
    '"${NOMAD_PORT_db}"',
    "count",
    "network",
    "static = 80",
]


@st.composite
def mutated(draw: st.DrawFn, texts: list[str]) -> str:
    text = draw(st.sampled_from(texts))
    for _ in range(draw(st.integers(1, 4))):
        pos = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["delete", "insert", "replace", "token"]))
        if action == "delete":
            end = min(len(text), pos + draw(st.integers(1, 12)))
            text = text[:pos] + text[end:]
        elif action == "insert":
            text = text[:pos] + draw(st.text(max_size=4)) + text[pos:]
        elif action == "replace":
            end = min(len(text), pos + draw(st.integers(1, 6)))
            text = text[:pos] + draw(st.text(min_size=1, max_size=4)) + text[end:]
        else:
            text = text[:pos] + draw(st.sampled_from(TOKENS)) + text[pos:]
    return text


# Validation errors about a field the file never wrote (a default) point at the nearest
# enclosing block, so every line still carries a position.
_WHERE = re.compile(r"^job\.file:\d+(,\d+)?: ")


def _check(text: str) -> None:
    try:
        parse_string(text, "job.file")
    except JobFileValidationError as err:
        lines = str(err).splitlines()[1:]
        assert all(_WHERE.match(line.removeprefix("\t* ")) for line in lines), str(err)
    except JobspecErrors as err:
        assert all(_WHERE.match(str(e)) for e in err.errors), str(err)
    except JobspecError as err:
        assert err.line > 0, str(err)
        assert _WHERE.match(str(err)), str(err)
    except CaravanError as err:  # pragma: no cover - any other CaravanError must still say where
        assert "job.file" in str(err), str(err)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated(HCL_TEXTS))
def test_mutated_hcl(text: str) -> None:
    _check(text)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated(JSON_TEXTS))
def test_mutated_json(text: str) -> None:
    _check(text)
