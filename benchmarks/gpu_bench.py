"""GPU throughput of training and batched inference (benchmarks/gpu.sh runs it; DEVICE=cpu: a tiny
dry run of the same code on the CPU).

1. `lstm-asr train` (the CLI's entry point, in this process) on the default model's recipe
   (recipes/digits-commands/config.yaml, its real-noise files left out: they live in ../shared)
   for one epoch of about --steps steps, on the bundled test clips (tests/data: FSDD and Speech
   Commands) repeated: audio seconds per wall second over the epoch's steps after the first 10
   (audio = the feature frames the model saw x 10 ms, speed perturbation included).
2. The same batches replayed with no input pipeline: (a) the bare recurrent stack, torch.nn.LSTM
   layers of the model's shape (cuDNN) forward + backward on random tensors of each batch's
   (B, T', C) and (b) the whole acoustic model forward + CTC + backward + AdamW step on random
   features (B, T, 80). The ratio train / bare is the goal (>= 0.90: the input pipeline is never
   the bottleneck); train / model-only shows how much of the gap the pipeline is.
3. Batched inference of the bundled model (Recognizer.transcribe_waves: front end, segmenter,
   model, decoder) on the clips: audio seconds per wall second at two batch sizes.
Writes one JSON line to --results and prints a table."""
from __future__ import annotations

import argparse
import datetime
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
from lstm_asr import cli, load_model  # noqa: E402
from lstm_asr.audio import read_file, to_model_input  # noqa: E402
from lstm_asr.model import AcousticModel, ModelConfig, RecurrentStack  # noqa: E402

CONFIG = ROOT / "recipes" / "digits-commands" / "config.yaml"
CLIPS = [ROOT / "tests" / "data" / "fsdd" / "manifest.jsonl", ROOT / "tests" / "data" / "speech_commands" / "manifest.jsonl"]


def clips() -> list[dict]:
    rows = []
    for m in CLIPS:
        for line in m.read_text(encoding="utf-8").splitlines():
            r = json.loads(line)
            rows.append({"audio": str(m.parent / r["audio"]), "text": r["text"], "speaker": r["speaker"],
                         "duration": round(sf.info(str(m.parent / r["audio"])).duration, 3)})
    return rows


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


class Recorder:
    """Global forward pre-hook: the (B, T, F) feature batches the acoustic model sees in training,
    the (B, T', C) inputs of its recurrent stack, and the time of each training forward."""

    def __init__(self, device: str, skip: int):
        self.device, self.skip = device, skip
        self.feats, self.rnn_in, self.times = [], [], []
        self.t_end = None
        self.handle = torch.nn.modules.module.register_module_forward_pre_hook(self)

    def __call__(self, module, args):
        if isinstance(module, AcousticModel):
            if not torch.is_grad_enabled():  # the dev evaluation after the epoch: training is over
                if self.t_end is None and self.times:
                    sync(self.device)
                    self.t_end = time.perf_counter()
                return
            feats, lengths = args
            if len(self.times) == self.skip:
                sync(self.device)
            self.times.append(time.perf_counter())
            self.feats.append((tuple(feats.shape), int(lengths.sum())))
        elif isinstance(module, RecurrentStack) and torch.is_grad_enabled() and len(self.rnn_in) < len(self.times):
            self.rnn_in.append(tuple(args[0].shape))

    def close(self):
        self.handle.remove()


