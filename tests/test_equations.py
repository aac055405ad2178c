"""The NumPy equations in lstm_asr.equations against torch.nn.LSTM/GRU/RNN."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from lstm_asr import equations as eq

torch.set_num_threads(1)

I, H, T = 5, 7, 11
TOL = {torch.float32: 1e-5, torch.float64: 1e-10}
NP_DTYPE = {torch.float32: np.float32, torch.float64: np.float64}


def _module(kind: str, dtype, input_size=I, hidden=H, num_layers=1, bidirectional=False, seed=0):
    torch.manual_seed(seed)
    if kind == "lstm":
        m = torch.nn.LSTM(input_size, hidden, num_layers=num_layers, bidirectional=bidirectional)
    elif kind == "gru":
        m = torch.nn.GRU(input_size, hidden, num_layers=num_layers, bidirectional=bidirectional)
    else:
        m = torch.nn.RNN(input_size, hidden, num_layers=num_layers, bidirectional=bidirectional,
                         nonlinearity=kind.split("_")[1])
    # Wider than PyTorch's default init, so that gates saturate now and then.
    with torch.no_grad():
        for p in m.parameters():
            p.uniform_(-0.8, 0.8)
    return m.to(dtype).eval()


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().numpy()


def _layer_args(m) -> tuple:
    return tuple(_np(getattr(m, n)) for n in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"))


def _max_err(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64))))


CELLS = ["lstm", "gru", "rnn_tanh", "rnn_relu"]


def _run_numpy(kind, x, args, h0=None, c0=None):
    """Returns (y, h_T, c_T or None)."""
    if kind == "lstm":
        y, (h, c) = eq.lstm(x, *args, h0=h0, c0=c0)
        return y, h, c
    if kind == "gru":
        y, h = eq.gru(x, *args, h0=h0)
        return y, h, None
    y, h = eq.rnn(x, *args, h0=h0, nonlinearity=kind.split("_")[1])
    return y, h, None


def _run_torch(kind, m, x, h0=None, c0=None):
    xt = torch.from_numpy(x)[:, None, :]  # (T, 1, I)
    with torch.no_grad():
        if h0 is None:
            y, state = m(xt)
        elif kind == "lstm":
            y, state = m(xt, (torch.from_numpy(h0)[None, None], torch.from_numpy(c0)[None, None]))
        else:
            y, state = m(xt, torch.from_numpy(h0)[None, None])
    if kind == "lstm":
        return _np(y[:, 0]), _np(state[0][0, 0]), _np(state[1][0, 0])
    return _np(y[:, 0]), _np(state[0, 0]), None


# ---------------------------------------------------------------------------
# one layer against torch


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("kind", CELLS)
@pytest.mark.parametrize("initial_state", [False, True], ids=["zero_state", "random_state"])
def test_layer_matches_torch(kind, dtype, initial_state):
    m = _module(kind, dtype)
    rng = np.random.default_rng(1)
    npd = NP_DTYPE[dtype]
    x = rng.standard_normal((T, I)).astype(npd) * 1.5
    h0 = c0 = None
    if initial_state:
        h0 = rng.uniform(-1, 1, H).astype(npd)
        c0 = rng.uniform(-2, 2, H).astype(npd)
    saved = (None, None) if h0 is None else (h0.copy(), c0.copy())
    y, h, c = _run_numpy(kind, x, _layer_args(m), h0, c0 if kind == "lstm" else None)
    ty, th, tc = _run_torch(kind, m, x, h0, c0)

    assert y.shape == (T, H) and y.dtype == npd and h.dtype == npd
    tol = TOL[dtype]
    assert _max_err(y, ty) < tol
    assert _max_err(h, th) < tol
    assert np.array_equal(h, y[-1])
    if kind == "lstm":
        assert c.dtype == npd
        assert _max_err(c, tc) < tol
    if initial_state:  # the initial state given is not modified in place
        assert np.array_equal(h0, saved[0]) and np.array_equal(c0, saved[1])


@pytest.mark.parametrize("kind", CELLS)
def test_default_state_is_zero(kind):
    m = _module(kind, torch.float64)
    x = np.random.default_rng(2).standard_normal((T, I))
    args = _layer_args(m)
    zeros = np.zeros(H)
    y_default, h_default, c_default = _run_numpy(kind, x, args)
    y_zeros, h_zeros, c_zeros = _run_numpy(kind, x, args, zeros, zeros if kind == "lstm" else None)
    ty, th, _ = _run_torch(kind, m, x)  # torch with no initial state
    assert np.array_equal(y_default, y_zeros)
    assert np.array_equal(h_default, h_zeros)
    if kind == "lstm":
        assert np.array_equal(c_default, c_zeros)
    assert _max_err(y_default, ty) < 1e-10


def test_sigmoid_stable_and_dtype():
    big = np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is fine
        s = eq.sigmoid(big)
        s32 = eq.sigmoid(big.astype(np.float32))
    assert s.dtype == np.float64 and s32.dtype == np.float32
    np.testing.assert_allclose(s, [0.0, 1.9287498479639178e-22, 0.5, 1.0, 1.0], rtol=1e-12, atol=0)
    z = np.linspace(-30, 30, 601)
    np.testing.assert_allclose(eq.sigmoid(z), _np(torch.sigmoid(torch.from_numpy(z))), rtol=1e-14, atol=0)


@pytest.mark.parametrize("kind", CELLS)
def test_dtype_preserved(kind):
    m = _module(kind, torch.float64)
    args = _layer_args(m)  # float64 weights
    x64 = np.random.default_rng(3).standard_normal((4, I))
    for npd in (np.float32, np.float64):
        y, h, c = _run_numpy(kind, x64.astype(npd), args)
        assert y.dtype == npd and h.dtype == npd
        if c is not None:
            assert c.dtype == npd
    # float32 input with float64 weights is still computed in float32
    x32 = x64.astype(np.float32)
    y32 = _run_numpy(kind, x32, [a.astype(np.float32) for a in args])[0]
    assert np.array_equal(_run_numpy(kind, x32, args)[0], y32)


def test_empty_sequence():
    m = _module("lstm", torch.float64)
    y, (h, c) = eq.lstm(np.zeros((0, I)), *_layer_args(m))
    assert y.shape == (0, H) and not h.any() and not c.any()


# ---------------------------------------------------------------------------
# stack against multi-layer bidirectional torch modules


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_stack_matches_torch(kind):
    torch_kind = "rnn_tanh" if kind == "rnn" else kind
    m = _module(torch_kind, torch.float32, input_size=13, hidden=16, num_layers=3, bidirectional=True)
    # PyTorch's default init here: wide weights make a 3-layer relu/tanh stack saturate.
    torch.manual_seed(5)
    m.reset_parameters()
    x = np.random.default_rng(4).standard_normal((9, 13)).astype(np.float32)
    params = {k: v.numpy() for k, v in m.state_dict().items()}
    y = eq.stack(x, params, kind, num_layers=3, bidirectional=True)
    with torch.no_grad():
        ty = _np(m(torch.from_numpy(x)[:, None])[0][:, 0])
    assert y.shape == (9, 32) and y.dtype == np.float32
    assert _max_err(y, ty) < 1e-5

    # The same through a prefix, as a whole model's state_dict would be passed.
    model = torch.nn.Module()
    model.encoder = torch.nn.Module()
    model.encoder.rnn = m
    model.head = torch.nn.Linear(32, 3)
    full = {k: v.numpy() for k, v in model.state_dict().items()}
    y2 = eq.stack(x, full, kind, 3, True, prefix="encoder.rnn.")
    assert np.array_equal(y, y2)


def test_stack_unidirectional_float64_and_no_bias():
    torch.manual_seed(6)
    m = torch.nn.GRU(4, 6, num_layers=2, bias=False).double().eval()
    x = np.random.default_rng(5).standard_normal((7, 4))
    y = eq.stack(x, {k: v.numpy() for k, v in m.state_dict().items()}, "gru", 2, False)
    with torch.no_grad():
        ty = _np(m(torch.from_numpy(x)[:, None])[0][:, 0])
    assert y.shape == (7, 6) and y.dtype == np.float64
    assert _max_err(y, ty) < 1e-10


# ---------------------------------------------------------------------------
# gradients


def test_lstm_gradients_match_finite_differences():
    torch.manual_seed(7)
    m = torch.nn.LSTM(3, 4).double()
    x = torch.randn(5, 1, 3, dtype=torch.float64, requires_grad=True)
    names = ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]
    params = [getattr(m, n) for n in names]

    def f(inp, *ws):
        return torch.func.functional_call(m, dict(zip(names, ws)), (inp,))[0]

    # torch's analytic gradients against torch's own central differences
    assert torch.autograd.gradcheck(f, (x, *params), eps=1e-6, atol=1e-6)

    # torch's analytic gradients against central differences of the NumPy equations
    w = np.random.default_rng(8).standard_normal((5, 4))  # weights of a scalar loss
    y, _ = m(x)
    loss = (y[:, 0] * torch.from_numpy(w)).sum()
    grads = torch.autograd.grad(loss, [x, *params])

    x_np = _np(x[:, 0]).copy()
    p_np = [_np(p).copy() for p in params]

    def loss_np() -> float:
        return float((eq.lstm(x_np, *p_np)[0] * w).sum())

    eps = 1e-6
    for target, g in zip([x_np, *p_np], [grads[0][:, 0], *grads[1:]]):
        fd = np.empty_like(target)
        for idx in np.ndindex(target.shape):
            old = target[idx]
            target[idx] = old + eps
            up = loss_np()
            target[idx] = old - eps
            down = loss_np()
            target[idx] = old
            fd[idx] = (up - down) / (2 * eps)
        assert _max_err(fd, _np(g)) < 1e-7


# ---------------------------------------------------------------------------
# bad input


def _lstm_args():
    return [a.copy() for a in _layer_args(_module("lstm", torch.float64))]


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda a, x: (x[0], a), "shape \\(T, input_size\\)"),                       # 1-D x
        (lambda a, x: (x[None], a), "shape \\(T, input_size\\)"),                    # 3-D x
        (lambda a, x: (x[:, :-1], a), "features per step"),                          # wrong I
        (lambda a, x: (x, [a[0][:-1], *a[1:]]), "4\\*hidden_size rows"),            # rows % 4
        (lambda a, x: (x, [a[0], a[1][:, :-1], *a[2:]]), "weight_hh must have shape"),
        (lambda a, x: (x, [a[0], a[1].T.copy(), *a[2:]]), "weight_hh must have shape"),
        (lambda a, x: (x, [a[0][0], *a[1:]]), "must be 2-D"),
        (lambda a, x: (x, [*a[:2], a[2][:-1], a[3]]), "bias_ih must have shape"),
        (lambda a, x: (x, [*a[:3], a[3][None]]), "bias_hh must have shape"),
    ],
)
def test_bad_shapes_raise(change, match):
    x = np.zeros((3, I))
    x2, args = change(_lstm_args(), x)
    with pytest.raises(ValueError, match=match):
        eq.lstm(x2, *args)


def test_bad_state_shapes_raise():
    args = _lstm_args()
    x = np.zeros((3, I))
    with pytest.raises(ValueError, match="h0 must have shape"):
        eq.lstm(x, *args, h0=np.zeros(H + 1))
    with pytest.raises(ValueError, match="c0 must have shape"):
        eq.lstm(x, *args, c0=np.zeros((2, H)))
    eq.lstm(x, *args, h0=np.zeros((1, 1, H)))  # PyTorch's (layers, batch, H) with 1, 1 is fine
    g = _layer_args(_module("gru", torch.float64))
    with pytest.raises(ValueError, match="h0 must have shape"):
        eq.gru(x, *g, h0=np.zeros(H - 1))
    with pytest.raises(ValueError, match="3\\*hidden_size rows"):
        eq.gru(x, *args)  # LSTM weights (4H rows, H=7 -> 28 rows, not 3*k for H matching)
    r = _layer_args(_module("rnn_tanh", torch.float64))
    with pytest.raises(ValueError, match="nonlinearity"):
        eq.rnn(x, *r, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="weight_hh must have shape"):
        eq.rnn(x, *g)  # GRU weights: weight_hh (3H, H) is not (3H, 3H)


def test_stack_bad_arguments_raise():
    m = _module("lstm", torch.float32, input_size=I, hidden=H, num_layers=2, bidirectional=True)
    params = {k: v.numpy() for k, v in m.state_dict().items()}
    x = np.zeros((4, I), dtype=np.float32)
    with pytest.raises(ValueError, match="cell must be"):
        eq.stack(x, params, "transformer", 2, True)
    with pytest.raises(ValueError, match="no 'weight_ih_l2'"):
        eq.stack(x, params, "lstm", 3, True)
    with pytest.raises(ValueError, match="num_layers=1"):
        eq.stack(x, params, "lstm", 1, True)
    with pytest.raises(ValueError, match="bidirectional=False"):
        eq.stack(x, params, "lstm", 2, False)
    with pytest.raises(ValueError, match="no 'enc.weight_ih_l0'"):
        eq.stack(x, params, "lstm", 2, True, prefix="enc.")
    with pytest.raises(ValueError, match="layer 0.*4\\*hidden_size|layer 0.*3\\*hidden_size"):
        eq.stack(x, params, "gru", 2, True)  # LSTM weights read as a GRU
    with pytest.raises(ValueError, match="features per step"):
        eq.stack(np.zeros((4, I + 1), dtype=np.float32), params, "lstm", 2, True)
    with pytest.raises(ValueError, match="shape \\(T, input_size\\)"):
        eq.stack(np.zeros((4, 1, I), dtype=np.float32), params, "lstm", 2, True)
