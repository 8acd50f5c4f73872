"""Benchmark: Willow's ``config.yml`` against Rasa's default configuration, side by side.

One run on one machine, the same domain, data and test sets for both configurations
(``configs/rasa-default.yml`` is what ``rasa init`` writes: DIET, TED, UnexpecTED,
RulePolicy). For each configuration it

1. trains a full model without Rasa's training cache: training time, model size;
2. runs ``rasa test nlu`` on ``tests/test_nlu.yml`` (held out from training): intent
   accuracy and macro-F1; and 5-fold cross-validation on ``data/nlu``: macro-F1;
3. starts the real Rasa server (REST channel, Willow's action server, conversations in
   memory, as ``rasa init`` bots keep them) several times: seconds from starting the
   process to the first reply;
4. sends every message of ``tests/crisis/`` as the first message of a new conversation:
   crisis recall and false-positive rate;
5. one user: REST latency p50/p95/p99 over multi-turn conversations (after a warm-up);
6. 20 concurrent users, each holding multi-turn conversations (``willow.load_test``, in
   rounds): answered messages per second, p95, errors and lost messages (every tracker is
   read back and checked);
7. the Rasa server's peak resident memory (``VmHWM``).

Willow's configuration is then measured once more as ``make run`` deploys it (SQLite
tracker store): latency and throughput only.

Prints a markdown table, writes it with the machine's details and a PNG chart of the
latency distributions to ``docs/benchmarks.md`` and ``docs/benchmarks-latency.png``.
Progress goes to stderr. A full run takes 60-90 minutes on 2 cores, most of it training
Rasa's default pipeline six times; ``--smoke`` runs every step with tiny settings (one
epoch, two folds, a few messages, Rasa's default trained on a quarter of the examples, both
configurations at once) and is part of ``make test``.

Usage:
  python -m willow.bench                    (make bench)
  python -m willow.bench --smoke --out DIR  (the smoke run: writes DIR/benchmarks.md)
"""
from __future__ import annotations

import argparse
import concurrent.futures
import functools
import hashlib
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional, Sequence

import requests
import yaml

from willow import load_test, local_servers, safety_eval

ROOT = Path(__file__).resolve().parent.parent
RASA = local_servers.RASA
# No training cache: training times must be real, not restored from .rasa/cache.
ENV = {**local_servers.ENV, "RASA_MAX_CACHE_SIZE": "0"}
CONFIGS = {
    "Willow (config.yml)": "config.yml",
    "Rasa default (rasa init)": "configs/rasa-default.yml",
}
FIRST_MESSAGE = "hello"


@dataclass
class Settings:
    folds: int = 5
    startups: int = 3
    messages: int = 200  # one-user latency, after `warmup` more
    warmup: int = 20
    users: int = 20
    turns: int = 10
    rounds: int = 3
    crisis_limit: Optional[int] = None  # per file; None: all
    epochs: Optional[int] = None  # override every `epochs:` (smoke run only)
    cv_every: int = 1  # cross-validate on every n-th example of each intent (smoke run: half)
    max_iter: Optional[int] = None  # cap Willow's classifier's solver iterations (smoke run only)
    # Smoke run only: train Rasa's default on every n-th example of each intent (its one epoch
    # makes its NLU figures meaningless anyway; Willow's, which the smoke test checks, keep all).
    default_every: int = 1
    plots: bool = True  # `rasa test nlu`'s confusion matrices and histograms (unread by the bench)
    parallel: bool = False  # both configurations at once, each in one thread (smoke run only)
    # OPENBLAS_NUM_THREADS for training and tests: the smoke run's 1 keeps idle BLAS threads from
    # spinning (a fifth of Willow's training CPU time) on the core the other configuration uses.
    blas_threads: Optional[int] = None


