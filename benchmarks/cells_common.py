"""What the sections of benchmarks/cells.py share: settings, subset manifests, the training jobs and
the worker pool that runs them, the classifier of sections 2, 3 and 6, evaluation and inference
timing, plots and report pieces, and the command line and run (``main``) behind cells.py and every
section's own file.

A section is a module (cells_budget, cells_memory, cells_gradients, cells_hidden, cells_overfit,
cells_keras) with ``SECTION`` (its number: results go under ``"s<SECTION>"``), optionally ``NEEDS``
(sections whose results it reads and that therefore run with it) and ``make_jobs(ctx)`` (the trainings
it hands to the worker pool), and ``results(ctx, done, earlier)`` (evaluation, plots, its dict of
numbers) and ``report(res)`` (its lines of cells.md).
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import multiprocessing as mp
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from lstm_asr.audio import SAMPLE_RATE, load_audio
from lstm_asr.segment import trim_silence
from lstm_asr.data import write_manifest
from lstm_asr.metrics import sentence_accuracy, wer
from lstm_asr.model import AcousticModel, ModelConfig
from lstm_asr.text import Vocabulary
from lstm_asr.transcribe import Recognizer

REPO = Path(__file__).resolve().parents[1]
CELL_NAMES = ["rnn", "lstm", "gru"]
COLORS = {"rnn": "C3", "lstm": "C0", "gru": "C2"}

# The front end and training settings shared by every train() run (the digits recipe's features;
# no augmentation, so that short budgets measure the cells rather than the augmenter).
FEATURES = {"n_mels": 80, "high_freq": 3900, "normalize": "utterance"}
NO_AUGMENT = {"speeds": [], "noise_files": [], "noise_prob": 0.0, "pad_prob": 0.0, "gain_db": [],
              "freq_masks": 0, "time_masks": 0}
EPOCHS = 200  # "large": the wall-time budget (train.max_minutes) ends every run long before this
TRAIN = {"epochs": EPOCHS, "warmup": 1.0 / EPOCHS,  # one epoch of warm-up, then ~constant peak lr
         "batch_seconds": 16.0, "max_batch": 32, "lr": 5e-3, "weight_decay": 0.01, "clip": 5.0,
         "patience": 10_000, "seed": 0, "threads": 1}
CTC_MODEL = {"num_layers": 2, "bidirectional": True, "dropout": 0.1, "subsample": 2,
             "conv_channels": 128, "head": "ctc"}
LSTM_HIDDEN = 96          # section 1 reference size; GRU and RNN sizes are solved to match its parameters


def sizes(quick: bool) -> dict:
    """Lines per subset (None: all of them) and test-batch sizes; quick mode shrinks everything."""
    if quick:
        return dict(s1_singles=40, s1_seqs=20, s4_singles=40, s5_singles=20, s5_seqs=10, s6_singles=120,
                    dev_lines=40, test_lines=40, test_seq_lines=30, s2_train=200, s2_test=40, s3_batch=8)
    return dict(s1_singles=700, s1_seqs=500, s4_singles=600, s5_singles=100, s5_seqs=50, s6_singles=None,
                dev_lines=None, test_lines=None, test_seq_lines=None, s2_train=None, s2_test=None, s3_batch=16)


BUDGET = {"s1": 1.0, "s2": 1.0, "s4": 0.5, "s5": 1.0, "s6": 1.0}  # x --minutes-per-run


# ----------------------------------------------------------------------------------------------
# data

def read_jsonl(path: Path) -> list[dict]:
    """Manifest rows with the audio path made absolute (so subsets can live anywhere)."""
    rows = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            a = Path(row["audio"])
            row["audio"] = str(a if a.is_absolute() else (Path(path).parent / a).resolve())
            rows.append(row)
    return rows


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    write_manifest(path, rows)
    return path


def is_single(row: dict) -> bool:
    return len(row["text"].split()) == 1


def pick(rows: list[dict], n: int | None, seed: int) -> list[dict]:
    if n is None or n >= len(rows):
        return list(rows)
    idx = np.random.default_rng(seed).choice(len(rows), size=n, replace=False)
    return [rows[i] for i in sorted(idx)]


def ensure_data(data: Path) -> None:
    names = ["train.jsonl", "dev.jsonl", "test.jsonl", "test_seq.jsonl"]
    if all((data / n).is_file() for n in names):
        return
    print(f"{data}: manifests missing; running recipes/digits/prepare.py", flush=True)
    subprocess.run([sys.executable, str(REPO / "recipes/digits/prepare.py"), "--out", str(data),
                    "--fsdd", str(REPO.parent / "shared/data/fsdd")], check=True, cwd=REPO)


def make_manifests(data: Path, work: Path, sz: dict, seed: int) -> dict:
    """Subset manifests for every section, written under ``work/manifests``."""
    train, dev = read_jsonl(data / "train.jsonl"), read_jsonl(data / "dev.jsonl")
    test, test_seq = read_jsonl(data / "test.jsonl"), read_jsonl(data / "test_seq.jsonl")
    singles = [r for r in train if is_single(r)]
    seqs = [r for r in train if not is_single(r)]
    dev = pick(dev, sz["dev_lines"], seed + 1)
    m = work / "manifests"
    out = {
        "s1_train": write_jsonl(m / "s1_train.jsonl", pick(singles, sz["s1_singles"], seed)
                                + pick(seqs, sz["s1_seqs"], seed)),
        "dev": write_jsonl(m / "dev.jsonl", dev),
        "dev_single": write_jsonl(m / "dev_single.jsonl", [r for r in dev if is_single(r)]),
        "s4_train": write_jsonl(m / "s4_train.jsonl", pick(singles, sz["s4_singles"], seed + 4)),
        "s5_train": write_jsonl(m / "s5_train.jsonl", pick(singles, sz["s5_singles"], seed + 5)
                                + pick(seqs, sz["s5_seqs"], seed + 5)),
        "s6_train": write_jsonl(m / "s6_train.jsonl", pick(singles, sz["s6_singles"], seed + 6)),
        "train_single": write_jsonl(m / "train_single.jsonl", singles),
        "test": write_jsonl(m / "test.jsonl", pick(test, sz["test_lines"], seed + 2)),
        "test_seq": write_jsonl(m / "test_seq.jsonl", pick(test_seq, sz["test_seq_lines"], seed + 3)),
    }
    return {k: str(v) for k, v in out.items()}


def load_set(manifest: str) -> tuple[list[np.ndarray], list[str]]:
    rows = read_jsonl(Path(manifest))
    return [load_audio(r["audio"]) for r in rows], [" ".join(r["text"].split()) for r in rows]


# ----------------------------------------------------------------------------------------------
# models and parameter budgets

def n_params(model_cfg: dict) -> int:
    return AcousticModel(ModelConfig.from_dict(model_cfg)).num_parameters()


class Classifier(AcousticModel):
    """Sections 2, 3 and 6's classifier (the library's models are CTC only): the library's acoustic
    model (front end, recurrent stack, output layer of ``num_classes`` units) read once per
    utterance, from the state after all of it (the last real frame forwards, the first frame
    backwards): features (B, T, F), lengths (B,) -> class logits (B, C). Same parameters, and
    state_dict keys, as the CTC model of ``model_cfg`` with ``num_outputs = num_classes``."""

    def __init__(self, model_cfg: dict, num_classes: int):
        super().__init__(ModelConfig.from_dict({**model_cfg, "num_outputs": num_classes}))

    def forward(self, feats: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        x, lengths = self.frontend(feats, lengths)
        x = self.encoder(self.dropout(x), lengths)  # (B, T', H * directions), padding frames zero
        last = x[torch.arange(x.shape[0]), (lengths - 1).clamp(min=0)]
        if self.cfg.bidirectional:
            half = x.shape[-1] // 2
            last = torch.cat([last[:, :half], x[:, 0, half:]], dim=-1)
        return self.head(self.dropout(last))


def match_hidden(base: dict, cell: str, target: int) -> int:
    """The hidden size for ``cell`` whose model has the parameter count closest to ``target``
    (parameters grow monotonically with the size: bisection, then the nearer neighbour)."""
    lo, hi = 2, 4096
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if n_params({**base, "cell": cell, "hidden_size": mid}) < target:
            lo = mid
        else:
            hi = mid
    return min((lo, hi), key=lambda h: abs(n_params({**base, "cell": cell, "hidden_size": h}) - target))


def ctc_vocab_size(manifest: str) -> int:
    return len(Vocabulary.from_texts(r["text"] for r in read_jsonl(Path(manifest))))


def run_config(name: str, out_dir: Path, model: dict, manifests: list[str], dev: str, minutes: float,
               **train_overrides) -> dict:
    return {"name": name, "features": dict(FEATURES), "model": model, "augment": dict(NO_AUGMENT),
            "train": {**TRAIN, "manifests": manifests, "dev": dev, "out_dir": str(out_dir),
                      "max_minutes": minutes, **train_overrides}}


# ----------------------------------------------------------------------------------------------
# worker jobs (run in spawned processes, one torch thread each)

def _init_worker() -> None:
    torch.set_num_threads(1)


def train_job(job: dict) -> dict:
    """A train() run of ``job["config"]``; sections make these with ``train_spec``."""
    from lstm_asr.train import RunConfig, train
    cfg = RunConfig.from_dict(job["config"])
    name = job["name"]
    train(cfg, progress=False, log=lambda msg: print(f"[{name}] {msg}", flush=True))
    return {"run_dir": job["config"]["train"]["out_dir"]}


def train_spec(name: str, cost: float, *args, **train_overrides) -> dict:
    """A job for the worker pool that trains ``run_config(name, *args, **train_overrides)``."""
    return {"run": train_job, "name": name, "cost": cost, "config": run_config(name, *args, **train_overrides)}


def run_job(job: dict) -> dict:
    """``job["run"](job)`` (a module-level function, so that it reaches spawned workers by name),
    timed, with the job's name added to its result."""
    torch.set_num_threads(1)
    t0 = time.time()
    result = job["run"](job)
    result.update(name=job["name"], job_wall_s=round(time.time() - t0, 1))
    print(f"[{job['name']}] done in {result['job_wall_s']:.0f} s", flush=True)
    return result


