"""Scoring a model on a manifest: the audio as it is, or under noise at chosen SNRs.

:func:`evaluate` is what ``lstm-asr evaluate`` runs (:func:`format_report` is its text): every
manifest line through the same pipeline as ``transcribe`` (batched across files), scored as WER,
CER and sentence accuracy with intervals by speaker. :func:`evaluate_noisy` runs it once per
condition: ``clean`` (the files as they are, the very result of :func:`evaluate`) and each SNR,
with noise from a folder of recordings mixed into every utterance by
:func:`lstm_asr.augment.add_noise` (:func:`format_table`: one row per condition).

The mix is a function of the utterance and the seed only (:class:`NoiseMixer`): the noise file
and the stretch of it are drawn from a generator seeded by a hash of (the audio path relative to
the manifest, the seed), so every model scored on a manifest meets exactly the same noisy audio,
and the conditions of one run differ in the noise level only (the same stretch at 20 dB and 0 dB).
"""
from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import numpy as np

from .augment import add_noise
from .errors import AsrError, AudioError, ConfigError
from .validate import Invalid

CLEAN = "clean"                          # the condition without noise, as --snr spells it
SNR_RANGE = (-50.0, 100.0)               # dB
DEFAULT_SNRS = "clean,20,10,5,0"


def parse_snrs(text: str) -> list:
    """``"clean,20,10,5,0"`` -> ``["clean", 20.0, 10.0, 5.0, 0.0]``: conditions in the given order.
    Raises :class:`~lstm_asr.validate.Invalid` for an empty list, a value that is not ``clean`` or
    a finite number of dB in :data:`SNR_RANGE`, or a condition given twice."""
    one = f"an SNR in dB ({SNR_RANGE[0]:g}..{SNR_RANGE[1]:g}) or 'clean'"
    items = [s.strip() for s in str(text).split(",")]
    if not any(items):
        raise Invalid("", "a comma-separated list of SNRs in dB or 'clean'", text)
    out: list = []
    for s in items:
        if s.lower() == CLEAN:
            value = CLEAN
        else:
            try:
                value = float(s)
            except ValueError:
                raise Invalid("", one, s) from None
            if not np.isfinite(value) or not SNR_RANGE[0] <= value <= SNR_RANGE[1]:
                raise Invalid("", one, s)
        if value in out:
            raise Invalid("", "a list naming each condition once", text)
        out.append(value)
    return out


def noise_files(folder) -> list[Path]:
    """The audio files under ``folder`` (recursively; any file soundfile can open, others such as
    a README are passed over), sorted by their path inside it. Raises :class:`ConfigError` when
    the folder does not exist or holds no audio."""
    import soundfile as sf
    root = Path(folder)
    if not root.is_dir():
        raise ConfigError(f"{folder}: no such folder of noise recordings")
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if name.startswith("."):
                continue
            try:
                info = sf.info(str(path))
            except Exception:  # noqa: BLE001 - not audio soundfile reads: not a noise recording
                continue
            if info.frames > 0:
                found.append(path)
    if not found:
        raise ConfigError(f"{folder}: no audio files in it (any format soundfile reads, searched recursively)")
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def snr_db(clean: np.ndarray, mixed: np.ndarray) -> float:
    """The signal-to-noise ratio of ``mixed`` = ``clean`` + noise, in dB (both (S,))."""
    noise = mixed.astype(np.float64) - clean.astype(np.float64)
    return float(10 * np.log10(np.mean(clean.astype(np.float64) ** 2) / np.mean(noise ** 2)))


