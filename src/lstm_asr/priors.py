"""Unit priors of a CTC model: how often it emits each unit (blank included), estimated as the mean
of its posteriors over the frames of training audio; written into the model directory's
``config.json`` (``decoding.log_priors``, with ``decoding.prior_scale``), where every decoder reads
them (:func:`lstm_asr.decoding.prior_bias`).

    lstm-asr priors -m runs/x/best --manifest data/train.jsonl --scale 0.15

A model trained on words whose phones only synthetic voices said emits those phones rarely on real
voices; reading its outputs divided by the priors (``log p(unit|x) - a log p(unit)``) gives them a
fairer hearing. The scale is chosen on dev (``recipes/digits-commands/RESULTS.md``).
"""
from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import torch

from .audio import load_audio
from .errors import ConfigError
from .output import dumps, write_atomic

BATCH = 32


def estimate_log_priors(rec, utterances, clips: int = 600, seed: int = 0, progress=None) -> list[float]:
    """log of the mean posterior of each unit over the frames of ``clips`` utterances drawn (with
    ``seed``) from ``utterances`` (``lstm_asr.data.Utterance``), each read whole; an unreadable file
    raises :class:`~lstm_asr.errors.AudioError`. ``progress(n)`` is called with the clips done."""
    chosen = list(utterances)
    random.Random(seed).shuffle(chosen)
    chosen = chosen[:clips]
    if not chosen:
        raise ConfigError("no utterances to estimate the priors from")
    total = torch.zeros(len(rec.vocab), dtype=torch.float64)
    frames = 0
    for i in range(0, len(chosen), BATCH):
        out, lengths = rec.posteriors([load_audio(u.audio) for u in chosen[i:i + BATCH]])
        for j, n in enumerate(lengths.tolist()):
            total += out[j, :n].double().exp().sum(0)
            frames += n
        if progress is not None:
            progress(min(i + BATCH, len(chosen)))
    return [round(float(v), 5) for v in np.log(np.maximum((total / frames).numpy(), 1e-30))]


def write_priors(model_dir, log_priors: list[float], scale: float | None = None) -> Path:
    """Put ``log_priors`` (and ``scale``, when given) into ``model_dir/config.json``'s decoding
    section, the rest of the file unchanged; the file is replaced whole (never half written)."""
    path = Path(model_dir) / "config.json"
    if not path.is_file():
        raise ConfigError(f"{model_dir}: not a model directory (no config.json)")
    config = json.loads(path.read_text(encoding="utf-8"))
    decoding = dict(config.get("decoding") or {})
    decoding["log_priors"] = log_priors
    if scale is not None:
        decoding["prior_scale"] = scale
    config["decoding"] = decoding
    return write_atomic(path, dumps(config, indent=1) + "\n")
