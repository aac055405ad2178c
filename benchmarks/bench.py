"""`make bench`: speed, memory and accuracy of the default model, written to benchmarks/RESULTS.md.

    .venv/bin/python benchmarks/bench.py [--quick] [--out FILE] [--model NAME|DIR] [--repeats N]
        [--sections backends,memory,side,pocketsphinx,train] [--backends torch-fp32,...] [--threads 1,2]

Sections (each can be left out with --sections; each part that needs a missing package says so in
its row instead of failing):

- backends: the acoustic model through PyTorch fp32, PyTorch int8 (torch dynamic quantization),
  onnxruntime fp32 and onnxruntime int8 (`lstm_asr.export`), at 1 and 2 threads, on the bundled
  samples joined with 0.3 s pauses to 60 s. *model RTF*: the acoustic model alone on the speech
  segments the pipeline cuts (features computed beforehand), *transcribe RTF*: the whole
  `Recognizer.transcribe` (read, segment, features, model, decoder, word timing). Each
  configuration runs in a fresh process, whose peak RSS is read by the parent (`os.wait4`).
- memory: peak RSS of one `transcribe` of 1, 5 and 20 minutes of the same audio, each in a fresh
  process, per backend: is memory flat in the audio's length?
- side: the same model and the same input (10 s of features as one utterance) side by side, 1
  thread: our four backends, the NumPy reference (`lstm_asr.equations`, timed on a 2 s piece and
  scaled: it is slow) and the same architecture in Keras on TensorFlow with the weights copied
  from our safetensors (XLA `jit_compile=True`, and `predict_on_batch` with and without XLA),
  with the max abs difference of each output from PyTorch fp32's and the ratios.
- pocketsphinx: PocketSphinx 5 with a JSGF grammar of the model's word list (exactly one word)
  and our model (its own decoder, the same words) on the same recordings: Speech Commands test
  speakers from data/digits-commands/test_sc_{digits,commands}.jsonl (../shared/data) when
  present, else the 38 bundled clips of tests/data/speech_commands (test speakers too).
- train: `lstm-asr train` with the default model's recipe (recipes/digits-commands/config.yaml:
  architecture, augmentation, batches; no noise files, no dev set) on the bundled clips
  (tests/data) for a few epochs; audio seconds per wall second after the first epoch, 1 and 2
  threads.

Medians over --repeats runs after a warm-up (the minimum in brackets). --quick: short inputs and
few repeats, for testing the harness (its figures mean little); its report goes to a temporary
file unless --out is given.
"""
from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(HERE))

INSTALL = "not installed (pip install '.[bench]')"
BACKENDS = {"torch-fp32": "PyTorch fp32", "torch-int8": "PyTorch int8 (dynamic quantization)",
            "onnx-fp32": "onnxruntime fp32", "onnx-int8": "onnxruntime int8 (dynamic quantization)"}
SECTIONS = ("backends", "memory", "side", "pocketsphinx", "train")
FULL = {"rtf_seconds": 60.0, "repeats": 5, "lengths_min": (1.0, 5.0, 20.0), "side_seconds": 10.0,
        "numpy_seconds": 2.0, "ps_max": 0, "train_copies": 3, "train_epochs": 3}
QUICK = {"rtf_seconds": 4.0, "repeats": 2, "lengths_min": (0.05, 0.1, 0.2), "side_seconds": 2.0,
         "numpy_seconds": 0.5, "ps_max": 4, "train_copies": 1, "train_epochs": 2}
GOAL_RTF, GOAL_KERAS_RATIO, GOAL_FLAT = 0.002, 3.0, 0.10   # flat: peak RSS grows < 10 % from shortest to longest
# a run on more threads is stopped when it takes this many times its 1-thread twin (at least CAP_MIN_S): on a
# shared machine, threads that wait for a busy core can be 30x slower, and the whole bench must stay short
CAP_FACTOR, CAP_MIN_S = 4.0, 60.0


def cap(one_thread_wall: float | None) -> float:
    return max(CAP_MIN_S, CAP_FACTOR * one_thread_wall) if one_thread_wall else 900.0


def capped(r: dict, limit: float) -> dict:
    """A run stopped by its cap says why."""
    if r.get("timed_out") and limit < 900:
        r["error"] = (f"stopped after {limit:.0f} s, over {CAP_FACTOR:g}x its 1-thread run: "
                      "threads contending with other jobs for the cores")
    return r
SAMPLE_RATE = 16000


# ---------------------------------------------------------------------------------------------
# helpers shared by the parent and the workers

def has(*modules: str) -> bool:
    return all(importlib.util.find_spec(m) is not None for m in modules)


