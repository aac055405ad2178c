"""Adapting a trained model to one voice: a short fine-tuning on a handful of that person's
recordings (10-50), in minutes on a CPU, written as a new model directory.

    >>> from lstm_asr.adapt import adapt
    >>> adapt("digits-commands", "me.jsonl", "models/me", minutes=2)   # then: --model models/me

The adapted model keeps the original's front end (with its feature statistics), shape,
vocabulary and decoder; only its weights move. Augmentation is light (tempo ±5 %, gain, silence,
one frequency mask) and leaves the voice's own vocal tract alone (no VTLP).
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from .checkpoint import load_model_files, resolve_model
from .data import read_manifest
from .errors import ConfigError
from .train import RunConfig, train


def adapt(model, manifest, out, minutes: float = 2.0, epochs: int = 40, lr: float = 1e-3,
          device: str = "auto", threads: int = 1, seed: int = 0, progress: bool = True, log=print) -> Path:
    """Fine-tune ``model`` (a directory or bundled name) on ``manifest`` for at most ``minutes``
    (0: no time limit) or ``epochs`` passes and write the adapted model directory ``out``; returns
    ``out``. The values are checked as the run's ``train.max_minutes``, ``train.epochs``, ``train.lr``."""
    src = resolve_model(model)
    config, _, _ = load_model_files(src)
    n = len(read_manifest(manifest).utterances)  # a bad line stops here, naming FILE:LINE
    out = Path(out)
    if out.resolve() == src.resolve():
        raise ConfigError(f"{out}: would overwrite the model being adapted; choose another --out")
    cfg = RunConfig.from_dict({
        "name": f"{config.get('name', 'model')}-adapted",
        "description": f"{config.get('name', 'model')} adapted to one voice on {n} recordings of {manifest}.",
        "decoding": config.get("decoding") or {},
        "augment": {"speeds": [0.95, 1.0, 1.05], "pad_prob": 0.5, "pad_max_s": 0.2, "gain_db": [-10, 6],
                    "freq_masks": 1, "freq_mask_width": 8, "time_masks": 0},
        "train": {"init": str(src), "manifests": [str(manifest)], "dev": "", "epochs": epochs,
                  "batch_seconds": 20, "max_batch": 16, "lr": lr, "warmup": 0.1, "patience": 10**6,
                  "max_minutes": minutes, "threads": threads, "device": device, "seed": seed,
                  "sortagrad": False},
    })
    cfg.model.dropout = float(config.get("model", {}).get("dropout", 0.1))
    with tempfile.TemporaryDirectory(prefix="lstm-asr-adapt-") as tmp:
        cfg.train.out_dir = tmp
        best = train(cfg, progress=progress, log=log)
        if out.exists():
            shutil.rmtree(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(best, out)
    return out
