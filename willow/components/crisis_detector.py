"""Tiers of risk, decided by spaCy patterns and the classifier together.

The second, independent safety layer next to the classifier's ``crisis`` and
``possible_crisis`` intents: a statistical classifier can miss a phrasing it never saw, a
pattern cannot. The patterns live in ``content/crisis_patterns.yml`` so a clinician can read
and extend them. Runs last in the NLU pipeline and decides between:

- ``crisis`` (the crisis reply at once, from any state): a clear-risk pattern matched and no
  idiom exclusion overlaps it; or the classifier's best guess for the whole message is
  ``crisis`` with at least ``crisis_threshold`` confidence.
- ``possible_crisis`` (a direct, caring question first): a possible-risk pattern (means
  without words of dying, "i can't do this anymore", abuse named without saying it is
  happening now); a clear-risk pattern said of someone else ("my friend is suicidal"); or
  the classifier leans to risk but is unsure: the probability of ``crisis`` and ``possible_crisis`` together reaches
  ``possible_threshold`` for the whole message (also when the FallbackClassifier made it
  ``nlu_fallback``) or ``sentence_possible_threshold`` for one sentence of a long message.
  One sentence alone never gives the crisis reply at once: short sentences of ordinary
  messages look risky too often (measured on the real development set).
- ``past_risk`` (acknowledged, the lines once, then what they wrote about): a clear-risk
  pattern only ever said as past ("i self-harmed at 16, not in years"), nothing of now, and
  a classifier not sure of crisis whose intent is not a struggle of now (``other_struggle``)
  or unclear: those get ``possible_crisis``, the direct question.
- ``crisis`` also for clear risk written in Spanish, French, Portuguese, German or Italian
  (content/languages/, willow/components/languages.py), with the entity ``language``, so the
  crisis reply and the safety check's questions come in that language.
- neither: when the classifier said ``crisis`` but the patterns only found idioms or
  denials ("bored to death", "i'm not suicidal"), its next intent is used, unless it was
  at least ``crisis_threshold`` sure, which makes it a check-in.

The ids of the patterns, the tier and the classifier's own intent (never the text) are
recorded under ``crisis_detector`` in the parse data, so evaluations can tell which layer
decided.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Text, Tuple

import yaml
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.utils.spacy_utils import SpacyModel
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from willow.components.input_guard import LANGUAGE_KEY, set_language_entity
from willow.components.intent_classifier import SENTENCES_KEY
from willow.components.languages import ENGLISH, shared_identifier
from willow.components.rule_component import RuleComponent
from willow.components.sentences import sentence_spans
from rasa.nlu.constants import TOKENS_NAMES

CRISIS = "crisis"
POSSIBLE_CRISIS = "possible_crisis"
PAST_RISK = "past_risk"
RISK_INTENTS = (CRISIS, POSSIBLE_CRISIS)
# The classifier's intents for a message about a struggle of now (or one it cannot place).
PRESENT_STRUGGLE = ("other_struggle", "nlu_fallback", CRISIS, POSSIBLE_CRISIS)
NLU_FALLBACK = "nlu_fallback"
REPORT_KEY = "crisis_detector"
# Risk said only of someone else: the entity (no text) that chooses the check-in's wording
# for someone worried about another person (slot risk_about, domain/safety.yml).
RISK_ABOUT_ENTITY = "risk_about"
SOMEONE_ELSE = "someone_else"
SOMEONE_ELSE_GROUP = "someone_else_at_risk"  # content/crisis_patterns.yml: "my friend cuts herself"
DEFAULT_PATTERNS = Path(__file__).resolve().parents[2] / "content" / "crisis_patterns.yml"
SPACY_DOC_KEY = "text_spacy_doc"  # set by SpacyNLP for the message text


@dataclass
class Scan:
    """What the patterns found in one message: group ids (never text) and where."""
    crisis: List[Text] = field(default_factory=list)    # clear risk: the crisis reply at once
    possible: List[Text] = field(default_factory=list)  # possible risk: the check-in first
    past: List[Text] = field(default_factory=list)      # clear-risk groups said as past
    someone_else: List[Text] = field(default_factory=list)  # clear-risk groups said of someone else
    exclusions: List[Text] = field(default_factory=list)
    excluded_sentences: List[int] = field(default_factory=list)  # indexes of sentences with an exclusion


class CrisisMatcher:
    """Finds risk groups in a spaCy Doc, ignoring matches covered by idiom exclusions, and
    tells risk now from risk said as past ("i self-harmed at 16, not in years") or said of
    someone else ("my friend is suicidal"), which get the check-in instead."""

    def __init__(self, nlp: Any, spec: Dict[Text, Any]) -> None:
        from spacy.matcher import Matcher, PhraseMatcher

        self._nlp = nlp
        self._token = Matcher(nlp.vocab)
        self._lower = PhraseMatcher(nlp.vocab, attr="LOWER")
        self._lemma = PhraseMatcher(nlp.vocab, attr="LEMMA")
        self._kind: Dict[int, Tuple[Text, Text]] = {}  # match id -> (kind, group id)
        for group in spec.get("groups", []):
            self._add(group.get("tier", CRISIS), group)
        for kind in ("exclusions", "past_markers", "present_markers", "someone_else"):
            for group in spec.get(kind, []):
                self._add(kind, group)

    def _add(self, kind: Text, group: Dict[Text, Any]) -> None:
        key = f"{kind}:{group['id']}"
        self._kind[self._nlp.vocab.strings.add(key)] = (kind, group["id"])
        if group.get("phrases"):
            self._lower.add(key, [self._nlp.make_doc(p) for p in group["phrases"]])
        if group.get("lemma_phrases"):
            # Lemmas need the lemmatizer, not just the tokenizer.
            self._lemma.add(key, list(self._nlp.pipe(group["lemma_phrases"])))
        if group.get("patterns"):
            self._token.add(key, group["patterns"])

    def find(self, doc: Any) -> List[Text]:
        """Ids of the clear-risk groups found in ``doc`` (sorted, without duplicates)."""
        return self.scan(doc).crisis

    def scan(self, doc: Any, sentences: Optional[List[Tuple[int, int]]] = None) -> Scan:
        """``sentences``: character ranges of the message's sentences (default: one)."""
        found: Dict[Text, List[Tuple[Text, int, int]]] = defaultdict(list)  # kind -> (group, start, end)
        for matcher in (self._lower, self._lemma, self._token):
            for match_id, start, end in matcher(doc):
                kind, group = self._kind[match_id]
                found[kind].append((group, doc[start].idx, doc[end - 1].idx + len(doc[end - 1])))
        excluded = [(start, end) for _, start, end in found["exclusions"]]
        others = [(start, end) for _, start, end in found["someone_else"]]
        sentences = sentences or [(0, len(doc.text))]

        def sentence_of(start: int) -> Tuple[int, int]:
            return next((s for s in sentences if s[0] <= start < s[1]), (0, len(doc.text)))

        def said_as_past(start: int) -> bool:
            # The sentence speaks of the past ("at 16", "years ago") and not of now ("again").
            begin, end = sentence_of(start)
            inside = lambda kind: any(begin <= s < end for _, s, _ in found[kind])  # noqa: E731
            return inside("past_markers") and not inside("present_markers")

        scan = Scan(
            exclusions=sorted({group for group, _, _ in found["exclusions"]}),
            excluded_sentences=sorted({i for i, (begin, end) in enumerate(sentences)
                                       for _, start, _ in found["exclusions"] if begin <= start < end}),
        )
        crisis, possible, past, someone_else = set(), set(), set(), set()
        for tier in (CRISIS, POSSIBLE_CRISIS):
            for group, start, end in found[tier]:
                if _overlaps((start, end), excluded):
                    continue
                if tier == POSSIBLE_CRISIS:
                    possible.add(group)
                elif _overlaps((start, end), others):
                    someone_else.add(group)
                elif said_as_past(start):
                    past.add(group)
                else:
                    crisis.add(group)
        scan.crisis, scan.possible = sorted(crisis), sorted(possible)
        scan.past, scan.someone_else = sorted(past - crisis), sorted(someone_else - crisis)
        return scan


