"""Ablation: each robustness technique switched off in turn, on the stage-1 (Speech Commands only)
recipe with a shortened schedule, scored on voices no run trained on.

    python recipes/digits-commands/ablation.py [--epochs 10] [--variants full,utterance_norm,...]

Every variant is base.yaml with one change (``--set`` overrides), trained for the same number of
epochs with the same seed, then evaluated with the model's decoder (beam search over the 20 words)
on the Speech Commands test speakers (digits, commands) and on FSDD's test split (all 5 FSDD voices
are unseen by stage 1). Writes recipes/digits-commands/ablation.json and prints a Markdown table.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent


def locations(p: argparse.ArgumentParser, runs: str, out: Path) -> None:
    """The options this folder's experiment scripts share: where runs go, the CLI, the results file."""
    p.add_argument("--runs", default=runs, help=f"run directories (default {runs})")
    p.add_argument("--bin", default=".venv/bin/lstm-asr", help="the lstm-asr command")
    p.add_argument("--out", default=str(out), help="results file (JSON; updated, not overwritten)")
VARIANTS = {
    "full": [],
    "utterance_norm": ["features.normalize=utterance"],   # per-utterance CMVN instead of global statistics
    "no_vtlp": ["augment.vtlp=[]"],
    "no_specaugment": ["augment.freq_masks=0", "augment.time_masks=0"],
    "no_noise_reverb": ["augment.noise_prob=0", "augment.reverb_prob=0"],
    "no_speed": ["augment.speeds=[1.0]"],
    "small_model": ["model.hidden_size=96"],
}
TESTS = ["test_sc_digits", "test_sc_commands", "test_fsdd"]


def run(cmd: list[str]) -> str:
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--variants", default="full,utterance_norm,no_vtlp")
    p.add_argument("--data", default="data/digits-commands")
    locations(p, "runs/ablation", HERE / "ablation.json")
    a = p.parse_args()
    results = json.loads(Path(a.out).read_text()) if Path(a.out).is_file() else {}
    for name in a.variants.split(","):
        out = Path(a.runs) / name
        state = out / "last" / "trainer.json"
        done = state.is_file() and json.loads(state.read_text())["epoch"] >= a.epochs
        if not done:
            sets = [x for s in VARIANTS[name] for x in ("--set", s)]
            run([a.bin, "--threads", "1", "train", "--config", str(HERE / "base.yaml"), "--out", str(out),
                 "--epochs", str(a.epochs), "--no-progress", *sets,
                 *("--resume",) * state.is_file()])
        row = {"overrides": VARIANTS[name], "epochs": a.epochs}
        for test in TESTS:
            res = json.loads(run([a.bin, "--threads", "1", "evaluate", "--model", str(out / "best"),
                                  "--manifest", f"{a.data}/{test}.jsonl", "--json", "--no-progress"]))
            row[test] = round(100 * res["sent_acc"], 1)
        results[name] = row
        Path(a.out).write_text(json.dumps(results, indent=1) + "\n")
        print(name, row, file=sys.stderr, flush=True)
    print("| variant | change | SC digits (unseen) | SC commands (unseen) | FSDD test (unseen) |")
    print("|---|---|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {' '.join(r['overrides']) or '-'} | {r['test_sc_digits']} % | "
              f"{r['test_sc_commands']} % | {r['test_fsdd']} % |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
