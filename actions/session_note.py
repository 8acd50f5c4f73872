"""The note for the next session: the form's validation, the note itself, and forgetting it.

``validate_note_form`` understands the answers (skips, many phrasings of "how often" and
"how distressing") and asks one clarifying question for an unclear answer, never more.
``action_write_note`` writes the note in the user's own words plus opening sentences, and
clears the answers: the note is kept only in the ``session_note`` slot of this conversation
until ``action_forget_note`` clears it. Nothing here logs answers or the note.
"""
from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import content, situation

SKIPPED = "skipped"
CLARIFY = "note_clarify"
NOTE = "session_note"
STARTED = "note_started"  # an answer was given and the note is not written yet
ANSWERS = ["note_sessions", "note_outside", "note_distress", "note_triggers", "note_goal", "note_extra"]
FREQUENCY_ANSWERS = ["note_sessions", "note_outside"]
# Sent with the note as a custom payload: the web page shows copy and download buttons for it,
# Telegram and Slack send its text (willow/channels/note.py).
PAYLOAD_KEY = "willow_note"
FILE_NAME = "willow-note.txt"


def text_of() -> Dict[Text, Any]:
    return content.load("session_note")


def understand() -> Dict[Text, Any]:
    return text_of()["understand"]


def normalise(text: Text) -> Text:
    """Lowercase words separated by single spaces; apostrophes kept, other punctuation dropped."""
    text = text.lower().replace("’", "'")
    return " ".join(re.findall(r"[a-z0-9']+(?:-[a-z0-9']+)*", text))


def has_phrase(text: Text, phrases: List[Text]) -> bool:
    """Whether the normalised ``text`` contains one of ``phrases`` as whole words."""
    return any(re.search(rf"(?<![\w']){re.escape(normalise(p))}(?![\w'])", text) for p in phrases if normalise(p))


def is_skip(answer: Text, intent: Optional[Text]) -> bool:
    if intent == "skip_question":
        return True
    said = normalise(answer)
    phrases = understand()["skip"]
    # A short "i'd rather not say" is a skip; "i don't know, maybe my mum" is an answer.
    return said in map(normalise, phrases) or (len(said.split()) <= 4 and has_phrase(said, phrases))


def is_nothing(answer: Text, intent: Optional[Text]) -> bool:
    said = normalise(answer)
    return intent == "deny" and len(said.split()) <= 4 or said in map(normalise, understand()["nothing"])


def is_unclear(answer: Text) -> bool:
    said = normalise(answer)
    return not re.search(r"[a-z0-9]", said) or said in map(normalise, understand()["unclear"])


def frequency_of(answer: Text) -> Optional[Text]:
    """``often``, ``sometimes`` or ``rarely`` for an answer to "how often", or None if unclear."""
    said = normalise(answer)
    for level, phrases in understand()["frequency"].items():
        if has_phrase(said, phrases):
            return level
    if re.search(r"\d", said) or has_phrase(said, list(understand()["numbers"])):
        return "sometimes"  # "3 times a month"
    return None


def score_of(answer: Text) -> Optional[int]:
    """The 0-10 number in an answer ("7", "a 7", "7/10", "seven"), or None."""
    said = normalise(answer.replace("/", " / "))
    found = re.search(r"(?<!\d)(10|\d)(?!\d)", said)
    if found:
        return int(found.group(1))
    numbers = understand()["numbers"]
    return next((numbers[w] for w in said.split() if w in numbers), None)


def distress_of(answer: Text) -> Optional[Text]:
    """``high``, ``medium`` or ``low`` for an answer to "how distressing", or None if unclear."""
    score = score_of(answer)
    if score is not None:
        return "high" if score >= 7 else "medium" if score >= 4 else "low"
    said = normalise(answer)
    for level, phrases in understand()["distress"].items():
        if has_phrase(said, phrases):
            return level
    return None


def interrupts(answer: Text) -> bool:
    """Whether a message the classifier took for "stop", "forget the note" or "delete my data"
    really interrupts the form, rather than answering the question (``understand.interruptions``:
    short, with the words of one of them; the classifier may confuse the three, so any counts)."""
    words = understand()
    said = normalise(answer)
    return len(said.split()) <= words["interruption_max_words"] and any(
        has_phrase(said, group["words"]) and not has_phrase(said, group["unless"])
        for group in words["interruptions"].values()
    )


def shorten(answer: Text) -> Text:
    limit = understand()["max_answer_chars"]
    answer = " ".join(answer.split())
    return answer if len(answer) <= limit else answer[: limit - 1].rstrip() + "…"


# -- the note ------------------------------------------------------------------------------------
def shown(slot: Text, answer: Text) -> Text:
    """An answer as the note shows it: the user's words; a bare number on the scale as "7 out of 10"."""
    if slot == "note_distress" and re.fullmatch(r"(a |an )?(10|\d)( / 10| out of 10)?", normalise(answer.replace("/", " / "))):
        return text_of()["score"].format(score=score_of(answer))
    return shorten(answer)


def given(answers: Dict[Text, Any], slot: Text) -> Optional[Text]:
    value = answers.get(slot)
    return value if isinstance(value, str) and value.strip() and value != SKIPPED else None


