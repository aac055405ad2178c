"""Section 5 of benchmarks/cells.py: overfitting on 150 utterances. No regularisation vs dropout 0.3 +
weight decay 0.05.

    python benchmarks/cells_overfit.py [--data data/digits] [--minutes-per-run 3] [--quick] [--out docs]

Part of benchmarks/cells.py, which runs every section and writes OUT/cells.md. Run alone, this file
trains both variants, prints its part of the report, writes OUT/cells/s5_overfitting.png and replaces
the "s5" entry of OUT/cells.json (cells.md is left as it is).
"""
from __future__ import annotations

import sys
from pathlib import Path

from cells_common import (BUDGET, CTC_MODEL, FEATURES, LSTM_HIDDEN, ctc_vocab_size, evaluate, load_set, main, pct,
                          read_curves, save, table, train_spec)

SECTION = 5
S5_VARIANTS = {"plain": {"dropout": 0.0, "weight_decay": 0.0}, "regularised": {"dropout": 0.3, "weight_decay": 0.05}}


def make_jobs(ctx: dict) -> list[dict]:
    V = ctc_vocab_size(ctx["man"]["s5_train"])
    minutes = ctx["M"] * BUDGET["s5"]
    jobs = []
    for name, v in S5_VARIANTS.items():
        model = {**CTC_MODEL, "cell": "lstm", "hidden_size": LSTM_HIDDEN, "num_outputs": V,
                 "input_size": FEATURES["n_mels"], "dropout": v["dropout"]}
        jobs.append(train_spec(f"s5_{name}", minutes, ctx["work"] / "s5" / name, model, [ctx["man"]["s5_train"]],
                               ctx["man"]["dev"], minutes, weight_decay=v["weight_decay"]))
    return jobs


def results(ctx: dict, done: dict, earlier: dict) -> dict:
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


def report(res: dict) -> list[str]:
    """This section's lines of cells.md."""
    s, plots = res["s5"], res["plots_dir"]
    L = ["## 5. Overfitting on a small training set", "",
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
    return L


if __name__ == "__main__":
    sys.exit(main(__doc__, [sys.modules[__name__]], alone="overfit"))
