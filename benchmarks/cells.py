"""Why LSTM or GRU rather than a plain RNN: one benchmark, measured on real speech.

    python benchmarks/cells.py [--data data/digits] [--minutes-per-run 3] [--quick] [--out docs]

Writes ``OUT/cells.md`` (the report), ``OUT/cells.json`` (the raw numbers) and ``OUT/cells/*.png``.
Trainings run under ``--work`` (default ``runs/cells/full``, or ``runs/cells/quick``), which is
emptied first. Every number in the report is measured by this run; nothing is hard-coded.

Sections
  1. RNN vs LSTM vs GRU, equal parameter budgets, equal wall time, CTC on connected digit strings.
  2. Long delays: which digit was said, read from the last step after 0-500 frames of real noise.
  3. Vanishing gradients: ||dL/dx_t|| against the number of steps back, fresh and trained cells.
  4. LSTM hidden-size sweep: parameters, inference speed (batch 1 / 16), accuracy after a short budget.
  5. Overfitting on 150 utterances: no regularisation vs dropout 0.3 + weight decay 0.05.
  6. The seed's Keras classifier (LSTM 128 -> LSTM 64 -> softmax) next to the CTC models.

Every process uses one torch thread. The trainings are independent jobs run by ``--workers``
(default 2) spawned worker processes, one per core; evaluation and inference timing happen
afterwards in the main process, alone, on one thread.
"""
from __future__ import annotations

import argparse
import copy
import csv
import datetime as dt
import json
import math
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

from lstm_asr.audio import SAMPLE_RATE, load_audio, trim_silence
from lstm_asr.data import write_manifest
from lstm_asr.errors import AsrError
from lstm_asr.features import FeatureConfig, FilterBank, normalize
from lstm_asr.metrics import sentence_accuracy, wer
from lstm_asr.model import AcousticModel, ModelConfig
from lstm_asr.text import Vocabulary
from lstm_asr.transcribe import Recognizer

REPO = Path(__file__).resolve().parents[1]
DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
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
HIDDEN_SWEEP = [64, 128, 256, 512]
CONVERGED_WER = 0.5       # section 1: "converged" = best dev WER below this by the end of the budget

# Section 2 / 3 (own loop): 40 log-mel bins, one unidirectional layer, classifier on the last step.
S2_FEATURES = {"n_mels": 40, "high_freq": 3900, "normalize": "utterance"}
S2_LSTM_HIDDEN = 64
S2_DELAYS = [0, 50, 200, 500]   # frames (10 ms each) of noise between the digit and the last step
S2_SNR_DB = 15.0
S2_BATCH = 32
S2_LR = 2e-3
S2_CLIP = 1.0


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


def run_job(job: dict) -> dict:
    torch.set_num_threads(1)
    t0 = time.time()
    if job["kind"] == "train":
        from lstm_asr.train import RunConfig, train
        cfg = RunConfig.from_dict(job["config"])
        name = job["name"]
        train(cfg, progress=False, log=lambda msg: print(f"[{name}] {msg}", flush=True))
        result = {"run_dir": job["config"]["train"]["out_dir"]}
    else:
        result = delay_job(job)
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
# section 1: RNN vs LSTM vs GRU on connected digits, equal parameters, equal wall time

def s1_jobs(ctx: dict) -> list[dict]:
    V = ctc_vocab_size(ctx["man"]["s1_train"])
    base = {**CTC_MODEL, "num_outputs": V, "input_size": FEATURES["n_mels"]}
    target = n_params({**base, "cell": "lstm", "hidden_size": LSTM_HIDDEN})
    plan = {}
    for cell in CELL_NAMES:
        h = LSTM_HIDDEN if cell == "lstm" else match_hidden(base, cell, target)
        model = {**base, "cell": cell, "hidden_size": h}
        p = n_params(model)
        plan[cell] = {"hidden": h, "params": p, "params_vs_lstm": p / target - 1, "model": model}
    ctx["s1_plan"] = plan
    minutes = ctx["M"] * BUDGET["s1"]
    return [{"kind": "train", "name": f"s1_{cell}", "cost": minutes,
             "config": run_config(f"s1_{cell}", ctx["work"] / "s1" / cell, plan[cell]["model"],
                                  [ctx["man"]["s1_train"]], ctx["man"]["dev"], minutes)}
            for cell in CELL_NAMES]


def s1_results(ctx: dict, done: dict) -> dict:
    test_seq, test = ctx["sets"]["test_seq"], ctx["sets"]["test"]
    rows = {}
    for cell in CELL_NAMES:
        run = done[f"s1_{cell}"]["run_dir"]
        curves = read_curves(run)
        best_dev = min(r["wer"] for r in curves)
        ev_seq = evaluate(Path(run) / "best", *test_seq)
        ev_single = evaluate(Path(run) / "best", *test)
        rows[cell] = {**{k: v for k, v in ctx["s1_plan"][cell].items() if k != "model"},
                      "train_seconds": curves[-1]["seconds"], "epochs": len(curves),
                      "steps": int(curves[-1]["step"]), "best_dev_wer": best_dev,
                      "final_dev_wer": curves[-1]["wer"], "converged": best_dev < CONVERGED_WER,
                      "test_seq_wer": ev_seq["wer"], "test_seq_sent_acc": ev_seq["accuracy"],
                      "test_accuracy": ev_single["accuracy"], "ms_per_audio_s": ev_seq["ms_per_audio_s"],
                      "test_seq_audio_s": ev_seq["audio_s"], "curves": curves, "run_dir": run}
    plot_s1(ctx, rows)
    return {"budget_minutes": ctx["M"] * BUDGET["s1"], "train_manifest": ctx["man"]["s1_train"],
            "model": {k: v for k, v in CTC_MODEL.items()}, "cells": rows}


