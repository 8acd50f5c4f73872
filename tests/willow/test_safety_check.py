"""The safety check's table (content/safety_check.yml) and the rules written from it."""
from willow import safety_check
from tests.domain_files import INTENTS, RESPONSES

TABLE = safety_check.load()


def test_the_rules_file_is_up_to_date():
    # `make safety-check-rules` rewrites it; an edited table with stale rules would train the old check.
    assert safety_check.RULES_FILE.read_text(encoding="utf-8") == safety_check.render_file()


def test_every_intent_is_heard_in_the_check_and_every_response_exists():
    assert safety_check.problems(TABLE, INTENTS, list(RESPONSES)) == []


def test_a_forgotten_intent_or_a_missing_response_is_reported():
    problems = safety_check.problems(TABLE, INTENTS + ["new_topic"], [r for r in RESPONSES if r != "utter_unsure"])
    assert "intent new_topic is in no answer kind and not in own_rules" in problems
    assert any("utter_unsure is not a response of the domain" in p for p in problems)


def test_every_question_has_a_rule_for_every_kind_of_answer():
    rules = safety_check.rules(TABLE)
    assert len(rules) == len(TABLE["questions"]) * len(TABLE["answers"])
    for rule in rules:
        assert rule["steps"][0]["action"] in TABLE["questions"]


def test_unsure_counts_as_not_safe_and_never_ends_the_check():
    for question in TABLE["questions"]:
        for kind in ("unsure", "not_safe", "reluctant", "topic"):
            responses = safety_check.responses_for(TABLE, question, kind)
            # Always followed by another safety question: the check holds while they are unsure.
            assert responses[-1] in TABLE["questions"], (question, kind)
            assert "utter_goodbye" not in responses and "utter_glad_safe" not in responses


def test_a_repeated_answer_never_gets_the_same_text_twice_in_a_row():
    for question in TABLE["questions"]:
        for kind in ("unsure", "not_safe", "reluctant", "topic"):
            first = safety_check.responses_for(TABLE, question, kind)
            second = safety_check.responses_for(TABLE, first[-1], kind)
            assert first[0] != second[0], (question, kind)
            assert first[-1] != second[-1], (question, kind)  # nor the question word for word


def test_only_a_clear_safe_moving_on_or_leave_me_alone_ends_the_check():
    for question in TABLE["questions"]:
        for kind in TABLE["answers"]:
            last = safety_check.responses_for(TABLE, question, kind)[-1]
            if last not in TABLE["questions"]:
                assert kind in ("safe", "leave", "move_on", "goodbye"), (question, kind)


def test_goodbye_while_unsure_is_asked_about_once_before_letting_go():
    assert safety_check.responses_for(TABLE, "utter_ask_safe_now", "goodbye") == ["utter_ask_safe_before_goodbye"]
    assert safety_check.responses_for(TABLE, "utter_ask_safe_before_goodbye", "goodbye") == ["utter_goodbye_with_lines"]


def test_the_apology_for_a_misreading_only_follows_an_unanswered_check_in():
    assert safety_check.responses_for(TABLE, "utter_ask_safe", "safe")[0] == "utter_risk_acknowledged"
    assert safety_check.responses_for(TABLE, "utter_ask_safe_misread", "safe")[0] == "utter_risk_acknowledged_misread"
    assert "sorry" not in RESPONSES["utter_risk_acknowledged"][0]["text"].lower()
    assert "misread" in RESPONSES["utter_risk_acknowledged_misread"][0]["text"]
