"""action_resume_after_check_in: "no" to the check-in goes back to what the person wrote about.
action_resume_after_past_risk: after risk said as past is acknowledged, the same for the rest
of that message.

The check-in (``utter_check_in``) asks directly about risk when a message only might show it.
After a "no", Willow says once where help is (``utter_check_in_declined``) and then answers the
message as if the check-in had not happened. It does that the way Rasa's two-stage fallback
does after an affirmation: the "no" and the turn that got the check-in are reverted, and the
person's message comes back with the best intent that is not a risk tier. The policies then
answer it as they would have, and inside the note form the form takes it as the answer it
was.

Rasa applies the domain's slot mappings (``action_extract_slots``) only to messages that
arrive from a channel, and running it as a follow-up action puts it in the history that
rules match on. So the message put back brings its slot events with it: the domain's
``from_intent``, ``from_entity`` and ``from_text`` mappings (the kinds Willow's domain uses;
``MAPPINGS`` names them and a test checks the domain uses no other), applied in the state
the conversation was in when the message first arrived.
"""
from __future__ import annotations

import copy
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, SlotSet, UserUttered, UserUtteranceReverted
from rasa_sdk.executor import CollectingDispatcher

CHECK_IN = "utter_check_in"
PAST_RISK_REPLY = "utter_past_risk"
RISK_INTENTS = ("crisis", "possible_crisis", "past_risk", "nlu_fallback")
# Below this (config.yml's FallbackClassifier threshold) the message was not clearly about
# anything else: it is answered as a struggle, which acknowledges it, not with "rephrase?".
MIN_CONFIDENCE = 0.25
UNCLEAR = "other_struggle"
MAPPINGS = ("from_intent", "from_entity", "from_text")


def checked_message(tracker: Tracker) -> Optional[int]:
    """The index in ``tracker.events`` of the user event that got the latest check-in."""
    asked = False
    for index in range(len(tracker.events) - 1, -1, -1):
        event = tracker.events[index]
        if event.get("event") == "action" and event.get("name") == CHECK_IN:
            asked = True
        elif asked and event.get("event") == "user":
            return index
    return None


def state_before(events: List[Dict[Text, Any]]) -> Dict[Text, Optional[Text]]:
    """The active loop and requested slot after ``events``."""
    state: Dict[Text, Optional[Text]] = {"active_loop": None, "requested_slot": None}
    for event in events:
        if event.get("event") == "active_loop":
            state["active_loop"] = event.get("name")
        elif event.get("event") == "slot" and event.get("name") == "requested_slot":
            state["requested_slot"] = event.get("value")
    return state


def _applies(mapping: Dict[Text, Any], intent: Optional[Text], state: Dict[Text, Optional[Text]]) -> bool:
    conditions = mapping.get("conditions") or []
    if conditions and not any(
        c.get("active_loop") == state["active_loop"]
        and c.get("requested_slot", state["requested_slot"]) == state["requested_slot"]
        for c in conditions
    ):
        return False
    wanted, unwanted = mapping.get("intent"), mapping.get("not_intent") or []
    wanted = [wanted] if isinstance(wanted, str) else wanted
    return (not wanted or intent in wanted) and intent not in unwanted


def slot_events(domain: Dict[Text, Any], text: Text, parse: Dict[Text, Any],
                state: Dict[Text, Optional[Text]]) -> List[Dict[Text, Any]]:
    """What the domain's slot mappings set for this message, the first mapping of each slot
    that gives a value winning (as in Rasa's action_extract_slots)."""
    intent = (parse.get("intent") or {}).get("name")
    events = []
    for name, slot in (domain.get("slots") or {}).items():
        for mapping in slot.get("mappings") or []:
            if mapping.get("type") not in MAPPINGS or not _applies(mapping, intent, state):
                continue
            if mapping["type"] == "from_intent":
                value = mapping.get("value")
            elif mapping["type"] == "from_entity":
                found = [e.get("value") for e in parse.get("entities") or [] if e.get("entity") == mapping.get("entity")]
                value = found[-1] if found else None
            else:
                value = text
            if value is not None:
                events.append(SlotSet(name, value))
                break
    return events


def resumed_parse(parse: Dict[Text, Any]) -> Dict[Text, Any]:
    """``parse`` with the best intent that is not a risk tier (``other_struggle`` if unclear)."""
    ranking = [r for r in parse.get("intent_ranking") or [] if r.get("name") not in RISK_INTENTS]
    intent = ranking[0] if ranking and ranking[0].get("confidence", 0) >= MIN_CONFIDENCE else None
    if intent is None:
        intent = {"name": UNCLEAR, "confidence": 1.0}
        ranking = [intent] + [r for r in ranking if r.get("name") != UNCLEAR]
    resumed = copy.deepcopy(parse)
    resumed.update(intent=intent, intent_ranking=ranking)
    return resumed


class ActionResumeAfterCheckIn(Action):
    def name(self) -> Text:
        return "action_resume_after_check_in"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        dispatcher.utter_message(response="utter_check_in_declined")
        index = checked_message(tracker)
        if index is None:  # no check-in in this conversation: nothing to go back to
            return []
        original = tracker.events[index]
        text, parse = original.get("text"), resumed_parse(original.get("parse_data") or {})
        return [
            UserUtteranceReverted(),  # the "no" and what followed it
            UserUtteranceReverted(),  # the message that got the check-in, and the check-in
            ActionExecuted("action_listen"),
            UserUttered(text, parse, input_channel=original.get("input_channel")),
            *slot_events(domain, text, parse, state_before(tracker.events[:index])),
        ]


def latest_user_message(tracker: Tracker) -> Optional[int]:
    """The index in ``tracker.events`` of the latest user event."""
    for index in range(len(tracker.events) - 1, -1, -1):
        if tracker.events[index].get("event") == "user":
            return index
    return None


class ActionResumeAfterPastRisk(Action):
    """Runs after utter_past_risk: the message comes back with its best intent that is not a
    risk tier ("is it normal that i still cry when it comes up?"), so it is answered too."""

    def name(self) -> Text:
        return "action_resume_after_past_risk"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        index = latest_user_message(tracker)
        if index is None:
            return []
        original = tracker.events[index]
        text, parse = original.get("text"), resumed_parse(original.get("parse_data") or {})
        return [
            UserUtteranceReverted(),  # the message, its acknowledgment and any pause of the form
            ActionExecuted("action_listen"),
            UserUttered(text, parse, input_channel=original.get("input_channel")),
            *slot_events(domain, text, parse, state_before(tracker.events[:index])),
        ]