def plot_s1(ctx: dict, rows: dict) -> None:
    plt = ctx["plt"]
    fig, ax = plt.subplots(1, 2, figsize=(10, 3.6))
    for cell, r in rows.items():
        t = [c["seconds"] / 60 for c in r["curves"]]
        lab = f"{cell} (h={r['hidden']}, {r['params'] / 1e3:.0f}k params)"
        ax[0].plot(t, [c["train_loss"] for c in r["curves"]], marker="o", ms=3, color=COLORS[cell], label=lab)
        ax[1].plot(t, [100 * c["wer"] for c in r["curves"]], marker="o", ms=3, color=COLORS[cell], label=lab)
    ax[0].set(xlabel="training time (min)", ylabel="CTC loss", title="train loss", yscale="log")
    ax[1].axhline(100 * CONVERGED_WER, color="grey", ls=":", lw=1)
    ax[1].set(xlabel="training time (min)", ylabel="dev WER (%)", title="dev WER (dev set: singles + strings)")
    for a in ax:
        a.grid(alpha=0.3)
    ax[1].legend(fontsize=8)
    save(fig, ctx, "s1_learning_curves.png")


# ----------------------------------------------------------------------------------------------
# section 2: remembering a digit across 0-500 frames of real noise (own training loop)

def s2_model_config(cell: str, hidden: int) -> dict:
    return {"cell": cell, "num_layers": 1, "hidden_size": hidden, "bidirectional": False, "dropout": 0.0,
            "subsample": 1, "head": "classifier", "pool": "last", "num_outputs": 10,
            "input_size": S2_FEATURES["n_mels"]}


def s2_plan() -> dict:
    base = s2_model_config("lstm", S2_LSTM_HIDDEN)
    target = n_params(base)
    plan = {}
    for cell in CELL_NAMES:
        h = S2_LSTM_HIDDEN if cell == "lstm" else match_hidden({**base, "hidden_size": 0}, cell, target)
        p = n_params(s2_model_config(cell, h))
        plan[cell] = {"hidden": h, "params": p, "params_vs_lstm": p / target - 1}
    return plan


def s2_noise(noise_dir: str) -> tuple[np.ndarray, np.ndarray, str]:
    """Background noise as two streams (the first 80 % of every file for training, the last 20 %
    for testing); low-level white noise when no noise files are found."""
    files = sorted(Path(noise_dir).glob("*.wav")) if noise_dir else []
    if not files:
        rng = np.random.default_rng(0)
        return (0.01 * rng.standard_normal(60 * SAMPLE_RATE).astype(np.float32),
                0.01 * rng.standard_normal(20 * SAMPLE_RATE).astype(np.float32), "white noise (no noise files)")
    waves = [load_audio(f) for f in files]
    cut = [int(0.8 * len(w)) for w in waves]
    return (np.concatenate([w[:c] for w, c in zip(waves, cut)]), np.concatenate([w[c:] for w, c in zip(waves, cut)]),
            ", ".join(f.name for f in files))


class DelayData:
    """Raw log-mel features of real digits (with noise mixed under them at S2_SNR_DB) and of a
    long noise stream, computed once. An example is noise + digit + ``delay`` frames of noise at
    the level it had under that digit (a scaled waveform's log-mel is the log-mel plus 2 ln(scale),
    so the noise is shifted rather than recomputed); per-example normalisation comes last."""

    def __init__(self, manifest: str, limit: int | None, seed: int, noise: np.ndarray):
        rows = pick([r for r in read_jsonl(Path(manifest)) if r["text"].strip() in DIGITS], limit, seed)
        self.cfg = FeatureConfig.from_dict(S2_FEATURES)
        fbank = FilterBank(self.cfg)
        raw = lambda w: fbank.raw(torch.from_numpy(np.ascontiguousarray(w))[None],  # noqa: E731
                                  torch.tensor([len(w)]))[0][0]
        self.noise = raw(noise)  # (N, F)
        noise_rms = float(np.sqrt(np.mean(noise.astype(np.float64) ** 2)) + 1e-12)
        rng = np.random.default_rng(seed)
        self.feats, self.shift = [], []
        for r in rows:
            w = trim_silence(load_audio(r["audio"]))
            scale = float(np.sqrt(np.mean(w.astype(np.float64) ** 2))) / noise_rms * 10 ** (-S2_SNR_DB / 20)
            start = int(rng.integers(0, len(noise) - len(w)))
            self.feats.append(raw(w + scale * noise[start:start + len(w)]))
            self.shift.append(2 * math.log(max(scale, 1e-12)))
        self.labels = torch.tensor([DIGITS.index(r["text"].strip()) for r in rows])

    def __len__(self):
        return len(self.labels)

    def batch(self, idx, delay: int, rng: np.random.Generator):
        """(B, T, F) normalised features, all of one length T (the digits end together, noise pads
        the shorter ones in front), and the labels; ``delay`` noise frames follow every digit."""
        digit_len = max(self.feats[i].shape[0] for i in idx)
        T, F = digit_len + delay, self.noise.shape[1]
        out = torch.empty(len(idx), T, F)
        for k, i in enumerate(idx):
            f = self.feats[i]
            pre = digit_len - f.shape[0]
            off = int(rng.integers(0, self.noise.shape[0] - (pre + delay) + 1))
            nz = self.noise[off:off + pre + delay] + self.shift[i]
            out[k] = torch.cat([nz[:pre], f, nz[pre:]])
        lengths = torch.full((len(idx),), T)
        return normalize(out, lengths, self.cfg), self.labels[torch.as_tensor(np.asarray(idx))]


