"""Backends: real-time factor of the default model with torch fp32, torch dynamic int8,
onnxruntime fp32 and onnxruntime int8, on one thread.

    .venv/bin/python benchmarks/backends.py [--seconds 60] [--repeats 5] [--model NAME|DIR]

The input is the bundled samples (samples/*.wav|flac|ogg, at 16 kHz) joined with 0.3 s pauses and
repeated to --seconds. Two figures per backend, each the best of --repeats runs after a warm-up
(the machine may be shared: the best run is the least disturbed one; the median is shown too):

- model RTF: the acoustic model alone (features -> log-probabilities) on the speech segments the
  pipeline cuts, one segment per call as `transcribe` runs them, divided by the audio's duration;
- transcribe RTF: the whole `Recognizer.transcribe` (read, segment, features, model, the model's
  own decoder, word timing).

and whether the transcript equals torch fp32's. Prints a Markdown table.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)
import warnings  # noqa: E402

warnings.filterwarnings("ignore", message=".*quantize_per_tensor.*")  # torch int8: deprecated API, still the one there is

import lstm_asr  # noqa: E402
from lstm_asr.audio import read_stream  # noqa: E402
from lstm_asr.data import pad_waves  # noqa: E402
from lstm_asr.export import OnnxAcousticModel, OnnxRunner, export_onnx, quantize_torch  # noqa: E402


def make_input(seconds: float, path: Path) -> float:
    parts, total = [], 0
    files = sorted(p for p in (ROOT / "samples").iterdir() if p.suffix in (".wav", ".flac", ".ogg"))
    pause = np.zeros(int(0.3 * 16000), np.float32)
    while total < seconds * 16000:
        for f in files:
            wave = np.concatenate(list(read_stream(str(f), None)))
            parts += [wave, pause]
            total += len(wave) + len(pause)
    audio = np.concatenate(parts)[: int(seconds * 16000)]
    sf.write(path, audio, 16000)
    return len(audio) / 16000


def segments(rec, path: Path):
    seg = rec.segmenter()
    out = []
    for chunk in read_stream(str(path), None):
        out += seg.feed(chunk)
    return out + list(seg.flush())


def timed(fn, repeats: int) -> tuple[float, float]:
    fn()  # warm-up (oneDNN / onnxruntime kernels, allocator)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--model", default=None)
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lstm_asr_backends_"))
    wav = work / "input.wav"
    duration = make_input(a.seconds, wav)
    base = lstm_asr.load_model(a.model)
    segs = segments(base, wav)
    feats = []
    with torch.inference_mode():
        for s in segs:
            batch, lengths = pad_waves([s.audio])
            feats.append(base.fbank(batch, lengths))
    fp32, int8 = export_onnx(base.model, work / "model.onnx"), export_onnx(base.model, work / "model.int8.onnx", int8=True)
    backends = {
        "torch fp32": base.model,
        "torch int8 (quantize_dynamic)": quantize_torch(base.model),
        "onnxruntime fp32": OnnxAcousticModel(base.model, OnnxRunner(fp32, threads=1)),
        "onnxruntime int8 (quantize_dynamic)": OnnxAcousticModel(base.model, OnnxRunner(int8, threads=1)),
    }
    sizes = {"torch fp32": sum(p.numel() * 4 for p in base.model.parameters()),
             "onnxruntime fp32": fp32.stat().st_size, "onnxruntime int8 (quantize_dynamic)": int8.stat().st_size}
    qpath = work / "torch-int8.pt"
    torch.save(backends["torch int8 (quantize_dynamic)"].state_dict(), qpath)
    sizes["torch int8 (quantize_dynamic)"] = qpath.stat().st_size
    print(f"{platform.machine()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at the start; "
          f"torch {torch.__version__}, onnxruntime {__import__('onnxruntime').__version__}; 1 thread; "
          f"{duration:.1f} s of audio in {len(segs)} segments; best (median) of {a.repeats} runs", flush=True)
    print("\n| backend | model RTF | transcribe RTF | weights | transcript = torch fp32 |")
    print("|---|---:|---:|---:|:--:|")
    reference = None
    for name, model in backends.items():
        rec = lstm_asr.load_model(a.model)
        rec.model = model

        def model_only():
            with torch.inference_mode():
                for f, n in feats:
                    rec.model(f, n.clamp(min=1))

        m_best, m_med = timed(model_only, a.repeats)
        text = []
        t_best, t_med = timed(lambda: text.append(rec.transcribe(str(wav)).text), a.repeats)
        reference = reference if reference is not None else text[-1]
        print(f"| {name} | {m_best / duration:.4f} ({m_med / duration:.4f}) | {t_best / duration:.4f} "
              f"({t_med / duration:.4f}) | {sizes[name] / 1e6:.1f} MB | {'yes' if text[-1] == reference else 'no'} |",
              flush=True)
    print(f"\nload average {os.getloadavg()[0]:.2f} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