def run_jobs(jobs: list[dict], workers: int) -> dict:
    """Run the jobs (longest first) on ``workers`` spawned processes; {name: result}."""
    jobs = sorted(jobs, key=lambda j: -j["cost"])
    if workers <= 1:
        return {j["name"]: run_job(j) for j in jobs}
    pool = mp.get_context("spawn").Pool(workers, initializer=_init_worker)
    try:
        done = {r["name"]: r for r in pool.imap_unordered(run_job, jobs)}
    except BaseException:
        pool.terminate()
        raise
    pool.close()
    pool.join()
    return done


def read_curves(run_dir: str) -> list[dict]:
    with open(Path(run_dir) / "curves.csv", newline="") as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


# ----------------------------------------------------------------------------------------------
# evaluation (main process, alone, one thread)

def evaluate(model_dir, waves: list[np.ndarray], texts: list[str]) -> dict:
    """End-to-end transcription (silence trimming, features, model, greedy decoding) of ``waves``:
    WER, sentence accuracy and milliseconds per second of input audio."""
    rec = Recognizer.from_dir(model_dir)
    rec.transcribe_waves(waves[:4])  # warm-up
    t0 = time.perf_counter()
    hyps = rec.transcribe_waves(waves)
    seconds = time.perf_counter() - t0
    audio_s = sum(len(w) for w in waves) / SAMPLE_RATE
    return {"wer": wer(texts, hyps), "accuracy": sentence_accuracy(texts, hyps),
            "ms_per_audio_s": 1000 * seconds / audio_s, "audio_s": audio_s}


