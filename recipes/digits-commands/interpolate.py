"""Weight-space interpolation of a fine-tuned model with the model it started from (WiSE-FT,
Wortsman et al. 2022): every weight becomes ``alpha * tuned + (1 - alpha) * start``.

Fine-tuning on the training speakers can cost some of the starting model's robustness on voices it
never heard; a point between the two often keeps both. The two models must have the same shape
(the fine-tuned one started from the other, with ``train.init``); the output is a model directory
with the fine-tuned model's config (its front end, its look-ahead, its decoder) and the mixed weights.

    python recipes/digits-commands/interpolate.py --start digits-commands \\
        --tuned runs/digits-commands-streaming/best --alpha 0.75 --out runs/digits-commands-streaming/wise

``alpha`` is chosen on the dev speakers (streaming_finetune.sh tries several), never on a test set.
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))
from lstm_asr.checkpoint import load_model_files, resolve_model, save_model  # noqa: E402
from lstm_asr.errors import AsrError  # noqa: E402
from lstm_asr.text import Vocabulary  # noqa: E402


def interpolate(start, tuned, alpha: float, out: Path) -> Path:
    """-> ``out``: ``tuned``'s directory with the weights alpha * tuned + (1 - alpha) * start."""
    start_dir, tuned_dir = resolve_model(start), resolve_model(tuned)
    _, _, a = load_model_files(start_dir)
    config, vocab_path, b = load_model_files(tuned_dir)
    if a.keys() != b.keys() or any(a[k].shape != b[k].shape for k in a):
        raise SystemExit(f"error: {tuned_dir} and {start_dir} differ in shape: interpolation needs the same model")
    if out.resolve() == tuned_dir.resolve():
        raise SystemExit(f"error: {out}: give a new directory, not the fine-tuned model's own")
    mixed = {k: (alpha * b[k].double() + (1 - alpha) * a[k].double()).to(b[k].dtype)
             if b[k].is_floating_point() else b[k] for k in b}
    config["interpolated"] = {"start": str(start), "tuned": str(tuned), "alpha": alpha}
    card = tuned_dir / "README.md"
    shutil.rmtree(out, ignore_errors=True)
    return save_model(out, config, Vocabulary.load(vocab_path), mixed,
                      card.read_text(encoding="utf-8") if card.is_file() else None)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--start", required=True, help="the model fine-tuning started from (directory or bundled name)")
    ap.add_argument("--tuned", required=True, help="the fine-tuned model directory")
    ap.add_argument("--alpha", type=float, required=True, help="weight of the fine-tuned model, 0..1")
    ap.add_argument("--out", required=True, type=Path, help="new model directory")
    a = ap.parse_args()
    if not 0.0 <= a.alpha <= 1.0:
        ap.error(f"--alpha must be in 0..1, not {a.alpha}")
    try:
        print(interpolate(a.start, a.tuned, a.alpha, a.out))
    except AsrError as e:
        raise SystemExit(f"error: {e}") from None
    return 0


if __name__ == "__main__":
    sys.exit(main())