# max_iter 30: Willow's held-out macro-F1 0.945 (0.968 with 100), CV macro-F1 about 0.64 as with
# 100 (shuffled folds: 0.63-0.665 seen), in a third of the solver's time. A quarter of the examples halves DIET's one epoch (most of the rest is
# tracing TensorFlow). Side by side the two configurations (mostly one core each, about as long)
# slow each other down: the smoke run's timings need only be real, not comparable.
SMOKE = Settings(folds=2, startups=1, messages=10, warmup=2, users=3, turns=3, rounds=1,
                 crisis_limit=5, epochs=1, cv_every=2, max_iter=30, default_every=4, plots=False,
                 parallel=True, blas_threads=1)


@dataclass
class Result:
    name: str
    config: str
    accuracy: Optional[float] = None
    macro_f1: Optional[float] = None
    cv_f1: Optional[float] = None
    crisis_recall: Optional[float] = None
    crisis_fp: Optional[float] = None
    train_s: Optional[float] = None
    model_mb: Optional[float] = None
    startups: List[float] = field(default_factory=list)
    one_user: List[float] = field(default_factory=list)  # seconds
    load: List[float] = field(default_factory=list)  # seconds, every answered turn
    load_rate: Optional[float] = None  # answered messages per second
    load_errors: int = 0
    load_lost: int = 0
    load_messages: int = 0
    peak_mb: Optional[float] = None
    reused: bool = False  # training and NLU figures from an earlier run (--resume)


class Progress:
    def __init__(self) -> None:
        self.started = time.monotonic()

    def __call__(self, text: str) -> None:
        elapsed = int(time.monotonic() - self.started)
        print(f"[bench {elapsed // 60:02d}:{elapsed % 60:02d}] {text}", file=sys.stderr, flush=True)


def run(args: List[str], log: Path, blas_threads: Optional[int] = None) -> None:
    env = ENV if blas_threads is None else {**ENV, "OPENBLAS_NUM_THREADS": str(blas_threads)}
    with open(log, "a") as handle:
        handle.write(f"\n$ {' '.join(args)}\n")
        handle.flush()
        completed = subprocess.run(args, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT)
    if completed.returncode != 0:
        raise SystemExit(f"error: `{' '.join(args[:3])}` failed; see {log}")


def slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")


def with_epochs(config: Path, epochs: Optional[int], out: Path, max_iter: Optional[int] = None) -> Path:
    """``config``, or a copy whose every ``epochs`` is ``epochs`` and whose logistic-regression
    classifier stops after ``max_iter`` iterations (for the smoke run)."""
    if epochs is None and max_iter is None:
        return config
    data = yaml.safe_load(config.read_text())
    for part in ("pipeline", "policies"):
        for component in data.get(part) or []:
            if "epochs" in component and epochs is not None:
                component["epochs"] = epochs
            if component.get("name", "").endswith("LogisticRegressionIntentClassifier") and max_iter is not None:
                component["max_iter"] = max_iter
    out.write_text(yaml.safe_dump(data, sort_keys=False))
    return out


def sampled_nlu(folder: Path, every: int, out: Path) -> Path:
    """``folder``, or a copy keeping every ``every``-th example of each intent (at least two;
    lookups, synonyms and regexes whole): the smoke run cross-validates on half."""
    if every == 1:
        return folder
    out.mkdir(parents=True, exist_ok=True)
    for path in sorted(folder.glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for block in data.get("nlu") or []:
            if "intent" in block and "examples" in block:
                lines = [line for line in block["examples"].splitlines() if line.startswith("- ")]
                block["examples"] = "\n".join(lines[::every] if len(lines) >= 2 * every else lines[:2]) + "\n"
        (out / path.name).write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return out


def training_data(every: int, out: Path) -> List[str]:
    """``rasa train --data``: ``data``, or its stories and rules and ``sampled_nlu`` of its NLU data."""
    if every == 1:
        return ["data"]
    rest = [str(p.relative_to(ROOT)) for p in sorted((ROOT / "data").iterdir()) if p.is_dir() and p.name != "nlu"]
    return [str(sampled_nlu(ROOT / "data" / "nlu", every, out)), *rest]


def intent_scores(report_dir: Path) -> tuple:
    report = json.loads((report_dir / "intent_report.json").read_text())
    return report["accuracy"], report["macro avg"]["f1-score"]


def percentile(values: Sequence[float], p: float) -> Optional[float]:
    return load_test.percentile(sorted(values), p)


def peak_memory_mb(pid: Optional[int]) -> Optional[float]:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, TypeError):
        pass
    return None


