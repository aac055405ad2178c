"""Model directories and training checkpoints, with no pickle anywhere.

A model directory holds ``config.json`` (front end + model + labels: everything needed to rebuild
it), ``vocab.json`` (output units), ``model.safetensors`` (weights) and ``README.md``.
A training checkpoint is a model directory plus ``trainer.safetensors`` (optimizer tensors) and
``trainer.json`` (epoch, history, scheduler and optimizer scalars, RNG states).
Bundled models live in ``lstm_asr/models/NAME``, one directory per set of weights; :func:`resolve_model`
finds them by name, and by the names in :data:`ALIASES` (a bundled model run with a look-ahead).
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .chunking import DEFAULT_LOOKAHEAD_S
from .errors import ConfigError

FORMAT = "lstm-asr/1"
BUNDLED = Path(__file__).parent / "models"
DEFAULT_MODEL = "digits-commands"
# names of a bundled model run with a look-ahead (the name earlier releases shipped a copy under):
# name -> (bundled model, look-ahead in seconds)
ALIASES = {"digits-commands-streaming": (DEFAULT_MODEL, DEFAULT_LOOKAHEAD_S)}


def bundled_models() -> list[str]:
    """The names :func:`resolve_model` knows: the bundled model directories and the aliases."""
    names = [p.name for p in BUNDLED.iterdir() if (p / "config.json").is_file()] if BUNDLED.is_dir() else []
    return sorted(names + list(ALIASES))


def resolve_model(name_or_dir: str | Path | None) -> Path:
    """A model directory path, or the name of a bundled model (or alias) -> the directory."""
    return resolve_alias(name_or_dir)[0]


def resolve_alias(name_or_dir: str | Path | None) -> tuple[Path, float | None]:
    """As :func:`resolve_model`, with the look-ahead in seconds the name asks for (an alias's; else None)."""
    name = DEFAULT_MODEL if name_or_dir is None else str(name_or_dir)
    path = Path(name)
    if (path / "config.json").is_file():
        return path, None
    model, lookahead_s = ALIASES.get(name, (name, None))
    if (BUNDLED / model / "config.json").is_file():
        return BUNDLED / model, lookahead_s
    known = ", ".join(bundled_models()) or "none"
    raise ConfigError(f"{name}: not a model directory (no config.json) nor a bundled model ({known})")


def save_model(directory, config: dict, vocab, state_dict: dict, readme: str | None = None) -> Path:
    """Write a model directory. ``vocab`` is a :class:`~lstm_asr.text.Vocabulary`."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    (d / "config.json").write_text(json.dumps({"format": FORMAT, **config}, indent=1, ensure_ascii=False) + "\n",
                                   encoding="utf-8")
    vocab.save(d / "vocab.json")
    save_file({k: v.detach().contiguous().cpu() for k, v in state_dict.items()}, str(d / "model.safetensors"))
    if readme is not None:
        (d / "README.md").write_text(readme, encoding="utf-8")
    return d


def load_model_files(directory) -> tuple[dict, Path, dict]:
    """-> (config dict, vocab.json path, state dict). Raises ConfigError naming the bad file."""
    d = Path(directory)
    cfg_path, weights = d / "config.json", d / "model.safetensors"
    try:
        config = json.loads(cfg_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ConfigError(f"{cfg_path}: cannot read model config ({e})") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise ConfigError(f"{cfg_path}: not an {FORMAT} model config")
    try:
        state = load_file(str(weights))
    except (OSError, SafetensorError) as e:
        raise ConfigError(f"{weights}: cannot read weights ({e})") from None
    for name, tensor in state.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise ConfigError(f"{weights}: weight {name} holds NaN or infinite values (a diverged or damaged model)")
    _check_sections(config, cfg_path)
    return config, d / "vocab.json", state


def _check_sections(config: dict, cfg_path: Path) -> None:
    """The types and ranges of the front end's and the model's values in a config.json, so that a
    bad one is named with its file (the rest is checked when the model is built from it)."""
    import dataclasses

    from .features import FeatureConfig
    from .model import ModelConfig
    from .validate import SECTIONS, check_fields, drop_retired
    what = {v: k for k, v in SECTIONS.items()}
    for section, cls in (("features", FeatureConfig), ("model", ModelConfig)):
        values = config.get(section)
        if isinstance(values, dict):
            known = {f.name for f in dataclasses.fields(cls)}
            try:
                values = drop_retired(values, cls, what[section])
                check_fields({k: v for k, v in values.items() if k in known}, cls, what[section])
            except ConfigError as e:
                raise ConfigError(f"{cfg_path}: {e}") from None


def save_trainer_state(directory, optimizer: torch.optim.Optimizer, info: dict) -> None:
    """Optimizer tensors -> trainer.safetensors; everything else (JSON-able) -> trainer.json."""
    d = Path(directory)
    sd = optimizer.state_dict()
    tensors, scalars = {}, {}
    for pid, st in sd["state"].items():
        for key, val in st.items():
            if torch.is_tensor(val):
                tensors[f"{pid}.{key}"] = val.detach().contiguous().cpu()
            else:
                scalars[f"{pid}.{key}"] = val
    save_file(tensors, str(d / "trainer.safetensors"))
    payload = {"optimizer": {"param_groups": sd["param_groups"], "scalars": scalars}, **info}
    tmp = d / "trainer.json.tmp"
    tmp.write_text(json.dumps(payload), encoding="utf-8")
    tmp.replace(d / "trainer.json")  # written last: its presence marks a complete checkpoint


def load_trainer_state(directory, optimizer: torch.optim.Optimizer) -> dict:
    """Restore the optimizer from a checkpoint directory; return the rest of trainer.json."""
    d = Path(directory)
    try:
        payload = json.loads((d / "trainer.json").read_text(encoding="utf-8"))
        tensors = load_file(str(d / "trainer.safetensors"))
    except (OSError, ValueError, SafetensorError) as e:
        raise ConfigError(f"{d}: incomplete training checkpoint ({e})") from None
    opt = payload.pop("optimizer")
    state: dict = {}
    for name, val in list(tensors.items()) + list(opt["scalars"].items()):
        pid, key = name.split(".", 1)
        state.setdefault(int(pid), {})[key] = val
    optimizer.load_state_dict({"state": state, "param_groups": opt["param_groups"]})
    return payload
