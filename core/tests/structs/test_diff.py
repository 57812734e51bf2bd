"""Job diffs and their plan text, with Nomad's annotations."""

from __future__ import annotations

import copy
from typing import Any

from caravan.structs import Job, canonicalize, diff_jobs, format_diff


def _pair(example_json: dict[str, Any], change) -> tuple[Job, Job]:
    new = copy.deepcopy(example_json)
    change(new)
    return canonicalize(Job.from_api(example_json)), canonicalize(Job.from_api(new))


def _group(diff: dict[str, Any]) -> dict[str, Any]:
    return diff["TaskGroups"][0]


def test_identical_jobs_have_no_diff(example_json: dict[str, Any]) -> None:
    old, new = _pair(example_json, lambda d: None)
    assert diff_jobs(old, new) == {
        "Type": "None",
        "ID": "example",
        "Fields": [],
        "Objects": [],
        "TaskGroups": [],
    }


def test_count_increase_forces_create(example_json: dict[str, Any]) -> None:
    old, new = _pair(example_json, lambda d: d["TaskGroups"][0].update(Count=3))
    diff = diff_jobs(old, new)
    assert diff["Type"] == "Edited"
    group = _group(diff)
    assert group["Type"] == "Edited" and group["Tasks"] == []
    assert group["Fields"] == [
        {
            "Type": "Edited",
            "Name": "Count",
            "Old": "1",
            "New": "3",
            "Annotations": ["forces create"],
        }
    ]
    text = format_diff(diff, updates={"cache": {"create": 2, "ignore": 1}})
    assert text == (
        '+/- Job: "example"\n'
        '+/- Task Group: "cache" (2 create, 1 ignore)\n'
        '  +/- Count: "1" => "3" (forces create)\n'
        "\n"
    )


def test_count_decrease_forces_destroy(example_json: dict[str, Any]) -> None:
    old, new = _pair(example_json, lambda d: d["TaskGroups"][0].update(Count=3))
    field = _group(diff_jobs(new, old))["Fields"][0]
    assert field["Annotations"] == ["forces destroy"]


def test_image_change_forces_destructive_update(example_json: dict[str, Any]) -> None:
    old, new = _pair(
        example_json, lambda d: d["TaskGroups"][0]["Tasks"][0]["Config"].update(image="redis:7")
    )
    task = _group(diff_jobs(old, new))["Tasks"][0]
    assert task["Annotations"] == ["forces create/destroy update"]
    config = task["Objects"][0]
    assert config["Name"] == "Config" and config["Type"] == "Edited"
    assert config["Fields"] == [
        {
            "Type": "Edited",
            "Name": "image",
            "Old": "redis:3.2",
            "New": "redis:7",
            "Annotations": None,
        }
    ]
    text = format_diff(diff_jobs(old, new), updates={"cache": {"create/destroy update": 1}})
    assert text == (
        '+/- Job: "example"\n'
        '+/- Task Group: "cache" (1 create/destroy update)\n'
        '  +/- Task: "redis" (forces create/destroy update)\n'
        "    +/- Config {\n"
        '      +/- image: "redis:3.2" => "redis:7"\n'
        "        }\n"
        "\n"
    )


def test_service_tag_change_is_in_place(example_json: dict[str, Any]) -> None:
    old, new = _pair(
        example_json,
        lambda d: d["TaskGroups"][0]["Tasks"][0]["Services"][0].update(Tags=["global", "db"]),
    )
    task = _group(diff_jobs(old, new))["Tasks"][0]
    assert task["Annotations"] == ["forces in-place update"]
    service = task["Objects"][0]
    assert service["Name"] == "Service"
    tags = service["Objects"][0]
    assert tags["Name"] == "Tags"
    assert [(f["Type"], f["Old"], f["New"]) for f in tags["Fields"]] == [
        ("Deleted", "cache", ""),
        ("Added", "", "db"),
    ]


def test_kill_timeout_is_in_place(example_json: dict[str, Any]) -> None:
    old, new = _pair(
        example_json, lambda d: d["TaskGroups"][0]["Tasks"][0].update(KillTimeout=10**10)
    )
    assert _group(diff_jobs(old, new))["Tasks"][0]["Annotations"] == ["forces in-place update"]


def test_new_job_is_added(example_json: dict[str, Any]) -> None:
    job = canonicalize(Job.from_api(example_json))
    diff = diff_jobs(None, job)
    assert diff["Type"] == "Added"
    group = _group(diff)
    assert group["Type"] == "Added"
    assert group["Tasks"][0]["Annotations"] == ["forces create"]
    text = format_diff(diff, updates={"cache": {"create": 1}})
    assert text.startswith('+ Job: "example"\n+ Task Group: "cache" (1 create)\n')
    assert '  + Task: "redis" (forces create)\n' in text


def test_removed_group_and_added_task(example_json: dict[str, Any]) -> None:
    def change(d: dict[str, Any]) -> None:
        extra = copy.deepcopy(d["TaskGroups"][0]["Tasks"][0])
        extra["Name"] = "sidecar"
        d["TaskGroups"][0]["Tasks"].append(extra)

    old, new = _pair(example_json, change)
    tasks = {t["Name"]: t for t in _group(diff_jobs(old, new))["Tasks"]}
    assert tasks["sidecar"]["Type"] == "Added"
    assert tasks["sidecar"]["Annotations"] == ["forces create"]
    gone = diff_jobs(new, old)
    assert _group(gone)["Tasks"][0]["Annotations"] == ["forces destroy"]


def test_job_field_and_meta_changes(example_json: dict[str, Any]) -> None:
    old, new = _pair(example_json, lambda d: d.update(Priority=70, Meta={"team": "web"}))
    diff = diff_jobs(old, new)
    fields = {f["Name"]: f for f in diff["Fields"]}
    assert fields["Priority"]["Old"] == "50" and fields["Priority"]["New"] == "70"
    assert fields["Meta[team]"]["Type"] == "Added"
    assert diff["TaskGroups"] == []


def test_contextual_diff_lists_unchanged_fields(example_json: dict[str, Any]) -> None:
    old, new = _pair(example_json, lambda d: d["TaskGroups"][0].update(Count=2))
    group = _group(diff_jobs(old, new, contextual=True))
    kinds = {f["Name"]: f["Type"] for f in group["Fields"]}
    assert kinds["Count"] == "Edited"
    assert group["Tasks"][0]["Type"] == "None"