def time_to_first_reply(model: Path, logs: Path, actions_url: str, endpoints: Optional[Path]) -> float:
    """Seconds from starting one more ``rasa run`` to its first REST reply."""
    started = time.perf_counter()
    with local_servers.rasa_servers(model, logs / "startup", actions_url, endpoints=endpoints) as (servers,):
        return first_reply(servers, started)


def one_user_latencies(servers: local_servers.Servers, messages: int, warmup: int, seed: int = 7) -> List[float]:
    """One user at a time, multi-turn conversations from the load test's paths."""
    rng, session, latencies = random.Random(seed), requests.Session(), []
    while len(latencies) < messages + warmup:
        sender = f"bench-one-{uuid.uuid4().hex}"
        for text in rng.choice(load_test.PATHS):
            started = time.perf_counter()
            reply = session.post(f"{servers.url}/webhooks/rest/webhook", headers=servers.rest_headers,
                                 json={"sender": sender, "message": text}, timeout=60)
            reply.raise_for_status()
            latencies.append(time.perf_counter() - started)
    return latencies[warmup:warmup + messages]


def crisis_rates(servers: local_servers.Servers, limit: Optional[int]) -> tuple:
    report = safety_eval.evaluate(servers, "tests/crisis", limit=limit)
    return report.recall, report.false_positive_rate


def measure_load(result: Result, servers: local_servers.Servers, settings: Settings, say) -> None:
    import asyncio

    latencies, answered, duration = [], 0, 0.0
    for number in range(1, settings.rounds + 1):
        report = asyncio.run(load_test.run(
            servers.url, servers.token, settings.users, settings.turns, seed=number, progress_every=0,
            rest_token=servers.rest_token,
        ))
        turns = report.turns()
        latencies += [t.latency for t in turns if not t.error and t.latency is not None]
        answered += sum(1 for t in turns if not t.error)
        duration += report.duration
        result.load_errors += report.errors()
        result.load_lost += report.lost()
        result.load_messages += len(turns)
        say(f"  load round {number}/{settings.rounds}: {len(turns)} messages, "
            f"{sum(1 for t in turns if not t.error) / report.duration:.0f}/s, errors {report.errors()}, lost {report.lost()}")
    result.load, result.load_rate = latencies, answered / duration if duration else None


def first_reply(servers: local_servers.Servers, started: float, timeout: float = 300) -> float:
    """Seconds from ``started`` (perf_counter) until the server answers a first message."""
    while time.perf_counter() - started < timeout:
        try:
            reply = requests.post(f"{servers.url}/webhooks/rest/webhook", headers=servers.rest_headers,
                                  json={"sender": uuid.uuid4().hex, "message": FIRST_MESSAGE}, timeout=30)
            if reply.ok and reply.json():
                return time.perf_counter() - started
        except requests.RequestException:
            pass
        time.sleep(0.05)
    raise SystemExit(f"error: no reply within {timeout:.0f} s of starting; see {servers.rasa_log}")


def measure_server(result: Result, model: Path, workdir: Path, actions_url: str, settings: Settings,
                   say, endpoints: Optional[Path] = None, quality: bool = True) -> None:
    logs = workdir / slug(result.name)
    logs.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with local_servers.rasa_servers(model, logs, actions_url, endpoints=endpoints) as (servers,):
        startup = first_reply(servers, started)
        if quality:
            # This start counts, and more (while this server idles) for a steadier median.
            result.startups.append(startup)
            say(f"  start-up 1/{settings.startups}: first reply after {startup:.1f} s")
            for number in range(2, settings.startups + 1):
                result.startups.append(time_to_first_reply(model, logs, actions_url, endpoints))
                say(f"  start-up {number}/{settings.startups}: first reply after {result.startups[-1]:.1f} s")
            say("  crisis messages (tests/crisis) ...")
            result.crisis_recall, result.crisis_fp = crisis_rates(servers, settings.crisis_limit)
        say(f"  one user: {settings.messages} messages ...")
        result.one_user = one_user_latencies(servers, settings.messages, settings.warmup)
        say(f"  {settings.users} concurrent users x {settings.turns} turns, {settings.rounds} rounds ...")
        measure_load(result, servers, settings, say)
        result.peak_mb = peak_memory_mb(servers.pid)


