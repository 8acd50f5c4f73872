"""Languages other than English: which one a message is in, and risk written in it.

Willow converses in English only, but a person at risk who writes in Spanish, French,
Portuguese, German or Italian must still get crisis resources, in their language.
``content/languages/<code>.yml`` holds each language's risk patterns and replies (see the
README there); this module reads them for the NLU components (and for the generator of the
domain's crisis responses).

- :class:`LanguageIdentifier`: English, one of the supported languages, or another one.
  py3langid (a naive Bayes model shipped inside the package, nothing downloaded) names the
  language; it is trusted only where the words are not English words, because on two or three
  words it is often confidently wrong ("yes im safe" reads as German).
- :class:`ForeignRiskMatcher`: the clear-risk patterns of every supported language, on the
  message lowercased without accents. A match decides the language of the crisis reply even
  when the identifier is unsure: recall must not depend on a guess about a four-word message.
"""
from __future__ import annotations

import gzip
import importlib.util
import json
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Text, Tuple

import yaml

LANGUAGES_DIR = Path(__file__).resolve().parents[2] / "content" / "languages"
CRISIS_LINES_FILE = LANGUAGES_DIR.parent / "crisis_lines.yml"
ENGLISH = "en"
OTHER = "other"  # not English and not a language Willow has replies for

_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
# Languages the identifier chooses between: the supported ones, English, and the Latin-script
# languages most often mistaken for them (so Dutch is not read as German).
_CANDIDATES = ("en", "es", "fr", "pt", "de", "it", "nl", "ca", "ro", "pl", "sv", "da", "no",
               "id", "tl", "tr", "cs")


# English as typed in a hurry, and other English words the lemma table does not list.
_TEXT_SPEAK = frozenset(
    "im ive id ill dont cant wont didnt doesnt isnt arent wasnt wouldnt couldnt shouldnt thats "
    "whats theres hes shes youre theyre idk idc ikr tbh imo imho lol lmao omg pls plz thx ty u ur "
    "r ya yea yeah yep yup nope nah ok okay okie kk gonna wanna gotta kinda sorta xd bc cuz coz "
    "rn atm btw "
    # English words the lemma table lacks that foreign risk patterns could match.
    "suicidal suicidality".split()
)


def normalize(text: Text) -> Text:
    """Lowercase, accents removed, ``ß`` as ``ss``, curly apostrophes straight: the form the
    patterns of ``content/languages`` are written in."""
    text = text.lower().replace("ß", "ss").replace("\u2019", "'").replace("\u2018", "'")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def words_of(text: Text) -> Text:
    """The normalized words of ``text``, space-separated: "¡Sí!" -> "si"."""
    return " ".join(_WORD.findall(normalize(text)))


@dataclass
class Language:
    code: Text
    name: Text
    groups: List[Tuple[Text, "re.Pattern[str]"]] = field(default_factory=list)
    exclusions: Optional["re.Pattern[str]"] = None
    examples: List[Text] = field(default_factory=list)
    replies: Dict[Text, Any] = field(default_factory=dict)
    answers: Dict[Text, Text] = field(default_factory=dict)  # short reply -> intent


def _whole_words(patterns: Iterable[Text]) -> "re.Pattern[str]":
    return re.compile("|".join(f"(?<!\\w)(?:{p})(?!\\w)" for p in patterns))


def load_languages(directory: Path = LANGUAGES_DIR) -> Dict[Text, Language]:
    languages: Dict[Text, Language] = {}
    for path in sorted(directory.glob("*.yml")):
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        languages[spec["code"]] = Language(
            code=spec["code"],
            name=spec["name"],
            groups=[(g["id"], _whole_words(g["patterns"])) for g in spec.get("risk", [])],
            exclusions=_whole_words(spec["exclusions"]) if spec.get("exclusions") else None,
            examples=list(spec.get("examples", [])),
            replies=dict(spec.get("replies", {})),
            answers={words_of(reply): intent
                     for intent, replies in (spec.get("answers") or {}).items() for reply in replies},
        )
    return languages


class ForeignRiskMatcher:
    """Clear risk in the supported languages.

    In a message the identifier reads as English, a match counts only if it has a word that
    is not English: "suicide" and "suicidal" are also French and Spanish words, and English
    risk is the English patterns' job.
    """

    def __init__(self, languages: Dict[Text, Language], english_words: frozenset) -> None:
        self._languages = languages
        self._english = english_words

    def _foreign_words(self, span: Text) -> bool:
        return any(w not in self._english for w in _WORD.findall(span))

    def scan(self, text: Text, english: bool = False) -> Dict[Text, List[Text]]:
        """Each language whose patterns match: its matched group ids."""
        normalized = normalize(text)
        found: Dict[Text, List[Text]] = {}
        for code, language in self._languages.items():
            excluded = (
                [m.span() for m in language.exclusions.finditer(normalized)]
                if language.exclusions is not None else []
            )
            groups = [
                group_id
                for group_id, pattern in language.groups
                if any(not _overlaps(m.span(), excluded) and (not english or self._foreign_words(m.group()))
                       for m in pattern.finditer(normalized))
            ]
            if groups:
                found[code] = groups
        return found


def _overlaps(span: Tuple[int, int], others: List[Tuple[int, int]]) -> bool:
    return any(span[0] < end and start < span[1] for start, end in others)