@torch.inference_mode()
def time_forward(rec: Recognizer, waves: list[np.ndarray], batch: int) -> float:
    """Features + acoustic model forward on silence-trimmed waves in batches of ``batch`` similar
    lengths: milliseconds per second of (trimmed) audio."""
    waves = sorted((trim_silence(w) for w in waves), key=len)
    rec.posteriors(waves[:batch])  # warm-up
    t0 = time.perf_counter()
    for k in range(0, len(waves), batch):
        rec.posteriors(waves[k:k + batch])
    seconds = time.perf_counter() - t0
    return 1000 * seconds / (sum(len(w) for w in waves) / SAMPLE_RATE)


# ----------------------------------------------------------------------------------------------
# plots and report

def save(fig, ctx: dict, name: str) -> None:
    fig.tight_layout()
    fig.savefig(ctx["plots"] / name, dpi=100)
    ctx["plt"].close(fig)


def pct(x) -> str:
    return "n/a" if x is None else f"{100 * x:.1f} %"


def sci(x) -> str:
    return "n/a" if x is None else f"{x:.1e}"


def table(header: list[str], rows: list[list]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + \
           ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]



def report(res: dict, experiments: list) -> str:
    """cells.md: the run's header, then the part of every section in ``res``."""
    env, M = res["environment"], res["minutes_per_run"]
    L = [f"# Why LSTM or GRU rather than a plain RNN: measured on spoken digits", ""]
    if res["quick"]:
        L += ["> **QUICK MODE**: tiny subsets and ~10 s budgets to check that the benchmark runs. "
              "These numbers mean nothing; run without `--quick` for the real ones.", ""]
    L += [f"- command: `{res['command']}`",
          f"- date: {res['date']}; total wall time {res['total_minutes']:.1f} min",
          f"- machine: {env['platform']}, {env['cpu_count']} CPUs ({env['processor'] or 'unknown processor'}), "
          f"Python {env['python']}, torch {env['torch']}, {env['threads']} torch thread per process",
          f"- parallelism: the {res['n_jobs']} trainings ran as independent jobs on {res['workers']} spawned "
          f"worker process(es), one thread each (so two trainings share the machine at a time, one per core); "
          f"all evaluation and inference timing ran afterwards in the main process, alone, on one thread",
          f"- budget: {'`--quick`' if res['quick'] else f'`--minutes-per-run {M:g}`'}; sections 1, 5, 6: {M * BUDGET['s1']:.2g} min per run; "
          f"section 4: {M * BUDGET['s4']:.2g} min per run (smaller); section 2: {60 * M * BUDGET['s2']:.0f} s per cell",
          f"- data: `{res['data']}` (FSDD singles and connected 2-7 digit strings made from them; "
          "the test sets are built from FSDD's official test recordings, files 0-4 of every speaker and digit; dev "
          "uses files 5-7 and training files 8-49, so the speakers are shared and the recordings are not)",
          "- every train() run: features " + json.dumps(FEATURES) + ", no augmentation, AdamW, "
          f"lr {TRAIN['lr']:g} (one epoch of warm-up, then practically constant: epochs={EPOCHS} is never reached), "
          f"batches of at most {TRAIN['batch_seconds']:g} s of padded audio / {TRAIN['max_batch']} utterances, "
          f"gradient clipping {TRAIN['clip']:g}, no early stopping; the time limit is checked after every epoch "
          "(so a run can overshoot by up to one epoch), and the time includes the dev evaluation of every epoch", ""]
    for ex in experiments:
        if f"s{ex.SECTION}" in res:
            L += ex.report(res)
    L += ["Raw numbers (curves included): `cells.json` next to this file."]
    return "\n".join(L) + "\n"


