"""Build the spaCy pipeline that ``SpacyNLP`` loads (see ``config.yml``).

Pretrained spaCy models cannot be downloaded on our machines, so the project builds
its own at set-up time from PyPI packages only: a blank English tokenizer plus the
lookup lemmatizer, whose tables come from ``spacy-lookups-data``.  Lemmas let
"cried", "crying" and "cries" share one feature in the count vectors.

Usage: python -m willow.spacy_pipeline [OUTPUT_DIR]
"""
from __future__ import annotations

import sys
from pathlib import Path

DEFAULT_OUTPUT = Path("models/spacy/en_willow")


def build(output: Path = DEFAULT_OUTPUT) -> Path:
    import spacy  # imported here: spaCy pulls in TensorFlow through thinc (slow)

    nlp = spacy.blank("en")
    nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
    nlp.initialize()  # loads the lookup tables from spacy-lookups-data
    nlp.meta["name"] = "willow"
    nlp.meta["description"] = "Blank English tokenizer with lookup lemmas, built by Willow's set-up."
    output.mkdir(parents=True, exist_ok=True)
    nlp.to_disk(output)
    return output


def main(argv: list[str]) -> int:
    output = Path(argv[1]) if len(argv) > 1 else DEFAULT_OUTPUT
    print(f"Building spaCy pipeline (blank English + lookup lemmatizer) in {output} ...")
    build(output)
    print("spaCy pipeline ready.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
