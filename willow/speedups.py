"""Four of Rasa 3.6's per-message costs, removed without changing what Rasa does.

Profiling the server under load (py-spy, 20 concurrent REST users; README, "How fast")
showed a third of its time in work that gives the same answer every time:

- ``RemoteAction._validate_action_result`` calls ``jsonschema.validate``, which checks the
  (constant) schema itself and builds a new validator for every custom action's answer.
  Here the schema is checked once and one validator is reused; answers are still
  validated, and an invalid one raises the same ``ValidationError`` with Rasa's hint.
- ``Event.resolve_by_type`` walks every subclass of ``Event`` (with ``inspect.isabstract``
  on each) for every event it deserialises, so reading a tracker costs
  O(events x event classes). Here a type name's class is remembered once found; unknown
  names still go through Rasa's own lookup (and its errors).
- ``DaskGraphRunner.run`` works out the part of the graph a target needs on every call
  (twice per prediction) and hands the graph to dask's synchronous scheduler, whose
  bookkeeping cost more than several of the components it runs (11% of the server's time).
  Here the plan (the needed nodes in dependency order) is worked out once per set of
  targets and the nodes are called one after the other, as dask's synchronous scheduler
  does, with the same inputs and the same errors.
- ``RulePolicy._get_possible_keys`` tests every rule key against the conversation's states,
  turn by turn, on every prediction (about 800 keys with the safety check's generated rules:
  9 ms of a turn). A key whose last state names a previous action or an intent other than the
  current ones cannot match (``_is_rule_applicable`` fails at the first turn), so here the keys
  are indexed once by both and only the others are tested, with Rasa's own test. The same set of
  keys comes out (among equally long keys Rasa's pick already depends on the process's hash
  seed).

Applied once, when Rasa imports Willow's components or channels. Remove a patch when
Rasa fixes the cost itself.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Text, Tuple, Type

from jsonschema.exceptions import best_match
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.core.policies.rule_policy import RulePolicy
from rasa.shared.core.constants import PREVIOUS_ACTION, SHOULD_NOT_BE_SET, USER
from rasa.shared.nlu.constants import ACTION_NAME, INTENT
from rasa.engine.exceptions import GraphRunError
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.shared.constants import DOCS_BASE_URL
from rasa.shared.core.events import Event

_validator = None


def _validate_action_result(self: RemoteAction, result: Dict[Text, Any]) -> bool:
    global _validator
    if _validator is None:
        schema = RemoteAction.action_response_format_spec()
        cls = validator_for(schema)
        cls.check_schema(schema)
        _validator = cls(schema)
    error = best_match(_validator.iter_errors(result))
    if error is not None:
        # The same message Rasa's own check gives.
        error.message += (
            f". Failed to validate Action server response from API, "
            f"make sure your response from the Action endpoint is valid. "
            f"For more information about the format visit "
            f"{DOCS_BASE_URL}/custom-actions"
        )
        raise error
    return True


_resolve_uncached = Event.resolve_by_type
_event_classes: Dict[Text, Type[Event]] = {}


def _resolve_by_type(
    type_name: Text, default: Optional[Type[Event]] = None
) -> Optional[Type[Event]]:
    cls = _event_classes.get(type_name)
    if cls is None:
        cls = _resolve_uncached(type_name, default)
        if cls is not None and cls is not default:
            _event_classes[type_name] = cls
    return cls


_run_with_dask = DaskGraphRunner.run  # Rasa's own, kept for comparison in the tests
Plan = List[Tuple[Text, Any, Tuple[Text, ...]]]


def _plan(runner: DaskGraphRunner, targets: List[Text]) -> Plan:
    """The nodes ``targets`` need, each after the nodes it needs: (name, node, needs)."""
    nodes = runner._graph_schema.minimal_graph_schema(targets).nodes
    ordered: Plan = []
    done: set = set()

    def visit(name: Text) -> None:
        if name in done or name not in nodes:
            return  # an input placeholder, or a node already planned
        done.add(name)
        needs = tuple(nodes[name].needs.values())
        for need in needs:
            visit(need)
        ordered.append((name, runner._instantiated_nodes[name], needs))

    for name in nodes:
        visit(name)
    return ordered


def _run_graph(
    self: DaskGraphRunner,
    inputs: Optional[Dict[Text, Any]] = None,
    targets: Optional[List[Text]] = None,
) -> Dict[Text, Any]:
    run_targets = targets if targets else self._graph_schema.target_names
    plans: Dict[Tuple[Text, ...], Plan] = self.__dict__.setdefault("_willow_plans", {})
    plan = plans.get(tuple(run_targets))
    if plan is None:
        plan = plans[tuple(run_targets)] = _plan(self, run_targets)

    if inputs:
        # Rasa's own check that no input value names a node (dask would substitute it).
        self._add_inputs_to_graph(inputs, {name: None for name, _, _ in plan})
    results: Dict[Text, Any] = {}
    for name, value in (inputs or {}).items():
        results[name] = (name, value)
    try:
        for name, node, needs in plan:
            # An unknown dependency reaches the node as its bare name, as with dask.
            results[name] = node(*(results.get(need, need) for need in needs))
    except RuntimeError as e:
        raise GraphRunError("Error running runner.") from e
    return dict(results[target] for target in run_targets)


class _RuleIndex:
    """The keys of one rule lookup, by the previous action and the intent their last state
    names (a key can only match a conversation whose last state has both)."""

    def __init__(self, policy: RulePolicy, lookup: Dict[Text, Text]) -> None:
        self.size = len(lookup)
        self.by_action: Dict[Tuple[Text, Optional[Text]], set] = {}  # (action, intent or None)
        self.always: set = set()  # no action named: conversation starts, action texts, "not set"
        for key in lookup:
            states = policy._rule_key_to_state(key)
            last = states[-1] if states else {}
            action = _named(last, PREVIOUS_ACTION, ACTION_NAME)
            if action is None:
                self.always.add(key)
            else:
                self.by_action.setdefault((action, _named(last, USER, INTENT)), set()).add(key)

    def candidates(self, states: List[Dict[Text, Any]]) -> set:
        if not states:
            return self.always.union(*self.by_action.values())
        action = (states[-1].get(PREVIOUS_ACTION) or {}).get(ACTION_NAME)
        intent = (states[-1].get(USER) or {}).get(INTENT)
        return self.always | self.by_action.get((action, None), set()) | (
            self.by_action.get((action, intent), set()) if intent is not None else set())


def _named(state: Dict[Text, Any], sub_state: Text, key: Text) -> Optional[Text]:
    """What a rule state requires ``state[sub_state][key]`` to be, or None (not required)."""
    value = (state.get(sub_state) or {}).get(key)
    return value if value and value != SHOULD_NOT_BE_SET else None


def _get_possible_keys(self: RulePolicy, lookup: Dict[Text, Text], states: List[Dict[Text, Any]]) -> set:
    indexes: Dict[int, _RuleIndex] = self.__dict__.setdefault("_willow_rule_indexes", {})
    index = indexes.get(id(lookup))
    if index is None or index.size != len(lookup):  # lookups are built once, at training or load
        index = indexes[id(lookup)] = _RuleIndex(self, lookup)
    possible_keys = index.candidates(states)
    for i, state in enumerate(reversed(states)):
        possible_keys = {key for key in possible_keys if self._is_rule_applicable(key, i, state)}
    return possible_keys


def apply() -> None:
    if getattr(RemoteAction, "_willow_speedups", False):
        return
    RemoteAction._validate_action_result = _validate_action_result
    Event.resolve_by_type = staticmethod(_resolve_by_type)
    DaskGraphRunner.run = _run_graph
    RulePolicy._rasa_get_possible_keys = RulePolicy._get_possible_keys  # kept for the tests
    RulePolicy._get_possible_keys = _get_possible_keys
    RemoteAction._willow_speedups = True