QUALITY = ("train_s", "model_mb", "accuracy", "macro_f1", "cv_f1")


def inputs_fingerprint(config: str, settings: Settings) -> str:
    """What the training and NLU figures depend on: config, domain, data, code, test set, folds."""
    from willow import model_files

    digest = model_files.fingerprint(config)
    test_set = hashlib.sha256((ROOT / "tests" / "test_nlu.yml").read_bytes()).hexdigest()[:12]
    return (f"{digest}-{test_set}-folds{settings.folds}-epochs{settings.epochs}"
            f"-iter{settings.max_iter}-cv{settings.cv_every}"
            # Only when sampled, so that earlier runs' saved figures stay valid for --resume.
            + ("" if settings.default_every == 1 else f"-every{settings.default_every}"))


def bench_config(name: str, config: str, workdir: Path, actions_url: str, settings: Settings, say,
                 cross_validate: bool = True, resume: bool = False, train_every: int = 1) -> Result:
    result = Result(name, config)
    log = workdir / f"{slug(name)}.log"
    effective = with_epochs(ROOT / config, settings.epochs, workdir / f"{slug(name)}-config.yml", settings.max_iter)
    model = workdir / f"{slug(name)}.tar.gz"
    saved = workdir / f"{slug(name)}-quality.json"
    fingerprint = inputs_fingerprint(config, settings)
    if resume and saved.exists() and model.exists():
        previous = json.loads(saved.read_text())
        if previous.get("fingerprint") == fingerprint and (previous.get("cv_f1") is not None or not cross_validate):
            for key in QUALITY:
                setattr(result, key, previous.get(key))
            result.reused = True
            say(f"{name}: training and NLU figures from {saved} (same config, data and code); "
                "measuring the server again")
            measure_server(result, model, workdir, actions_url, settings, say)
            return result
        say(f"{name}: {saved.name} is for other inputs: measuring everything")

    data = training_data(train_every, workdir / f"{slug(name)}-train-nlu")
    sample = "" if train_every == 1 else f", every {train_every}th NLU example"
    say(f"{name}: training a full model ({config}{sample}) ...")
    started = time.monotonic()
    run([RASA, "train", "--config", str(effective), "--domain", "domain", "--data", *data,
         "--out", str(workdir), "--fixed-model-name", slug(name)], log, settings.blas_threads)
    result.train_s = time.monotonic() - started
    result.model_mb = model.stat().st_size / 1e6
    say(f"  trained in {result.train_s:.0f} s; held-out NLU test (tests/test_nlu.yml) ...")
    no_plot = [] if settings.plots else ["--no-plot"]
    run([RASA, "test", "nlu", "--model", str(model), "--nlu", "tests/test_nlu.yml",
         "--out", str(workdir / f"{slug(name)}-nlu"), *no_plot], log, settings.blas_threads)
    result.accuracy, result.macro_f1 = intent_scores(workdir / f"{slug(name)}-nlu")
    say(f"  held-out accuracy {result.accuracy:.3f}, macro-F1 {result.macro_f1:.3f}")
    if cross_validate:
        say(f"  {settings.folds}-fold cross-validation ...")
        cv_data = sampled_nlu(ROOT / "data" / "nlu", settings.cv_every, workdir / f"{slug(name)}-cv-data")
        run([RASA, "test", "nlu", "--nlu", str(cv_data), "--config", str(effective), "--cross-validation",
             "--folds", str(settings.folds), "--out", str(workdir / f"{slug(name)}-cv"), *no_plot], log,
            settings.blas_threads)
        result.cv_f1 = intent_scores(workdir / f"{slug(name)}-cv")[1]
        say(f"  CV macro-F1 {result.cv_f1:.3f}")
    saved.write_text(json.dumps({"fingerprint": fingerprint, **{k: getattr(result, k) for k in QUALITY}}))
    measure_server(result, model, workdir, actions_url, settings, say)
    return result


