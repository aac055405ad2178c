"""The noise-robustness table of docs/robustness.md from `lstm-asr evaluate --noise ... --json` runs.

    .venv/bin/python benchmarks/robustness_table.py --model NAME --record results.jsonl \\
        "seen noise=seen.jsonl" "babble=babble.jsonl" "hum + pink=hum_pink.jsonl"

Prints a Markdown table (one row per condition, one column per noise kind: WER % with its 95 %
interval by speaker, then sentence accuracy) and the issue's goal: at 10 dB of each unseen noise
kind the WER is at most twice the clean WER. ``--unseen`` names the kinds the goal is checked on
(default: every kind but the first). ``--record FILE`` appends one JSON line per kind and condition.
"""
from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import platform
from pathlib import Path


def model_label(model: str | None) -> str:
    """The model's name (or directory), the first 12 hex digits of its weights' SHA-256 (a bundled
    name is not enough once the bundled model has been replaced) and its prior scale, if any (the
    same weights decode differently with the units' priors)."""
    from lstm_asr.checkpoint import DEFAULT_MODEL, resolve_model
    path = resolve_model(model)
    digest = hashlib.sha256((path / "model.safetensors").read_bytes()).hexdigest()[:12]
    scale = (json.loads((path / "config.json").read_text(encoding="utf-8")).get("decoding") or {}).get("prior_scale")
    return f"{model or DEFAULT_MODEL} (weights sha256 {digest}{f', priors {scale}' if scale else ''})"


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", metavar="KIND=FILE", help="a noise kind and its evaluate --json output")
    p.add_argument("--model", default=None)
    p.add_argument("--unseen", default=None, help="comma-separated kinds the goal is checked on")
    p.add_argument("--record", default=None, metavar="FILE", help="append the figures as JSON lines")
    args = p.parse_args(argv)
    kinds = {}
    for run in args.runs:
        kind, _, file = run.partition("=")
        kinds[kind] = {str(r["snr"]): r for r in map(json.loads, Path(file).read_text().splitlines())}
    names = list(kinds)
    unseen = args.unseen.split(",") if args.unseen else names[1:]
    label, today = model_label(args.model), datetime.date.today().isoformat()
    machine = f"{platform.machine()}, {__import__('os').cpu_count()} cores"

    conds = list(next(iter(kinds.values())))
    cell = lambda r: (f"{100 * r['wer']:.1f} ({100 * r['ci95']['wer'][0]:.0f}-{100 * r['ci95']['wer'][1]:.0f})"  # noqa: E731
                      f" / {100 * r['sent_acc']:.1f}")
    print(f"Model: {label}; {today}; {machine}.\n")
    print("| condition | " + " | ".join(f"{k}: WER % (95 % CI) / sent. acc. %" for k in names) + " |")
    print("|---|" + "---|" * len(names))
    for c in conds:
        print(f"| {c if c == 'clean' else c.removesuffix('.0') + ' dB'} | "
              + " | ".join(cell(kinds[k][c]) if c in kinds[k] else "-" for k in names) + " |")
    n = {r["n"] for k in names for r in kinds[k].values()}
    print(f"\nn = {', '.join(map(str, sorted(n)))} utterances per cell.\n")
    for k in unseen:
        clean, ten = kinds[k].get("clean"), kinds[k].get("10.0")
        if clean and ten:
            ratio = ten["wer"] / clean["wer"] if clean["wer"] else float("inf")
            print(f"- Goal at 10 dB of {k}: WER {100 * ten['wer']:.1f} % vs clean {100 * clean['wer']:.1f} % "
                  f"= {ratio:.2f}x clean: {'met' if ratio <= 2 else 'NOT met'} (at most 2x).")
    if args.record:
        with open(args.record, "a", encoding="utf-8") as f:
            for k in names:
                for c, r in kinds[k].items():
                    f.write(json.dumps({"model": label, "date": today, "machine": machine, "noise_kind": k,
                                        "snr": r["snr"], "noise": r["noise"], "seed": r["seed"], "n": r["n"],
                                        "wer": r["wer"], "cer": r["cer"], "sent_acc": r["sent_acc"],
                                        "wer_ci95": r["ci95"]["wer"], "rtf": r["rtf"]}) + "\n")


if __name__ == "__main__":
    main()
