r"""Recurrent layers written out as the textbook equations, in plain NumPy.

These are reference forward passes of one recurrent layer each: a Python loop
over time, one line per gate, no framework.  The weights use PyTorch's layout,
so the tensors of a ``torch.nn.LSTM`` / ``GRU`` / ``RNN`` (``state_dict()``
converted with ``.numpy()``) can be passed unchanged, and the results agree
with PyTorch to rounding error.

Notation: ``x`` is the input at step t, ``h'`` and ``c'`` the hidden and cell
state of step t-1, ``σ`` the logistic sigmoid, ``⊙`` the elementwise product.
Every function takes ``x`` of shape ``(T, input_size)`` and computes in
``x``'s floating dtype (float32 stays float32, float64 stays float64).

LSTM (Hochreiter & Schmidhuber 1997, with the forget gate; PyTorch's gate
order i, f, g, o stacked row-wise in ``weight_ih`` (4H, I), ``weight_hh``
(4H, H), ``bias_ih`` (4H,), ``bias_hh`` (4H,))::

    i = σ(Wxi x + Whi h' + bi)          input gate
    f = σ(Wxf x + Whf h' + bf)          forget gate
    o = σ(Wxo x + Who h' + bo)          output gate
    g = tanh(Wxg x + Whg h' + bg)       candidate cell
    c = f ⊙ c' + i ⊙ g
    h = o ⊙ tanh(c)                     h0 = c0 = 0 unless given

where each bias is the sum of the matching parts of ``bias_ih`` and
``bias_hh`` (e.g. ``bi = b_ii + b_hi``).

GRU (Cho et al. 2014, in PyTorch's form; gates r, z, n stacked in
``weight_ih`` (3H, I), ``weight_hh`` (3H, H), ``bias_ih``/``bias_hh`` (3H,))::

    r = σ(W_ir x + b_ir + W_hr h' + b_hr)          reset gate
    z = σ(W_iz x + b_iz + W_hz h' + b_hz)          update gate
    n = tanh(W_in x + b_in + r ⊙ (W_hn h' + b_hn))  candidate
    h = (1 − z) ⊙ n + z ⊙ h'                        h0 = 0 unless given

Note that ``b_hn`` sits inside the reset gate's product, so the two ``n``
biases cannot be merged.

Elman RNN (``weight_ih`` (H, I), ``weight_hh`` (H, H), biases (H,))::

    h = tanh(W_ih x + b_ih + W_hh h' + b_hh)       (or relu instead of tanh)

``stack`` assembles a multi-layer, optionally bidirectional network from these
layers, reading weights by their ``torch.nn.LSTM``/``GRU``/``RNN`` state_dict
names; it reproduces the PyTorch module's output (eval mode: no dropout
between layers) for ``batch_first=False`` and batch size 1.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np

__all__ = ["sigmoid", "lstm", "gru", "rnn", "stack"]


# ---------------------------------------------------------------------------
# helpers


def sigmoid(x):
    """Logistic sigmoid 1 / (1 + exp(-x)), stable for large |x| (no overflow).

    Uses exp(-|x|) only, which lies in (0, 1]: for x >= 0 the result is
    1 / (1 + e), for x < 0 it is e / (1 + e).  Keeps a floating input's dtype.
    """
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    e = np.exp(-np.abs(x))
    out = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
    return out[()] if out.ndim == 0 else out


def _input(x) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(
            f"x must have shape (T, input_size); got shape {x.shape} "
            "(batch dimensions are not supported: run one sequence at a time)"
        )
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    return x


def _weights(x, weight_ih, weight_hh, bias_ih, bias_hh, gates: int, cell: str):
    """Check shapes against PyTorch's layout; return arrays in x's dtype and H."""
    dt = x.dtype
    weight_ih = np.asarray(weight_ih)
    weight_hh = np.asarray(weight_hh)
    if weight_ih.ndim != 2 or weight_hh.ndim != 2:
        raise ValueError(
            f"{cell}: weight_ih and weight_hh must be 2-D; got shapes "
            f"{weight_ih.shape} and {weight_hh.shape}"
        )
    rows, input_size = weight_ih.shape
    if rows == 0 or rows % gates:
        raise ValueError(
            f"{cell}: weight_ih must have {gates}*hidden_size rows "
            f"(gates stacked row-wise); got shape {weight_ih.shape}"
        )
    H = rows // gates
    if input_size != x.shape[1]:
        raise ValueError(
            f"{cell}: x has {x.shape[1]} features per step but weight_ih "
            f"{weight_ih.shape} expects input_size={input_size}"
        )
    if weight_hh.shape != (gates * H, H):
        raise ValueError(
            f"{cell}: weight_hh must have shape ({gates * H}, {H}) to match "
            f"weight_ih {weight_ih.shape}; got {weight_hh.shape}"
        )
    biases = []
    for name, b in (("bias_ih", bias_ih), ("bias_hh", bias_hh)):
        if b is None:  # a layer built with bias=False
            b = np.zeros(gates * H, dtype=dt)
        b = np.asarray(b)
        if b.shape != (gates * H,):
            raise ValueError(
                f"{cell}: {name} must have shape ({gates * H},); got {b.shape}"
            )
        biases.append(b.astype(dt, copy=False))
    return (
        weight_ih.astype(dt, copy=False),
        weight_hh.astype(dt, copy=False),
        biases[0],
        biases[1],
        H,
    )


def _state(s, H: int, dt, name: str, cell: str) -> np.ndarray:
    """Initial state: zeros by default; accepts (H,) or PyTorch's (1, 1, H)."""
    if s is None:
        return np.zeros(H, dtype=dt)
    s = np.asarray(s)
    if s.size != H or any(d != 1 for d in s.shape[:-1]) or s.ndim == 0:
        raise ValueError(
            f"{cell}: {name} must have shape ({H},) (or (1, {H}) / (1, 1, {H})); "
            f"got {s.shape}"
        )
    return s.reshape(H).astype(dt)  # astype copies: the caller's array is never touched


