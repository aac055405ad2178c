"""Error rates: WER (words), CER (characters, spaces ignored, so it suits scripts without spaces)
and sentence accuracy. Inputs are normalised transcripts."""
from __future__ import annotations


def _clean(refs, hyps):
    refs, hyps = list(refs), list(hyps)
    if len(refs) != len(hyps):
        raise ValueError(f"{len(refs)} references but {len(hyps)} hypotheses")
    if not refs:
        raise ValueError("no references: an empty set has no error rate")
    return refs, hyps


def edit_counts(ref: list, hyp: list) -> int:
    """Levenshtein distance between two token lists."""
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


def wer(refs, hyps) -> float:
    """Word error rate over a corpus: total word edits / total reference words."""
    refs, hyps = _clean(refs, hyps)
    errors = sum(edit_counts(r.split(), h.split()) for r, h in zip(refs, hyps))
    total = sum(len(r.split()) for r in refs)
    return errors / total if total else float(errors > 0)


def cer(refs, hyps) -> float:
    """Character error rate over a corpus with spaces removed."""
    refs, hyps = _clean(refs, hyps)
    errors = sum(edit_counts(list(r.replace(" ", "")), list(h.replace(" ", ""))) for r, h in zip(refs, hyps))
    total = sum(len(r.replace(" ", "")) for r in refs)
    return errors / total if total else float(errors > 0)


def sentence_accuracy(refs, hyps) -> float:
    refs, hyps = _clean(refs, hyps)
    return sum(r.split() == h.split() for r, h in zip(refs, hyps)) / len(refs)


def utterance_errors(ref: str, hyp: str) -> int:
    """Word edits for one utterance (used to rank the worst ones)."""
    return edit_counts(ref.split(), hyp.split())