# ----------------------------------------------------------------------------------------------
# command line and run

def parse_args(doc: str, alone: str | None) -> argparse.Namespace:
    """cells.py's options; a section's own file (``alone``: its name) has all but ``--sections`` and
    its own default run directory, so that it leaves a full run's directory alone."""
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=str(REPO / "data/digits"), help="digits recipe manifests (prepared if missing)")
    p.add_argument("--minutes-per-run", type=float, default=3.0, help="wall-time budget of one training run")
    p.add_argument("--quick", action="store_true", help="tiny subsets and ~10 s runs: checks that everything works")
    out_help = ("updates this section's entries of OUT/cells.json, writes its OUT/cells/*.png" if alone
                else "writes OUT/cells.md, OUT/cells.json, OUT/cells/*.png")
    work = f"runs/cells/{alone}-full or runs/cells/{alone}-quick" if alone else "runs/cells/full or runs/cells/quick"
    p.add_argument("--out", default=str(REPO / "docs"), help=out_help)
    p.add_argument("--work", default=None, help=f"run directory (default {work}); emptied")
    p.add_argument("--noise-dir", default=str(REPO.parent / "shared/data/noise_speech_commands_bg"))
    p.add_argument("--workers", type=int, default=2, help="training processes at a time (one thread each)")
    if not alone:
        p.add_argument("--sections", default="1,2,3,4,5,6", help="comma-separated subset of sections to run")
    return p.parse_args()


