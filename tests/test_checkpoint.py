"""lstm_asr.checkpoint: model directories (config + vocab + safetensors, no pickle), their errors,
model resolution and optimizer checkpoints."""
from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from lstm_asr.checkpoint import (FORMAT, load_model_files, load_trainer_state, resolve_model,
                                 save_model, save_trainer_state)
from lstm_asr.errors import AsrError, ConfigError
from lstm_asr.text import Vocabulary

torch.set_num_threads(1)

CONFIG = {"features": {"num_mel_bins": 40}, "model": {"kind": "lstm", "hidden": 8, "layers": 1},
          "labels": "characters", "note": "广州"}


@pytest.fixture
def parts():
    torch.manual_seed(0)
    net = nn.ModuleDict({"rnn": nn.LSTM(4, 8, batch_first=True), "out": nn.Linear(8, 5)})
    vocab = Vocabulary.from_texts(["abc", "广州"])
    return CONFIG, vocab, net.state_dict()


@pytest.fixture
def model_dir(tmp_path, parts):
    config, vocab, state = parts
    return save_model(tmp_path / "model", config, vocab, state)


def _assert_no_pickle(directory) -> None:
    """Every file is plain JSON / text, or a safetensors file made only of its JSON header and raw
    tensor bytes (so nothing in the directory can be a pickle or a torch.save zip)."""
    for p in directory.iterdir():
        data = p.read_bytes()
        assert p.suffix not in (".pt", ".pth", ".pkl", ".pickle", ".bin", ".ckpt"), p
        assert data[:4] != b"PK\x03\x04", p
        if p.suffix == ".json":
            json.loads(data.decode("utf-8"))
        elif p.suffix == ".md":
            data.decode("utf-8")
        else:
            assert p.suffix == ".safetensors", p
            n = int.from_bytes(data[:8], "little")
            header = json.loads(data[8:8 + n].decode("utf-8"))
            ends = [v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"]
            assert 8 + n + max(ends, default=0) == len(data), p


def test_round_trip(model_dir, parts):
    config, vocab, state = parts
    cfg, vocab_path, loaded = load_model_files(model_dir)
    assert cfg == {"format": FORMAT, **config}
    assert vocab_path == model_dir / "vocab.json"
    v = Vocabulary.load(vocab_path)
    assert v.units == vocab.units and v.blank == 0
    assert set(loaded) == set(state)
    for k, t in state.items():
        assert loaded[k].dtype == t.dtype and torch.equal(loaded[k], t), k


def test_directory_contents_no_pickle(tmp_path, parts):
    config, vocab, state = parts
    d = save_model(tmp_path / "a" / "b", config, vocab, state)  # parents are created
    assert sorted(p.name for p in d.iterdir()) == ["config.json", "model.safetensors", "vocab.json"]
    d2 = save_model(tmp_path / "c", config, vocab, state, readme="# Model\n广州\n")
    assert sorted(p.name for p in d2.iterdir()) == ["README.md", "config.json", "model.safetensors", "vocab.json"]
    assert (d2 / "README.md").read_text(encoding="utf-8") == "# Model\n广州\n"
    _assert_no_pickle(d)
    _assert_no_pickle(d2)


def test_non_contiguous_and_grad_tensors_saved(tmp_path):
    w = torch.randn(4, 6, requires_grad=True)
    state = {"t": w.t(), "p": nn.Parameter(torch.ones(3))}
    d = save_model(tmp_path / "m", {}, Vocabulary(["a"]), state)
    _, _, loaded = load_model_files(d)
    assert torch.equal(loaded["t"], w.detach().t()) and torch.equal(loaded["p"], torch.ones(3))


def test_a_saved_classifier_is_refused_in_one_line_that_says_where_classifiers_went(tmp_path):
    d = save_model(tmp_path / "m", {"model": {"head": "classifier", "pool": "last"}}, Vocabulary(["a"]),
                   {"t": torch.ones(1)})
    with pytest.raises(ConfigError) as info:
        load_model_files(d)
    assert str(info.value) == (f"{d / 'config.json'}: model.head='classifier': classifier heads were removed from "
                               "the library and live in benchmarks/ (cells_common.py); a model here always has a "
                               "CTC head")


@pytest.mark.parametrize("content", [b"{not json", b"", b"\xff\xfe\x00", b"[1, 2]", b'"lstm-asr/1"'])
def test_bad_config_json(model_dir, content):
    p = model_dir / "config.json"
    p.write_bytes(content)
    with pytest.raises(ConfigError) as info:
        load_model_files(model_dir)
    assert str(info.value).startswith(str(p))


@pytest.mark.parametrize("fmt", ["lstm-asr/0", "other/1", None])
def test_wrong_format(model_dir, fmt):
    p = model_dir / "config.json"
    cfg = {**CONFIG, "format": fmt} if fmt else dict(CONFIG)
    p.write_text(json.dumps(cfg), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_model_files(model_dir)
    assert str(info.value).startswith(str(p)) and FORMAT in str(info.value)


def test_missing_config(model_dir):
    (model_dir / "config.json").unlink()
    with pytest.raises(ConfigError, match="config.json"):
        load_model_files(model_dir)


@pytest.mark.parametrize("damage", ["missing", "garbage", "truncated", "empty", "directory"])
def test_missing_or_corrupt_weights(model_dir, damage):
    p = model_dir / "model.safetensors"
    data = p.read_bytes()
    p.unlink()
    if damage == "garbage":
        p.write_bytes(b"\x00\x01 definitely not safetensors " * 50)
    elif damage == "truncated":
        p.write_bytes(data[: len(data) // 2])
    elif damage == "empty":
        p.write_bytes(b"")
    elif damage == "directory":
        p.mkdir()
    with pytest.raises(ConfigError) as info:
        load_model_files(model_dir)
    assert isinstance(info.value, AsrError)
    assert str(info.value).startswith(str(p)), str(info.value)


def test_resolve_model_directory(model_dir):
    assert resolve_model(model_dir) == model_dir
    assert resolve_model(str(model_dir)) == model_dir


def test_resolve_model_unknown(tmp_path):
    with pytest.raises(ConfigError) as info:
        resolve_model("no-such-model-xyz")
    assert str(info.value).startswith("no-such-model-xyz: ")
    tmp_path.joinpath("empty_dir").mkdir()
    with pytest.raises(ConfigError, match="not a model directory"):
        resolve_model(tmp_path / "empty_dir")


# ---------------------------------------------------------------- trainer state

def _step(model, opt, x, y):
    opt.zero_grad()
    loss = ((model(x) - y) ** 2).mean()
    loss.backward()
    opt.step()


def _normalise(v):
    return list(v) if isinstance(v, tuple) else v


def test_trainer_state_round_trip(tmp_path):
    torch.manual_seed(0)
    x, y = torch.randn(16, 3), torch.randn(16, 2)
    model = nn.Linear(3, 2)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.1, betas=(0.8, 0.95))
    for _ in range(2):
        _step(model, opt, x, y)
    d = tmp_path / "ckpt"
    d.mkdir()
    info = {"epoch": 2, "history": [{"loss": 1.5}, {"loss": 0.5}], "rng": [1, 2, 3]}
    save_trainer_state(d, opt, info)
    assert sorted(p.name for p in d.iterdir()) == ["trainer.json", "trainer.safetensors"]  # no tmp left
    _assert_no_pickle(d)

    model2 = nn.Linear(3, 2)
    model2.load_state_dict(model.state_dict())
    opt2 = torch.optim.AdamW(model2.parameters(), lr=0.5)  # different hyper-parameters: restored too
    assert load_trainer_state(d, opt2) == info

    s1, s2 = opt.state_dict(), opt2.state_dict()
    assert s1["state"].keys() == s2["state"].keys()
    for pid in s1["state"]:
        assert s1["state"][pid].keys() == s2["state"][pid].keys()
        for key, v in s1["state"][pid].items():
            w = s2["state"][pid][key]
            if torch.is_tensor(v):
                assert w.dtype == v.dtype and torch.equal(w, v), (pid, key)
            else:
                assert w == v
    assert len(s1["param_groups"]) == len(s2["param_groups"])
    for g1, g2 in zip(s1["param_groups"], s2["param_groups"]):
        assert {k: _normalise(v) for k, v in g1.items()} == {k: _normalise(v) for k, v in g2.items()}

    # training continues identically
    for _ in range(2):
        _step(model, opt, x, y)
        _step(model2, opt2, x, y)
    for p1, p2 in zip(model.parameters(), model2.parameters()):
        assert torch.equal(p1, p2)


def test_trainer_state_before_any_step(tmp_path):
    model = nn.Linear(2, 1)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    save_trainer_state(tmp_path, opt, {"epoch": 0})
    opt2 = torch.optim.AdamW(nn.Linear(2, 1).parameters(), lr=1.0)
    assert load_trainer_state(tmp_path, opt2) == {"epoch": 0}
    assert opt2.param_groups[0]["lr"] == 1e-3 and opt2.state_dict()["state"] == {}


@pytest.mark.parametrize("damage", ["no_json", "no_tensors", "bad_json"])
def test_trainer_state_incomplete(tmp_path, damage):
    model = nn.Linear(2, 1)
    opt = torch.optim.AdamW(model.parameters())
    _step(model, opt, torch.randn(4, 2), torch.randn(4, 1))
    save_trainer_state(tmp_path, opt, {"epoch": 1})
    if damage == "no_json":
        (tmp_path / "trainer.json").unlink()
    elif damage == "no_tensors":
        (tmp_path / "trainer.safetensors").unlink()
    else:
        (tmp_path / "trainer.json").write_text("{oops", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_trainer_state(tmp_path, torch.optim.AdamW(nn.Linear(2, 1).parameters()))
    assert str(info.value).startswith(f"{tmp_path}: incomplete training checkpoint")