class NoiseMixer:
    """Noise recordings (16 kHz mono, from :func:`noise_files`) mixed into utterances, seeded.

    ``mixer(wave, key, snr)`` -> ``wave`` with noise at ``snr`` dB (power over the whole clip, as
    :func:`~lstm_asr.augment.add_noise` measures it). Which recording and which stretch of it
    depend on ``key`` (e.g. the utterance's path) and ``seed`` only, not on ``snr``."""

    def __init__(self, folder, seed: int = 0):
        from .audio import load_audio
        self.folder, self.seed = str(folder), int(seed)
        self.files = noise_files(folder)
        self.noises = []
        for path in self.files:
            try:
                wave = load_audio(path)
            except AudioError as e:
                raise ConfigError(f"noise recording {e}") from None
            if not np.any(wave):
                raise ConfigError(f"{path}: noise recording is silent: it cannot be mixed in at an SNR")
            self.noises.append(wave)

    def rng(self, key: str) -> np.random.Generator:
        digest = hashlib.sha256(f"{key}\0{self.seed}".encode("utf-8", "surrogateescape")).digest()
        return np.random.default_rng(int.from_bytes(digest[:16], "little"))

    def __call__(self, wave: np.ndarray, key: str, snr: float) -> np.ndarray:
        rng = self.rng(key)
        noise = self.noises[int(rng.integers(len(self.noises)))]
        return add_noise(wave, noise, float(snr), rng)


def _key(audio: Path, manifest_path: Path) -> str:
    """The utterance's name in the seed: its path relative to the manifest (stable when the data
    move with it), or as given when it lies elsewhere."""
    try:
        return Path(os.path.relpath(audio, Path(manifest_path).resolve().parent)).as_posix()
    except ValueError:  # another drive (Windows)
        return Path(audio).as_posix()


def _noisy_sources(utterances, mixer: NoiseMixer, snr: float, manifest_path: Path):
    """Each utterance with noise mixed in, read one at a time; one that cannot be read is passed
    on as its path so that the pipeline reports it as it would without noise."""
    from .audio import load_audio
    for u in utterances:
        try:
            wave = load_audio(u.audio)
        except AudioError:
            yield u.audio
            continue
        yield mixer(wave, _key(u.audio, manifest_path), snr)


def evaluate(rec, manifest, sources=None, max_seconds: float = 20.0, worst: int = 5,
             progress: bool = False, desc: str = "evaluating", on_error=None) -> dict:
    """Transcribe every utterance of ``manifest`` (a :class:`~lstm_asr.data.Manifest`) with the
    recognizer ``rec`` and score it. ``sources``: what to transcribe in place of the utterances'
    files (paths or 16 kHz arrays, in manifest order); ``on_error(AsrError)`` is called for each
    input that cannot be read. Returns ``{"wer", "cer", "sent_acc", "rtf", "n", "failed",
    "audio_seconds", "worst", "ci95", "speakers", "utterances"}`` (``utterances``: the scored
    ones' ``{"audio", "ref", "hyp", "speaker"}``), or None when no utterance could be read."""
    from tqdm import tqdm

    from .compare import speaker_report
    from .metrics import cer, sentence_accuracy, utterance_errors, wer
    utts, hyps, failed, audio_s = [], [], len(manifest.skipped), 0.0
    t0 = time.perf_counter()
    sources = [u.audio for u in manifest.utterances] if sources is None else sources
    results = rec.transcribe_many(sources, max_seconds=max_seconds)
    for i, t in tqdm(results, total=len(manifest), desc=desc, unit="file", disable=not progress, leave=False):
        if isinstance(t, AsrError):
            if on_error is not None:
                on_error(t)
            failed += 1
            continue
        utts.append(manifest.utterances[i])
        hyps.append(t.text)
        audio_s += t.duration
    seconds = time.perf_counter() - t0
    if not utts:
        return None
    refs = [u.text for u in utts]
    ranked = sorted(range(len(utts)), key=lambda i: -utterance_errors(refs[i], hyps[i]))
    worst_rows = [{"audio": str(utts[i].audio), "ref": refs[i], "hyp": hyps[i]}
                  for i in ranked[:worst] if refs[i].split() != hyps[i].split()]
    return {"wer": wer(refs, hyps), "cer": cer(refs, hyps), "sent_acc": sentence_accuracy(refs, hyps),
            "rtf": seconds / audio_s if audio_s else 0.0, "n": len(utts), "failed": failed,
            "audio_seconds": round(audio_s, 2), "worst": worst_rows,
            **speaker_report([u.speaker for u in utts], [str(u.audio) for u in utts], refs, hyps),
            "utterances": [{"audio": str(u.audio), "ref": r, "hyp": h, "speaker": u.speaker}
                           for u, r, h in zip(utts, refs, hyps)]}


