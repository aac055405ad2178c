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

import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

import cells_budget
from cells_common import BUDGET, FEATURES, TRAIN, Classifier, evaluate, main, pct, read_jsonl, save, table
from lstm_asr.audio import SAMPLE_RATE, load_audio
from lstm_asr.errors import AsrError
from lstm_asr.features import FeatureConfig, FilterBank
from lstm_asr.segment import trim_silence
from lstm_asr.transcribe import Recognizer

SECTION = 6
NEEDS = (1,)   # the section-1 LSTM is one of the models compared

KERAS_MODEL = {"cell": "lstm", "num_layers": 2, "hidden_size": [128, 64], "bidirectional": False, "dropout": 0.0,
               "subsample": 1, "input_size": FEATURES["n_mels"]}


class Features:
    """Silence-trimmed recordings -> the section's log-mel features (B, T, F), lengths (B,)."""

    def __init__(self):
        self.fbank = FilterBank(FeatureConfig.from_dict(FEATURES))

    @torch.inference_mode()
    def __call__(self, waves: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
        waves = [torch.from_numpy(np.ascontiguousarray(trim_silence(w))) for w in waves]
        lengths = torch.tensor([len(w) for w in waves])
        return self.fbank(torch.nn.utils.rnn.pad_sequence(waves, batch_first=True), lengths)


def labelled(manifest: str, classes: list[str] | None = None) -> tuple[list[np.ndarray], torch.Tensor, list[str]]:
    """A manifest's recordings, their class indices and the classes (the sorted labels when not given)."""
    rows = read_jsonl(Path(manifest))
    texts = [" ".join(r["text"].split()) for r in rows]
    classes = classes or sorted(set(texts))
    keep = [k for k, t in enumerate(texts) if t in classes]
    return ([load_audio(rows[k]["audio"]) for k in keep], torch.tensor([classes.index(texts[k]) for k in keep]),
            classes)


def accuracy(model: Classifier, feats: torch.Tensor, lengths: torch.Tensor, labels: torch.Tensor) -> float:
    model.eval()
    with torch.inference_mode():
        return float((model(feats, lengths.clamp(min=1)).argmax(-1) == labels).float().mean())


def keras_job(job: dict) -> dict:
    """Train the classifier with cross-entropy (the shared TRAIN settings: AdamW, one epoch of linear
    warm-up then a constant lr, clipping; batches of similar lengths) for ``job["minutes"]``,
    checked after every epoch; keep the weights of the best dev accuracy (ties: the later)."""
    from safetensors.torch import save_file
    out = Path(job["out_dir"])
    out.mkdir(parents=True, exist_ok=True)
    featurize = Features()
    waves, labels, classes = labelled(job["train"])
    dev_waves, dev_labels, _ = labelled(job["dev"], classes)
    feats = [featurize([w]) for w in waves]  # computed once: no augmentation
    dev = featurize(dev_waves)
    torch.manual_seed(TRAIN["seed"])
    rng = np.random.default_rng(TRAIN["seed"])
    model = Classifier(KERAS_MODEL, len(classes))
    opt = torch.optim.AdamW(model.parameters(), lr=TRAIN["lr"], weight_decay=TRAIN["weight_decay"])
    order = np.argsort([int(f[1][0]) for f in feats], kind="stable")
    batches = [order[k:k + TRAIN["max_batch"]] for k in range(0, len(order), TRAIN["max_batch"])]
    curves, best, step, t0 = [], -1.0, 0, time.time()
    while time.time() - t0 < 60 * job["minutes"]:
        model.train()
        losses = []
        for b in rng.permutation(len(batches)):
            idx = batches[b]
            x = torch.nn.utils.rnn.pad_sequence([feats[i][0][0] for i in idx], batch_first=True)
            lengths = torch.cat([feats[i][1] for i in idx])
            for g in opt.param_groups:
                g["lr"] = TRAIN["lr"] * min(1.0, (step + 1) / len(batches))
            loss = torch.nn.functional.cross_entropy(model(x, lengths.clamp(min=1)), labels[torch.as_tensor(idx)])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), TRAIN["clip"])
            opt.step()
            step += 1
            losses.append(loss.item())
        acc = accuracy(model, *dev, dev_labels)
        curves.append({"epoch": len(curves) + 1, "seconds": round(time.time() - t0, 1),
                       "train_loss": float(np.mean(losses)), "error": round(1 - acc, 5)})
        if acc >= best:
            best = acc
            save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(out / "best.safetensors"))
    return {"weights": str(out / "best.safetensors"), "classes": classes, "curves": curves}


def make_jobs(ctx: dict) -> list[dict]:
    minutes = ctx["M"] * BUDGET["s6"]
    return [{"run": keras_job, "name": "s6_keras", "cost": minutes, "minutes": minutes,
             "train": ctx["man"]["s6_train"], "dev": ctx["man"]["dev_single"],
             "out_dir": str(ctx["work"] / "s6" / "keras")}]


def evaluate_classifier(job: dict, waves: list[np.ndarray], texts: list[str]) -> dict:
    """The trained classifier on ``waves`` one at a time (silence trimming, features, model): its
    accuracy and milliseconds per second of input audio, as :func:`cells_common.evaluate`."""
    from safetensors.torch import load_file
    model = Classifier(KERAS_MODEL, len(job["classes"]))
    model.load_state_dict(load_file(job["weights"]))
    model.eval()
    featurize = Features()
    with torch.inference_mode():
        for w in waves[:4]:  # warm-up
            model(*featurize([w]))
        t0 = time.perf_counter()
        hyps = [job["classes"][int(model(*featurize([w])).argmax(-1)[0])] for w in waves]
        seconds = time.perf_counter() - t0
    audio_s = sum(len(w) for w in waves) / SAMPLE_RATE
    return {"accuracy": float(np.mean([h == t for h, t in zip(hyps, texts)])) if texts else math.nan,
            "ms_per_audio_s": 1000 * seconds / audio_s, "params": model.num_parameters()}


def results(ctx: dict, done: dict, earlier: dict) -> dict:
    waves, texts = ctx["sets"]["test"]
    s1 = earlier.get("s1")
    job = done["s6_keras"]
    curves = job["curves"]
    ev = evaluate_classifier(job, waves, texts)
    rows = {"keras_classifier": {"params": ev["params"],
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
         "`cells_common.Classifier` (the library's model read once, from its state after the whole "
         "recording) of `num_layers: 2, hidden_size: [128, 64], bidirectional: false, subsample: 1, dropout: 0` "
         "(80 log-mel bins in, no convolutions), trained by this section's own loop (`keras_job`: "
         "silence-trimmed recordings, the shared AdamW settings, no augmentation) with "
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