def opener_key(answers: Dict[Text, Any], earlier: Dict[Text, Any]) -> Text:
    """Which of talking_to_therapist.yml's openers fits: the answers decide, and where the user
    skipped, what they said earlier in the conversation (slots crying_frequency, distress)."""
    frequencies = [frequency_of(a) for a in (given(answers, s) for s in FREQUENCY_ANSWERS) if a]
    often = "often" in frequencies if frequencies else earlier.get("crying_frequency") == situation.OFTEN
    distress = given(answers, "note_distress")
    distressing = distress_of(distress) == "high" if distress else earlier.get("distress") == situation.HIGH
    return {(True, True): "often_and_distressing", (True, False): "often",
            (False, True): "distressing"}.get((often, distressing), "general")


def compose_note(answers: Dict[Text, Any], earlier: Optional[Dict[Text, Any]] = None) -> Text:
    """The note: a title, the user's answers in their own words, and one or two opening sentences."""
    text = text_of()
    lines = [f"{label}: {shown(slot, given(answers, slot))}"
             for slot, label in text["labels"].items() if given(answers, slot)]
    openers = [content.pick(content.load("talking_to_therapist")["openers"][opener_key(answers, earlier or {})])]
    goal = given(answers, "note_goal")
    if goal:
        openers.append(content.pick(text["goal_opener"]).format(goal=shorten(goal).rstrip(" .!?")))
    return content.join(
        text["title"],
        "\n".join(lines) or text["nothing_answered"],
        text["opener_lead"] + "\n" + "\n".join(f"“{o}”" for o in openers),
    )


def clear_note() -> List[EventType]:
    return [SlotSet(slot, None) for slot in ANSWERS + [CLARIFY, NOTE]] + [SlotSet(STARTED, None)]


# -- the actions ----------------------------------------------------------------------------------
class ValidateNoteForm(FormValidationAction):
    """Checks each answer with ``check`` (one method for every question, instead of one
    ``validate_<slot>`` per slot)."""

    def name(self) -> Text:
        return "validate_note_form"

    async def get_validation_events(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        answers = {slot: value for slot, value in tracker.slots_to_validate().items() if slot in ANSWERS}
        requested = tracker.get_slot("requested_slot")
        answer = tracker.latest_message.get("text") or ""
        intent = situation.latest_intent(tracker)
        if (
            not answers
            and requested in ANSWERS
            and intent in understand()["interruptions"]
            and not interrupts(answer)
        ):
            # The classifier heard "stop" (or "forget") in an answer ("i want it to stop"), so Rasa
            # filled nothing: it is the answer, and the form goes on instead of ending.
            answers = {requested: answer}
        events = [SlotSet(slot, value) for name, given_answer in answers.items()
                  for slot, value in self.check(name, given_answer, tracker).items()]
        if any(e["name"] in ANSWERS and e["value"] is not None for e in events) and not tracker.get_slot(STARTED):
            # Marks the note as under way, so an interruption can offer to carry on with it.
            events.append(SlotSet(STARTED, True))
        return events

    @staticmethod
    def check(slot: Text, answer: Any, tracker: Tracker) -> Dict[Text, Any]:
        """The slots to set for ``answer`` to the question for ``slot``."""
        answer = answer if isinstance(answer, str) else ""
        intent = situation.latest_intent(tracker)
        if is_skip(answer, intent) or (slot == "note_extra" and is_nothing(answer, intent)):
            return {slot: SKIPPED, CLARIFY: None}
        if slot in FREQUENCY_ANSWERS:
            understood = frequency_of(answer) is not None
        elif slot == "note_distress":
            understood = distress_of(answer) is not None
        else:
            understood = not is_unclear(answer)
        if understood:
            return {slot: shorten(answer), CLARIFY: None}
        if tracker.get_slot(CLARIFY) != slot:
            # One clarifying question (utter_ask_<slot>'s variation for note_clarify), never a loop.
            return {slot: None, CLARIFY: slot}
        # Asked once already: keep their words as they are, or skip if there are none.
        return {slot: shorten(answer) if re.search(r"\w", answer) else SKIPPED, CLARIFY: None}


class ActionWriteNote(Action):
    """Sends the note (with a payload for the web page's copy and download buttons), keeps it
    in ``session_note`` and clears the answers."""

    def name(self) -> Text:
        return "action_write_note"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
            domain: Dict[Text, Any]) -> List[EventType]:
        text = text_of()
        answers = {slot: tracker.get_slot(slot) for slot in ANSWERS}
        earlier = {slot: tracker.get_slot(slot) for slot in ("crying_frequency", "distress")}
        note = compose_note(answers, earlier)
        dispatcher.utter_message(text=content.pick(text["before"]))
        dispatcher.utter_message(text=note, json_message={PAYLOAD_KEY: {"text": note, "filename": FILE_NAME}})
        dispatcher.utter_message(text=content.pick(text["after"]))
        return clear_note() + [SlotSet(NOTE, note), content.remember_points(content.points("session_note"))]


class ActionForgetNote(Action):
    """Clears the note and the answers: after "forget the note", or when the form was ended part-way
    ("stop", "forget the note" or "delete my data" in the middle of it)."""

    def name(self) -> Text:
        return "action_forget_note"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
            domain: Dict[Text, Any]) -> List[EventType]:
        text = text_of()
        if tracker.latest_action_name == "action_deactivate_loop":
            key = "stopped"
        elif any(tracker.get_slot(slot) for slot in ANSWERS + [NOTE]):
            key = "forgotten"
        else:
            key = "nothing_to_forget"
        dispatcher.utter_message(text=content.pick(text[key]))
        return clear_note()
