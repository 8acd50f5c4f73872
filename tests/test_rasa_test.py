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


def test_held_out_nlu_macro_f1_meets_the_floor(rasa_test, request):
    report = json.loads((RESULTS / "intent_report.json").read_text())
    macro_f1 = report["macro avg"]["f1-score"]
    floor = request.config.getoption("--nlu-floor")
    print(f"held-out macro-F1 {macro_f1:.3f} (floor {floor}), accuracy {report['accuracy']:.3f}")
    assert macro_f1 >= floor