# ---------------------------------------------------------------------------
# one layer each


def lstm(x, weight_ih, weight_hh, bias_ih, bias_hh, h0=None, c0=None):
    """One LSTM layer over a sequence.

    x: (T, I).  weight_ih (4H, I), weight_hh (4H, H), bias_ih/bias_hh (4H,),
    gates stacked in PyTorch's order i, f, g, o.  h0, c0: (H,), zeros if None.
    Returns ``(y, (h_T, c_T))`` with y (T, H) the hidden state at every step.
    """
    x = _input(x)
    W_ih, W_hh, b_ih, b_hh, H = _weights(x, weight_ih, weight_hh, bias_ih, bias_hh, 4, "lstm")
    Wxi, Wxf, Wxg, Wxo = np.split(W_ih, 4)
    Whi, Whf, Whg, Who = np.split(W_hh, 4)
    bi, bf, bg, bo = np.split(b_ih + b_hh, 4)
    h = _state(h0, H, x.dtype, "h0", "lstm")
    c = _state(c0, H, x.dtype, "c0", "lstm")

    y = np.empty((x.shape[0], H), dtype=x.dtype)
    for t in range(x.shape[0]):
        xt = x[t]
        i = sigmoid(Wxi @ xt + Whi @ h + bi)
        f = sigmoid(Wxf @ xt + Whf @ h + bf)
        o = sigmoid(Wxo @ xt + Who @ h + bo)
        g = np.tanh(Wxg @ xt + Whg @ h + bg)
        c = f * c + i * g
        h = o * np.tanh(c)
        y[t] = h
    return y, (h, c)


def gru(x, weight_ih, weight_hh, bias_ih, bias_hh, h0=None):
    """One GRU layer over a sequence (PyTorch's formulation).

    x: (T, I).  weight_ih (3H, I), weight_hh (3H, H), bias_ih/bias_hh (3H,),
    gates stacked in PyTorch's order r, z, n.  h0: (H,), zeros if None.
    Returns ``(y, h_T)`` with y (T, H).
    """
    x = _input(x)
    W_ih, W_hh, b_ih, b_hh, H = _weights(x, weight_ih, weight_hh, bias_ih, bias_hh, 3, "gru")
    W_ir, W_iz, W_in = np.split(W_ih, 3)
    W_hr, W_hz, W_hn = np.split(W_hh, 3)
    b_ir, b_iz, b_in = np.split(b_ih, 3)
    b_hr, b_hz, b_hn = np.split(b_hh, 3)
    h = _state(h0, H, x.dtype, "h0", "gru")

    y = np.empty((x.shape[0], H), dtype=x.dtype)
    for t in range(x.shape[0]):
        xt = x[t]
        r = sigmoid(W_ir @ xt + b_ir + W_hr @ h + b_hr)
        z = sigmoid(W_iz @ xt + b_iz + W_hz @ h + b_hz)
        n = np.tanh(W_in @ xt + b_in + r * (W_hn @ h + b_hn))
        h = (1 - z) * n + z * h
        y[t] = h
    return y, h


