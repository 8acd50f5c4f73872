"""A graceful reply instead of silence when the action server is down or slow.

Rasa 3.6 runs a custom action with ``RemoteAction.run``; when the action server cannot be
reached, answers with an error or takes too long, the exception ends up in
``MessageProcessor._run_action``, which logs it and sends the user nothing. Rasa has no
hook for this case, so this module wraps ``RemoteAction.run`` (once, when Rasa loads
``willow.components`` with the model):

- connection refused or reset, or an HTTP error from the action server
  (every failure ``RemoteAction.run`` reports as a ``RasaException``, except the 400
  rejection Rasa handles itself), or no answer within ``WILLOW_ACTION_TIMEOUT`` seconds
  (default 10; Rasa's own limit is 5 minutes) -> the action returns one bot message from
  ``content/actions_unavailable.yml`` (with buttons to topics that need no action server),
  so the user gets that message, and the conversation goes on as if the action had run
  (a rule's next step, such as ``utter_followups``, still follows);
- a warning is logged with the action's name and the kind of error, never message text.

Domain responses (every crisis reply among them) never reach the action server, so they
are unaffected. Remove this module when Rasa offers a fallback for failed custom actions.
"""
from __future__ import annotations

import asyncio
import copy
import functools
import logging
import os
import random
from pathlib import Path
from typing import Any, Dict, List

import aiohttp
import yaml
from rasa.core.actions.action import ActionExecutionRejection, RemoteAction, create_bot_utterance
from rasa.shared.core.events import Event
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.exceptions import RasaException

logger = logging.getLogger(__name__)

CONTENT_FILE = Path(__file__).resolve().parent.parent / "content" / "actions_unavailable.yml"
TIMEOUT_VARIABLE = "WILLOW_ACTION_TIMEOUT"
DEFAULT_TIMEOUT = 10.0


def action_timeout() -> float:
    """Seconds to wait for the action server (``WILLOW_ACTION_TIMEOUT``, default 10)."""
    try:
        value = float(os.environ.get(TIMEOUT_VARIABLE, DEFAULT_TIMEOUT))
    except ValueError:
        logger.warning("%s is not a number; using %s seconds.", TIMEOUT_VARIABLE, DEFAULT_TIMEOUT)
        return DEFAULT_TIMEOUT
    return value if value > 0 else DEFAULT_TIMEOUT


def load_content(path: Path = CONTENT_FILE) -> Dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def unavailable_message(content: Dict[str, Any], tracker: DialogueStateTracker) -> Dict[str, Any]:
    """The message sent instead of the failed action's: text and buttons for the topic."""
    buttons = content["buttons"]
    topic = tracker.get_slot("topic")
    return {
        "text": random.choice(content["text"]),
        "buttons": copy.deepcopy(buttons.get(topic, buttons["default"])),
    }


def _action_server_failed(error: BaseException) -> bool:
    """Whether ``error`` means the action server could not be reached or did not answer."""
    if isinstance(error, ActionExecutionRejection):
        return False  # a deliberate rejection: Rasa lets another policy choose
    if isinstance(error, (asyncio.TimeoutError, aiohttp.ClientError)):
        return True
    # RemoteAction.run turns connection and HTTP errors into a RasaException.
    return isinstance(error, RasaException)


def _graceful(run: Any, content: Dict[str, Any]) -> Any:
    @functools.wraps(run)
    async def run_or_apologise(
        self: RemoteAction, output_channel: Any, nlg: Any, tracker: Any, domain: Any
    ) -> List[Event]:
        try:
            return await asyncio.wait_for(
                run(self, output_channel, nlg, tracker, domain), timeout=action_timeout()
            )
        except Exception as error:  # noqa: BLE001 - narrowed just below
            if not _action_server_failed(error):
                raise
            logger.warning(
                "Custom action '%s' failed (%s: the action server is down, slow or "
                "failing); sent the message from %s instead.",
                self.name(), type(error).__name__, CONTENT_FILE.name,
            )
            return [create_bot_utterance(unavailable_message(content, tracker))]

    run_or_apologise.willow_graceful = True  # type: ignore[attr-defined]
    return run_or_apologise


def install() -> None:
    """Wraps ``RemoteAction.run`` (idempotent)."""
    if not getattr(RemoteAction.run, "willow_graceful", False):
        # Read now, so a broken file fails at start-up rather than when the server is down.
        RemoteAction.run = _graceful(RemoteAction.run, load_content())  # type: ignore[method-assign]


install()
