"""Follow-ups after an answer: the next layer ("why?", "tell me more") and short replies ("ok").

action_go_deeper gives the next layer on the subject of the last answer that the
conversation has not had yet (content/deeper.yml, in the order of content/follow_ups.yml),
and offers the one after it. What has been said is read from the answers in the tracker and
from the slot ``layers_told``, so nothing is said twice. action_short_reply answers "ok",
"makes sense" or "no" when no question was open: it acknowledges, and offers the next step
or the menu once; a second short reply in a row only gets a brief "I'm here".
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import content

LAYERS_TOLD = "layers_told"
SOMEONE_ELSE = "someone_else"
# The topic slot's values that are subjects of their own.
TOPIC_SUBJECTS = {"not_crying": "not_crying", "frequent": "frequent", "starting": "starting"}


def answers_given(tracker: Tracker) -> List[Text]:
    """The answers (actions named in follow_ups.yml's covered_by) of this session, in order."""
    covered = content.load("follow_ups")["covered_by"]
    return [e["name"] for e in content.session_events(tracker) if e.get("event") == "action" and e.get("name") in covered]


def told(tracker: Tracker) -> List[Text]:
    """The layers this session has had: from the answers given and from ``layers_told``."""
    covered = content.load("follow_ups")["covered_by"]
    layers = [layer for name in answers_given(tracker) for layer in covered[name]]
    layers += tracker.get_slot(LAYERS_TOLD) or []
    return list(dict.fromkeys(layers))


def subject(tracker: Tracker) -> Text:
    """What a follow-up is about: someone else, the last answer's subject, the topic, or general."""
    if tracker.get_slot("asking_for") == SOMEONE_ELSE:
        return SOMEONE_ELSE
    subjects = content.load("follow_ups")["subject_of"]
    answers = answers_given(tracker)
    if answers and answers[-1] in subjects:
        return subjects[answers[-1]]
    return TOPIC_SUBJECTS.get(tracker.get_slot("topic") or "", "general")


def next_layers(tracker: Tracker) -> List[Text]:
    """The layers still to give on the current subject, in order; then the general ones."""
    order = content.load("follow_ups")["order"]
    done = set(told(tracker))
    about = subject(tracker)
    # Someone else's subject has its own third-person layers, and no general ones after them.
    layers = order[about] + ([] if about in (SOMEONE_ELSE, "general") else order["general"])
    return [layer for layer in dict.fromkeys(layers) if layer not in done]


def layer_texts(layer: Text) -> List[Text]:
    spec = content.load("deeper")[layer]
    if "from" in spec:
        file, key = spec["from"]
        return content.load(file)[key]
    return spec["texts"]


def offer(layer: Text, tracker: Tracker) -> Text:
    return content.pick(content.load("follow_ups")["offer_next"], tracker).format(
        offer=content.load("deeper")[layer]["offer"]
    )


def menu(tracker: Tracker) -> List[Dict[Text, Text]]:
    """The topics not talked about yet (at most menu_size of them) as buttons."""
    text = content.load("follow_ups")
    ran = {e.get("name") for e in content.session_events(tracker) if e.get("event") == "action"}
    buttons = [{"title": b["title"], "payload": b["payload"]} for b in text["menu"] if b["answered_by"] not in ran]
    return buttons[: text["menu_size"]] or [{"title": b["title"], "payload": b["payload"]}
                                            for b in text["menu"][: text["menu_size"]]]


def last_bot_action(tracker: Tracker) -> Optional[Text]:
    """The last action Willow ran before this user message (not action_listen)."""
    names = [e.get("name") for e in content.session_events(tracker)
             if e.get("event") == "action" and e.get("name") not in ("action_listen", None)]
    names = [n for n in names if not n.startswith("action_extract") and n != "action_session_start"]
    return names[-1] if names else None


def go_deeper(
    dispatcher: CollectingDispatcher, tracker: Tracker, lead: Optional[Text] = None, offer_next: bool = True
) -> List[Dict[Text, Any]]:
    """Sends the next layer on the current subject (after ``lead``, if given) and offers the one
    after it (unless ``offer_next`` is False: the caller's rule asks its own question next), or
    says that everything has been said; returns the events that record it."""
    text = content.load("follow_ups")
    remaining = next_layers(tracker)
    if not remaining:
        paragraphs = [lead, content.pick(text["nothing_left"], tracker)]
        dispatcher.utter_message(text=content.join(*filter(None, paragraphs)),
                                 buttons=menu(tracker) if offer_next else [])
        return []
    layer, after = remaining[0], remaining[1:]
    paragraphs = [lead, content.pick(layer_texts(layer), tracker)]
    buttons = []
    spec = content.load("deeper")[layer]
    if spec.get("button"):
        buttons.append(dict(spec["button"]))
    if offer_next and after:
        paragraphs.append(offer(after[0], tracker))
        buttons += [dict(text["more_button"]), dict(text["done_button"])]
    elif offer_next:
        buttons += menu(tracker)
    dispatcher.utter_message(text=content.join(*filter(None, paragraphs)), buttons=buttons)
    layers = list(dict.fromkeys((tracker.get_slot(LAYERS_TOLD) or []) + [layer]))
    return [SlotSet(LAYERS_TOLD, layers), content.remember_points(content.points("deeper", layer))]


def offered_more(tracker: Tracker) -> bool:
    """Whether Willow's last message offered the next layer (its "Tell me more" button)."""
    more = content.load("follow_ups")["more_button"]["payload"]
    bot = [e for e in content.session_events(tracker) if e.get("event") == "bot"]
    buttons = ((bot[-1].get("data") or {}).get("buttons") or []) if bot else []
    return any(b.get("payload") == more for b in buttons)


class ActionGoDeeper(Action):
    def name(self) -> Text:
        return "action_go_deeper"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        return go_deeper(dispatcher, tracker)


class ActionShortReply(Action):
    def name(self) -> Text:
        return "action_short_reply"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        text = content.load("follow_ups")
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        if intent == "affirm" and offered_more(tracker):  # "yeah" to "Would you like to hear ...?"
            return go_deeper(dispatcher, tracker)
        if last_bot_action(tracker) == self.name():
            dispatcher.utter_message(text=content.pick(text["quiet"], tracker))
            return []
        lead = content.pick(text["deny" if intent == "deny" else "acknowledge"], tracker)
        remaining = next_layers(tracker) if intent != "deny" and answers_given(tracker) else []
        if remaining:
            dispatcher.utter_message(text=f"{lead} {offer(remaining[0], tracker)}",
                                     buttons=[dict(text["more_button"]), dict(text["done_button"])])
        else:
            dispatcher.utter_message(text=f"{lead} {content.pick(text['menu_lead'], tracker)}", buttons=menu(tracker))
        return []