def version_of(dist: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def set_threads(n: int) -> None:
    import torch
    torch.set_num_threads(n)
    try:
        torch.set_num_interop_threads(1)   # allowed once, before any parallel work
    except RuntimeError:
        pass


def thread_env(n: int) -> dict:
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS=str(n), MKL_NUM_THREADS=str(n), OPENBLAS_NUM_THREADS=str(n),
               TF_NUM_INTRAOP_THREADS=str(n), TF_NUM_INTEROP_THREADS="1", TF_CPP_MIN_LOG_LEVEL="2",
               KERAS_BACKEND="tensorflow", PYTHONPATH=os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")]))
    return env


def timed(fn, repeats: int) -> dict:
    """One warm-up call, then ``repeats`` timed calls: wall and process CPU seconds of each, and
    CPU over wall (about the number of threads busy; below 1 on one thread: the process waited
    for a core)."""
    fn()
    walls, cpus = [], []
    for _ in range(repeats):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return {"times": walls, "median": statistics.median(walls), "min": min(walls),
            "cpu_median": statistics.median(cpus), "cpu_per_wall": sum(cpus) / max(1e-9, sum(walls))}


def current_rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb(pid="self") -> float | None:
    """VmHWM: the peak RSS of a process's address space since its exec. (Not ru_maxrss: Linux
    carries the parent's RSS at fork into the child's ru_maxrss, so a child of a 400 MB parent
    never reports less than 400 MB.)"""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def load_backend(model: str | None, backend: str, onnx_path: str | None, threads: int):
    """The default Recognizer with its acoustic model run by ``backend``."""
    import warnings
    warnings.filterwarnings("ignore", message=".*quantize_per_tensor.*")
    import lstm_asr
    rec = lstm_asr.load_model(model)
    if backend == "torch-int8":
        from lstm_asr.export import quantize_torch
        rec.model = quantize_torch(rec.model)
    elif backend.startswith("onnx"):
        from lstm_asr.export import use_onnx
        use_onnx(rec, onnx_path, threads=threads)
    return rec


def segment_features(rec, wav: str) -> list:
    """The features of the speech segments the pipeline cuts from ``wav``, one (1, T, F) each."""
    import torch
    from lstm_asr.audio import read_stream
    from lstm_asr.data import pad_waves
    seg, segs = rec.segmenter(), []
    for chunk in read_stream(str(wav), None):
        segs += seg.feed(chunk)
    segs += list(seg.flush())
    feats = []
    with torch.inference_mode():
        for s in segs:
            batch, lengths = pad_waves([s.audio])
            f, n = rec.fbank(batch, lengths)
            feats.append((f, n.clamp(min=1)))
    return feats


# ---------------------------------------------------------------------------------------------
# workers: one configuration per fresh process (`bench.py --worker KIND JSON`), result on stdout

def worker_infer(p: dict) -> dict:
    import torch
    set_threads(p["threads"])
    rec = load_backend(p["model"], p["backend"], p.get("onnx"), p["threads"])
    feats = segment_features(rec, p["wav"])

    def model_only():
        with torch.inference_mode():
            for f, n in feats:
                rec.model(f, n)

    m = timed(model_only, p["repeats"])
    texts = []
    t = timed(lambda: texts.append(rec.transcribe(p["wav"]).text), p["repeats"])
    return {"model": m, "transcribe": t, "text": texts[-1], "segments": len(feats)}


def worker_memory(p: dict) -> dict:
    set_threads(p["threads"])
    rec = load_backend(p["model"], p["backend"], p.get("onnx"), p["threads"])
    loaded = current_rss_mb()
    t0 = time.perf_counter()
    text = rec.transcribe(p["wav"]).text
    return {"rss_loaded_mb": loaded, "seconds": time.perf_counter() - t0, "words": len(text.split())}


def keras_model(sd: dict, cfg: dict, jit: bool | None = None):
    """Our acoustic model's architecture in Keras (causal stride-2 convolutions with ReLU ->
    LayerNorm -> bidirectional LSTMs -> linear -> log-softmax), weights from our state dict."""
    import keras
    from keras import layers
    convs = {1: 0, 2: 1, 4: 2}[cfg["subsample"]]
    sizes = cfg["hidden_size"] if isinstance(cfg["hidden_size"], list) else [cfg["hidden_size"]] * cfg["num_layers"]
    if cfg["cell"] != "lstm" or not cfg["bidirectional"]:
        raise ValueError("the Keras twin is written for bidirectional LSTM models")
    inp = keras.Input((None, cfg["input_size"]))
    x = inp
    for k in range(convs):
        x = layers.ZeroPadding1D((2, 0))(x)                       # causal: left padding only, as ours
        conv = layers.Conv1D(cfg["conv_channels"], 3, strides=2, activation="relu")
        x = conv(x)
        conv.set_weights([sd[f"frontend.convs.{k}.weight"].transpose(2, 1, 0), sd[f"frontend.convs.{k}.bias"]])
    norm = layers.LayerNormalization(epsilon=1e-5)                 # torch's default eps
    x = norm(x)
    norm.set_weights([sd["frontend.norm.weight"], sd["frontend.norm.bias"]])
    for k, h in enumerate(sizes):
        bi = layers.Bidirectional(layers.LSTM(h, return_sequences=True), merge_mode="concat")
        x = bi(x)
        for sub, sfx in ((bi.forward_layer, ""), (bi.backward_layer, "_reverse")):
            g = lambda n: sd[f"encoder.layers.{k}.{n}_l0{sfx}"]  # noqa: E731 - gate order i, f, g(c), o in both
            sub.set_weights([g("weight_ih").T, g("weight_hh").T, g("bias_ih") + g("bias_hh")])
    head = layers.Dense(cfg["num_outputs"])
    x = head(x)
    head.set_weights([sd["head.weight"].T, sd["head.bias"]])
    out = layers.Activation(keras.activations.log_softmax)(x)
    model = keras.Model(inp, out)
    if jit is not None:
        model.compile(jit_compile=jit)
    return model


def worker_keras(p: dict) -> dict:
    import numpy as np
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(p["threads"])
    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.get_logger().setLevel("ERROR")
    import keras
    from safetensors.numpy import load_file
    cfg = json.loads((Path(p["model_dir"]) / "config.json").read_text())["model"]
    sd = load_file(str(Path(p["model_dir"]) / "model.safetensors"))
    x = np.load(p["feats"])[None]                                  # (1, T, F)
    xt = tf.constant(x)
    res, outs = {}, {}
    modes = {
        "XLA (tf.function(jit_compile=True))": (None, True),
        "predict_on_batch, compile(jit_compile=True)": (True, False),
        "predict_on_batch, compile(jit_compile=False)": (False, False),
    }
    if p.get("only_xla"):
        modes = dict(list(modes.items())[:1])
    for name, (jit, fn) in modes.items():
        model = keras_model(sd, cfg, jit)
        if fn:
            call = tf.function(lambda t, m=model: m(t, training=False), jit_compile=True)
            run = lambda c=call: c(xt).numpy()  # noqa: E731
        else:
            run = lambda m=model: m.predict_on_batch(x)  # noqa: E731
        t0 = time.perf_counter()
        outs[name] = np.asarray(run())
        first = time.perf_counter() - t0
        r = timed(run, p["repeats"])
        r["first_call_s"] = first
        res[name] = r
    np.savez(p["out"], **{f"m{i}": o for i, o in enumerate(outs.values())})
    return {"modes": res, "order": list(outs), "tensorflow": tf.__version__, "keras": keras.__version__}


WORKERS = {"infer": worker_infer, "memory": worker_memory, "keras": worker_keras}


def run_worker(kind: str, params: dict, threads: int, timeout: float = 900) -> dict:
    """Run one worker in a fresh process -> its result, with ``peak_rss_mb`` (the child's VmHWM)
    and ``wall_s``; {"error": ...} when it failed."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", kind, json.dumps(params)]
    r = run_child(cmd, thread_env(threads), timeout)
    if r["rc"] != 0:
        return {"error": r["error"], "peak_rss_mb": r["peak_rss_mb"], "timed_out": r["timed_out"]}
    for line in reversed(r["stdout"].splitlines()):
        if line.startswith("RESULT "):
            out = json.loads(line[7:])
            out.setdefault("peak_rss_mb", r["peak_rss_mb"])
            out["wall_s"] = r["wall_s"]
            return out
    return {"error": "the worker printed no result", "peak_rss_mb": r["peak_rss_mb"]}


def run_child(cmd: list, env: dict, timeout: float, cwd=None) -> dict:
    """A subprocess and its peak RSS (its VmHWM, read every 50 ms while it runs: the peak up to
    the last reading, which for a monotone high-water mark misses at most the last 50 ms)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0, peak = time.perf_counter(), 0.0
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=cwd or ROOT, start_new_session=True)
        while True:
            peak = max(peak, peak_rss_mb(proc.pid) or 0.0)
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() - t0 > timeout:
                os.killpg(proc.pid, signal.SIGKILL)
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.05)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace")
    rc = proc.returncode
    lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
    error, timed_out = None, rc != 0 and wall > timeout
    if rc != 0:
        error = f"timed out after {timeout:.0f} s" if timed_out else (lines[-1].strip() if lines else f"exit status {rc}")
    return {"rc": rc, "stdout": stdout, "stderr": stderr, "peak_rss_mb": peak, "wall_s": wall,
            "error": error, "timed_out": timed_out}


