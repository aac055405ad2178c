"""The acoustic model on its own: output lengths, padding, layer sizes, the config."""
import math

import pytest
import torch

from lstm_asr.errors import ConfigError
from lstm_asr.model import AcousticModel, ModelConfig


def _model(**kw) -> AcousticModel:
    torch.manual_seed(0)
    cfg = {"num_layers": 2, "hidden_size": 12, "subsample": 2, "conv_channels": 8, "num_outputs": 5,
           "input_size": 6, "dropout": 0.0, **kw}
    return AcousticModel(ModelConfig(**cfg)).eval()


@pytest.mark.parametrize("factor", [1, 2, 4])
@pytest.mark.parametrize("frames", [1, 2, 3, 7, 8, 9, 50])
def test_output_lengths_are_ceil_t_over_the_subsampling(factor, frames):
    m = _model(subsample=factor)
    out, olen = m(torch.randn(1, frames, 6), torch.tensor([frames]))
    assert int(olen[0]) == math.ceil(frames / factor) == out.shape[1]
    assert torch.allclose(out.exp().sum(-1), torch.ones(1, out.shape[1]), atol=1e-5)  # log-probabilities


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("bidirectional", [True, False])
def test_padding_does_not_change_an_utterance_s_output(cell, bidirectional):
    m = _model(cell=cell, bidirectional=bidirectional)
    x = torch.randn(1, 21, 6)
    alone, olen = m(x, torch.tensor([21]))
    padded = torch.cat([x, torch.randn(1, 13, 6) * 50], dim=1)  # garbage after the end
    other = torch.randn(1, 34, 6)
    batch, blen = m(torch.cat([padded, other]), torch.tensor([21, 34]))
    n = int(olen[0])
    assert int(blen[0]) == n and torch.allclose(batch[0, :n], alone[0, :n], atol=1e-5)


def test_layer_sizes_may_differ_and_the_config_is_checked():
    m = _model(num_layers=3, hidden_size=[8, 16, 4])
    assert [layer.hidden_size for layer in m.encoder.layers] == [8, 16, 4]
    out, _ = m(torch.randn(2, 9, 6), torch.tensor([9, 5]))
    assert out.shape == (2, 5, 5)
    for bad, match in (({"cell": "transformer"}, "model.cell"), ({"subsample": 3}, "subsample"),
                       ({"hidden_size": [8, 8]}, "one size per layer")):
        with pytest.raises(ConfigError, match=match):
            ModelConfig(**{"num_layers": 3, **bad})
    with pytest.raises(ConfigError, match="num_outputs"):
        AcousticModel(ModelConfig(num_outputs=1))


def test_a_saved_ctc_head_loads_and_a_classifier_head_is_refused_by_name():
    """head and pool are gone: "head": "ctc" (every saved model's) is dropped, a classifier refused."""
    assert ModelConfig.from_dict({"head": "ctc", "pool": "mean", "num_layers": 2}) == ModelConfig(num_layers=2)
    with pytest.raises(ConfigError, match=r"^model.head='classifier': classifier heads were removed from the "
                                          r"library and live in benchmarks/"):
        ModelConfig.from_dict({"head": "classifier", "pool": "last"})
    with pytest.raises(ConfigError, match="unknown model option"):
        ModelConfig.from_dict({"pool": "last"})
