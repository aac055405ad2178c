"""Compare two systems on the same utterances: paired differences with bootstrap confidence intervals.

Inputs are the JSON Lines that ``lstm-asr evaluate --save-hyps`` writes (one ``{"audio", "ref",
"hyp", "speaker"}`` per utterance), so any two runs can be compared: LSTM against GRU, a streaming
variant against its offline model, a new checkpoint against the old.

Utterances of one speaker are not independent (a voice the model mishears is misheard in every
recording), so the intervals resample whole speakers with replacement (a cluster bootstrap) and
recompute both systems' corpus WER and sentence accuracy on the same resample; with no speakers
in the files each utterance is its own cluster. The interval is the 2.5-97.5 percentile range.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import AsrError, ManifestError
from .metrics import edit_counts


@dataclass
class Scored:
    """Per utterance: word edits, reference words, whether the sentence is right; and its cluster."""
    edits: np.ndarray   # (N,) int
    words: np.ndarray   # (N,) int
    right: np.ndarray   # (N,) bool
    cluster: np.ndarray  # (N,) int: index of the speaker (or of the utterance)


def read_hyps(path) -> dict[str, dict]:
    """``--save-hyps`` file -> {audio: row}; a broken line raises ManifestError naming it."""
    rows: dict[str, dict] = {}
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise ManifestError(path, 0, f"cannot read: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise ManifestError(path, 0, "not UTF-8 text (expected JSON Lines from lstm-asr evaluate --save-hyps)") from None
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise ManifestError(path, i, f"not JSON ({e.msg})") from None
        if not isinstance(row, dict) or not all(isinstance(row.get(k), str) for k in ("audio", "ref", "hyp")):
            raise ManifestError(path, i, 'needs "audio", "ref" and "hyp" strings (lstm-asr evaluate --save-hyps)')
        if row["audio"] in rows:
            raise ManifestError(path, i, f"{row['audio']} appears twice")
        rows[row["audio"]] = row
    if not rows:
        raise ManifestError(path, 0, "no utterances")
    return rows


def pair(a: dict[str, dict], b: dict[str, dict], name_a: str = "A", name_b: str = "B") -> tuple[Scored, Scored, str]:
    """Score the utterances both runs hold: (A, B, "speaker" or "utterance"). The runs must cover
    the same utterances with the same references (AsrError otherwise, naming one that differs)."""
    only = sorted(set(a) ^ set(b))
    if only:
        where = name_a if only[0] in a else name_b
        raise AsrError(f"{only[0]} is only in {where} ({len(only)} utterance(s) are not in both runs)")
    keys = sorted(a)
    for k in keys:
        if a[k]["ref"].split() != b[k]["ref"].split():
            raise AsrError(f"{k}: the references differ ({a[k]['ref']!r} in {name_a}, {b[k]['ref']!r} in {name_b})")
    rows = [a[k] for k in keys]
    cluster, by = clusters([r.get("speaker") for r in rows], keys)
    return (score([r["ref"] for r in rows], [r["hyp"] for r in rows], cluster),
            score([b[k]["ref"] for k in keys], [b[k]["hyp"] for k in keys], cluster), by)


def clusters(speakers: list, ids: list) -> tuple[np.ndarray, str]:
    """The bootstrap's clusters: (N,) index of each utterance's speaker and "speaker", or of the
    utterance itself and "utterance" when any speaker is missing."""
    by = "speaker" if all(s not in (None, "") for s in speakers) else "utterance"
    labels = speakers if by == "speaker" else ids
    index = {s: i for i, s in enumerate(dict.fromkeys(labels))}
    return np.array([index[s] for s in labels]), by


def score(refs: list[str], hyps: list[str], cluster: np.ndarray) -> Scored:
    """Reference and hypothesis texts -> per-utterance counts for the bootstrap."""
    refs, hyps = [r.split() for r in refs], [h.split() for h in hyps]
    return Scored(np.array([edit_counts(r, h) for r, h in zip(refs, hyps)]),
                  np.array([len(r) for r in refs]), np.array([r == h for r, h in zip(refs, hyps)]), cluster)


def _totals(s: Scored) -> tuple[np.ndarray, ...]:
    """(C,) per cluster: word edits, reference words, sentences right, utterances."""
    n = int(s.cluster.max()) + 1
    return tuple(np.bincount(s.cluster, weights=v.astype(np.float64), minlength=n)
                 for v in (s.edits, s.words, s.right, np.ones_like(s.edits)))


def _rates(s: Scored, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(R, C) cluster counts per resample -> (R,) WER and (R,) sentence accuracy."""
    edits, words, right, utts = (weights @ t for t in _totals(s))
    return edits / np.maximum(words, 1), right / np.maximum(utts, 1)