def evaluate_noisy(rec, manifest, noise, snrs, seed: int = 0, on_error=None, **kw):
    """:func:`evaluate` once per condition of ``snrs`` (``"clean"`` or dB, e.g. from
    :func:`parse_snrs`), with noise from the folder ``noise`` (or a :class:`NoiseMixer`).
    Yields each condition's result as it is done, with ``"snr"`` (``"clean"`` or the dB value),
    ``"noise"`` (the folder; None for clean) and ``"seed"`` in front; None for a condition in
    which no utterance could be read. ``on_error`` hears of an unreadable file in the first
    condition only (it is the same file in every condition)."""
    mixer = noise if isinstance(noise, NoiseMixer) else NoiseMixer(noise, seed)
    for k, snr in enumerate(snrs):
        clean = snr == CLEAN
        sources = None if clean else _noisy_sources(manifest.utterances, mixer, snr, manifest.path)
        res = evaluate(rec, manifest, sources, desc="clean" if clean else f"{snr:g} dB",
                       on_error=on_error if k == 0 else None, **kw)
        yield None if res is None else {"snr": snr, "noise": None if clean else mixer.folder,
                                        "seed": mixer.seed, **res}


def format_report(res: dict) -> str:
    """One condition's result (from :func:`evaluate`) as the text ``lstm-asr evaluate`` prints:
    counts, scores, intervals by speaker, the hardest speakers and the worst utterances."""
    lines = [f"utterances {res['n']} ({res['audio_seconds']:.1f} s of audio), failed {res['failed']}",
             f"WER {100 * res['wer']:.2f} %  CER {100 * res['cer']:.2f} %  "
             f"sentence accuracy {100 * res['sent_acc']:.2f} %  RTF {res['rtf']:.4f}"]
    ci = res["ci95"]
    if ci["clusters"] > 1:
        lines.append(f"95 % intervals over {ci['clusters']} {ci['by']}s: WER {100 * ci['wer'][0]:.1f}-"
                     f"{100 * ci['wer'][1]:.1f} %, sentence accuracy {100 * ci['sent_acc'][0]:.1f}-"
                     f"{100 * ci['sent_acc'][1]:.1f} %")
    else:
        lines.append(f"one {ci['by']}: no interval (a bootstrap over one {ci['by']} has no spread)")
    if res["speakers"] and len(res["speakers"]) > 1:
        lines.append("hardest speakers: " + ", ".join(f"{v['speaker']} WER {100 * v['wer']:.1f} % ({v['n']})"
                                                      for v in res["speakers"][:3]))
    lines += [f"  {w['audio']}\n    ref: {w['ref']}\n    hyp: {w['hyp']}" for w in res["worst"]]
    return "\n".join(lines)


def format_table(rows: list[dict]) -> str:
    """Conditions as a text table: one row each, WER with its 95 % interval by speaker."""
    lines = [f"{'condition':<10} {'WER %':>7} {'95 % CI':>11} {'CER %':>7} {'sent acc %':>10} {'n':>5} {'failed':>6}"]
    for r in rows:
        name = CLEAN if r["snr"] == CLEAN else f"{r['snr']:g} dB"
        ci = r.get("ci95") or {}
        lo_hi = f"{100 * ci['wer'][0]:.1f}-{100 * ci['wer'][1]:.1f}" if ci.get("clusters", 0) > 1 else "-"
        lines.append(f"{name:<10} {100 * r['wer']:>7.2f} {lo_hi:>11} {100 * r['cer']:>7.2f} "
                     f"{100 * r['sent_acc']:>10.2f} {r['n']:>5} {r['failed']:>6}")
    return "\n".join(lines)


def hyps_path(path, snr) -> Path:
    """Where ``--save-hyps FILE`` puts one condition's hypotheses: ``a.jsonl`` -> ``a.snr10.jsonl``,
    ``a.clean.jsonl`` (one file per condition, ready for ``lstm-asr compare``)."""
    p = Path(path)
    tag = CLEAN if snr == CLEAN else f"snr{snr:g}"
    return p.with_name(f"{p.stem}.{tag}{p.suffix or '.jsonl'}")
