"""Compares NLU pipelines on the held-out set tests/test_nlu.yml.

Trains an NLU model per configuration on data/nlu, evaluates it with `rasa test nlu`,
and prints (and writes to docs/nlu-comparison.md) a table of macro-F1, accuracy and
training time. Run through `make compare`.

With --cv it also runs 5-fold cross-validation on data/nlu (five more trainings per
pipeline: slow for TensorFlow-based pipelines, about 40 minutes for Rasa's default on 2 cores).

Usage: python scripts/compare_pipelines.py [--cv] [NAME=CONFIG ...]
       e.g. scripts/compare_pipelines.py "Rasa default=configs/rasa-default.yml"
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from willow.local_servers import ENV as SERVER_ENV  # noqa: E402
RASA = str(Path(sys.executable).parent / "rasa")
# Variants of Willow's pipeline. Rasa's default configuration is measured by `make bench`
# (willow/bench.py), together with speed; pass it here by name if you want it in this table too.
DEFAULT_CANDIDATES = {
    "Willow (config.yml)": "config.yml",
    "Willow without spaCy lemmas": "configs/no-spacy.yml",
}
# No training cache: training times must be real, not restored from .rasa/cache.
ENV = {**SERVER_ENV, "RASA_MAX_CACHE_SIZE": "0"}


def run(args: list[str], log: Path) -> None:
    with open(log, "a") as handle:
        completed = subprocess.run(args, cwd=ROOT, env=ENV, stdout=handle, stderr=subprocess.STDOUT)
    if completed.returncode != 0:
        sys.exit(f"error: {' '.join(args[:3])} failed; see {log}")


def macro_f1(report_dir: Path) -> tuple[float, float]:
    report = json.loads((report_dir / "intent_report.json").read_text())
    return report["macro avg"]["f1-score"], report["accuracy"]


def evaluate(name: str, config: str, workdir: Path, cv: bool) -> dict:
    slug = "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")
    log = workdir / f"{slug}.log"
    print(f"==> {name}: training on data/nlu ({config}) ...", flush=True)
    started = time.monotonic()
    run([RASA, "train", "nlu", "--config", config, "--nlu", "data/nlu", "--domain", "domain",
         "--out", str(workdir), "--fixed-model-name", slug], log)
    train_seconds = time.monotonic() - started
    print(f"    trained in {train_seconds:.0f} s; evaluating on tests/test_nlu.yml ...", flush=True)
    out = workdir / slug
    run([RASA, "test", "nlu", "--model", str(workdir / f"{slug}.tar.gz"),
         "--nlu", "tests/test_nlu.yml", "--out", str(out)], log)
    f1, accuracy = macro_f1(out)
    row = {"name": name, "config": config, "macro_f1": f1, "accuracy": accuracy,
           "train_s": train_seconds, "cv_f1": None}
    if cv:
        print("    5-fold cross-validation on data/nlu ...", flush=True)
        run([RASA, "test", "nlu", "--nlu", "data/nlu", "--config", config, "--cross-validation",
             "--folds", "5", "--out", str(out / "cv")], log)
        row["cv_f1"] = macro_f1(out / "cv")[0]
    return row


def table(rows: list[dict]) -> str:
    lines = [
        "| pipeline | config | held-out macro-F1 | held-out accuracy | 5-fold CV macro-F1 | NLU training time |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        cv = f"{r['cv_f1']:.3f}" if r["cv_f1"] is not None else "not run"
        lines.append(
            f"| {r['name']} | `{r['config']}` | {r['macro_f1']:.3f} | {r['accuracy']:.3f} | {cv} | {r['train_s']:.0f} s |"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    cv = "--cv" in argv
    argv = [a for a in argv if a != "--cv"]
    candidates = dict(arg.split("=", 1) for arg in argv) or DEFAULT_CANDIDATES
    with tempfile.TemporaryDirectory(prefix="willow-compare-") as tmp:
        rows = [evaluate(name, config, Path(tmp), cv) for name, config in candidates.items()]
    result = table(rows)
    print("\n" + result)
    if not argv:
        docs = ROOT / "docs" / "nlu-comparison.md"
        docs.parent.mkdir(exist_ok=True)
        docs.write_text(
            "# NLU pipelines compared on the held-out set\n\n"
            f"Written by `make compare` on {time.strftime('%Y-%m-%d')}: each pipeline trained on "
            "`data/nlu/`, evaluated on `tests/test_nlu.yml` (examples never seen in training). "
            "Training time on this machine (2 cores). Cross-validation (`make compare CV=--cv`) "
            "trains on four fifths of `data/nlu/` and tests on the rest, five times.\n\n" + result + "\n"
        )
        print(f"\nWritten to {docs.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