def train_throughput(device: str, steps: int, workdir: Path, overrides: list[str]) -> tuple[dict, Recorder, dict]:
    rows = clips()
    per_step = 40 / max(r["duration"] for r in rows)  # batch_seconds 40 of padded audio
    repeat = max(1, int(np.ceil(steps * min(per_step, 64) / len(rows))))
    (workdir / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows * repeat))
    (workdir / "dev.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[-38:]))
    rec = Recorder(device, skip=10 if steps > 20 else 1)
    args = ["train", "--config", str(CONFIG), "--out", str(workdir / "run"), "--device", device, "--no-progress",
            "--set", f"train.manifests=[{workdir / 'train.jsonl'}]", "--set", f"train.dev={workdir / 'dev.jsonl'}",
            "--set", "train.epochs=1", "--set", "augment.noise_files=[]", "--set", "augment.noise_prob=0", *overrides]
    t0 = time.perf_counter()
    code = cli.main(args)
    total = time.perf_counter() - t0
    rec.close()
    if code:
        raise SystemExit(f"lstm-asr train failed ({code})")
    cfg = json.loads((workdir / "run" / "best" / "config.json").read_text())
    k = rec.skip
    frames = sum(n for _, n in rec.feats[k:])
    wall = rec.t_end - rec.times[k]
    return ({"train_steps": len(rec.feats), "timed_steps": len(rec.feats) - k, "train_audio_s": round(frames / 100, 1),
             "train_wall_s": round(wall, 2), "train_cmd_wall_s": round(total, 1),
             "train_audio_s_per_s": round(frames / 100 / wall, 1)}, rec, cfg["model"])


def replay(device: str, rec: Recorder, mc: dict, amp: bool) -> dict:
    """The training batches' shapes through (a) bare nn.LSTM layers and (b) the whole model."""
    k = rec.skip
    dev = torch.device(device)
    hidden, layers = mc["hidden_size"], mc["num_layers"]
    sizes = hidden if isinstance(hidden, list) else [hidden] * layers
    bi = mc["bidirectional"]
    rnn_in = rec.rnn_in[k:] if len(rec.rnn_in) == len(rec.feats) else None
    sub = mc["subsample"]
    shapes = rnn_in or [(b, -(-t // sub), mc["conv_channels"] if sub > 1 else f) for (b, t, f), _ in rec.feats[k:]]
    frames = [n for _, n in rec.feats[k:]]
    stack, width = [], shapes[0][2]
    for h in sizes:
        stack.append(torch.nn.LSTM(width, h, batch_first=True, bidirectional=bi).to(dev))
        width = h * (2 if bi else 1)
    stack = torch.nn.ModuleList(stack)
    ac = torch.autocast(dev.type, dtype=torch.bfloat16, enabled=amp)

    def bare(shape):
        x = torch.randn(*shape, device=dev, requires_grad=True)
        with ac:
            for layer in stack:
                x, _ = layer(x)
        x.float().sum().backward()

    model = AcousticModel(ModelConfig.from_dict(mc)).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    ctc = torch.nn.CTCLoss(zero_infinity=True)

    def whole(shape):
        b, t, f = shape
        feats = torch.randn(b, t, f, device=dev)
        lengths = torch.full((b,), t, device=dev)
        with ac:
            out, olen = model(feats, lengths)
        tlen = torch.full((b,), max(1, min(8, int(olen.min()) // 2)), device=dev)
        tgt = torch.randint(1, mc["num_outputs"], (int(tlen.sum()),), device=dev)
        loss = ctc(out.float().transpose(0, 1), tgt, olen, tlen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()

    result = {}
    for name, fn, batches in (("bare", bare, shapes), ("model_only", whole, [s for s, _ in rec.feats[k:]])):
        for s in batches[:3]:  # warm-up (cuDNN plans, allocator)
            fn(s)
        sync(device)
        t0 = time.perf_counter()
        for s in batches:
            fn(s)
        sync(device)
        wall = time.perf_counter() - t0
        result[f"{name}_audio_s_per_s"] = round(sum(frames) / 100 / wall, 1)
    return result


def inference(device: str, seconds: float, batch_seconds: list[float]) -> dict:
    rows = clips()
    waves = [to_model_input(*read_file(r["audio"])) for r in rows]  # float32 mono 16 kHz
    rec = load_model("digits-commands", device=device)
    pool, total = [], 0.0
    while total < seconds:
        for w in waves:
            pool.append(w)
            total += len(w) / 16000
    out = {"infer_audio_s": round(total, 1)}
    for bs in batch_seconds:
        rec.transcribe_waves(pool[:20], batch_seconds=bs)  # warm-up
        sync(device)
        t0 = time.perf_counter()
        rec.transcribe_waves(pool, batch_seconds=bs)
        sync(device)
        out[f"infer_b{bs:g}_audio_s_per_s"] = round(total / (time.perf_counter() - t0), 1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--steps", type=int, default=300, help="training steps (about)")
    ap.add_argument("--infer-seconds", type=float, default=3600, help="audio seconds for the inference test")
    ap.add_argument("--results", default=str(ROOT / "benchmarks" / "results" / "gpu.jsonl"))
    ap.add_argument("--set", action="append", default=[], help="more `lstm-asr train --set` overrides")
    a = ap.parse_args()
    if a.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("no CUDA device (DEVICE=cpu for the dry run)")
    torch.manual_seed(0)
    overrides = [x for s in a.set for x in ("--set", s)]
    if a.device == "cpu":
        torch.set_num_threads(1)
        overrides += ["--set", "train.threads=1", "--set", "train.workers=0"]
    with tempfile.TemporaryDirectory() as tmp:
        row, rec, mc = train_throughput(a.device, a.steps, Path(tmp), overrides)
    amp = a.device.startswith("cuda")
    row.update(replay(a.device, rec, mc, amp))
    row["train_vs_bare"] = round(row["train_audio_s_per_s"] / row["bare_audio_s_per_s"], 3)
    row["train_vs_model_only"] = round(row["train_audio_s_per_s"] / row["model_only_audio_s_per_s"], 3)
    row["goal_0.9_met"] = row["train_vs_bare"] >= 0.9
    row.update(inference(a.device, a.infer_seconds, [60.0, 600.0] if amp else [60.0]))
    card = torch.cuda.get_device_name() if amp else platform.processor() or platform.machine()
    row = {"date": str(datetime.date.today()), "device": a.device, "card": card, "torch": torch.__version__,
           "cudnn": torch.backends.cudnn.version() if amp else None, "config": str(CONFIG.relative_to(ROOT)),
           "model": {k: mc[k] for k in ("num_layers", "hidden_size", "bidirectional", "subsample", "conv_channels")},
           "command": " ".join(sys.argv), "dry_run": a.device == "cpu", **row}
    Path(a.results).parent.mkdir(parents=True, exist_ok=True)
    with open(a.results, "a") as f:
        f.write(json.dumps(row) + "\n")
    print(f"\n{card} ({a.device}), torch {torch.__version__}, {row['timed_steps']} timed steps")
    print(f"{'measure':<44}{'audio s / s':>12}")
    for key, label in (("train_audio_s_per_s", "lstm-asr train (whole pipeline)"),
                       ("model_only_audio_s_per_s", "model fwd+CTC+bwd+step, random features"),
                       ("bare_audio_s_per_s", "bare nn.LSTM stack fwd+bwd (cuDNN on CUDA)")):
        print(f"{label:<44}{row[key]:>12}")
    print(f"{'train / bare (goal >= 0.90)':<44}{row['train_vs_bare']:>12}  {'met' if row['goal_0.9_met'] else 'NOT met'}")
    print(f"{'train / model only':<44}{row['train_vs_model_only']:>12}")
    for k, v in row.items():
        if k.startswith("infer_b"):
            print(f"{'inference, batch ' + k.split('_')[1][1:] + ' s':<44}{v:>12}")
    print(f"-> {a.results}")


if __name__ == "__main__":
    main()