def s2_logits(model: AcousticModel, feats: torch.Tensor) -> torch.Tensor:
    """The classifier's logits from the state at the last frame. Every sequence of a batch has the
    same length, so this equals ``model(feats, lengths)[0]`` without packing (PyTorch's CPU
    recurrent layers are several times slower on packed sequences of varied lengths)."""
    x = model.dropout(feats)
    for k, layer in enumerate(model.encoder.layers):
        x, _ = layer(model.encoder.dropout(x) if k else x)
    return model.head(model.dropout(x[:, -1]))


def s2_accuracy(model, data: DelayData, delay: int, seed: int) -> float:
    """Accuracy at a fixed delay; the same noise crops for every cell (fixed seed per delay)."""
    rng = np.random.default_rng(seed)
    model.eval()
    correct = 0
    with torch.inference_mode():
        for k in range(0, len(data), 50):
            feats, y = data.batch(np.arange(k, min(k + 50, len(data))), delay, rng)
            correct += int((s2_logits(model, feats).argmax(-1) == y).sum())
    return correct / len(data)


def delay_job(job: dict) -> dict:
    """Train one cell on delays drawn from [0, 1.1 x max delay] (one per batch) for a wall-time
    budget; then test at each delay."""
    from safetensors.torch import save_file
    cell, seconds = job["cell"], job["seconds"]
    noise_train, noise_test, _ = s2_noise(job["noise_dir"])
    train_data = DelayData(job["train_manifest"], job["train_limit"], 0, noise_train)
    test_data = DelayData(job["test_manifest"], job["test_limit"], 1, noise_test)
    torch.manual_seed(0)
    model = AcousticModel(ModelConfig.from_dict(s2_model_config(cell, job["hidden"])))
    opt = torch.optim.Adam(model.parameters(), lr=S2_LR)
    rng = np.random.default_rng(0)
    max_delay = int(1.1 * max(S2_DELAYS))
    log, losses, step = [], [], 0
    t0 = time.time()
    model.train()
    while time.time() - t0 < seconds:
        feats, y = train_data.batch(rng.integers(0, len(train_data), size=S2_BATCH),
                                    int(rng.integers(0, max_delay + 1)), rng)
        loss = torch.nn.functional.cross_entropy(s2_logits(model, feats), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), S2_CLIP)
        opt.step()
        step += 1
        losses.append(loss.item())
        if step % 20 == 0:
            log.append({"step": step, "seconds": round(time.time() - t0, 1), "loss": float(np.mean(losses[-20:]))})
    train_s = time.time() - t0
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, job["weights"])
    acc = {str(d): s2_accuracy(model, test_data, d, seed=1000 + d) for d in S2_DELAYS}
    return {"cell": cell, "steps": step, "train_seconds": round(train_s, 1), "accuracy": acc, "log": log,
            "final_loss": float(np.mean(losses[-50:])) if losses else float("nan"), "weights": job["weights"],
            "n_train": len(train_data), "n_test": len(test_data)}


def s2_jobs(ctx: dict) -> list[dict]:
    plan = ctx["s2_plan"] = s2_plan()
    seconds = 60 * ctx["M"] * BUDGET["s2"]
    (ctx["work"] / "s2").mkdir(parents=True, exist_ok=True)
    return [{"kind": "delay", "name": f"s2_{cell}", "cost": seconds / 60, "cell": cell, "hidden": plan[cell]["hidden"],
             "seconds": seconds, "train_manifest": ctx["man"]["train_single"], "train_limit": ctx["sz"]["s2_train"],
             "test_manifest": ctx["man"]["test"], "test_limit": ctx["sz"]["s2_test"], "noise_dir": ctx["noise_dir"],
             "weights": str(ctx["work"] / "s2" / f"{cell}.safetensors")} for cell in CELL_NAMES]


