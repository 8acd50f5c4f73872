"""The benchmark (willow/bench.py): its pieces, and a smoke run of the whole of it."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from willow import bench

ROOT = Path(__file__).resolve().parents[2]


def test_the_smoke_run_sets_every_epochs_setting_in_a_copy(tmp_path):
    original = ROOT / "configs" / "rasa-default.yml"
    copy = bench.with_epochs(original, 1, tmp_path / "c.yml")
    data = yaml.safe_load(copy.read_text())
    epochs = [c["epochs"] for part in ("pipeline", "policies") for c in data[part] if "epochs" in c]
    assert epochs == [1, 1, 1, 1]  # DIET, ResponseSelector, UnexpecTED, TED
    assert "epochs: 100" in original.read_text()  # the original is untouched
    assert bench.with_epochs(original, None, tmp_path / "d.yml") == original


def test_the_smoke_run_caps_willows_classifier_iterations_in_a_copy(tmp_path):
    original = ROOT / "config.yml"
    copy = bench.with_epochs(original, None, tmp_path / "c.yml", max_iter=100)
    (classifier,) = [c for c in yaml.safe_load(copy.read_text())["pipeline"]
                     if c["name"].endswith("LogisticRegressionIntentClassifier")]
    assert classifier["max_iter"] == 100 and "max_iter" not in original.read_text()


def test_the_smoke_run_cross_validates_on_a_sample_of_each_intent(tmp_path):
    folder = ROOT / "data" / "nlu"
    assert bench.SMOKE.cv_every == 2
    assert bench.sampled_nlu(folder, 1, tmp_path / "x") == folder

    def counts(path):
        found = {}
        for f in sorted(path.glob("*.yml")):
            for block in yaml.safe_load(f.read_text(encoding="utf-8")).get("nlu") or []:
                if "intent" in block:
                    found[block["intent"]] = found.get(block["intent"], 0) + sum(
                        line.startswith("- ") for line in block["examples"].splitlines())
        return found

    full, sample = counts(folder), counts(bench.sampled_nlu(folder, 3, tmp_path / "cv"))
    assert set(sample) == set(full)
    assert all(2 <= sample[i] <= full[i] for i in full)
    assert sum(sample.values()) < sum(full.values()) / 2
    lookups = [b for b in yaml.safe_load((tmp_path / "cv" / "lookups.yml").read_text())["nlu"] if "lookup" in b]
    assert lookups  # lookup tables are kept whole


def test_only_the_smoke_run_trains_rasas_default_on_a_sample_with_every_story_and_rule(tmp_path):
    assert bench.training_data(1, tmp_path / "x") == ["data"] and not (tmp_path / "x").exists()
    sample, *rest = bench.training_data(4, tmp_path / "nlu")
    assert Path(sample) == tmp_path / "nlu" and (tmp_path / "nlu" / "lookups.yml").exists()
    assert "data/rules" in rest and "data/stories" in rest and "data/nlu" not in rest
    real = bench.Settings()  # make bench: all examples, plots, one configuration after the other
    assert (real.default_every, real.plots, real.parallel, real.blas_threads) == (1, True, False, None)
    assert bench.SMOKE.default_every > 1 and bench.SMOKE.parallel


def test_table_has_a_row_per_configuration_and_dashes_for_what_was_not_measured():
    settings = bench.Settings(folds=5, users=20)
    full = bench.Result("A", "a.yml", accuracy=0.98, macro_f1=0.975, cv_f1=0.8, crisis_recall=1.0, crisis_fp=0.012,
                        train_s=20.4, model_mb=2.31, startups=[5.0, 4.0, 9.0], one_user=[0.005] * 99 + [0.05],
                        load=[0.1] * 10, load_rate=123.4, load_messages=10, peak_mb=600.2)
    empty = bench.Result("B", "b.yml")
    lines = bench.table([full, empty], settings).splitlines()
    assert len(lines) == 4
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    assert "5-fold CV macro-F1" in header and "20 users: replies/s" in header
    row = dict(zip(header, (c.strip() for c in lines[2].strip("|").split("|"))))
    assert row["held-out accuracy"] == "0.980" and row["crisis recall"] == "100.0%"
    assert row["crisis false positives"] == "1.2%"
    assert row["start to first reply (s)"] == "5.0"  # the median
    assert row["1 user p50 (ms)"] == "5.0" and row["1 user p99 (ms)"] == "5.0" and row["1 user p95 (ms)"] == "5.0"
    assert row["20 users: replies/s"] == "123" and row["lost / errors"] == "0 / 0"
    blank = [c.strip() for c in lines[3].strip("|").split("|")]
    assert blank[0] == "B" and set(blank[1:]) == {"-"}
    assert "3-fold" in bench.table([full], bench.Settings(folds=3))


def test_peak_memory_is_read_from_proc():
    assert bench.peak_memory_mb(os.getpid()) > 10
    assert bench.peak_memory_mb(None) is None


@pytest.mark.parametrize("argv, message", [
    (["--smoke"], "--smoke needs --out"),
    (["--folds", "1"], "--folds must be at least 2"),
    (["--users", "0"], "--users must be at least 1"),
])
def test_bad_arguments_are_refused_with_a_reason(argv, message, capsys):
    with pytest.raises(SystemExit) as exited:
        bench.parse_args(argv)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.slow
def test_smoke_run_measures_both_configurations_end_to_end(tmp_path):
    """Every step of `make bench` with tiny settings: train, test, serve, load, write."""
    real_docs = ROOT / "docs" / "benchmarks.md"
    before = real_docs.stat().st_mtime_ns if real_docs.exists() else None
    completed = subprocess.run(
        [sys.executable, "-m", "willow.bench", "--smoke", "--out", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=1200,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "[bench" in completed.stderr and "training a full model" in completed.stderr  # progress
    rows = [line for line in completed.stdout.splitlines() if line.startswith("| ") and "---" not in line]
    header = [c.strip() for c in rows[0].strip("|").split("|")]
    results = {r["configuration"]: r for r in
               (dict(zip(header, (c.strip() for c in line.strip("|").split("|")))) for line in rows[1:])}
    assert set(results) == {"Willow (config.yml)", "Rasa default (rasa init)"}
    willow, default = results["Willow (config.yml)"], results["Rasa default (rasa init)"]
    # A real model, really evaluated: Willow's classifier needs no epochs, so its figures are real.
    assert float(willow["held-out macro-F1"]) > 0.9 and float(willow["2-fold CV macro-F1"]) > 0.6
    assert willow["crisis recall"] == "100.0%"
    assert default["2-fold CV macro-F1"] == "-"  # the smoke run cross-validates Willow only
    for row in (willow, default):
        assert float(row["start to first reply (s)"]) > 0.5
        assert 0 < float(row["1 user p50 (ms)"]) <= float(row["1 user p99 (ms)"])
        assert float(row["3 users: replies/s"]) > 0 and row["lost / errors"] == "0 / 0"
        assert float(row["peak memory (MB)"]) > 50 and float(row["model (MB)"]) > 0
    docs = (tmp_path / "benchmarks.md").read_text()
    assert "| Willow (config.yml) |" in docs and "SQLite" in docs and "benchmarks-latency.png" in docs
    assert (tmp_path / "benchmarks-latency.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # The real run's results stay as they were.
    assert (real_docs.stat().st_mtime_ns if real_docs.exists() else None) == before