# ---------------------------------------------------------------------------------------------
# inputs

def make_long_audio(seconds: float, path: Path) -> float:
    """The bundled samples (any rate, read through lstm_asr.audio) joined with 0.3 s pauses,
    repeated to ``seconds``; 16 kHz int16 WAV."""
    import numpy as np
    import soundfile as sf
    from lstm_asr.audio import read_stream
    files = sorted(p for p in (ROOT / "samples").iterdir() if p.suffix in (".wav", ".flac", ".ogg"))
    pause = np.zeros(int(0.3 * SAMPLE_RATE), np.float32)
    one = np.concatenate([x for f in files for x in (np.concatenate(list(read_stream(str(f), None))), pause)])
    need = int(seconds * SAMPLE_RATE)
    with sf.SoundFile(str(path), "w", SAMPLE_RATE, 1, "PCM_16") as out:
        done = 0
        while done < need:
            piece = one[: need - done]
            out.write(piece)
            done += len(piece)
    return need / SAMPLE_RATE


# ---------------------------------------------------------------------------------------------
# sections (each returns a dict the report turns into Markdown)

def onnx_files(rec, work: Path) -> dict:
    """Export the model once for every configuration: {"onnx-fp32": path, "onnx-int8": path},
    or {"error": reason}."""
    if not has("onnx", "onnxruntime"):
        return {"error": INSTALL}
    from lstm_asr.export import export_onnx
    try:
        return {"onnx-fp32": str(export_onnx(rec.model, work / "model.onnx")),
                "onnx-int8": str(export_onnx(rec.model, work / "model.int8.onnx", int8=True))}
    except Exception as e:  # noqa: BLE001 - reported in the table
        return {"error": f"export failed: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"}


def backend_error(backend: str, onnx: dict) -> str | None:
    if backend.startswith("onnx"):
        return onnx.get("error")
    return None


def section_backends(a, plan, ctx) -> dict:
    wav = ctx["work"] / "rtf.wav"
    duration = make_long_audio(plan["rtf_seconds"], wav)
    rows, one = [], {}
    for threads in a.threads:
        for b in a.backends:
            log(f"backends: {b}, {threads} thread(s)")
            err = backend_error(b, ctx["onnx"])
            limit = cap(one.get(b)) if threads > 1 else 900.0
            r = {"error": err} if err else capped(run_worker(
                "infer", {"model": a.model, "backend": b, "threads": threads, "wav": str(wav),
                          "onnx": ctx["onnx"].get(b), "repeats": plan["repeats"]}, threads, limit), limit)
            if threads == 1 and "wall_s" in r:
                one[b] = r["wall_s"]
            rows.append({"backend": b, "threads": threads, **r})
    ref = {r["threads"]: r.get("text") for r in rows if r["backend"] == "torch-fp32"}
    for r in rows:
        if "text" in r and ref.get(r["threads"]) is not None:
            r["words_differ"] = word_edits(ref[r["threads"]].split(), r["text"].split())
            r["words"] = len(ref[r["threads"]].split())
    return {"seconds": duration, "rows": rows}


def word_edits(a: list, b: list) -> int:
    """Levenshtein distance between two word lists."""
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


