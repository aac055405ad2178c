"""The trained bundled model computes the textbook gate equations: its recurrent stack, layer by
layer and as a whole, equals the NumPy reference in lstm_asr.equations."""
import numpy as np
import torch

from conftest import SAMPLES
from lstm_asr import equations
from lstm_asr.audio import load_audio


def _stack_from_equations(model, x: np.ndarray) -> np.ndarray:
    """Run the model's recurrent stack with equations.stack, one (bi)directional layer at a time."""
    cfg = model.cfg
    params = {k: v.double().numpy() for k, v in model.state_dict().items()}
    for k in range(len(cfg.layer_sizes)):
        x = equations.stack(x, params, cfg.cell, 1, cfg.bidirectional, prefix=f"encoder.layers.{k}.")
    return x


def test_trained_lstm_layers_match_the_reference_equations(digits_model):
    model = digits_model.model
    assert model.cfg.cell == "lstm"
    wave = load_audio(SAMPLES / "string_1.wav")
    feats, flen = digits_model.fbank(torch.from_numpy(wave)[None], torch.tensor([len(wave)]))
    with torch.no_grad():
        x, lengths = model.frontend(feats, flen)
        y_torch = model.encoder(x, lengths)
    x_np = x[0].double().numpy()
    # layer 0, forward direction, with equations.lstm directly
    layer = model.encoder.layers[0]
    sd = {k: v.double().numpy() for k, v in layer.state_dict().items()}
    y0, (h, c) = equations.lstm(x_np, sd["weight_ih_l0"], sd["weight_hh_l0"], sd["bias_ih_l0"], sd["bias_hh_l0"])
    H = layer.hidden_size
    with torch.no_grad():
        first, _ = layer(x)
    np.testing.assert_allclose(y0, first[0, :, :H].double().numpy(), atol=1e-5)
    # the whole stack
    y_ref = _stack_from_equations(model, x_np)
    np.testing.assert_allclose(y_ref, y_torch[0].double().numpy(), atol=1e-4)
    assert y_ref.shape == (x.shape[1], model.encoder.output_size)