def _overlaps(span: Tuple[int, int], others: Iterable[Tuple[int, int]]) -> bool:
    return any(span[0] < end and start < span[1] for start, end in others)


def load_spec(path: Path = DEFAULT_PATTERNS) -> Dict[Text, Any]:
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False, model_from="SpacyNLP"
)
class CrisisDetector(RuleComponent):
    """Sets the intent to ``crisis`` or ``possible_crisis`` (see the module docstring)."""

    def __init__(self, config: Dict[Text, Any]) -> None:
        super().__init__(config)
        patterns = self._config["patterns"]
        self._spec = load_spec(Path(patterns) if patterns else DEFAULT_PATTERNS)
        self._matcher: Optional[CrisisMatcher] = None
        self._identifier = shared_identifier()

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            "patterns": None,  # None: content/crisis_patterns.yml
            "crisis_threshold": 0.5,
            "possible_threshold": 0.4,
            "sentence_possible_threshold": 0.9,
        }

    def matcher(self, model: SpacyModel) -> CrisisMatcher:
        # Built on first use: the matchers need the vocab of the loaded spaCy pipeline.
        if self._matcher is None:
            self._matcher = CrisisMatcher(model.model, self._spec)
        return self._matcher

    def process(self, messages: List[Message], model: SpacyModel) -> List[Message]:
        for message in messages:
            text = message.get(TEXT) or ""
            if not text or text.startswith("/"):
                continue
            # SpacyNLP lowercases before parsing (the lookup lemmatizer is case-sensitive).
            doc = message.get(SPACY_DOC_KEY) or model.model(text.lower())
            scan = self.matcher(model).scan(doc, self._sentence_ranges(message))
            tier, reason = self.decide(message, scan)
            classifier_intent = (message.get(INTENT) or {}).get("name")
            # Risk written in another language: the crisis reply in that language.
            language = message.get(LANGUAGE_KEY) or ENGLISH
            foreign = self._identifier.risk(text, language)
            if foreign is not None:
                tier, reason = CRISIS, "language"
                set_language_entity(message, foreign[0], "CrisisDetector")
            if tier is None and classifier_intent not in RISK_INTENTS:
                continue
            if tier is None:
                self._drop_risk(message)  # the classifier's risk guess, overruled by an idiom
            else:
                self._set(message, tier)
            if tier == POSSIBLE_CRISIS and foreign is None and self._only_someone_elses(scan):
                self._set_risk_about(message)
            report = {"tier": tier, "groups": scan.crisis, "possible_groups": scan.possible,
                      "past_groups": scan.past, "someone_else_groups": scan.someone_else,
                      "exclusions": scan.exclusions,
                      "classifier_intent": classifier_intent}
            if foreign is not None:
                report.update(language=foreign[0], language_groups=foreign[1])
            elif reason:
                report["classifier"] = reason
            message.set(REPORT_KEY, report, add_to_output=True)
        return messages

    def decide(self, message: Message, scan: Scan) -> Tuple[Optional[Text], Optional[Text]]:
        """(tier or None, which classifier signal decided it, if one did)."""
        if scan.crisis:
            return CRISIS, None
        ranking = {r.get("name"): r.get("confidence", 0.0) for r in message.get(INTENT_RANKING_KEY) or []}
        ranked = [r.get("name") for r in message.get(INTENT_RANKING_KEY) or [] if r.get("name") != NLU_FALLBACK]
        sure = ranked[:1] == [CRISIS] and ranking[CRISIS] >= self._config["crisis_threshold"]
        if sure and not scan.exclusions:
            return CRISIS, "whole"
        if scan.possible or scan.someone_else:
            return POSSIBLE_CRISIS, None
        if scan.past:
            # Said as past and nothing of now: acknowledged, the lines once, no emergency
            # framing, and the conversation goes on (data/rules/crisis.yml). Unless the rest of
            # the message is a struggle of now, or unclear: then the direct question, as the
            # past can be close again.
            intent = (message.get(INTENT) or {}).get("name")
            return (POSSIBLE_CRISIS if intent in PRESENT_STRUGGLE else PAST_RISK), None
        risk = ranking.get(CRISIS, 0.0) + ranking.get(POSSIBLE_CRISIS, 0.0)
        if sure or (risk >= self._config["possible_threshold"] and not scan.exclusions):
            # An idiom or denial ("bored to death", "i'm not suicidal") overrules an unsure
            # classifier, not a sure one.
            return POSSIBLE_CRISIS, "whole despite exclusion" if scan.exclusions else "whole"
        # One sentence of a long message, unless the idiom or denial is in that sentence.
        sentences = message.get(SENTENCES_KEY) or []
        if any(s["risk"] >= self._config["sentence_possible_threshold"]
               for i, s in enumerate(sentences) if i not in scan.excluded_sentences):
            return POSSIBLE_CRISIS, "sentence"
        return None, None

    @staticmethod
    def _sentence_ranges(message: Message) -> List[Tuple[int, int]]:
        tokens = message.get(TOKENS_NAMES[TEXT]) or []
        return [(tokens[begin].start, tokens[end - 1].end) for begin, end in sentence_spans(message)]

    @staticmethod
    def _set(message: Message, tier: Text) -> None:
        intent = {"name": tier, "confidence": 1.0}
        ranking = [intent] + [r for r in message.get(INTENT_RANKING_KEY) or [] if r.get("name") != tier]
        message.set(INTENT, intent, add_to_output=True)
        message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)

    @staticmethod
    def _only_someone_elses(scan: Scan) -> bool:
        """Risk heard only of someone else: their groups, and no possible risk of the writer's."""
        theirs = set(scan.possible) <= {SOMEONE_ELSE_GROUP}
        return theirs and bool(scan.someone_else or SOMEONE_ELSE_GROUP in scan.possible)

    @staticmethod
    def _set_risk_about(message: Message) -> None:
        entities = [e for e in message.get("entities") or [] if e.get("entity") != RISK_ABOUT_ENTITY]
        entities.append({"entity": RISK_ABOUT_ENTITY, "value": SOMEONE_ELSE, "start": 0, "end": 0,
                         "extractor": "CrisisDetector"})
        message.set("entities", entities, add_to_output=True)

    @staticmethod
    def _drop_risk(message: Message) -> None:
        """The best intent that is not a risk tier (nlu_fallback when there is none)."""
        ranking = [r for r in message.get(INTENT_RANKING_KEY) or [] if r.get("name") not in RISK_INTENTS]
        intent = ranking[0] if ranking else {"name": NLU_FALLBACK, "confidence": 0.0}
        message.set(INTENT, intent, add_to_output=True)
        message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)

    def process_training_data(self, training_data: TrainingData, model: SpacyModel) -> TrainingData:
        return training_data