# Table ------------------------------------------------------------------------------------

def fmt(value: Optional[float], pattern: str) -> str:
    return "-" if value is None else pattern.format(value)


def ms(value: Optional[float]) -> str:
    return fmt(None if value is None else value * 1000, "{:.1f}")


COLUMNS = [
    ("configuration", lambda r: r.name),
    ("held-out accuracy", lambda r: fmt(r.accuracy, "{:.3f}")),
    ("held-out macro-F1", lambda r: fmt(r.macro_f1, "{:.3f}")),
    ("k-fold CV macro-F1", lambda r: fmt(r.cv_f1, "{:.3f}")),
    ("crisis recall", lambda r: fmt(None if r.crisis_recall is None else r.crisis_recall * 100, "{:.1f}%")),
    ("crisis false positives", lambda r: fmt(None if r.crisis_fp is None else r.crisis_fp * 100, "{:.1f}%")),
    ("training (s)", lambda r: fmt(r.train_s, "{:.0f}")),
    ("model (MB)", lambda r: fmt(r.model_mb, "{:.1f}")),
    ("start to first reply (s)", lambda r: fmt(statistics.median(r.startups) if r.startups else None, "{:.1f}")),
    ("1 user p50 (ms)", lambda r: ms(percentile(r.one_user, 50))),
    ("1 user p95 (ms)", lambda r: ms(percentile(r.one_user, 95))),
    ("1 user p99 (ms)", lambda r: ms(percentile(r.one_user, 99))),
    ("20 users: replies/s", lambda r: fmt(r.load_rate, "{:.0f}")),
    ("20 users p95 (ms)", lambda r: ms(percentile(r.load, 95))),
    ("lost / errors", lambda r: f"{r.load_lost} / {r.load_errors}" if r.load_messages else "-"),
    ("peak memory (MB)", lambda r: fmt(r.peak_mb, "{:.0f}")),
]


def table(results: List[Result], settings: Settings) -> str:
    names = [name.replace("20 users", f"{settings.users} users").replace("k-fold", f"{settings.folds}-fold")
             for name, _ in COLUMNS]
    lines = ["| " + " | ".join(names) + " |", "| --- |" + " ---: |" * (len(COLUMNS) - 1)]
    lines += ["| " + " | ".join(column(r) for _, column in COLUMNS) + " |" for r in results]
    return "\n".join(lines)


def chart(results: List[Result], path: Path, users: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for axis, attribute, title in (
        (axes[0], "one_user", "One user (REST, multi-turn)"),
        (axes[1], "load", f"{users} concurrent users"),
    ):
        for result in results:
            values = sorted(v * 1000 for v in getattr(result, attribute))
            if values:
                axis.plot(values, [(i + 1) / len(values) for i in range(len(values))], label=result.name)
        axis.set_xscale("log")
        axis.set_xlabel("reply latency (ms, log scale)")
        axis.set_ylabel("share of replies at most this fast")
        axis.set_title(title)
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize=8, loc="best")
    figure.suptitle("Willow vs Rasa's default configuration: latency distributions")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "unknown CPU")
    memory = next((int(line.split()[1]) / 1024 / 1024 for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal")), 0)
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True).stdout.strip() or "unknown"
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True,
                               text=True).stdout.strip()
    except OSError:
        commit, dirty = "unknown", ""
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"{os.cpu_count()} cores ({cpu}), {memory:.0f} GiB, Python {platform.python_version()}, "
            f"commit {commit}{' with uncommitted changes' if dirty else ''}; load average at the end "
            f"(1/5/15 min) {load}")