def section_memory(a, plan, ctx) -> dict:
    rows = []
    files = {}
    for m in plan["lengths_min"]:
        files[m] = ctx["work"] / f"long_{m:g}min.wav"
        make_long_audio(60 * m, files[m])
    for b in a.backends:
        row = {"backend": b, "points": {}}
        err = backend_error(b, ctx["onnx"])
        for m in plan["lengths_min"]:
            log(f"memory: {b}, {m:g} min")
            row["points"][m] = {"error": err} if err else run_worker(
                "memory", {"model": a.model, "backend": b, "threads": 1, "wav": str(files[m]),
                           "onnx": ctx["onnx"].get(b)}, 1)
        pts = [row["points"][m] for m in plan["lengths_min"]]
        if all("error" not in p for p in pts):
            first, last = pts[0]["peak_rss_mb"], pts[-1]["peak_rss_mb"]
            row["growth"] = (last - first) / first
            row["flat"] = row["growth"] < GOAL_FLAT
        rows.append(row)
    return {"lengths": list(plan["lengths_min"]), "rows": rows}


def numpy_reference(sd: dict, cfg: dict, feats):
    """Our model in NumPy: convolutions, LayerNorm and head written out here, the recurrent
    layers by lstm_asr.equations.stack. feats (T, F) -> log-probabilities (T', V)."""
    import numpy as np
    from lstm_asr import equations
    x = feats.astype(np.float32)
    for k in range({1: 0, 2: 1, 4: 2}[cfg["subsample"]]):
        w, b = sd[f"frontend.convs.{k}.weight"], sd[f"frontend.convs.{k}.bias"]   # (C_out, C_in, 3)
        xp = np.concatenate([np.zeros((2, x.shape[1]), x.dtype), x])               # causal left padding
        n = (len(xp) - 3) // 2 + 1
        cols = np.stack([xp[0:2 * n - 1:2], xp[1:2 * n:2], xp[2:2 * n + 1:2]], axis=1)  # (T', 3, C_in)
        x = np.maximum(np.einsum("tkc,ock->to", cols, w) + b, 0)
    mu, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    x = (x - mu) / np.sqrt(var + 1e-5) * sd["frontend.norm.weight"] + sd["frontend.norm.bias"]
    for k in range(cfg["num_layers"]):
        x = equations.stack(x, sd, "lstm", 1, True, prefix=f"encoder.layers.{k}.")
    z = x @ sd["head.weight"].T + sd["head.bias"]
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def section_side(a, plan, ctx) -> dict:
    import numpy as np
    import torch
    from lstm_asr.checkpoint import resolve_model
    from lstm_asr.data import pad_waves
    import soundfile as sf
    rec, work = ctx["rec"], ctx["work"]
    model_dir = resolve_model(a.model)
    wav = work / "side.wav"
    seconds = make_long_audio(plan["side_seconds"], wav)
    wave, _ = sf.read(str(wav), dtype="float32")
    with torch.inference_mode():
        batch, lengths = pad_waves([wave])
        feats, flen = rec.fbank(batch, lengths)
    feats_np = feats[0].numpy()
    np.save(work / "side_feats.npy", feats_np)
    cfg = json.loads((model_dir / "config.json").read_text())["model"]
    from safetensors.numpy import load_file
    sd = load_file(str(model_dir / "model.safetensors"))
    rows = {}

    def torch_like(model):
        def run():
            with torch.inference_mode():
                return model(feats, flen)[0][0].float().numpy()
        return run

    reference = torch_like(rec.model)()
    runners = {"torch-fp32": torch_like(rec.model)}
    if "torch-int8" in a.backends:
        from lstm_asr.export import quantize_torch
        import warnings
        warnings.filterwarnings("ignore", message=".*quantize_per_tensor.*")
        runners["torch-int8"] = torch_like(quantize_torch(rec.model))
    for b in ("onnx-fp32", "onnx-int8"):
        if b not in a.backends:
            continue
        if ctx["onnx"].get("error"):
            rows[b] = {"error": ctx["onnx"]["error"]}
            continue
        from lstm_asr.export import OnnxRunner
        runner = OnnxRunner(ctx["onnx"][b], threads=1)
        runners[b] = (lambda r=runner: r(feats, flen)[0][0].numpy())
    for name, run in runners.items():
        log(f"side by side: {name}")
        try:
            rows[name] = timed(run, plan["repeats"])
            rows[name]["max_abs_diff"] = float(np.abs(run() - reference).max())
        except Exception as e:  # noqa: BLE001
            rows[name] = {"error": f"{type(e).__name__}: {e}"}
    # NumPy: on a shorter piece (Python loop per time step), compared with torch on that piece
    log("side by side: numpy reference")
    n = int(plan["numpy_seconds"] * 100)
    short, slen = feats[:, :n], torch.tensor([min(n, feats.shape[1])])
    with torch.inference_mode():
        ref_short = rec.model(short, slen)[0][0].float().numpy()
    r = timed(lambda: numpy_reference(sd, cfg, short[0].numpy()), max(1, plan["repeats"] // 2))
    r["max_abs_diff"] = float(np.abs(numpy_reference(sd, cfg, short[0].numpy()) - ref_short).max())
    r["seconds_timed"] = short.shape[1] / 100
    rows["numpy"] = r
    # Keras: in its own process (TensorFlow's thread pools set before it starts)
    if not has("tensorflow", "keras"):
        rows["keras"] = {"error": INSTALL}
    else:
        log("side by side: keras (tensorflow, XLA)")
        out = work / "keras_out.npz"
        k = run_worker("keras", {"model_dir": str(model_dir), "feats": str(work / "side_feats.npy"), "threads": 1,
                                 "out": str(out), "repeats": plan["repeats"], "only_xla": a.quick}, 1)
        if "error" not in k:
            arrays = np.load(out)
            for i, name in enumerate(k["order"]):
                k["modes"][name]["max_abs_diff"] = float(np.abs(arrays[f"m{i}"][0] - reference).max())
        rows["keras"] = k
    return {"seconds": seconds, "frames": int(feats.shape[1]), "rows": rows}


def find_ps_sets() -> tuple[list[Path], str]:
    sets = [ROOT / "data" / "digits-commands" / f"test_sc_{n}.jsonl" for n in ("digits", "commands")]
    sets = [s for s in sets if s.is_file()]
    if sets:
        first = json.loads(sets[0].read_text().splitlines()[0])["audio"]
        p = Path(first) if Path(first).is_absolute() else sets[0].parent / first
        if p.is_file():
            return sets, "Speech Commands test speakers (../shared/data, as the recipe prepares them)"
    bundled = ROOT / "tests" / "data" / "speech_commands" / "manifest.jsonl"
    return [bundled], ("the 38 bundled Speech Commands clips of tests/data (test speakers); "
                       "data/digits-commands/test_sc_*.jsonl with ../shared/data not found")


def section_pocketsphinx(a, plan, ctx) -> dict:
    import numpy as np
    rec = ctx["rec"]
    from lstm_asr.checkpoint import resolve_model
    words = json.loads((resolve_model(a.model) / "config.json").read_text())["decoding"]["words"]
    sets, source = find_ps_sets()
    have_ps = has("pocketsphinx")
    have_jiwer = has("jiwer")
    if not have_jiwer:
        return {"error": INSTALL + " (jiwer)", "source": source}
    import jiwer
    from pocketsphinx_bench import load_16k_int16, norm, read_manifest
    dec = None
    if have_ps:
        from pocketsphinx_bench import decode, make_decoder
        dec = make_decoder([w.lower() for w in words], sequence=False)
    rows = []
    for m in sets:
        utts = read_manifest(m)
        if plan["ps_max"]:
            utts = utts[: plan["ps_max"]]
        pcms = [load_16k_int16(p) for p, _ in utts]
        refs = [norm(t) for _, t in utts]
        audio_s = sum(len(x) for x in pcms) / SAMPLE_RATE
        systems = {"ours (torch fp32, 1 thread)": lambda x: rec.transcribe(x.astype(np.float32) / 32768,
                                                                              sample_rate=SAMPLE_RATE).text}
        if dec is not None:
            systems["PocketSphinx"] = lambda x: decode(dec, x)
        row = {"set": m.name, "n": len(utts), "audio_s": audio_s, "systems": {}}
        for name, fn in systems.items():
            log(f"pocketsphinx: {m.name}, {name}")
            fn(pcms[0])  # warm-up
            hyps, t = [], 0.0
            for x in pcms:
                t0 = time.perf_counter()
                hyps.append(norm(fn(x)))
                t += time.perf_counter() - t0
            row["systems"][name] = {"sent_acc": sum(r == h for r, h in zip(refs, hyps)) / len(refs),
                                    "wer": jiwer.wer(refs, hyps), "rtf": t / audio_s}
        if dec is None:
            row["systems"]["PocketSphinx"] = {"error": INSTALL}
        rows.append(row)
    return {"source": source, "words": words, "rows": rows,
            "version": version_of("pocketsphinx")}


def section_train(a, plan, ctx) -> dict:
    import soundfile as sf
    work = ctx["work"] / "train"
    work.mkdir(exist_ok=True)
    lines, audio_s = [], 0.0
    for sub in ("speech_commands", "fsdd"):
        d = ROOT / "tests" / "data" / sub
        for line in (d / "manifest.jsonl").read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                path = d / row["audio"]
                lines.append(json.dumps({"audio": str(path), "text": row["text"]}))
                audio_s += sf.info(str(path)).duration
    manifest = work / "train.jsonl"
    manifest.write_text("\n".join(lines * plan["train_copies"]) + "\n")
    per_epoch = audio_s * plan["train_copies"]
    exe = Path(sys.executable).parent / "lstm-asr"
    base = [str(exe)] if exe.exists() else [sys.executable, "-m", "lstm_asr.cli"]
    rows, one = [], None
    for threads in a.threads:
        out = work / f"run{threads}"
        shutil.rmtree(out, ignore_errors=True)
        cmd = base + ["train", "--config", str(ROOT / "recipes" / "digits-commands" / "config.yaml"),
                      "--out", str(out), "--epochs", str(plan["train_epochs"]), "--device", "cpu", "--no-progress",
                      "--set", "augment.noise_files=[]", "--set", f"train.manifests=[{json.dumps(str(manifest))}]",
                      "--set", "train.dev=''", "--set", "train.workers=0", "--set", "train.max_minutes=0",
                      "--set", f"train.threads={threads}"]
        log(f"train: {threads} thread(s), {plan['train_epochs']} epochs of {per_epoch:.0f} s of audio")
        limit = cap(one) if threads > 1 else 1800.0
        r = capped(run_child(cmd, thread_env(threads), limit), limit)
        if threads == 1 and r["rc"] == 0:
            one = r["wall_s"]
        row = {"threads": threads, "peak_rss_mb": r["peak_rss_mb"], "wall_s": r["wall_s"]}
        curves = out / "curves.csv"
        if r["rc"] != 0 or not curves.is_file():
            row["error"] = r["error"] or "no curves.csv written"
        else:
            hist = list(csv.DictReader(curves.open()))
            secs = [float(h["seconds"]) for h in hist]
            row.update(epochs=len(hist), steps=int(hist[-1]["step"]), epoch_s=secs,
                       first_epoch_rate=per_epoch / secs[0])
            if len(secs) > 1:
                row["rate"] = per_epoch * (len(secs) - 1) / (secs[-1] - secs[0])
        rows.append(row)
    return {"audio_per_epoch_s": per_epoch, "clips": len(lines) * plan["train_copies"], "rows": rows,
            "epochs": plan["train_epochs"]}


# ---------------------------------------------------------------------------------------------
# the report

def fmt_rtf(r: dict, key: str, seconds: float) -> str:
    if "error" in r:
        return "–"
    return f"{r[key]['median'] / seconds:.4f} ({r[key]['min'] / seconds:.4f})"


def goals(res: dict) -> list[str]:
    if not any(res.get(s) for s in ("backends", "side", "memory")):
        return []
    L = ["## Goals", "", "| goal | measured | reached |", "|---|---|:--:|"]
    b = res.get("backends")
    if b:
        one = [r for r in b["rows"] if r["threads"] == 1 and "error" not in r]
        if one:
            best = min(one, key=lambda r: r["model"]["median"])
            best_t = min(one, key=lambda r: r["transcribe"]["median"])
            rtf, rtf_t = best["model"]["median"] / b["seconds"], best_t["transcribe"]["median"] / b["seconds"]
            L.append(f"| default model at RTF ≤ {GOAL_RTF} on 1 thread, best backend | acoustic model "
                     f"{rtf:.4f} ({BACKENDS[best['backend']]}); whole `transcribe` {rtf_t:.4f} "
                     f"({BACKENDS[best_t['backend']]}) | {'yes' if rtf <= GOAL_RTF else 'no'} (model), "
                     f"{'yes' if rtf_t <= GOAL_RTF else 'no'} (transcribe) |")
    s = res.get("side")
    if s:
        k = s["rows"].get("keras", {})
        ours = {n: r for n, r in s["rows"].items() if n in BACKENDS and "error" not in r}
        xla = (k.get("modes") or {}).get("XLA (tf.function(jit_compile=True))")
        if ours and xla:
            best = min(ours, key=lambda n: ours[n]["median"])
            ratio = xla["median"] / ours[best]["median"]
            cpu = xla["cpu_median"] / ours[best]["cpu_median"]
            ok = min(ratio, cpu) >= GOAL_KERAS_RATIO
            L.append(f"| ≥ {GOAL_KERAS_RATIO:g}× faster than the same model in Keras with XLA (side by side, 1 thread) | "
                     f"{ratio:.1f}× in wall time, {cpu:.1f}× in CPU time ({BACKENDS[best]} vs Keras XLA) | "
                     f"{'yes' if ok else 'no'} (both) |")
        else:
            L.append(f"| ≥ {GOAL_KERAS_RATIO:g}× faster than Keras with XLA | {k.get('error', 'not measured')} | – |")
    m = res.get("memory")
    if m:
        parts = [f"{BACKENDS[r['backend']].split(' (')[0]} {100 * r['growth']:+.1f} %" for r in m["rows"] if "growth" in r]
        ok = [r["flat"] for r in m["rows"] if "flat" in r]
        L.append(f"| memory flat in the audio's length (peak RSS grows < {100 * GOAL_FLAT:g} % from "
                 f"{m['lengths'][0]:g} to {m['lengths'][-1]:g} min) | {', '.join(parts) or 'not measured'} | "
                 f"{('yes' if all(ok) else 'no') if ok else '–'} |")
    return L + [""]


def report(a, plan, res: dict, meta: dict) -> str:
    L = ["# Benchmarks: the default model's speed, memory and accuracy", "",
         "Written by `make bench` (`benchmarks/bench.py`, its docstring says what each figure is). "
         "Medians over the repeats after a warm-up, the minimum in brackets. RTF: processing seconds "
         "per second of audio.", "",
         f"- command: `{meta['command']}`" + (" (`--quick`: a test of the harness, not figures to quote)" if a.quick else ""),
         f"- date: {meta['date']}, took {meta['took_s'] / 60:.1f} min",
         f"- machine: {meta['cpu']}, {meta['cores']} cores, {meta['platform']}",
         f"- software: {meta['versions']}",
         f"- model: `{meta['model']}` ({meta['params']:,} parameters)",
         f"- load average (1 min) at the start {meta['load'][0]:.2f}, at the end {meta['load'][1]:.2f}", ""]
    if meta["load"][0] >= 0.5 or meta["load"][1] >= 1.5:
        L += [f"**Noisy:** other jobs were using this {meta['cores']}-core machine while these figures were taken "
              "(see the load average); they are not the machine's best. Rerun `make bench` on a quiet machine.", ""]
    L += goals(res)
    b = res.get("backends")
    if b:
        L += ["## Backends: real-time factor and peak RSS", "",
              f"Input: the bundled samples joined with 0.3 s pauses to {b['seconds']:.0f} s. Each row a fresh process; "
              "peak RSS is that process's (model loaded, features, all runs). *words ≠ fp32*: word edits between "
              "its transcript and PyTorch fp32's at the same thread count (of that many words).", "",
              "| backend | threads | model RTF | transcribe RTF | peak RSS | words ≠ fp32 |",
              "|---|---:|---:|---:|---:|---:|"]
        for r in b["rows"]:
            if "error" in r:
                L.append(f"| {BACKENDS[r['backend']]} | {r['threads']} | {r['error']} | | | |")
                continue
            L.append(f"| {BACKENDS[r['backend']]} | {r['threads']} | {fmt_rtf(r, 'model', b['seconds'])} | "
                     f"{fmt_rtf(r, 'transcribe', b['seconds'])} | {r['peak_rss_mb']:.0f} MB | "
                     + (f"{r['words_differ']} of {r['words']} |" if "words" in r else "– |"))
        L.append("\nThe transcribe column includes the beam search; its speed before and after skipping blank "
                 "frames, and the transcripts that changed (none of the test sets'), are in "
                 "[results/decoder_speed.md](results/decoder_speed.md) (`benchmarks/decoder_speed.py`).")
        if any(r["threads"] > 1 for r in b["rows"]) and meta["load"][0] >= 0.5:
            L.append("\nThe rows of more than one thread suffer most from other jobs: their threads wait for "
                     "each other while a core is busy elsewhere.")
        L.append("")
    m = res.get("memory")
    if m:
        heads = " | ".join(f"{x:g} min" for x in m["lengths"])
        L += ["## Memory against the audio's length", "",
              "Peak RSS of one `Recognizer.transcribe` of a file (the same samples repeated), each in a fresh process, "
              f"1 thread; in brackets the RSS after loading the model. Flat: grows < {100 * GOAL_FLAT:g} % from the "
              "shortest to the longest.", "",
              f"| backend | {heads} | growth | flat | RTF at {m['lengths'][-1]:g} min |",
              "|---|" + "---:|" * len(m["lengths"]) + "---:|:--:|---:|"]
        for r in m["rows"]:
            cells = []
            for x in m["lengths"]:
                p = r["points"][x]
                cells.append(p["error"] if "error" in p else f"{p['peak_rss_mb']:.0f} MB ({p['rss_loaded_mb']:.0f})")
            last = r["points"][m["lengths"][-1]]
            rtf = f"{last['seconds'] / (60 * m['lengths'][-1]):.4f}" if "error" not in last else "–"
            growth = f"{100 * r['growth']:+.1f} %" if "growth" in r else "–"
            flat = ("yes" if r["flat"] else "no") if "flat" in r else "–"
            L.append(f"| {BACKENDS[r['backend']]} | {' | '.join(cells)} | {growth} | {flat} | {rtf} |")
        L.append("")
    s = res.get("side")
    if s:
        L += side_report(s)
    p = res.get("pocketsphinx")
    if p:
        L += ps_report(p)
    t = res.get("train")
    if t:
        L += ["## Training throughput", "",
              f"`lstm-asr train` with `recipes/digits-commands/config.yaml` (the default model's architecture, "
              f"augmentation and batches; no noise files, no dev set, `--device cpu`) on the {t['clips']} bundled clips "
              f"of tests/data ({t['audio_per_epoch_s']:.0f} s of audio per epoch), {t['epochs']} epochs. Audio seconds "
              "per wall second over the epochs after the first (the first is the warm-up: sorted short-to-long, "
              "allocator); wall time includes each epoch's checkpoint and curves, as in a real run.", "",
              "| threads | audio s / wall s | first epoch | epochs (s, cumulative) | steps | peak RSS |",
              "|---:|---:|---:|---|---:|---:|"]
        for r in t["rows"]:
            if "error" in r:
                L.append(f"| {r['threads']} | failed: {r['error']} | | | | |")
                continue
            rate = f"{r['rate']:.1f}" if "rate" in r else "–"
            L.append(f"| {r['threads']} | {rate} | {r['first_epoch_rate']:.1f} | "
                     f"{', '.join(f'{x:.1f}' for x in r['epoch_s'])} | {r['steps']} | {r['peak_rss_mb']:.0f} MB |")
        L.append("")
    for name, err in res.get("errors", {}).items():
        L += [f"Section {name} failed: {err}", ""]
    return "\n".join(L)


def side_report(s: dict) -> list[str]:
    rows = s["rows"]
    ours = {n: r for n, r in rows.items() if n in BACKENDS and "error" not in r}
    best = min(ours, key=lambda n: ours[n]["median"]) if ours else None
    L = ["## Side by side: the same model and input in PyTorch, onnxruntime, NumPy and Keras", "",
         f"One utterance of {s['seconds']:.0f} s (the samples joined, {s['frames']} feature frames), its features "
         "computed once and given to each; 1 thread everywhere (TensorFlow: intra- and inter-op 1; *CPU/wall* "
         "is the process's CPU time over wall time while timed, about the threads busy). The Keras model is "
         "the same architecture (causal stride-2 Conv1D + ReLU, LayerNorm, 2 × Bidirectional(LSTM), Dense, "
         "log-softmax) with the weights copied from our safetensors; *max |Δ|*: the largest difference of "
         "its log-probabilities from PyTorch fp32's. "
         + (f"Ratios: wall (and CPU) time over {BACKENDS[best]}'s, the fastest of ours. On a busy machine a "
            "1-thread process also waits for a core (CPU/wall < 1): its CPU time is then the fairer figure."
            if best else ""), "",
         "| implementation | mode | s per run | CPU s per run | RTF | × ours best (CPU) | max abs Δ vs PyTorch fp32 | CPU/wall |",
         "|---|---|---:|---:|---:|---:|---:|---:|"]

    def line(name, mode, r, scale=1.0, note=""):
        if "error" in r:
            L.append(f"| {name} | {mode} | {r['error']} | | | | | |")
            return
        med, cpu = r["median"] * scale, r["cpu_median"] * scale
        ratio = (f"{med / ours[best]['median']:.1f} ({cpu / ours[best]['cpu_median']:.1f})" if best else "–")
        L.append(f"| {name} | {mode}{note} | {med:.4f} ({r['min'] * scale:.4f}) | {cpu:.4f} | {med / s['seconds']:.5f} | "
                 f"{ratio} | {r['max_abs_diff']:.1e} | {r['cpu_per_wall']:.2f} |")

    for n in BACKENDS:
        if n in rows:
            line(BACKENDS[n], "graph (ONNX)" if n.startswith("onnx") else "eager", rows[n])
    if "numpy" in rows:
        r = rows["numpy"]
        scale = s["seconds"] / r["seconds_timed"]
        line("NumPy (`lstm_asr.equations`)", "Python loop per step",
             r, scale, f", timed on {r['seconds_timed']:g} s and scaled ×{scale:.0f}")
    k = rows.get("keras", {})
    if "error" in k:
        L.append(f"| Keras on TensorFlow | – | {k['error']} | | | | | |")
    elif k:
        for mode, r in k["modes"].items():
            line(f"Keras {k['keras']} on TensorFlow {k['tensorflow']}", mode, r,
                 note=f" (first call {r['first_call_s']:.1f} s)")
    L += ["", "The NumPy row's max |Δ| is against PyTorch on the same shorter piece."
          " Keras's first call includes tracing and, with XLA, compiling.", ""]
    return L


def ps_report(p: dict) -> list[str]:
    L = ["## PocketSphinx beside ours, same words, same recordings", ""]
    if "error" in p:
        return L + [f"Not run: {p['error']}.", ""]
    L += [f"Recordings: {p['source']}. PocketSphinx {p.get('version') or ''} (its en-us model and dictionary, "
          "settings of `benchmarks/pocketsphinx_bench.py`) with a JSGF grammar of exactly one of the model's "
          f"{len(p['words'])} words; ours: the whole `transcribe` with the model's own decoder (the same words). "
          "RTF: decoding time per audio second on the in-memory 16 kHz audio (reading not counted), 1 thread.", "",
          "| set | n | system | sentence accuracy | WER | RTF | × ours |", "|---|---:|---|---:|---:|---:|---:|"]
    for r in p["rows"]:
        ours = r["systems"].get("ours (torch fp32, 1 thread)")
        for name, x in r["systems"].items():
            if "error" in x:
                L.append(f"| {r['set']} | {r['n']} | {name} | {x['error']} | | | |")
                continue
            ratio = f"{x['rtf'] / ours['rtf']:.1f}" if ours else "–"
            L.append(f"| {r['set']} | {r['n']} | {name} | {100 * x['sent_acc']:.1f} % | {100 * x['wer']:.1f} % | "
                     f"{x['rtf']:.4f} | {ratio} |")
    return L + [""]


# ---------------------------------------------------------------------------------------------

def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import numpy
    import torch
    versions = [f"Python {platform.python_version()}", f"torch {torch.__version__}", f"numpy {numpy.__version__}"]
    for dist in ("onnxruntime", "tensorflow-cpu", "keras", "pocketsphinx"):
        versions.append(f"{dist} {version_of(dist) or 'not installed'}")
    return {"cpu": cpu, "cores": os.cpu_count(), "platform": f"{platform.system()} {platform.machine()}",
            "versions": ", ".join(versions)}


def command_line() -> str:
    exe = Path(sys.executable)
    try:
        exe = exe.relative_to(ROOT)
    except ValueError:
        pass
    script = Path(sys.argv[0]).resolve()
    try:
        script = script.relative_to(ROOT)
    except ValueError:
        pass
    cmd = " ".join([str(exe), str(script)] + sys.argv[1:])
    return f"make bench` → `{cmd}" if os.environ.get("MAKELEVEL") else cmd


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="short inputs, few repeats: tests the harness")
    ap.add_argument("--out", type=Path, default=None, help="the report (default benchmarks/RESULTS.md; "
                    "--quick: a temporary file)")
    ap.add_argument("--model", default=None, help="model name or directory (default: the bundled default)")
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--sections", default=",".join(SECTIONS))
    ap.add_argument("--backends", default=",".join(BACKENDS))
    ap.add_argument("--threads", default="1,2", help="thread counts of the backends and train sections")
    ap.add_argument("--lengths", default=None, help="minutes of audio of the memory section (default 1,5,20; "
                    "--quick: 0.05,0.1,0.2)")
    ap.add_argument("--worker", nargs=2, metavar=("KIND", "JSON"), help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.worker:
        kind, params = a.worker
        result = WORKERS[kind](json.loads(params))
        result["peak_rss_mb"] = peak_rss_mb()   # exact: this process's high-water mark at its end
        print("RESULT " + json.dumps(result), flush=True)
        return 0
    sections = [s.strip() for s in a.sections.split(",") if s.strip()]
    a.backends = [b.strip() for b in a.backends.split(",") if b.strip()]
    a.threads = [int(t) for t in a.threads.split(",") if t.strip()]
    for s in sections:
        if s not in SECTIONS:
            ap.error(f"--sections: {s!r} is not one of {', '.join(SECTIONS)}")
    for b in a.backends:
        if b not in BACKENDS:
            ap.error(f"--backends: {b!r} is not one of {', '.join(BACKENDS)}")
    plan = dict(QUICK if a.quick else FULL)
    if a.repeats:
        plan["repeats"] = a.repeats
    if a.lengths:
        plan["lengths_min"] = tuple(float(x) for x in a.lengths.split(",") if x.strip())
    out = a.out or (Path(tempfile.mkdtemp(prefix="lstm_asr_bench_")) / "RESULTS.md" if a.quick
                    else HERE / "RESULTS.md")

    os.environ.update(OMP_NUM_THREADS="1")
    t_start, load0 = time.time(), os.getloadavg()[0]
    set_threads(1)
    import lstm_asr
    from lstm_asr.checkpoint import resolve_model
    rec = lstm_asr.load_model(a.model)
    work = Path(tempfile.mkdtemp(prefix="lstm_asr_bench_work_"))
    ctx = {"rec": rec, "work": work, "onnx": {}}
    if any(b.startswith("onnx") for b in a.backends) and {"backends", "memory", "side"} & set(sections):
        log("exporting ONNX (fp32, int8)")
        ctx["onnx"] = onnx_files(rec, work)
    res: dict = {"errors": {}}
    funcs = {"backends": section_backends, "memory": section_memory, "side": section_side,
             "pocketsphinx": section_pocketsphinx, "train": section_train}
    try:
        for s in SECTIONS:
            if s in sections:
                try:
                    res[s] = funcs[s](a, plan, ctx)
                except Exception as e:  # noqa: BLE001 - one broken section must not lose the others
                    import traceback
                    traceback.print_exc()
                    res["errors"][s] = f"{type(e).__name__}: {e}"
    finally:
        shutil.rmtree(work, ignore_errors=True)
    model_dir = resolve_model(a.model)
    meta = {**machine(), "command": command_line(), "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "took_s": time.time() - t_start, "load": (load0, os.getloadavg()[0]),
            "model": a.model or model_dir.name, "params": sum(p.numel() for p in rec.model.parameters())}
    text = report(a, plan, res, meta)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n", encoding="utf-8")
    print(text)
    log(f"wrote {out}")
    return 1 if res["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
