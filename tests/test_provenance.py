"""Every informational answer is tied to the points of the source it rests on (content/provenance.yml)."""
from __future__ import annotations

import shutil
import subprocess
import sys

import yaml

from tests.conftest import ROOT
from willow import provenance


def test_every_informational_response_and_content_file_is_tied_to_existing_points():
    assert provenance.problems() == []


def copy_project(tmp_path):
    for folder in ("domain", "content"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    return tmp_path


def edit_provenance(root, change):
    path = root / "content" / "provenance.yml"
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data))


def test_an_answer_tied_to_no_point_fails_the_check(tmp_path):
    root = copy_project(tmp_path)
    edit_provenance(root, lambda d: d["responses"].update(utter_why_cry=[]))
    assert provenance.problems(root) == ["utter_why_cry is informational but tied to no point"]


def test_a_new_response_must_be_classified(tmp_path):
    root = copy_project(tmp_path)
    edit_provenance(root, lambda d: d["responses"].pop("utter_is_normal"))
    assert provenance.problems(root) == [
        "response utter_is_normal is in neither `responses` nor `not_informational` of content/provenance.yml"
    ]


def test_unknown_points_and_unmapped_content_keys_fail_the_check(tmp_path):
    root = copy_project(tmp_path)

    def change(data):
        data["content"]["not_crying"] = ["not_a_point"]
        data["content"]["reassurance"].pop("embarrassed")

    edit_provenance(root, change)
    assert provenance.problems(root) == [
        "content/not_crying.yml names 'not_a_point', which is not a point in content/points.yml"
        .replace("content/not_crying.yml", "action_normalise_not_crying <- content/not_crying.yml"),
        "content/reassurance.yml: embarrassed is tied to no point",
    ]


def test_the_listing_command_prints_each_answer_with_its_points():
    result = subprocess.run([sys.executable, "-m", "willow.provenance"], cwd=ROOT, capture_output=True,
                            text=True, check=True)
    assert "utter_why_cry\n    emotional_release: Letting feelings out\n" in result.stdout
    assert "action_reassure <- content/reassurance.yml: embarrassed\n" in result.stdout
    assert result.stderr == ""