def s2_results(ctx: dict, done: dict) -> dict:
    rows = {cell: {**ctx["s2_plan"][cell], **done[f"s2_{cell}"]} for cell in CELL_NAMES}
    plt = ctx["plt"]
    fig, ax = plt.subplots(1, 2, figsize=(10, 3.6))
    for cell, r in rows.items():
        ax[0].plot(S2_DELAYS, [100 * r["accuracy"][str(d)] for d in S2_DELAYS], marker="o", color=COLORS[cell],
                   label=f"{cell} (h={r['hidden']}, {r['params'] / 1e3:.1f}k params)")
        ax[1].plot([p["seconds"] / 60 for p in r["log"]], [p["loss"] for p in r["log"]], color=COLORS[cell], label=cell)
    ax[0].axhline(10, color="grey", ls=":", lw=1, label="chance (10 %)")
    ax[0].set(xlabel="delay: noise frames after the digit (10 ms each)", ylabel="test accuracy (%)",
              title="which digit was said? (read at the last step)", ylim=(0, 100))
    ax[1].axhline(math.log(10), color="grey", ls=":", lw=1)
    ax[1].set(xlabel="training time (min)", ylabel="cross-entropy", title="training loss (chance = ln 10)")
    for a in ax:
        a.grid(alpha=0.3)
        a.legend(fontsize=8)
    save(fig, ctx, "s2_delay.png")
    _, _, noise_desc = s2_noise(ctx["noise_dir"])
    return {"budget_seconds": 60 * ctx["M"] * BUDGET["s2"], "delays": S2_DELAYS, "snr_db": S2_SNR_DB,
            "noise": noise_desc, "cells": rows}


# ----------------------------------------------------------------------------------------------
# section 3: vanishing gradients

