"""Leave-one-speaker-out over FSDD's 5 speakers, with Speech Commands always in training, and
adaptation to each held-out voice.

    python recipes/digits-commands/loso.py [--jobs 2] [--speakers george,jackson,...]

For each FSDD speaker S: prepare.py --holdout S (S leaves training entirely), then stage 2 of the
recipe (config.yaml: starts from the stage-1 model, which never heard FSDD) on Speech Commands + the
other 4 FSDD speakers; then score S's 500 recordings (single digits, the model's own decoder and
greedy) and 300 digit strings built from them. Adaptation: `lstm-asr adapt` on 20 of S's
recordings (two per digit, file indices 0 and 1) and the 480 others scored before and after.
Writes recipes/digits-commands/loso.json and runs/loso/S/*.hyps.jsonl (per-utterance results).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from ablation import locations  # noqa: E402
SPEAKERS = ["george", "jackson", "nicolas", "theo", "yweweler"]


def sh(*cmd) -> str:
    return subprocess.run([str(c) for c in cmd], check=True, capture_output=True, text=True).stdout


def evaluate(a, model, manifest, hyps=None, greedy=False) -> dict:
    extra = (["--save-hyps", hyps] if hyps else []) + (["--greedy"] if greedy else [])
    res = json.loads(sh(a.bin, "--threads", "1", "evaluate", "--model", model, "--manifest", manifest,
                        "--json", "--no-progress", *extra))
    return {"acc": round(100 * res["sent_acc"], 2), "wer": round(100 * res["wer"], 2), "n": res["n"]}


def fold(a, spk: str) -> dict:
    data, run = Path(a.data) / spk, Path(a.runs) / spk
    if not (data / "test_fsdd.jsonl").is_file():
        sh(a.python, HERE / "prepare.py", "--holdout", spk, "--out", data, "--sc-seqs", 600, "--fsdd-seqs", 600)
    state = run / "last" / "trainer.json"
    if not (state.is_file() and json.loads(state.read_text())["epoch"] >= a.epochs):
        manifests = [f"{data}/{n}.jsonl" for n in ("sc_train", "sc_seq_train", "fsdd_train", "fsdd_seq_train")]
        sh(a.bin, "--threads", "1", "train", "--config", HERE / "config.yaml", "--out", run, "--no-progress",
           "--epochs", a.epochs, "--set", f"train.manifests={json.dumps(manifests)}",
           "--set", f"train.dev={data}/dev.jsonl", "--set", f"train.init={a.base}",
           *(["--resume"] if state.is_file() else []))
    model = run / "best"
    r = {"speaker": spk,
         "single": evaluate(a, model, data / "test_fsdd.jsonl", run / "single.hyps.jsonl"),
         "single_greedy": evaluate(a, model, data / "test_fsdd.jsonl", greedy=True),
         "strings": evaluate(a, model, data / "test_fsdd_seq.jsonl", run / "strings.hyps.jsonl")}
    # adaptation: 20 recordings (indices 0, 1 of each digit) vs the other 480
    rows = [json.loads(x) for x in (data / "test_fsdd.jsonl").read_text().splitlines()]
    idx = lambda row: int(Path(row["audio"]).stem.rsplit("_", 1)[1])  # noqa: E731
    (data / "adapt.jsonl").write_text("".join(json.dumps(x) + "\n" for x in rows if idx(x) < 2))
    (data / "adapt_test.jsonl").write_text("".join(json.dumps(x) + "\n" for x in rows if idx(x) >= 2))
    sh(a.bin, "--threads", "1", "adapt", "--model", model, "--manifest", data / "adapt.jsonl",
       "--out", run / "adapted", "--minutes", a.adapt_minutes, "--no-progress")
    r["adapt_before"] = evaluate(a, model, data / "adapt_test.jsonl")
    r["adapt_after"] = evaluate(a, run / "adapted", data / "adapt_test.jsonl", run / "adapted.hyps.jsonl")
    print(json.dumps(r), file=sys.stderr, flush=True)
    return r


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--speakers", default=",".join(SPEAKERS))
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--epochs", type=int, default=5, help="stage-2 epochs (config.yaml: 5)")
    p.add_argument("--base", default="runs/digits-commands-base/best", help="the stage-1 model")
    p.add_argument("--adapt-minutes", type=float, default=2.0)
    p.add_argument("--data", default="data/digits-commands-loso")
    p.add_argument("--python", default=".venv/bin/python")
    locations(p, "runs/loso", HERE / "loso.json")
    a = p.parse_args()
    with ThreadPoolExecutor(a.jobs) as pool:
        results = list(pool.map(lambda s: fold(a, s), a.speakers.split(",")))
    old = json.loads(Path(a.out).read_text()) if Path(a.out).is_file() else {}
    old.update({r["speaker"]: r for r in results})
    Path(a.out).write_text(json.dumps(old, indent=1) + "\n")
    keys = ["single", "single_greedy", "strings", "adapt_before", "adapt_after"]
    print("| held-out speaker | single digits | (greedy) | strings WER | before adapt (480) | after adapt |")
    print("|---|---|---|---|---|---|")
    for r in old.values():
        print(f"| {r['speaker']} | {r['single']['acc']} % | {r['single_greedy']['acc']} % | {r['strings']['wer']} % | "
              f"{r['adapt_before']['acc']} % | {r['adapt_after']['acc']} % |")
    n = len(old)
    mean = {k: sum(r[k]["wer" if k == "strings" else "acc"] for r in old.values()) / n for k in keys}
    print(f"| **mean** | **{mean['single']:.1f} %** | {mean['single_greedy']:.1f} % | **{mean['strings']:.2f} %** | "
          f"{mean['adapt_before']:.1f} % | {mean['adapt_after']:.1f} % |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