def main(doc: str, experiments: list, alone: str | None = None) -> int:
    """Run the sections of ``experiments`` (section modules, in report order) that the command line
    asks for, plus those they need: every training job first, on the worker pool, then every
    section's evaluation in the main process. cells.py (``alone`` None) writes OUT/cells.md and
    OUT/cells.json; a section's own file (``alone``: its name) runs all its ``experiments``, prints
    their part of the report and replaces only their entries of OUT/cells.json."""
    a = parse_args(doc, alone)

    t_start = time.time()
    torch.set_num_threads(1)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker  # noqa: F401  (ctx["matplotlib"].ticker)

    if alone:
        sections = {ex.SECTION for ex in experiments}
    else:
        sections = {int(s) for s in a.sections.split(",") if s.strip()}
    sections |= {n for ex in experiments if ex.SECTION in sections for n in getattr(ex, "NEEDS", ())}
    experiments = [ex for ex in experiments if ex.SECTION in sections]
    data = Path(a.data).resolve()
    out = Path(a.out).resolve()
    kind = "quick" if a.quick else "full"
    work = Path(a.work).resolve() if a.work else REPO / "runs" / "cells" / (f"{alone}-{kind}" if alone else kind)
    plots = out / "cells"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    plots.mkdir(parents=True, exist_ok=True)
    ensure_data(data)

    M = 10 / 60 if a.quick else a.minutes_per_run
    sz = sizes(a.quick)
    ctx = {"work": work, "M": M, "sz": sz, "plt": plt, "matplotlib": matplotlib, "plots": plots, "noise_dir": a.noise_dir}
    ctx["man"] = make_manifests(data, work, sz, seed=0)

    jobs = []
    for ex in experiments:
        if hasattr(ex, "make_jobs"):
            jobs += ex.make_jobs(ctx)
    print(f"{len(jobs)} training jobs on {a.workers} worker(s), {M:g} min per run", flush=True)
    done = run_jobs(jobs, a.workers)

    print("evaluating", flush=True)
    ctx["sets"] = {"test": load_set(ctx["man"]["test"]), "test_seq": load_set(ctx["man"]["test_seq"]),
                   "dev": load_set(ctx["man"]["dev"])}
    n_lines = lambda k: sum(1 for _ in open(ctx["man"][k]))  # noqa: E731
    n_single = lambda k: sum(is_single(r) for r in read_jsonl(Path(ctx["man"][k])))  # noqa: E731
    desc = lambda k: f"{n_lines(k)} lines: {n_single(k)} single digits, {n_lines(k) - n_single(k)} strings"  # noqa: E731
    res = {"command": "python " + " ".join([os.path.relpath(sys.argv[0], os.getcwd())] + sys.argv[1:]),
           "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"), "quick": a.quick,
           "minutes_per_run": M, "workers": a.workers, "n_jobs": len(jobs),
           "data": str(data), "work": str(work), "plots_dir": "cells",
           "environment": {"platform": platform.platform(), "processor": platform.processor(),
                           "cpu_count": os.cpu_count(), "python": platform.python_version(),
                           "torch": torch.__version__, "threads": torch.get_num_threads()},
           "subset_sizes": {"s1": desc("s1_train"), "s4": desc("s4_train"), "s5": desc("s5_train"),
                            "s6": desc("s6_train")},
           "dev_desc": f"{Path(ctx['man']['dev']).name}, " + desc("dev"),
           "test_desc": {"test": desc("test"), "test_seq": desc("test_seq")},
           "job_wall_s": {k: v["job_wall_s"] for k, v in done.items()}}
    for ex in experiments:
        res[f"s{ex.SECTION}"] = ex.results(ctx, done, res)
    res["total_minutes"] = (time.time() - t_start) / 60

    out.mkdir(parents=True, exist_ok=True)
    if alone:
        update_json(out / "cells.json", res, [f"s{ex.SECTION}" for ex in experiments])
        print("\n".join(line for ex in experiments for line in ex.report(res)), flush=True)
        print(f"updated {', '.join(f's{ex.SECTION}' for ex in experiments)} in {out / 'cells.json'} and wrote "
              f"their plots in {plots}/ in {res['total_minutes']:.1f} min; {out / 'cells.md'} is unchanged "
              "(python benchmarks/cells.py rewrites it)", flush=True)
        return 0
    (out / "cells.json").write_text(json.dumps(res, indent=1, default=str) + "\n", encoding="utf-8")
    (out / "cells.md").write_text(report(res, experiments), encoding="utf-8")
    print(f"wrote {out / 'cells.md'}, {out / 'cells.json'} and {plots}/ in {res['total_minutes']:.1f} min", flush=True)
    return 0


def update_json(path: Path, res: dict, keys: list[str]) -> None:
    """Replace the entries ``keys`` (and their jobs' wall times) of the results file ``path`` by this
    run's, noting under "updated" which run they came from; a missing file gets the whole of ``res``."""
    if not path.is_file():
        merged = res
    else:
        merged = json.loads(path.read_text(encoding="utf-8"))
        for k in keys:
            merged[k] = res[k]
        merged.setdefault("job_wall_s", {}).update(res["job_wall_s"])
        merged.setdefault("updated", {}).update(
            {k: {f: res[f] for f in ("command", "date", "quick", "minutes_per_run")} for k in keys})
    path.write_text(json.dumps(merged, indent=1, default=str) + "\n", encoding="utf-8")