def grad_profile(model: AcousticModel, feats: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    """Mean over the batch of ||dL/dx_t|| (L: cross-entropy at the last step) indexed by the number
    of steps back from the last frame (0 = the last frame itself). In float64, so that gradients
    far below float32's range (1e-45) still show as numbers rather than zeros."""
    model = copy.deepcopy(model).double().eval()
    x = feats.double().clone().requires_grad_(True)
    with torch.enable_grad():
        loss = torch.nn.functional.cross_entropy(s2_logits(model, x), y, reduction="sum")
        (g,) = torch.autograd.grad(loss, x)
    return g.norm(dim=-1).mean(0).flip(0).numpy()  # (T,): steps back 0, 1, ...


def s3_run(ctx: dict, s2: dict | None) -> dict:
    from safetensors.torch import load_file
    _, noise_test, _ = s2_noise(ctx["noise_dir"])
    data = DelayData(ctx["man"]["test"], ctx["sz"]["s3_batch"], 3, noise_test)
    delay = max(S2_DELAYS)
    feats, y = data.batch(np.arange(len(data)), delay, np.random.default_rng(7))
    plan = ctx.get("s2_plan") or s2_plan()
    out = {}
    for cell in CELL_NAMES:
        torch.manual_seed(0)
        model = AcousticModel(ModelConfig.from_dict(s2_model_config(cell, plan[cell]["hidden"])))
        profiles = {"fresh": grad_profile(model, feats, y)}
        if s2 and Path(s2["cells"][cell]["weights"]).is_file():
            model.load_state_dict(load_file(s2["cells"][cell]["weights"]))
            profiles["trained"] = grad_profile(model, feats, y)
        out[cell] = {}
        for kind, g in profiles.items():
            ratio = lambda k: float(g[k] / g[0]) if k < len(g) and g[0] > 0 else None  # noqa: E731
            out[cell][kind] = {"ratio_100": ratio(100), "ratio_300": ratio(300), "g0": float(g[0]),
                               "profile": [float(v) for v in g]}
    plt = ctx["plt"]
    fig, ax = plt.subplots(figsize=(7, 4))
    for cell in CELL_NAMES:
        for kind, ls in (("fresh", "--"), ("trained", "-")):
            if kind in out[cell]:
                g = np.array(out[cell][kind]["profile"])
                ax.semilogy(np.arange(len(g)), np.maximum(g, 1e-300), ls=ls, color=COLORS[cell],
                            label=f"{cell}, {kind}")
    ax.set(xlabel="steps back from the last frame (T - t)", ylabel="||dL/dx_t|| (batch mean)",
           title=f"gradient reaching the input ({delay}-frame delay, T = {feats.shape[1]})")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    save(fig, ctx, "s3_gradients.png")
    return {"delay": delay, "batch": len(data), "length": int(feats.shape[1]), "cells": out}


# ----------------------------------------------------------------------------------------------
# section 4: LSTM hidden-size sweep

def s4_jobs(ctx: dict) -> list[dict]:
    V = ctc_vocab_size(ctx["man"]["s4_train"])
    minutes = ctx["M"] * BUDGET["s4"]
    jobs = []
    for h in HIDDEN_SWEEP:
        model = {**CTC_MODEL, "cell": "lstm", "hidden_size": h, "num_outputs": V, "input_size": FEATURES["n_mels"]}
        jobs.append({"kind": "train", "name": f"s4_h{h}", "cost": minutes * (1 + h / 512),
                     "config": run_config(f"s4_h{h}", ctx["work"] / "s4" / f"h{h}", model,
                                          [ctx["man"]["s4_train"]], ctx["man"]["dev_single"], minutes)})
    return jobs


def s4_results(ctx: dict, done: dict) -> dict:
    waves, texts = ctx["sets"]["test"]
    rows = {}
    for h in HIDDEN_SWEEP:
        run = done[f"s4_h{h}"]["run_dir"]
        curves = read_curves(run)
        rec = Recognizer.from_dir(Path(run) / "best")
        ev = evaluate(Path(run) / "best", waves, texts)
        rows[str(h)] = {"hidden": h, "params": rec.model.num_parameters(), "epochs": len(curves),
                        "train_seconds": curves[-1]["seconds"], "steps": int(curves[-1]["step"]),
                        "best_dev_wer": min(c["wer"] for c in curves), "test_accuracy": ev["accuracy"],
                        "ms_b1": time_forward(rec, waves, 1), "ms_b16": time_forward(rec, waves, 16)}
    plt = ctx["plt"]
    fig, ax = plt.subplots(1, 2, figsize=(10, 3.6))
    hs = HIDDEN_SWEEP
    ax[0].plot(hs, [rows[str(h)]["ms_b1"] for h in hs], marker="o", label="batch 1")
    ax[0].plot(hs, [rows[str(h)]["ms_b16"] for h in hs], marker="o", label="batch 16")
    ax[0].set(yscale="log", xlabel="LSTM hidden size", ylabel="ms per second of audio",
              title="inference cost (1 thread)")
    ax[1].plot(hs, [100 * rows[str(h)]["test_accuracy"] for h in hs], marker="o", color="C1")
    ax[1].set(xlabel="LSTM hidden size", ylabel="test accuracy (%)", ylim=(0, 100),
              title=f"accuracy after {ctx['M'] * BUDGET['s4']:.2g} min of training")
    for a in ax:
        a.set_xscale("log", base=2)
        a.set_xticks(hs, [str(h) for h in hs])
        a.xaxis.set_minor_locator(ctx["matplotlib"].ticker.NullLocator())
        a.grid(alpha=0.3, which="both")
    ax[0].yaxis.set_major_formatter(ctx["matplotlib"].ticker.ScalarFormatter())
    ax[0].yaxis.set_minor_formatter(ctx["matplotlib"].ticker.NullFormatter())
    ax[0].legend(fontsize=8)
    save(fig, ctx, "s4_hidden_sweep.png")
    return {"budget_minutes": ctx["M"] * BUDGET["s4"], "train_manifest": ctx["man"]["s4_train"], "sizes": rows}


# ----------------------------------------------------------------------------------------------
# section 5: overfitting on a small subset

S5_VARIANTS = {"plain": {"dropout": 0.0, "weight_decay": 0.0}, "regularised": {"dropout": 0.3, "weight_decay": 0.05}}


def s5_jobs(ctx: dict) -> list[dict]:
    V = ctc_vocab_size(ctx["man"]["s5_train"])
    minutes = ctx["M"] * BUDGET["s5"]
    jobs = []
    for name, v in S5_VARIANTS.items():
        model = {**CTC_MODEL, "cell": "lstm", "hidden_size": LSTM_HIDDEN, "num_outputs": V,
                 "input_size": FEATURES["n_mels"], "dropout": v["dropout"]}
        jobs.append({"kind": "train", "name": f"s5_{name}", "cost": minutes,
                     "config": run_config(f"s5_{name}", ctx["work"] / "s5" / name, model, [ctx["man"]["s5_train"]],
                                          ctx["man"]["dev"], minutes, weight_decay=v["weight_decay"])})
    return jobs


def s5_results(ctx: dict, done: dict) -> dict:
    train_set = load_set(ctx["man"]["s5_train"])
    dev_set = ctx["sets"]["dev"]
    rows = {}
    for name, v in S5_VARIANTS.items():
        run = done[f"s5_{name}"]["run_dir"]
        curves = read_curves(run)
        res = {**v, "epochs": len(curves), "train_seconds": curves[-1]["seconds"], "curves": curves,
               "final_train_loss": curves[-1]["train_loss"], "best_dev_wer": min(c["wer"] for c in curves)}
        for which in ("last", "best"):
            tr, dv = evaluate(Path(run) / which, *train_set), evaluate(Path(run) / which, *dev_set)
            res[which] = {"train_wer": tr["wer"], "dev_wer": dv["wer"], "gap": dv["wer"] - tr["wer"]}
        rows[name] = res
    plt = ctx["plt"]
    fig, ax = plt.subplots(1, 2, figsize=(10, 3.6))
    for k, (name, r) in enumerate(rows.items()):
        ep = [c["epoch"] for c in r["curves"]]
        a = ax[k]
        a.plot(ep, [c["train_loss"] for c in r["curves"]], color="C0", label="train loss (CTC)")
        a.set(xlabel="epoch", ylabel="train loss", yscale="log",
              title=f"{name}: dropout {r['dropout']}, weight decay {r['weight_decay']}")
        b = a.twinx()
        b.plot(ep, [100 * c["wer"] for c in r["curves"]], color="C1", label="dev WER")
        b.set(ylabel="dev WER (%)", ylim=(0, 105))
        a.grid(alpha=0.3)
        h1, l1 = a.get_legend_handles_labels()
        h2, l2 = b.get_legend_handles_labels()
        a.legend(h1 + h2, l1 + l2, fontsize=8, loc="center right")
    save(fig, ctx, "s5_overfitting.png")
    return {"budget_minutes": ctx["M"] * BUDGET["s5"], "train_manifest": ctx["man"]["s5_train"],
            "train_lines": len(train_set[1]), "variants": rows}


# ----------------------------------------------------------------------------------------------
# section 6: the seed's Keras example as a classifier

KERAS_MODEL = {"cell": "lstm", "num_layers": 2, "hidden_size": [128, 64], "bidirectional": False, "dropout": 0.0,
               "subsample": 1, "head": "classifier", "pool": "last", "input_size": FEATURES["n_mels"]}


def s6_jobs(ctx: dict) -> list[dict]:
    minutes = ctx["M"] * BUDGET["s6"]
    return [{"kind": "train", "name": "s6_keras", "cost": minutes,
             "config": run_config("s6_keras", ctx["work"] / "s6" / "keras", dict(KERAS_MODEL),
                                  [ctx["man"]["s6_train"]], ctx["man"]["dev_single"], minutes)}]


def s6_results(ctx: dict, done: dict, s1: dict | None) -> dict:
    waves, texts = ctx["sets"]["test"]
    run = done["s6_keras"]["run_dir"]
    curves = read_curves(run)
    ev = evaluate(Path(run) / "best", waves, texts)
    rows = {"keras_classifier": {"params": Recognizer.from_dir(Path(run) / "best").model.num_parameters(),
                                 "epochs": len(curves), "train_seconds": curves[-1]["seconds"],
                                 "best_dev_error": min(c["error"] for c in curves),
                                 "test_accuracy": ev["accuracy"], "ms_per_audio_s": ev["ms_per_audio_s"]}}
    if s1:
        r = s1["cells"]["lstm"]
        ev1 = evaluate(Path(r["run_dir"]) / "best", waves, texts)
        rows["s1_ctc_lstm"] = {"params": r["params"], "epochs": r["epochs"], "train_seconds": r["train_seconds"],
                               "test_accuracy": ev1["accuracy"], "ms_per_audio_s": ev1["ms_per_audio_s"]}
    bundled = None
    try:
        from lstm_asr.checkpoint import resolve_model
        bundled_dir = resolve_model(None)
        evb = evaluate(bundled_dir, waves, texts)
        rows["bundled_ctc"] = {"params": Recognizer.from_dir(bundled_dir).model.num_parameters(),
                               "test_accuracy": evb["accuracy"], "ms_per_audio_s": evb["ms_per_audio_s"]}
        bundled = str(bundled_dir)
    except AsrError as e:
        bundled = f"not available: {e}"
    plt = ctx["plt"]
    fig, ax = plt.subplots(figsize=(6, 3.4))
    names = list(rows)
    ax.bar(names, [100 * rows[n]["test_accuracy"] for n in names], color=["C4", "C0", "C7"][:len(names)])
    for k, n in enumerate(names):
        ax.text(k, 100 * rows[n]["test_accuracy"] + 1, f"{100 * rows[n]['test_accuracy']:.1f}%", ha="center")
    ax.set(ylabel="accuracy on test.jsonl (%)", ylim=(0, 110), title="single digits: classifier vs CTC")
    ax.grid(alpha=0.3, axis="y")
    save(fig, ctx, "s6_keras_vs_ctc.png")
    return {"budget_minutes": ctx["M"] * BUDGET["s6"], "model": KERAS_MODEL, "train_manifest": ctx["man"]["s6_train"],
            "bundled_model": bundled, "models": rows, "curves": curves}


# ----------------------------------------------------------------------------------------------
# report

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


def report(res: dict) -> str:
    env, M, plots = res["environment"], res["minutes_per_run"], res["plots_dir"]
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

    if "s1" in res:
        s = res["s1"]
        c = s["cells"]
        L += ["## 1. RNN vs LSTM vs GRU on connected digit strings (equal parameters, equal wall time)", "",
              f"CTC, {s['model']['num_layers']} bidirectional layers after a {s['model']['conv_channels']}-channel "
              f"x{s['model']['subsample']} convolutional front end, dropout {s['model']['dropout']}. LSTM hidden size "
              f"{LSTM_HIDDEN}; the GRU and RNN hidden sizes were solved so the whole model has the LSTM's parameter "
              f"count. Trained on `{Path(s['train_manifest']).name}` ({res['subset_sizes']['s1']}), dev = "
              f"`{res['dev_desc']}`, {s['budget_minutes']:.2g} min each. Test: WER on test_seq "
              f"({res['test_desc']['test_seq']}), sentence accuracy on the single digits of test.jsonl "
              f"({res['test_desc']['test']}). Inference: end-to-end transcription of test_seq "
              f"({c['lstm']['test_seq_audio_s']:.0f} s of audio: trimming, features, model, greedy decoding), "
              f"1 thread. Converged = best dev WER < {100 * CONVERGED_WER:.0f} % by the end of the budget.", ""]
        L += table(["cell", "hidden", "parameters", "vs LSTM", "training time", "epochs (steps)",
                    "inference ms / s audio", "test_seq WER", "test_seq sentences right", "single-digit accuracy",
                    "best dev WER", "converged"],
                   [[cell, r["hidden"], f"{r['params']:,}", f"{100 * r['params_vs_lstm']:+.1f} %",
                     f"{r['train_seconds'] / 60:.1f} min", f"{r['epochs']} ({r['steps']})", f"{r['ms_per_audio_s']:.1f}",
                     pct(r["test_seq_wer"]), pct(r["test_seq_sent_acc"]), pct(r["test_accuracy"]),
                     pct(r["best_dev_wer"]), "yes" if r["converged"] else "no"] for cell, r in c.items()])
        ranked = sorted(c, key=lambda k: c[k]["test_seq_wer"])
        L += ["", "Test WER, best first: " + ", ".join(f"{k} {pct(c[k]['test_seq_wer'])}" for k in ranked)
              + "; converged within the budget: " + (", ".join(k for k in c if c[k]["converged"]) or "none") + ".", "",
              f"![learning curves]({plots}/s1_learning_curves.png)", ""]

    if "s2" in res:
        s = res["s2"]
        c = s["cells"]
        L += ["## 2. Carrying a digit across hundreds of frames", "",
              "Each example is a real FSDD digit (silence-trimmed) followed by `delay` frames (10 ms each) of real "
              f"background noise ({s['noise']}; the first 80 % of each file for training, the last 20 % for "
              f"testing), with the same noise also under the digit at {s['snr_db']:g} dB SNR; the digits of a batch "
              "end on the same frame (shorter ones get noise in front), so every sequence of a batch has one length. "
              f"Features: {S2_FEATURES['n_mels']} log-mel bins, normalised per example. The model (one "
              "unidirectional layer, classifier head with `pool=\"last\"`) must say which digit was spoken from its "
              "state at the LAST frame, i.e. after the noise. One model per cell, equal parameters (LSTM hidden "
              f"{S2_LSTM_HIDDEN}), trained with its own loop (Adam lr {S2_LR:g}, batch {S2_BATCH}, gradient clip "
              f"{S2_CLIP:g}, PyTorch's default initialisation) for {s['budget_seconds']:.0f} s of wall time each, on "
              f"delays drawn uniformly from 0 to {int(1.1 * max(S2_DELAYS))} frames (one per batch: short delays "
              "act as a curriculum), then tested at fixed delays on the test recordings "
              f"({c['lstm']['n_test']} digits, the same noise crops for every cell). Chance = 10 %.", ""]
        L += table(["cell", "hidden", "parameters", "vs LSTM", "steps in budget", "final train loss"]
                   + [f"acc. delay {d}" for d in s["delays"]],
                   [[cell, r["hidden"], f"{r['params']:,}", f"{100 * r['params_vs_lstm']:+.1f} %", r["steps"],
                     f"{r['final_loss']:.3f}"] + [pct(r["accuracy"][str(d)]) for d in s["delays"]]
                    for cell, r in c.items()])
        far = str(max(s["delays"]))
        L += ["", f"At the longest delay ({far} frames = {int(far) / 100:g} s): "
              + ", ".join(f"{cell} {pct(r['accuracy'][far])}" for cell, r in c.items()) + " (chance 10 %).", "",
              f"![accuracy vs delay]({plots}/s2_delay.png)", ""]

    if "s3" in res:
        s = res["s3"]
        L += ["## 3. Vanishing gradients", "",
              "‖∂L/∂x_t‖: the norm of the gradient of the last-step loss (cross-entropy of the section-2 "
              f"classifier) with respect to the input features at frame t, averaged over {s['batch']} test "
              f"examples with a {s['delay']}-frame delay ({s['length']} frames each), in float64, plotted against the "
              "number of steps back from the last frame. Fresh = PyTorch's default initialisation (seed 0); "
              "trained = the section-2 models. The ratios say what fraction of the gradient at the last step "
              "still reaches the input 100 and 300 steps earlier.", ""]
        rows = []
        for cell, kinds in s["cells"].items():
            for kind, r in kinds.items():
                rows.append([cell, kind, sci(r["g0"]), sci(r["ratio_100"]), sci(r["ratio_300"])])
        L += table(["cell", "weights", "‖∂L/∂x_t‖ at the last step", "ratio 100 steps back / last",
                    "ratio 300 steps back / last"], rows)
        L += ["", f"![gradient norms]({plots}/s3_gradients.png)", ""]

    if "s4" in res:
        s = res["s4"]
        L += ["## 4. LSTM hidden-size sweep", "",
              f"Same architecture as section 1 (CTC, 2 bidirectional layers, x2 front end), LSTM hidden size "
              f"varied. Trained on single digits only (`{Path(s['train_manifest']).name}`, "
              f"{res['subset_sizes']['s4']}; dev = the single digits of the dev set) for the SAME, shorter budget "
              f"of {s['budget_minutes']:.2g} min each (half of `--minutes-per-run`). Accuracy: single-digit test "
              "set. Inference: features + model forward (no decoding) on the silence-trimmed test digits, "
              "1 thread, batch 1 and batches of 16 similar-length utterances, ms per second of trimmed audio.", ""]
        L += table(["hidden", "parameters", "ms / s audio, batch 1", "ms / s audio, batch 16", "epochs (steps)",
                    "training time", "best dev WER", "test accuracy"],
                   [[r["hidden"], f"{r['params']:,}", f"{r['ms_b1']:.1f}", f"{r['ms_b16']:.1f}",
                     f"{r['epochs']} ({r['steps']})", f"{r['train_seconds'] / 60:.1f} min", pct(r["best_dev_wer"]),
                     pct(r["test_accuracy"])] for r in s["sizes"].values()])
        L += ["", f"![hidden-size sweep]({plots}/s4_hidden_sweep.png)", ""]

    if "s5" in res:
        s = res["s5"]
        L += ["## 5. Overfitting on a small training set", "",
              f"Section 1's LSTM (hidden {LSTM_HIDDEN}) trained on only {s['train_lines']} lines "
              f"({res['subset_sizes']['s5']}) for {s['budget_minutes']:.2g} min, without any regularisation vs with "
              "dropout 0.3 and weight decay 0.05 (AdamW), no augmentation in either. Train WER is measured in eval "
              "mode on the training lines themselves; gap = dev WER − train WER. `last` = the model after the "
              "final epoch, `best` = the epoch with the lowest dev WER.", ""]
        L += table(["variant", "dropout", "weight decay", "epochs", "final train loss", "train WER (last)",
                    "dev WER (last)", "gap (last)", "train WER (best)", "dev WER (best)", "gap (best)"],
                   [[name, r["dropout"], r["weight_decay"], r["epochs"], f"{r['final_train_loss']:.3f}",
                     pct(r["last"]["train_wer"]), pct(r["last"]["dev_wer"]), pct(r["last"]["gap"]),
                     pct(r["best"]["train_wer"]), pct(r["best"]["dev_wer"]), pct(r["best"]["gap"])]
                    for name, r in s["variants"].items()])
        L += ["", f"![train loss vs dev WER]({plots}/s5_overfitting.png)", ""]

    if "s6" in res:
        s = res["s6"]
        L += ["## 6. The seed's Keras example as a classifier", "",
              "The seed's Keras model `LSTM(128, return_sequences=True) → LSTM(64) → Dense(10, softmax)` as a "
              "config: `head: classifier, num_layers: 2, hidden_size: [128, 64], bidirectional: false, "
              "subsample: 1, pool: last, dropout: 0` (80 log-mel bins in, no convolutions), trained with "
              f"cross-entropy on the single digits of train.jsonl (`{Path(s['train_manifest']).name}`, "
              f"{res['subset_sizes']['s6']}) for {s['budget_minutes']:.2g} min, dev = the dev set's single digits. "
              "Next to it, CTC models on the same test set (a CTC model's answer counts as right only when its "
              f"whole transcript is the one digit). Bundled model: {s['bundled_model']}.", ""]
        names = {"keras_classifier": "Keras-style classifier (this run)", "s1_ctc_lstm": "section-1 CTC BiLSTM",
                 "bundled_ctc": "bundled CTC model (`lstm_asr.load_model()`)"}
        L += table(["model", "parameters", "training", "test accuracy (single digits)", "inference ms / s audio"],
                   [[names[k], f"{r['params']:,}",
                     f"{r['train_seconds'] / 60:.1f} min, {r['epochs']} epochs" if "epochs" in r else "(bundled)",
                     pct(r["test_accuracy"]), f"{r['ms_per_audio_s']:.1f}"] for k, r in s["models"].items()])
        L += ["", f"![classifier vs CTC]({plots}/s6_keras_vs_ctc.png)", ""]
    L += ["Raw numbers (curves included): `cells.json` next to this file."]
    return "\n".join(L) + "\n"


# ----------------------------------------------------------------------------------------------

def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=str(REPO / "data/digits"), help="digits recipe manifests (prepared if missing)")
    p.add_argument("--minutes-per-run", type=float, default=3.0, help="wall-time budget of one training run")
    p.add_argument("--quick", action="store_true", help="tiny subsets and ~10 s runs: checks that everything works")
    p.add_argument("--out", default=str(REPO / "docs"), help="writes OUT/cells.md, OUT/cells.json, OUT/cells/*.png")
    p.add_argument("--work", default=None, help="run directory (default runs/cells/full or runs/cells/quick); emptied")
    p.add_argument("--noise-dir", default=str(REPO.parent / "shared/data/noise_speech_commands_bg"))
    p.add_argument("--workers", type=int, default=2, help="training processes at a time (one thread each)")
    p.add_argument("--sections", default="1,2,3,4,5,6", help="comma-separated subset of sections to run")
    a = p.parse_args()

    t_start = time.time()
    torch.set_num_threads(1)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker  # noqa: F401  (ctx["matplotlib"].ticker)

    sections = {int(s) for s in a.sections.split(",") if s.strip()}
    data = Path(a.data).resolve()
    out = Path(a.out).resolve()
    work = Path(a.work).resolve() if a.work else REPO / "runs" / "cells" / ("quick" if a.quick else "full")
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
    for sec, make in ((1, s1_jobs), (2, s2_jobs), (4, s4_jobs), (5, s5_jobs), (6, s6_jobs)):
        if sec in sections or (sec == 1 and 6 in sections):
            jobs += make(ctx)
    if 3 in sections and 2 not in sections:
        ctx["s2_plan"] = s2_plan()
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
    if 1 in sections or 6 in sections:
        res["s1"] = s1_results(ctx, done)
    if 2 in sections:
        res["s2"] = s2_results(ctx, done)
    if 3 in sections:
        res["s3"] = s3_run(ctx, res.get("s2"))
    if 4 in sections:
        res["s4"] = s4_results(ctx, done)
    if 5 in sections:
        res["s5"] = s5_results(ctx, done)
    if 6 in sections:
        res["s6"] = s6_results(ctx, done, res.get("s1"))
    res["total_minutes"] = (time.time() - t_start) / 60

    out.mkdir(parents=True, exist_ok=True)
    (out / "cells.json").write_text(json.dumps(res, indent=1, default=str) + "\n", encoding="utf-8")
    (out / "cells.md").write_text(report(res), encoding="utf-8")
    print(f"wrote {out / 'cells.md'}, {out / 'cells.json'} and {plots}/ in {res['total_minutes']:.1f} min", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
