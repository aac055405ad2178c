"""A unidirectional starting point cut from a bidirectional model: its forward half.

    python recipes/digits-commands/unidirectional_init.py [--model digits-commands] --out runs/uni-init

Keeps the front end and every forward-direction recurrent weight, drops the backward direction,
keeps the columns of the second layer's input and of the output layer that read the forward half,
and switches the features to online normalisation (``causal``; training computes its global
statistics when it starts). The result is a model directory for ``train.init`` (streaming_finetune.sh): a
far better start for a streaming model than random weights.
"""
from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))


def forward_half(state: dict, hidden: int) -> dict:
    """A bidirectional model's state dict -> the unidirectional one of its forward direction."""
    out = {}
    for k, v in state.items():
        if k.endswith("_reverse"):
            continue
        if k.startswith("encoder.layers.") and ".weight_ih_" in k and not k.startswith("encoder.layers.0."):
            v = v[:, :hidden]  # the next layer read [forward, backward]
        elif k == "head.weight":
            v = v[:, :hidden]
        out[k] = v.clone()
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="digits-commands", help="a bidirectional model (name or directory)")
    p.add_argument("--out", required=True, help="the model directory to write")
    a = p.parse_args()
    from lstm_asr.checkpoint import save_model
    from lstm_asr.transcribe import load_model
    rec = load_model(a.model)
    if not rec.model_config.bidirectional:
        sys.exit(f"error: {a.model}: already unidirectional")
    config = copy.deepcopy(rec.config)
    config.pop("format", None)
    config["model"]["bidirectional"] = False
    config["features"].update(normalize="causal", global_mean=None, global_std=None)
    state = forward_half(rec.model.state_dict(), rec.model_config.hidden_size)
    save_model(a.out, config, rec.vocab, state, readme=f"The forward half of {a.model} (unidirectional_init.py).\n")
    load_model(a.out)  # it loads: shapes and config agree
    print(a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
