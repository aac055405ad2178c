"""Leave-one-speaker-out evaluation of the digits recipe: for each FSDD speaker, train on the other
four (same config as the bundled model) and test on all 500 recordings of the held-out speaker.

    python recipes/digits/loso.py [--fsdd ../shared/data/fsdd] [--jobs 2] [--epochs 15]

Runs ``--jobs`` trainings at once (one thread each) and writes recipes/digits/loso.json and a
table on stdout.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

SPEAKERS = ["george", "jackson", "lucas", "nicolas", "theo", "yweweler"]
HERE = Path(__file__).parent
WORDS = "zero one two three four five six seven eight nine"


def one(spk: str, a) -> dict:
    data, run = Path(f"data/digits_loso/{spk}"), Path(f"runs/digits_loso/{spk}")
    py, cli = sys.executable, [sys.executable, "-m", "lstm_asr.cli"]
    subprocess.run([py, str(HERE / "prepare.py"), "--fsdd", a.fsdd, "--out", str(data), "--holdout", spk],
                   check=True, capture_output=True)
    t0 = time.time()
    subprocess.run(cli + ["train", "--config", str(HERE / "config.yaml"), "--out", str(run), "--no-progress",
                          "--epochs", str(a.epochs), "--max-minutes", "0", "--set", "train.threads=1",
                          "--set", f"train.manifests=[{data}/train.jsonl]", "--set", f"train.dev={data}/dev.jsonl"]
                   + (["--resume"] if (run / "last" / "trainer.json").exists() else []),
                   check=True, capture_output=True)
    minutes = (time.time() - t0) / 60
    ev = cli + ["evaluate", "--model", str(run / "best"), "--manifest", str(data / "test.jsonl"), "--json", "--no-progress"]
    greedy = json.loads(subprocess.run(ev + ["--greedy"], check=True, capture_output=True, text=True).stdout)
    lexicon = json.loads(subprocess.run(ev + ["--beam", "8", "--words", WORDS], check=True, capture_output=True,
                                        text=True).stdout)
    return {"speaker": spk, "accuracy": lexicon["sent_acc"], "accuracy_greedy": greedy["sent_acc"], "n": greedy["n"],
            "train_minutes": round(minutes, 1)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--fsdd", default="../shared/data/fsdd")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--epochs", type=int, default=15, help="epochs per training (the recipe's schedule, shortened)")
    p.add_argument("--speakers", nargs="*", default=None)
    a = p.parse_args()
    present = {json.loads(l)["speaker"] for l in open(Path(a.fsdd) / "manifest.jsonl")}
    speakers = a.speakers or [s for s in SPEAKERS if s in present]
    with ThreadPoolExecutor(a.jobs) as pool:
        rows = list(pool.map(lambda s: one(s, a), speakers))
    mean = sum(r["accuracy"] for r in rows) / len(rows)
    mean_g = sum(r["accuracy_greedy"] for r in rows) / len(rows)
    (HERE / "loso.json").write_text(json.dumps({"rows": rows, "mean_accuracy": mean, "mean_accuracy_greedy": mean_g,
                                                "epochs": a.epochs, "jobs": a.jobs}, indent=1) + "\n")
    print("| held-out speaker | accuracy (word list, beam 8) | accuracy (greedy) | utterances | training minutes |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['speaker']} | {100 * r['accuracy']:.1f} % | {100 * r['accuracy_greedy']:.1f} % | {r['n']} "
              f"| {r['train_minutes']} |")
    print(f"| **mean** | **{100 * mean:.1f} %** | **{100 * mean_g:.1f} %** | | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
