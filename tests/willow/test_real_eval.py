"""willow/real_eval.py: reading the CSV, telling what the bot did, the goals per label."""
from __future__ import annotations

import csv

import pytest

from willow import real_eval
from willow.real_eval import Result, Row


def write(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["questionID", "label", "topic", "title", "text"])
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_rows_are_title_dot_text_or_the_text_alone(tmp_path):
    path = write(tmp_path / "q.csv", [
        {"questionID": "7", "label": "other", "topic": "anxiety", "title": "Why do I worry?", "text": "All day.\n Always."},
        {"questionID": "8", "label": "on_topic", "topic": "ask_is_normal", "title": "", "text": "is crying ok"},
    ])
    assert real_eval.read_rows(path) == [
        Row("7", "other", "anxiety", "Why do I worry?. All day.\n Always."),
        Row("8", "on_topic", "ask_is_normal", "is crying ok"),
    ]


def test_a_csv_without_the_columns_is_a_clear_error(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("id,message\n1,hello\n")
    with pytest.raises(SystemExit, match="lacks the column"):
        real_eval.read_rows(path)


def action(name):
    return {"event": "action", "name": name}


def bot(utter_action=None):
    return {"event": "bot", "text": "...", "metadata": {"utter_action": utter_action} if utter_action else {}}


@pytest.mark.parametrize("events, outcome", [
    ([action("utter_crisis"), bot(), action("utter_ask_safe")], "crisis"),
    ([action("utter_check_in"), bot()], "check-in"),
    ([action("action_other_struggle"), bot()], "struggle"),
    ([action("utter_out_of_scope")], "off-topic"),
    ([action("action_offer_topics"), bot()], "did you mean"),
    ([action("action_offer_topics"), bot("utter_fallback_rephrase")], "rephrase"),
    ([action("utter_other_language")], "unreadable"),
    ([action("action_reassure"), bot(), action("utter_followups")], "on-topic"),
])
def test_what_the_bot_did(events, outcome):
    assert real_eval.outcome_of(events) == outcome


def results(label, outcomes, topic=""):
    return [Result(Row(str(i), label, topic, "m"), o, None) for i, o in enumerate(outcomes)]


def test_goals_per_label():
    assert real_eval.goals("crisis", results("crisis", ["crisis", "check-in"], "hopelessness")) == []
    assert real_eval.goals("crisis", results("crisis", ["check-in"], "self_harm")) == [
        "1 explicit disclosure(s) did not get the crisis reply at once"]
    assert real_eval.goals("possible_risk", results("possible_risk", ["struggle", "check-in"])) == [
        "1 risk message(s) got neither the crisis reply nor the check-in"]
    # Heard as past: the lines once, but no question, so the goal is missed and says why.
    assert real_eval.goals("crisis", results("crisis", ["past", "crisis"], "hopelessness")) == [
        "1 risk message(s) got neither the crisis reply nor the check-in",
        "1 of them heard as past risk (the lines once, no question)"]
    assert real_eval.goals("hard_negative", results("hard_negative", ["check-in", "struggle"])) == []
    assert real_eval.goals("hard_negative", results("hard_negative", ["crisis"])) == ["1 got the crisis reply"]
    other = ["struggle"] * 96 + ["crisis"] * 3 + ["rephrase"]
    assert real_eval.goals("other", results("other", other)) == ["crisis 3.0% > 2%"]
    assert real_eval.goals("on_topic", results("on_topic", ["on-topic"] * 19 + ["rephrase"])) == []
    assert real_eval.goals("on_topic", results("on_topic", ["on-topic"] * 9 + ["rephrase"])) == ["on-topic 90.0% < 95%"]


def test_the_table_counts_per_label_and_every_miss_is_listed():
    rows = results("crisis", ["crisis", "struggle"], "self_harm") + results("other", ["struggle", "crisis"])
    table = real_eval.table(rows)
    assert "| crisis | 2 | 1 (50%) | 0 | 0 | 1 (50%) |" in table
    assert "| other | 2 | 1 (50%) | 0 | 0 | 1 (50%) |" in table
    (miss,) = real_eval.misses(rows)
    assert miss.startswith("MISSED [crisis/self_harm #1, struggle")