def speaker_report(speakers: list, ids: list, refs: list[str], hyps: list[str], resamples: int = 1000) -> dict:
    """One run's extras for ``evaluate``: ``ci95`` (95 % intervals of WER and sentence accuracy,
    by speaker, or by utterance when any speaker is missing) and ``speakers`` (each speaker's
    utterances, WER and sentence accuracy, hardest first; empty without speakers)."""
    cluster, by = clusters(speakers, ids)
    s = score(refs, hyps, cluster)
    ci = intervals(s, resamples)
    out = {"ci95": {"by": by, "clusters": int(cluster.max()) + 1, "wer": ci["wer"]["ci95"],
                    "sent_acc": ci["sent_acc"]["ci95"]}, "speakers": []}
    if by == "speaker":
        edits, words, right, utts = _totals(s)
        names = list(dict.fromkeys(speakers))  # cluster k is the k-th speaker met (clusters())
        out["speakers"] = sorted(({"speaker": names[k], "n": int(utts[k]),
                                   "wer": round(float(edits[k] / words[k]) if words[k] else float(edits[k] > 0), 4),
                                   "sent_acc": round(float(right[k] / utts[k]), 4)} for k in range(len(names))),
                                 key=lambda v: (-v["wer"], str(v["speaker"])))
    return out


def _boot(runs: list[Scored], resamples: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each run's (R,) WER and (R,) sentence accuracy on the same R resamples of whole clusters,
    drawn in batches so that memory stays under ~16 MB however many clusters there are."""
    n = int(runs[0].cluster.max()) + 1
    rng = np.random.default_rng(seed)
    out: list[list] = [[[], []] for _ in runs]
    step = max(1, 2_000_000 // n)
    for first in range(0, resamples, step):
        weights = rng.multinomial(n, np.full(n, 1.0 / n), size=min(step, resamples - first)).astype(np.float64)
        for acc, run in zip(out, runs):
            w, a = _rates(run, weights)
            acc[0].append(w)
            acc[1].append(a)
    return [(np.concatenate(w), np.concatenate(a)) for w, a in out]


def _stat(point: np.ndarray, boot: np.ndarray) -> dict:
    lo, hi = np.percentile(boot, [2.5, 97.5])
    return {"value": round(float(point[0]), 4), "ci95": [round(float(lo), 4), round(float(hi), 4)]}


def intervals(s: Scored, resamples: int = 1000, seed: int = 0) -> dict:
    """One run: its WER and sentence accuracy, each with a 95 % cluster-bootstrap interval."""
    (wer, acc), [(bw, ba)] = _rates(s, np.ones((1, int(s.cluster.max()) + 1))), _boot([s], resamples, seed)
    return {"wer": _stat(wer, bw), "sent_acc": _stat(acc, ba)}


def compare(a: Scored, b: Scored, resamples: int = 2000, seed: int = 0) -> dict:
    """Point estimates and 95 % cluster-bootstrap intervals of both systems' WER and sentence
    accuracy and of their differences (B - A), plus how often B was better across resamples."""
    whole = np.ones((1, int(a.cluster.max()) + 1))
    out = {"n": int(a.edits.size), "clusters": whole.shape[1], "resamples": resamples, "seed": seed}
    (wer_a, acc_a), (wer_b, acc_b) = _rates(a, whole), _rates(b, whole)
    (bw_a, ba_a), (bw_b, ba_b) = _boot([a, b], resamples, seed)
    out["wer"] = {"a": _stat(wer_a, bw_a), "b": _stat(wer_b, bw_b), "b_minus_a": _stat(wer_b - wer_a, bw_b - bw_a),
                  "b_better": round(float(np.mean(bw_b < bw_a)), 4)}
    out["sent_acc"] = {"a": _stat(acc_a, ba_a), "b": _stat(acc_b, ba_b), "b_minus_a": _stat(acc_b - acc_a, ba_b - ba_a),
                       "b_better": round(float(np.mean(ba_b > ba_a)), 4)}
    return out


def format_table(result: dict, name_a: str, name_b: str, by: str) -> str:
    """The comparison as a few lines of text (percentages, points for the differences)."""
    def pct(s):
        return f"{100 * s['value']:.1f} %"

    def diff(s):
        lo, hi = s["ci95"]
        return f"{100 * s['value']:+.1f} (95 % CI {100 * lo:+.1f} to {100 * hi:+.1f})"
    width = max(len(name_a), len(name_b), 8)
    lines = [f"{'':16}{'A':>{width}}  {'B':>{width}}  B - A, points",
             f"{'':16}{name_a:>{width}}  {name_b:>{width}}"]
    for key, label in (("wer", "WER"), ("sent_acc", "sentences right")):
        r = result[key]
        lines.append(f"{label:16}{pct(r['a']):>{width}}  {pct(r['b']):>{width}}  {diff(r['b_minus_a'])}")
    lines.append(f"{result['n']} utterances; intervals resample whole {by}s ({result['clusters']}) "
                 f"{result['resamples']} times; B better in {100 * result['wer']['b_better']:.0f} % of "
                 f"resamples by WER")
    return "\n".join(lines)
