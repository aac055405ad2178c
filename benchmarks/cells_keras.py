"""Section 6 of benchmarks/cells.py: the seed's Keras classifier (LSTM 128 -> LSTM 64 -> softmax) next to
the CTC models (section 1's LSTM and the bundled model).

    python benchmarks/cells_keras.py [--data data/digits] [--minutes-per-run 3] [--quick] [--out docs]

Part of benchmarks/cells.py, which runs every section and writes OUT/cells.md. Run alone, this file
runs section 1 (cells_budget.py) too, as cells.py does for section 6, since its LSTM is compared;
it prints both sections' part of the report, writes OUT/cells/s1_learning_curves.png and
s6_keras_vs_ctc.png and replaces the "s1" and "s6" entries of OUT/cells.json (cells.md is left as
it is).
"""
from __future__ import annotations

import sys
from pathlib import Path

import cells_budget
from cells_common import BUDGET, FEATURES, evaluate, main, pct, read_curves, save, table, train_spec
from lstm_asr.errors import AsrError
from lstm_asr.transcribe import Recognizer

SECTION = 6
NEEDS = (1,)   # the section-1 LSTM is one of the models compared

KERAS_MODEL = {"cell": "lstm", "num_layers": 2, "hidden_size": [128, 64], "bidirectional": False, "dropout": 0.0,
               "subsample": 1, "head": "classifier", "pool": "last", "input_size": FEATURES["n_mels"]}


def make_jobs(ctx: dict) -> list[dict]:
    minutes = ctx["M"] * BUDGET["s6"]
    return [train_spec("s6_keras", minutes, ctx["work"] / "s6" / "keras", dict(KERAS_MODEL),
                       [ctx["man"]["s6_train"]], ctx["man"]["dev_single"], minutes)]


def results(ctx: dict, done: dict, earlier: dict) -> dict:
    waves, texts = ctx["sets"]["test"]
    s1 = earlier.get("s1")
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


def report(res: dict) -> list[str]:
    """This section's lines of cells.md."""
    s, plots = res["s6"], res["plots_dir"]
    L = ["## 6. The seed's Keras example as a classifier", "",
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
    return L


if __name__ == "__main__":
    sys.exit(main(__doc__, [cells_budget, sys.modules[__name__]], alone="keras"))
