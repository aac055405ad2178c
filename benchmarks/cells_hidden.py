"""Section 4 of benchmarks/cells.py: LSTM hidden-size sweep. Parameters, inference speed (batch 1 / 16)
and accuracy after a short budget.

    python benchmarks/cells_hidden.py [--data data/digits] [--minutes-per-run 3] [--quick] [--out docs]

Part of benchmarks/cells.py, which runs every section and writes OUT/cells.md. Run alone, this file
trains the four sizes, prints its part of the report, writes OUT/cells/s4_hidden_sweep.png and replaces
the "s4" entry of OUT/cells.json (cells.md is left as it is).
"""
from __future__ import annotations

import sys
from pathlib import Path

from cells_common import (BUDGET, CTC_MODEL, FEATURES, ctc_vocab_size, evaluate, main, pct, read_curves, save,
                          table, time_forward, train_spec)
from lstm_asr.transcribe import Recognizer

SECTION = 4
HIDDEN_SWEEP = [64, 128, 256, 512]


def make_jobs(ctx: dict) -> list[dict]:
    V = ctc_vocab_size(ctx["man"]["s4_train"])
    minutes = ctx["M"] * BUDGET["s4"]
    jobs = []
    for h in HIDDEN_SWEEP:
        model = {**CTC_MODEL, "cell": "lstm", "hidden_size": h, "num_outputs": V, "input_size": FEATURES["n_mels"]}
        jobs.append(train_spec(f"s4_h{h}", minutes * (1 + h / 512), ctx["work"] / "s4" / f"h{h}", model,
                               [ctx["man"]["s4_train"]], ctx["man"]["dev_single"], minutes))
    return jobs


def results(ctx: dict, done: dict, earlier: dict) -> dict:
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


def report(res: dict) -> list[str]:
    """This section's lines of cells.md."""
    s, plots = res["s4"], res["plots_dir"]
    L = ["## 4. LSTM hidden-size sweep", "",
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
    return L


if __name__ == "__main__":
    sys.exit(main(__doc__, [sys.modules[__name__]], alone="hidden"))