def _stop_words(lang: Text) -> frozenset:
    # spaCy's stop-word file alone: importing spacy.lang.<lang> would also build that
    # language's tokenizer exceptions (French alone: 2.6 s of the server's start-up).
    import spacy

    path = Path(spacy.__file__).parent / "lang" / lang / "stop_words.py"
    spec = importlib.util.spec_from_file_location(f"willow_stop_words_{lang}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return frozenset(word.lower() for word in module.STOP_WORDS)


def _english_words() -> frozenset:
    """English word forms: both sides of spaCy's English lemma table."""
    import spacy_lookups_data

    path = Path(spacy_lookups_data.__file__).parent / "data" / "en_lemma_lookup.json.gz"
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        table = json.load(handle)
    return frozenset(table) | frozenset(table.values()) | _TEXT_SPEAK


def _country_names() -> frozenset:
    """The countries' names and aliases of content/crisis_lines.yml, word by word."""
    data = yaml.safe_load(CRISIS_LINES_FILE.read_text(encoding="utf-8"))
    names = [c["name"] for c in data["countries"]] + [a for c in data["countries"] for a in c["aliases"]]
    return frozenset(w.lower() for name in names for w in _WORD.findall(name))


@lru_cache(maxsize=1)
def shared_identifier() -> "LanguageIdentifier":
    """One identifier per process (the input guard and the crisis detector share it)."""
    return LanguageIdentifier(load_languages())


class LanguageIdentifier:
    """English, a supported language (its code), or :data:`OTHER`."""

    # Function words of these languages give away a Latin-script message that is not English
    # even when it is too short for the statistical identifier.
    STOP_WORD_LANGUAGES = ("es", "fr", "de", "it", "pt", "nl")

    def __init__(self, languages: Dict[Text, Language]) -> None:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier as Model

        self.languages = languages
        self.supported = frozenset(languages)
        self._model = Model.from_pickled_model(MODEL_FILE, norm_probs=True)
        self._model.set_languages(list(_CANDIDATES))
        self._english_stop = _stop_words("en")
        self.english = _english_words() | self._english_stop
        # Words shared with English ("a", "no", "me", "so") say nothing either way.
        self._stop = {lang: _stop_words(lang) - self._english_stop for lang in self.STOP_WORD_LANGUAGES}
        self.matcher = ForeignRiskMatcher(languages, self.english)
        self._countries = _country_names()

    def _place_names(self, text: Text, words: List[Text]) -> bool:
        """Only capitalised names, one of them a country Willow has lines for: a place, which
        says nothing about the language ("Perth, Western Australia" read as German and got
        the other-language notice instead of the Australian line)."""
        names = _WORD.findall(text)
        return (any(w in self._countries for w in words) and len(names) <= 5
                and all(n[0].isupper() for n in names))

    def risk(self, text: Text, identified: Text) -> Optional[Tuple[Text, List[Text]]]:
        """Clear risk in a supported language: (its code, group ids), or None. Where the
        patterns of several languages match ("suicidio" is Spanish, Italian and Portuguese),
        the identified language, else the one the model finds likelier."""
        found = self.matcher.scan(text, english=identified == ENGLISH)
        if not found:
            return None
        if identified in found:
            return identified, found[identified]
        ranks = dict(self._model.rank(text.lower()))
        code = max(found, key=lambda c: (len(found[c]), ranks.get(c, 0.0)))
        return code, found[code]

    def answer(self, text: Text) -> Optional[Tuple[Text, Optional[Text]]]:
        """A short yes / no / don't know in a supported language: (intent, its language, or
        None when several languages share the word, as Spanish and Italian share "si")."""
        words = words_of(text)
        found = {(language.answers[words], code) for code, language in self.languages.items()
                 if words in language.answers}
        intents = {intent for intent, _ in found}
        if len(intents) != 1:
            return None
        return intents.pop(), (found.pop()[1] if len(found) == 1 else None)

    def identify(self, text: Text) -> Text:
        letters = [ch for ch in text if ch.isalpha()]
        if not letters:
            return ENGLISH
        non_latin = sum(1 for ch in letters if "LATIN" not in unicodedata.name(ch, ""))
        if non_latin / len(letters) > 0.5:
            return OTHER
        words = [w.lower() for w in _WORD.findall(text)]
        # Function words: at least two of one other language, more than English ones.
        english_hits = sum(1 for w in words if w in self._english_stop)
        stop_hits = {lang: sum(1 for w in words if w in stop) for lang, stop in self._stop.items()}
        by_stop_words = max(stop_hits, key=stop_hits.get)
        foreign_by_stop_words = stop_hits[by_stop_words] >= 2 and stop_hits[by_stop_words] > english_hits
        # On the text as written: accents tell Spanish from Italian.
        code, probability = self._model.classify(text.lower())
        if foreign_by_stop_words:
            # The model's language unless another has more of its function words.
            if stop_hits.get(code, 0) < stop_hits[by_stop_words]:
                code = by_stop_words
        else:
            # Otherwise the model, only where most words are not English word forms and it is
            # sure: on a few words it is often confidently wrong ("yes im safe" reads as German).
            english_share = sum(1 for w in words if w in self.english) / len(words)
            any_stop_word = any(stop_hits.values())
            if (code == ENGLISH or probability < 0.9 or english_share > 1 / 3 or len(words) < 2
                    or (len(words) < 3 and not any_stop_word) or self._place_names(text, words)):
                return ENGLISH
        return code if code in self.supported else OTHER
