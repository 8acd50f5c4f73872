from rasa_sdk.executor import CollectingDispatcher

from actions import content
from actions.other_struggle import ActionOtherStruggle, theme
from tests.actions.trackers import make_tracker

TEXT = content.load("other_struggle")
THEMES = TEXT["themes"]


def run(text):
    dispatcher = CollectingDispatcher()
    events = ActionOtherStruggle().run(dispatcher, make_tracker("other_struggle", text), domain={})
    return events, dispatcher.messages


def test_name():
    assert ActionOtherStruggle().name() == "action_other_struggle"


def test_acknowledges_the_theme_says_its_limits_and_keeps_the_lines_one_tap_away():
    events, messages = run("My boyfriend and I broke up last month and I can't stop thinking about him.")
    assert events == []
    (message,) = messages
    assert message["text"] == "\n\n".join([
        THEMES["relationship"]["acknowledge"][0],
        TEXT["limits"][0] + " " + TEXT["suggest"][0],
        TEXT["lines_note"],
    ])
    assert message["buttons"] == TEXT["buttons"]
    assert "/crisis" in [b["payload"] for b in message["buttons"]]


def test_the_theme_with_the_most_words_wins():
    text = "My boss yells at me, my manager ignores me and work is all I think about. My wife says quit."
    assert theme(text, THEMES) == "work_or_school"


def test_word_stems_and_whole_words():
    assert theme("I get so anxious before exams... the anxiety is constant", THEMES) == "anxiety"
    assert theme("I can't sleep and my nightmares are back", THEMES) == "sleep"
    # "ex" is a word of its own, not the start of "exhausting"
    assert theme("Everything is exhausting lately", THEMES) == "general"


def test_no_theme_gets_the_general_acknowledgement():
    _, (message,) = run("Everything just feels like a lot lately and I don't know why.")
    assert message["text"].startswith(THEMES["general"]["acknowledge"][0])


def test_every_theme_has_words_and_acknowledgements():
    for name, spec in THEMES.items():
        assert spec["acknowledge"], name
        assert name == "general" or spec["words"], name
