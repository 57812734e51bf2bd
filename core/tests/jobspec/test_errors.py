"""Bad job files are reported as file:line,col with what was wrong, never as a traceback."""

from __future__ import annotations

import pytest

from caravan.errors import CaravanError, JobspecError
from caravan.jobspec import JobspecErrors, job_to_api_dict


def _error(source: str) -> str:
    with pytest.raises(CaravanError) as info:
        job_to_api_dict(source, "job.nomad")
    return str(info.value)


def test_unknown_attribute_names_field_and_line() -> None:
    message = _error('job "a" {\n  group "g" {\n    cont = 3\n  }\n}\n')
    assert message == (
        'job.nomad:3,5: Unsupported argument: "cont" is not expected in a group block'
    )


def test_unknown_block_names_block_and_line() -> None:
    message = _error('job "a" {\n  group "g" {\n    taks "t" {}\n  }\n}\n')
    assert message.startswith("job.nomad:3,5: ")
    assert '"taks"' in message


def test_several_problems_are_all_reported() -> None:
    with pytest.raises(JobspecErrors) as info:
        job_to_api_dict('job "a" {\n  foo = 1\n  bar = 2\n}\n', "job.nomad")
    lines = str(info.value).splitlines()
    assert [line.split(": ")[0] for line in lines] == ["job.nomad:2,3", "job.nomad:3,3"]


def test_two_jobs_in_one_file() -> None:
    message = _error('job "a" {}\n\njob "b" {}\n')
    assert message == "job.nomad:3,1: only one job per file is allowed (the first is at line 1)"


def test_no_job_block() -> None:
    assert "no job block" in _error('variable "x" { default = 1 }\n')


def test_missing_closing_brace_points_at_unclosed_block() -> None:
    source = 'job "a" {\n  group "g" {\n    task "t" {\n      driver = "docker"\n  }\n}\n'
    with pytest.raises(JobspecError) as info:
        job_to_api_dict(source, "job.nomad")
    assert info.value.line == 3
    assert "unclosed block" in info.value.message


def test_missing_closing_brace_at_end_of_file() -> None:
    with pytest.raises(JobspecError) as info:
        job_to_api_dict('job "a" {\n  type = "batch"\n', "job.nomad")
    assert (info.value.line, info.value.message.split(":")[0]) == (1, "unclosed block")


def test_unexpected_token_says_what_was_expected() -> None:
    message = _error('job "a" {\n  count = \n}\n')
    assert message.startswith("job.nomad:2,")
    assert "expected" in message


def test_string_where_number_belongs() -> None:
    message = _error('job "a" {\n  group "g" {\n    count = "three"\n  }\n}\n')
    assert message.startswith("job.nomad:3,5: ")
    assert "a number is required" in message


def test_bad_duration() -> None:
    message = _error('job "a" {\n  update {\n    min_healthy_time = "10 seconds"\n  }\n}\n')
    assert message.startswith("job.nomad:3,5: ")
    assert 'invalid duration "10 seconds"' in message


def test_unknown_variable_reference() -> None:
    message = _error('job "a" {\n  region = var.nope\n}\n')
    assert message.startswith("job.nomad:2,")
    assert '"nope"' in message


def test_unknown_function() -> None:
    assert "no function named" in _error('job "a" {\n  region = shout("x")\n}\n')


def test_block_labels_are_checked() -> None:
    assert "label" in _error('job "a" {\n  group {\n  }\n}\n')


def test_duplicate_single_block() -> None:
    message = _error('job "a" {\n  update {}\n  update {}\n}\n')
    assert message.startswith("job.nomad:3,3: Duplicate update block")


def test_invalid_json_names_line_and_column() -> None:
    with pytest.raises(JobspecError) as info:
        job_to_api_dict('{"Job": {\n  "ID": "a",\n  "Name": }\n}', "job.json")
    assert (info.value.line, info.value.column) == (3, 11)
