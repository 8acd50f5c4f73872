"""Where the trained model for the current sources lives.

The model file name carries a hash of everything training reads, so ``make train``
retrains exactly when something changed and ``make run`` never serves a stale model.

Usage: python -m willow.model_files   (prints the expected model path)
"""
from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from typing import Iterable, Optional

ROOT = Path(__file__).resolve().parent.parent
MODELS_DIR = ROOT / "models"
SPACY_MODEL_DIR = MODELS_DIR / "spacy" / "en_willow"
# Everything `rasa train` reads, plus the code of our own components.
TRAINING_INPUTS = (
    "config.yml",
    "domain",
    "data",
    "willow/components",
    "willow/spacy_pipeline.py",
    "requirements/runtime.txt",
)


def _files(paths: Iterable[str]) -> list[Path]:
    found: list[Path] = []
    for rel in paths:
        path = ROOT / rel
        if path.is_dir():
            found.extend(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
        elif path.exists():
            found.append(path)
    return sorted(found)


def fingerprint(config: str = "config.yml") -> str:
    digest = hashlib.sha256()
    inputs = [config if rel == "config.yml" else rel for rel in TRAINING_INPUTS]
    for path in _files(inputs):
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def model_name(config: str = "config.yml") -> str:
    stem = Path(config).stem
    prefix = "willow" if stem == "config" else f"willow-{stem}"
    return f"{prefix}-{fingerprint(config)}"


def model_path(config: str = "config.yml") -> Path:
    return MODELS_DIR / f"{model_name(config)}.tar.gz"


def trained_model() -> Optional[Path]:
    """The model for the current data, or None after telling the user to train one (for the
    evaluation commands, which exit with status 2 then)."""
    model = model_path()
    if not model.exists():
        print(f"error: no model for the current data ({model.name}); run `make train` first", file=sys.stderr)
        return None
    return model


if __name__ == "__main__":
    print(model_path(*sys.argv[1:2]))
