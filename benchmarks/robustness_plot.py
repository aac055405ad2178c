"""WER against SNR per noise kind, one line per (model, kind), from benchmarks/results/robustness.jsonl.

    .venv/bin/python benchmarks/robustness_plot.py [--models SUBSTRING,...] [--out docs/robustness.png]

Clean is drawn at the right end (as an SNR of infinity); each model's lines share a colour, each
noise kind a line style; the dashed grey line is twice the first model's clean WER (the goal).
"""
import argparse
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", default=str(ROOT / "benchmarks" / "results" / "robustness.jsonl"))
    ap.add_argument("--models", default="a8511a94ada4", help="comma-separated substrings of the model labels to draw")
    ap.add_argument("--out", default=str(ROOT / "docs" / "robustness.png"))
    args = ap.parse_args()
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows = [json.loads(line) for line in Path(args.results).read_text(encoding="utf-8").splitlines() if line.strip()]
    wanted = [m.strip() for m in args.models.split(",") if m.strip()]
    styles = {"seen noise": "-", "babble": "--", "hum + pink": ":"}
    clean_x = 25.0
    fig, ax = plt.subplots(figsize=(6.4, 4))
    goal = None
    for ci, want in enumerate(wanted):
        mine = [r for r in rows if want in r["model"]]
        if not mine:
            raise SystemExit(f"no rows for a model matching {want!r} in {args.results}")
        label = mine[0]["model"]
        for kind, style in styles.items():
            pts = {}
            for r in mine:
                if r["noise_kind"] == kind:
                    pts[clean_x if r["snr"] == "clean" else float(r["snr"])] = 100 * r["wer"]
            xs = sorted(pts)
            ax.plot(xs, [pts[x] for x in xs], style, marker="o", color=f"C{ci}", label=f"{label}: {kind}")
            if goal is None and clean_x in pts:
                goal = 2 * pts[clean_x]
    if goal is not None:
        ax.axhline(goal, color="grey", ls="--", lw=0.8, label="2x clean WER (goal at 10 dB)")
    ax.set_xticks([0, 5, 10, 20, clean_x], ["0", "5", "10", "20", "clean"])
    ax.set(xlabel="SNR (dB)", ylabel="WER (%)", title="Error under noise, unseen Speech Commands speakers")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(args.out, dpi=100)
    print(args.out)


if __name__ == "__main__":
    main()