def write_docs(results: List[Result], deployed: Optional[Result], settings: Settings, out: Path,
               minutes: float) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    png = out.with_name(out.stem + "-latency.png")
    chart(results + ([deployed] if deployed else []), png, settings.users)
    lines = [
        "# Benchmark: Willow's configuration against Rasa's default",
        "",
        f"Written by `make bench` on {time.strftime('%Y-%m-%d %H:%M %Z')} in {minutes:.0f} minutes. "
        f"Machine: {machine()}.",
        "",
        table(results, settings),
        "",
        "How each figure is measured (`python -m willow.bench --help`, docstring of `willow/bench.py`):",
        "",
        "- Both configurations are trained on the same `domain/` and `data/`, without Rasa's training "
        "cache, and served by the same Rasa 3.6.21 server with Willow's channels and action server. "
        "Conversations are kept in memory, as in a `rasa init` bot.",
        "- Held-out: `tests/test_nlu.yml`, messages never used in training. Cross-validation: "
        f"{settings.folds} folds over `data/nlu/`. Crisis: every message of `tests/crisis/` (risk and "
        "hard negatives) as the first message of a new conversation through the REST channel; "
        "caught when the bot sent the crisis response or (Willow only) asked the direct check-in "
        "question first; a hard negative is a false positive when it got the crisis response.",
        f"- Start-up: seconds from starting `rasa run` to the first REST reply, median of "
        f"{settings.startups} starts.",
        f"- One user: {settings.messages} REST messages, one at a time, in multi-turn conversations "
        f"(after {settings.warmup} warm-up messages).",
        f"- Concurrent users: {settings.users} users at once, each a {settings.turns}-turn conversation "
        f"over REST, {settings.rounds} rounds with new conversations; replies/s counts answered user "
        "messages (each gets one or more bot messages); afterwards every tracker is read back: "
        "lost counts messages missing or unanswered there.",
        "- Peak memory: the Rasa server process's peak resident set size (`VmHWM`), at the end.",
        "",
        *([f"- Smoke run: Rasa's default was trained on every {settings.default_every}th example of each "
            "intent, and both configurations were measured at the same time.", ""]
          if settings.default_every > 1 or settings.parallel else []),
        *(["- Training and NLU figures (accuracy to model size) come from an earlier run of this command "
            "on the same config, data, code and test set (`--resume`); the server figures from this run.", ""]
          if any(r.reused for r in results) else []),
        f"![latency distributions]({png.name})",
        "",
    ]
    if deployed:
        lines += [
            "## As deployed by `make run` (SQLite tracker store)",
            "",
            "The same Willow model with conversations in the SQLite file `make run` uses: every turn "
            "reads and writes the database.",
            "",
            "| configuration | 1 user p50 (ms) | 1 user p95 (ms) | 1 user p99 (ms) "
            f"| {settings.users} users: replies/s | {settings.users} users p95 (ms) | lost / errors "
            "| peak memory (MB) |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
            f"| {deployed.name} | {ms(percentile(deployed.one_user, 50))} | {ms(percentile(deployed.one_user, 95))} "
            f"| {ms(percentile(deployed.one_user, 99))} | {fmt(deployed.load_rate, '{:.0f}')} "
            f"| {ms(percentile(deployed.load, 95))} | {deployed.load_lost} / {deployed.load_errors} "
            f"| {fmt(deployed.peak_mb, '{:.0f}')} |",
            "",
        ]
    out.write_text("\n".join(lines))


# Main -------------------------------------------------------------------------------------

def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m willow.bench", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="See the module docstring (willow/bench.py) for what each figure means.")
    parser.add_argument("--smoke", action="store_true",
                        help="every step with tiny settings (1 epoch, 2 folds, a few messages): checks the benchmark works")
    parser.add_argument("--out", type=Path, help="where to write benchmarks.md and the chart "
                        "(default: docs/; with --smoke: required)")
    parser.add_argument("--folds", type=int, help="cross-validation folds (default 5)")
    parser.add_argument("--users", type=int, help="concurrent users (default 20)")
    parser.add_argument("--turns", type=int, help="turns per conversation in the load test (default 10)")
    parser.add_argument("--rounds", type=int, help="load test rounds (default 3)")
    parser.add_argument("--startups", type=int, help="server starts to time (default 3)")
    parser.add_argument("--messages", type=int, help="one-user latency messages (default 200)")
    parser.add_argument("--workdir", type=Path, help="keep models, reports and logs here (default: a temp dir, deleted)")
    parser.add_argument("--resume", action="store_true",
                        help="with --workdir: reuse the training and NLU figures an earlier run left there for the "
                        "same config, data and code, and measure only the servers again (for example on a quieter machine)")
    args = parser.parse_args(argv)
    if args.resume and not args.workdir:
        parser.error("--resume needs the --workdir of an earlier run")
    if args.smoke and not args.out:
        parser.error("--smoke needs --out: a smoke run must not overwrite docs/benchmarks.md")
    for name in ("folds", "users", "turns", "rounds", "startups", "messages"):
        value = getattr(args, name)
        if value is not None and value < (2 if name == "folds" else 1):
            parser.error(f"--{name} must be at least {2 if name == 'folds' else 1}")
    return args


