"""Runs `rasa test` on the story tests and the held-out NLU set, as maintainers do by hand."""
from __future__ import annotations

import json
import subprocess

import pytest

from tests.conftest import ARTIFACTS, ROOT, SERVER_ENV, VENV_BIN

pytestmark = pytest.mark.slow
RESULTS = ARTIFACTS / "rasa-test"


@pytest.fixture(scope="module")
def rasa_test(model_path):
    """One `make rasa-test` run (one model load) for both stories and NLU."""
    completed = subprocess.run(
        ["make", "--no-print-directory", "rasa-test", f"RESULTS={RESULTS}", f"VENV={VENV_BIN.parent}"],
        cwd=ROOT, env=SERVER_ENV, capture_output=True, text=True,
    )
    (ARTIFACTS / "rasa-test.log").write_text(completed.stdout + completed.stderr)
    return completed


def test_stories_pass_with_no_prediction_errors(rasa_test):
    failed = (RESULTS / "failed_test_stories.yml").read_text()
    assert rasa_test.returncode == 0, failed + rasa_test.stdout[-2000:] + rasa_test.stderr[-2000:]
    assert "story:" not in failed


# The intents of issue 14 overlap the topics by design (a fear about crying, someone else's tears,
# "why?" and "ok" after an answer, all answered from context): each has a floor of its own, and the
# floor for the intents that were there before them stays where it was, so they cannot hide a loss.
FOLLOW_UP_INTENTS = ("ask_is_something_wrong", "about_someone_else", "acknowledge", "tell_me_more")
FOLLOW_UP_FLOOR = 0.8
AVERAGES = ("accuracy", "macro avg", "weighted avg", "micro avg")


def test_held_out_nlu_macro_f1_meets_the_floor(rasa_test, request):
    report = json.loads((RESULTS / "intent_report.json").read_text())
    f1 = {name: row["f1-score"] for name, row in report.items() if name not in AVERAGES}
    earlier = [score for name, score in f1.items() if name not in FOLLOW_UP_INTENTS]
    earlier_f1 = sum(earlier) / len(earlier)
    floor = request.config.getoption("--nlu-floor")
    print(f"held-out macro-F1 {report['macro avg']['f1-score']:.3f} over all {len(f1)} intents, accuracy "
          f"{report['accuracy']:.3f}; {earlier_f1:.3f} over the {len(earlier)} earlier ones (floor {floor}); "
          + ", ".join(f"{name} {f1[name]:.3f}" for name in FOLLOW_UP_INTENTS) + f" (floor {FOLLOW_UP_FLOOR})")
    assert earlier_f1 >= floor
    assert {name: f1[name] for name in FOLLOW_UP_INTENTS if f1[name] < FOLLOW_UP_FLOOR} == {}
