"""Decoders over CTC posteriors. Greedy: the best unit per frame, repeats merged, blanks removed.

:class:`GreedyDecoder` accepts posteriors chunk by chunk (for streaming) and gives the same
result as :func:`greedy_decode` on the whole sequence.
"""
from __future__ import annotations

import torch


def greedy_decode(log_probs: torch.Tensor, blank: int = 0) -> list[int]:
    """(T, V) log-probabilities of one utterance -> unit ids."""
    dec = GreedyDecoder(blank)
    dec.accept(log_probs)
    return dec.ids


class GreedyDecoder:
    def __init__(self, blank: int = 0):
        self.blank = blank
        self.ids: list[int] = []
        self.frames: list[int] = []  # output frame index of each emitted unit
        self._prev = blank
        self._t = 0

    def accept(self, log_probs: torch.Tensor) -> list[int]:
        """Feed (T, V) more frames; return the unit ids they added."""
        best = log_probs.argmax(dim=-1).tolist()
        new = []
        for k in best:
            if k != self.blank and k != self._prev:
                new.append(k)
                self.frames.append(self._t)
            self._prev = k
            self._t += 1
        self.ids.extend(new)
        return new
