"""Section 1 of benchmarks/cells.py: RNN vs LSTM vs GRU at equal parameter budgets and equal wall time,
CTC on connected digit strings.

    python benchmarks/cells_budget.py [--data data/digits] [--minutes-per-run 3] [--quick] [--out docs]

Part of benchmarks/cells.py, which runs every section and writes OUT/cells.md. Run alone, this file
trains the three cells, prints its part of the report, writes OUT/cells/s1_learning_curves.png and replaces
the "s1" entry of OUT/cells.json (cells.md is left as it is).
"""
from __future__ import annotations

import sys
from pathlib import Path

from cells_common import (BUDGET, CELL_NAMES, COLORS, CTC_MODEL, FEATURES, LSTM_HIDDEN, ctc_vocab_size, evaluate,
                          main, match_hidden, n_params, pct, read_curves, save, table, train_spec)

SECTION = 1
CONVERGED_WER = 0.5       # "converged" = best dev WER below this by the end of the budget


def make_jobs(ctx: dict) -> list[dict]:
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
    return [train_spec(f"s1_{cell}", minutes, ctx["work"] / "s1" / cell, plan[cell]["model"],
                       [ctx["man"]["s1_train"]], ctx["man"]["dev"], minutes) for cell in CELL_NAMES]


def results(ctx: dict, done: dict, earlier: dict) -> dict:
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
    plot(ctx, rows)
    return {"budget_minutes": ctx["M"] * BUDGET["s1"], "train_manifest": ctx["man"]["s1_train"],
            "model": {k: v for k, v in CTC_MODEL.items()}, "cells": rows}


def plot(ctx: dict, rows: dict) -> None:
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


def report(res: dict) -> list[str]:
    """This section's lines of cells.md."""
    s, plots = res["s1"], res["plots_dir"]
    c = s["cells"]
    L = ["## 1. RNN vs LSTM vs GRU on connected digit strings (equal parameters, equal wall time)", "",
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
    return L


if __name__ == "__main__":
    sys.exit(main(__doc__, [sys.modules[__name__]], alone="budget"))
