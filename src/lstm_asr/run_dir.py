"""The files of a run directory besides the model itself: the ``last`` pointer and the ``ckpt-N``
checkpoints it names, the learning curves (CSV, PNG) and the model card (README.md) written with
each best model. Training (:mod:`.train`) calls these; nothing here knows about the loop."""
from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The newest complete checkpoint of a run (``last``, else the newest ``ckpt-N``), or None."""
    run_dir = Path(run_dir)
    if (run_dir / "last" / "trainer.json").is_file():
        return run_dir / "last"
    done = [p for p in run_dir.glob("ckpt-*") if (p / "trainer.json").is_file() and p.name[5:].isdigit()]
    return max(done, key=lambda p: int(p.name[5:])) if done else None


def point_last_at(run_dir: Path, ckpt: Path) -> None:
    """Make ``run_dir/last`` name ``ckpt`` atomically (a symlink replaced with os.replace), then
    delete the older checkpoints: at every moment ``last`` or a ckpt-N is complete."""
    link = run_dir / "last.link"
    link.unlink(missing_ok=True)
    link.symlink_to(ckpt.name)
    os.replace(link, run_dir / "last")
    for old in run_dir.glob("ckpt-*"):
        if old != ckpt:
            shutil.rmtree(old, ignore_errors=True)


def write_curves(run_dir: Path, history: list[dict]) -> None:
    """The learning curves: curves.csv, and curves.png when matplotlib is installed."""
    with open(run_dir / "curves.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(history[0]))
        w.writeheader()
        w.writerows(history)
    try:  # the plot is optional: the CSV holds the same numbers
        import matplotlib
    except ImportError:
        return
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    for ax, key, scale, label, title, color in ((axes[0], "train_loss", 1, "train loss", "training loss", "C0"),
                                                (axes[1], "wer", 100, "dev WER (%)", "dev WER", "C1")):
        ax.plot([h["epoch"] for h in history], [scale * h[key] for h in history], marker="o", color=color)
        ax.set(xlabel="epoch", ylabel=label, title=title)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(run_dir / "curves.png", dpi=100)
    plt.close(fig)


def model_card(cfg, history: list[dict], best_row: dict) -> str:
    """The README.md of a trained model directory: what it is, its shape, its data, its best epoch."""
    tc = cfg.train
    lines = [f"# {cfg.name}", "", cfg.description or "", "",
             f"- cell {cfg.model.cell}, layers {cfg.model.layer_sizes}, bidirectional {cfg.model.bidirectional}, "
             f"subsampling x{cfg.model.subsample}, CTC",
             f"- trained on: {', '.join(map(str, tc.manifests))}; dev: {tc.dev}",
             (f"- best epoch {best_row['epoch']} of {len(history)} run so far: dev wer {best_row['wer']:.4f}, "
              if tc.dev else f"- epoch {best_row['epoch']} of {len(history)} run so far (no dev set: the latest is kept), ")
             + f"after {best_row['seconds'] / 60:.1f} min of training",
             ""]
    return "\n".join(lines)