def rnn(x, weight_ih, weight_hh, bias_ih, bias_hh, h0=None, nonlinearity="tanh"):
    """One Elman RNN layer over a sequence: h = act(W_ih x + b_ih + W_hh h' + b_hh).

    x: (T, I).  weight_ih (H, I), weight_hh (H, H), bias_ih/bias_hh (H,).
    nonlinearity: "tanh" or "relu".  h0: (H,), zeros if None.
    Returns ``(y, h_T)`` with y (T, H).
    """
    if nonlinearity == "tanh":
        act = np.tanh
    elif nonlinearity == "relu":
        def act(a):
            return np.maximum(a, 0)
    else:
        raise ValueError(f"rnn: nonlinearity must be 'tanh' or 'relu'; got {nonlinearity!r}")
    x = _input(x)
    W_ih, W_hh, b_ih, b_hh, H = _weights(x, weight_ih, weight_hh, bias_ih, bias_hh, 1, "rnn")
    h = _state(h0, H, x.dtype, "h0", "rnn")

    y = np.empty((x.shape[0], H), dtype=x.dtype)
    for t in range(x.shape[0]):
        h = act(W_ih @ x[t] + b_ih + W_hh @ h + b_hh)
        y[t] = h
    return y, h


# ---------------------------------------------------------------------------
# multi-layer, bidirectional


def stack(
    x,
    params: Mapping[str, np.ndarray],
    cell: str,
    num_layers: int,
    bidirectional: bool,
    prefix: str = "",
    nonlinearity: str = "tanh",
) -> np.ndarray:
    """A ``num_layers``-deep, optionally bidirectional stack of one cell type.

    ``params`` holds arrays under ``torch.nn.LSTM``/``GRU``/``RNN`` state_dict
    names (``weight_ih_l0``, ``weight_hh_l0``, ``bias_ih_l0``, ``bias_hh_l0``,
    and ``..._reverse`` for the backward direction), each looked up as
    ``prefix + name`` so a whole model's state_dict can be passed with e.g.
    ``prefix="encoder.rnn."``.  Missing bias keys mean ``bias=False``.

    x: (T, I).  Returns (T, H * (2 if bidirectional else 1)); this equals
    ``torch_rnn(x)[0]`` for ``batch_first=False`` and batch 1, in eval mode.
    Each layer's input is the previous layer's output (forward and backward
    halves concatenated); the backward direction runs the layer on
    ``x[::-1]`` and flips its output back.  ``cell`` is "lstm", "gru" or
    "rnn" (tanh unless ``nonlinearity="relu"``).
    """
    funcs = {
        "lstm": lambda *a: lstm(*a)[0],
        "gru": lambda *a: gru(*a)[0],
        "rnn": lambda *a: rnn(*a, nonlinearity=nonlinearity)[0],
    }
    if cell not in funcs:
        raise ValueError(f"cell must be 'lstm', 'gru' or 'rnn'; got {cell!r}")
    if int(num_layers) != num_layers or num_layers < 1:
        raise ValueError(f"num_layers must be a positive integer; got {num_layers!r}")
    num_layers = int(num_layers)
    layer_fn = funcs[cell]
    x = _input(x)

    def get(name: str, required: bool = True):
        key = prefix + name
        if key in params:
            return np.asarray(params[key])
        if required:
            raise ValueError(
                f"stack: params has no {key!r} (cell={cell!r}, num_layers={num_layers}, "
                f"bidirectional={bidirectional}, prefix={prefix!r})"
            )
        return None

    # Catch a mismatched description of the network rather than silently
    # ignoring weights.
    if prefix + f"weight_ih_l{num_layers}" in params:
        raise ValueError(
            f"stack: params has {prefix}weight_ih_l{num_layers} but num_layers={num_layers}"
        )
    if not bidirectional and prefix + "weight_ih_l0_reverse" in params:
        raise ValueError("stack: params has *_reverse weights but bidirectional=False")
    if prefix + "weight_hr_l0" in params:
        raise ValueError("stack: LSTM with proj_size (weight_hr_l*) is not supported")

    suffixes = ["", "_reverse"] if bidirectional else [""]
    h = x
    for layer in range(num_layers):
        outs = []
        for sfx in suffixes:
            tag = f"_l{layer}{sfx}"
            w = (
                get("weight_ih" + tag),
                get("weight_hh" + tag),
                get("bias_ih" + tag, required=False),
                get("bias_hh" + tag, required=False),
            )
            try:
                if sfx:
                    outs.append(layer_fn(h[::-1], *w)[::-1])
                else:
                    outs.append(layer_fn(h, *w))
            except ValueError as e:
                raise ValueError(f"stack: layer {layer}{sfx or ''} ({prefix}*{tag}): {e}") from None
        h = np.concatenate(outs, axis=1) if len(outs) > 1 else outs[0]
    return np.ascontiguousarray(h)
