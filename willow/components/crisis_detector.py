"""Deterministic risk detection with spaCy's Matcher and PhraseMatcher.

The second, independent safety layer next to the `crisis` intent of the classifier:
a statistical classifier can miss a phrasing it never saw, a pattern cannot. The
patterns live in ``content/crisis_patterns.yml`` so a clinician can read and extend
them. When a risk pattern matches (and no idiom exclusion overlaps it), the intent
becomes ``crisis`` whatever the classifier said. When the classifier said ``crisis``
but the only patterns found are idioms or denials ("bored to death", "i'm not
suicidal"), the classifier is overruled and its next intent is used. The ids of the
patterns and the classifier's own intent (never the text) are recorded under
``crisis_detector`` in the parse data, so evaluations can tell which layer decided.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Text, Tuple

import yaml
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.utils.spacy_utils import SpacyModel
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from willow.components.rule_component import RuleComponent

CRISIS = "crisis"
REPORT_KEY = "crisis_detector"
DEFAULT_PATTERNS = Path(__file__).resolve().parents[2] / "content" / "crisis_patterns.yml"
SPACY_DOC_KEY = "text_spacy_doc"  # set by SpacyNLP for the message text


class CrisisMatcher:
    """Finds risk groups in a spaCy Doc, ignoring matches covered by idiom exclusions."""

    def __init__(self, nlp: Any, spec: Dict[Text, Any]) -> None:
        from spacy.matcher import Matcher, PhraseMatcher

        self._nlp = nlp
        self._token = Matcher(nlp.vocab)
        self._lower = PhraseMatcher(nlp.vocab, attr="LOWER")
        self._lemma = PhraseMatcher(nlp.vocab, attr="LEMMA")
        self._kind: Dict[int, Tuple[Text, Text]] = {}  # match id -> (risk|exclusion, group id)
        for kind, groups in (("risk", spec.get("groups", [])), ("exclusion", spec.get("exclusions", []))):
            for group in groups:
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
        """Ids of the risk groups found in ``doc`` (sorted, without duplicates)."""
        return self.scan(doc)[0]

    def scan(self, doc: Any) -> Tuple[List[Text], List[Text]]:
        """(risk group ids, exclusion ids) found in ``doc``; risks under an exclusion are dropped."""
        risks: List[Tuple[Text, int, int]] = []
        exclusions: List[Tuple[Text, int, int]] = []
        for matcher in (self._lower, self._lemma, self._token):
            for match_id, start, end in matcher(doc):
                kind, group = self._kind[match_id]
                (risks if kind == "risk" else exclusions).append((group, start, end))
        spans = [(start, end) for _, start, end in exclusions]
        kept = {group for group, start, end in risks if not _overlaps((start, end), spans)}
        return sorted(kept), sorted({group for group, _, _ in exclusions})


def _overlaps(span: Tuple[int, int], others: Iterable[Tuple[int, int]]) -> bool:
    return any(span[0] < end and start < span[1] for start, end in others)


def load_spec(path: Path = DEFAULT_PATTERNS) -> Dict[Text, Any]:
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False, model_from="SpacyNLP"
)
class CrisisDetector(RuleComponent):
    """Overrides the intent with ``crisis`` when a risk pattern matches."""

    def __init__(self, config: Dict[Text, Any]) -> None:
        super().__init__(config)
        patterns = self._config["patterns"]
        self._spec = load_spec(Path(patterns) if patterns else DEFAULT_PATTERNS)
        self._matcher: Optional[CrisisMatcher] = None

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"patterns": None}  # None: content/crisis_patterns.yml

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
            groups, exclusions = self.matcher(model).scan(doc)
            classifier_intent = (message.get(INTENT) or {}).get("name")
            report: Dict[Text, Any] = {}
            if not groups and not exclusions and self._crisis_was_classifiers_guess(message):
                # Safety first: the classifier's best guess was crisis, but too close to the
                # next intent (or too unsure) for the FallbackClassifier, which made it
                # nlu_fallback. A crisis reply beats "could you say that another way?".
                classifier_intent, report["classifier_uncertain"] = CRISIS, True
                self._set_crisis(message)
            elif groups:
                self._set_crisis(message)
            elif exclusions and classifier_intent == CRISIS:
                # The classifier saw risk words, but the patterns recognise them as an
                # idiom or a denial ("bored to death", "i'm not suicidal"): trust the patterns.
                self._drop_crisis(message)
            else:
                continue
            message.set(
                REPORT_KEY,
                {"groups": groups, "exclusions": exclusions, "classifier_intent": classifier_intent, **report},
                add_to_output=True,
            )
        return messages

    @staticmethod
    def _crisis_was_classifiers_guess(message: Message) -> bool:
        """nlu_fallback from the FallbackClassifier, with crisis ranked first behind it."""
        ranking = message.get(INTENT_RANKING_KEY) or []
        return (
            (message.get(INTENT) or {}).get("name") == "nlu_fallback"
            and len(ranking) > 1
            and ranking[0].get("name") == "nlu_fallback"
            and ranking[1].get("name") == CRISIS
        )

    @staticmethod
    def _set_crisis(message: Message) -> None:
        intent = {"name": CRISIS, "confidence": 1.0}
        ranking = [intent] + [r for r in message.get(INTENT_RANKING_KEY) or [] if r.get("name") != CRISIS]
        message.set(INTENT, intent, add_to_output=True)
        message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)

    @staticmethod
    def _drop_crisis(message: Message) -> None:
        ranking = [r for r in message.get(INTENT_RANKING_KEY) or [] if r.get("name") != CRISIS]
        intent = ranking[0] if ranking else {"name": "nlu_fallback", "confidence": 0.0}
        message.set(INTENT, intent, add_to_output=True)
        message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)

    def process_training_data(self, training_data: TrainingData, model: SpacyModel) -> TrainingData:
        return training_data
