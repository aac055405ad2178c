"""Section 2 of benchmarks/cells.py: long delays. Which digit was said, read from the last step after
0-500 frames of real noise; RNN, LSTM and GRU at equal parameters, trained with their own loop.

    python benchmarks/cells_memory.py [--minutes-per-run 3] [--quick] [--out docs] [--noise-dir DIR]

Part of benchmarks/cells.py, which runs every section and writes OUT/cells.md. Run alone, this file
trains the three cells, prints its part of the report, writes OUT/cells/s2_delay.png and replaces
the "s2" entry of OUT/cells.json (cells.md is left as it is).
"""
from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

from cells_common import (BUDGET, CELL_NAMES, COLORS, Classifier, main, match_hidden, n_params, pct, pick,
                          read_jsonl, save, table)
from lstm_asr.audio import SAMPLE_RATE, load_audio
from lstm_asr.segment import trim_silence
from lstm_asr.features import FeatureConfig, FilterBank, normalize

SECTION = 2
DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]

# Sections 2 and 3 (own loop): 40 log-mel bins, one unidirectional layer, classifier on the last step.
S2_FEATURES = {"n_mels": 40, "high_freq": 3900, "normalize": "utterance"}
S2_LSTM_HIDDEN = 64
S2_DELAYS = [0, 50, 200, 500]   # frames (10 ms each) of noise between the digit and the last step
S2_SNR_DB = 15.0
S2_BATCH = 32
S2_LR = 2e-3
S2_CLIP = 1.0


def s2_model_config(cell: str, hidden: int) -> dict:
    """The model of :class:`cells_common.Classifier` (10 classes: ``Classifier(cfg, len(DIGITS))``)."""
    return {"cell": cell, "num_layers": 1, "hidden_size": hidden, "bidirectional": False, "dropout": 0.0,
            "subsample": 1, "num_outputs": len(DIGITS), "input_size": S2_FEATURES["n_mels"]}


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


def s2_logits(model: Classifier, feats: torch.Tensor) -> torch.Tensor:
    """The classifier's logits from the state at the last frame. Every sequence of a batch has the
    same length, so this is ``model(feats, lengths)`` without packing (PyTorch's CPU recurrent
    layers are several times slower on packed sequences of varied lengths) and without the front
    end's LayerNorm (left out here since the section was first run: its features are normalised
    per example; its 2 x 40 parameters are counted, unused)."""
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
    model = Classifier(s2_model_config(cell, job["hidden"]), len(DIGITS))
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


def make_jobs(ctx: dict) -> list[dict]:
    plan = ctx["s2_plan"] = s2_plan()
    seconds = 60 * ctx["M"] * BUDGET["s2"]
    (ctx["work"] / "s2").mkdir(parents=True, exist_ok=True)
    return [{"run": delay_job, "name": f"s2_{cell}", "cost": seconds / 60, "cell": cell, "hidden": plan[cell]["hidden"],
             "seconds": seconds, "train_manifest": ctx["man"]["train_single"], "train_limit": ctx["sz"]["s2_train"],
             "test_manifest": ctx["man"]["test"], "test_limit": ctx["sz"]["s2_test"], "noise_dir": ctx["noise_dir"],
             "weights": str(ctx["work"] / "s2" / f"{cell}.safetensors")} for cell in CELL_NAMES]


def results(ctx: dict, done: dict, earlier: dict) -> dict:
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


def report(res: dict) -> list[str]:
    """This section's lines of cells.md."""
    s, plots = res["s2"], res["plots_dir"]
    c = s["cells"]
    L = ["## 2. Carrying a digit across hundreds of frames", "",
         "Each example is a real FSDD digit (silence-trimmed) followed by `delay` frames (10 ms each) of real "
         f"background noise ({s['noise']}; the first 80 % of each file for training, the last 20 % for "
         f"testing), with the same noise also under the digit at {s['snr_db']:g} dB SNR; the digits of a batch "
         "end on the same frame (shorter ones get noise in front), so every sequence of a batch has one length. "
         f"Features: {S2_FEATURES['n_mels']} log-mel bins, normalised per example. The model (one "
         "unidirectional layer, a linear layer on its last state: `cells_common.Classifier`) must say which digit was spoken from its "
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
    return L


if __name__ == "__main__":
    sys.exit(main(__doc__, [sys.modules[__name__]], alone="memory"))