def measure_deployed(workdir: Path, actions_url: str, settings: Settings, say) -> Result:
    """Willow's model (trained by ``bench_config``) with the SQLite tracker store of ``make run``."""
    say("Willow as `make run` deploys it (SQLite tracker store) ...")
    deployed = Result("Willow (config.yml), SQLite", "config.yml")
    sqlite = workdir / "sqlite-endpoints.yml"
    sqlite.write_text(yaml.safe_dump({"tracker_store": {
        "type": "willow.tracker_store.ForgetfulSQLTrackerStore", "dialect": "sqlite",
        "db": str(workdir / "bench.db")}}))
    measure_server(deployed, workdir / f"{slug(next(iter(CONFIGS)))}.tar.gz", workdir, actions_url,
                   settings, say, endpoints=sqlite, quality=False)
    return deployed


def named(say, name: str):
    """``say`` naming the configuration on its indented lines (which interleave when in parallel)."""
    return lambda text: say(f"  [{name}] {text.strip()}" if text.startswith("  ") else text)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    settings = SMOKE if args.smoke else Settings()
    for name in ("folds", "users", "turns", "rounds", "startups", "messages"):
        if getattr(args, name) is not None:
            setattr(settings, name, getattr(args, name))
    out = (args.out or ROOT / "docs") / "benchmarks.md"
    say = Progress()
    say(f"{'Smoke run' if args.smoke else 'Benchmark'}: {', '.join(CONFIGS)}; progress below, table at the end")
    with tempfile.TemporaryDirectory(prefix="willow-bench-") as temporary:
        workdir = args.workdir or Path(temporary)
        workdir.mkdir(parents=True, exist_ok=True)
        say(f"work files and logs: {workdir}")
        with local_servers.action_server(workdir) as actions_url:
            # The smoke run cross-validates Willow only: the step is the same for both, and
            # five trainings of TensorFlow models would double the smoke run's time.
            # It also trains only Rasa's default on a sample (Settings.default_every).
            jobs = [functools.partial(bench_config, name, config, workdir, actions_url, settings,
                                      named(say, name) if settings.parallel else say,
                                      cross_validate=not args.smoke or number == 0, resume=args.resume,
                                      train_every=1 if number == 0 else settings.default_every)
                    for number, (name, config) in enumerate(CONFIGS.items())]
            deploy = functools.partial(measure_deployed, workdir, actions_url, settings,
                                       named(say, "SQLite") if settings.parallel else say)
            if settings.parallel:
                with concurrent.futures.ThreadPoolExecutor(len(jobs)) as pool:
                    # The SQLite run needs only Willow's model: it starts as soon as Willow is measured.
                    willow = pool.submit(lambda: (jobs[0](), deploy()))
                    others = [pool.submit(job) for job in jobs[1:]]
                    (first, deployed), results = willow.result(), [future.result() for future in others]
                    results.insert(0, first)
            else:
                results = [job() for job in jobs]
                deployed = deploy()
        write_docs(results, deployed, settings, out, (time.monotonic() - say.started) / 60)
    print(table(results, settings))
    print(f"\nWritten to {out} (with {out.stem}-latency.png)")
    lost = sum(r.load_lost + r.load_errors for r in results + [deployed])
    if lost:
        print(f"FAIL: {lost} messages lost or answered with an error under load", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
