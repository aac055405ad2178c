"""The config of a training run (a recipe's ``config.yaml``): its sections ``features``, ``model``,
``augment``, ``train`` and ``decoding``, read and checked once (:meth:`RunConfig.load`, with
``--set SECTION.KEY=VALUE`` overrides), and how it meets a saved model: the options it may change
in a model it starts from (``train.init``) and those it may change in a run it resumes.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import re

import yaml

from .augment import AugmentConfig
from .errors import ConfigError
from .features import FeatureConfig
from .model import ModelConfig
from .validate import MAX_THREADS, NONEMPTY, PATHS, check_keys, checked, ints, one_of, reals


@dataclass
class TrainConfig:
    manifests: list = checked([], PATHS)   # training manifests (JSON Lines): files, directories of *.jsonl
                                           # shards, or glob patterns such as data/big/shard-*.jsonl
    dev: str = ""                 # dev manifest (or directory / pattern of shards): evaluated every epoch, picks
                                  # the best model ("": keep the last); held in memory, so keep it small
    out_dir: str = checked("runs/model", NONEMPTY)
    epochs: int = checked(30, ints(1))
    batch_seconds: float = checked(60.0, reals(0, lo_open=True))  # padded seconds of audio per batch
    max_batch: int = checked(64, ints(1))
    lr: float = checked(2e-3, reals(0, 10))        # peak of the one-cycle schedule
    weight_decay: float = checked(1e-2, reals(0))
    clip: float = checked(5.0, reals(0, lo_open=True))  # gradient norm clipping
    warmup: float = checked(0.1, reals(0, 1))      # fraction of steps spent warming up
    patience: int = checked(6, ints(1))  # epochs without dev improvement before stopping (counted once dev error < 100 %)
    seed: int = 0
    threads: int = checked(2, ints(1, MAX_THREADS))
    on_bad_line: str = checked("stop", one_of("stop", "skip"))
    max_minutes: float = checked(0.0, reals(0))   # a time budget (0: none): after 50 steps the schedule is fitted
                                                  # to the epochs that fit in it (at most `epochs`), and training stops there
    sortagrad: bool = True        # first epoch short-to-long (DeepSpeech 2): CTC leaves its blank plateau sooner
    device: str = "auto"          # auto | cpu | cuda | cuda:N: model and front end run there
    amp: bool = True              # bf16 autocast on CUDA (ignored on the CPU)
    init: str = ""                # start from this model (directory or bundled name): its weights,
                                  # front end and vocabulary (fine-tuning, adaptation)
    extend_vocab: bool = False    # with init: add the training texts' new characters as output units
    stats_utterances: int = checked(2000, ints(1))  # utterances for the global feature statistics (normalize: global)
    units: str = checked("chars", one_of("chars", "phones"))  # phones: ARPAbet (lexicon.py); the output units of a new model
    workers: int = checked(0, ints(0, 64))  # processes that read and augment batches (0: in the training process)
    audio_cache_gb: float = checked(4.0, reals(0))  # decoded training audio kept in memory per process, in GiB
                                  # (float32 16 kHz: 1 h = 0.21 GiB); the rest is read from its file on every use
                                  # (0: all of it), so a corpus of any size trains in bounded memory


class _Yaml(yaml.SafeLoader):
    """PyYAML's safe loader reading numbers as YAML 1.2 does: ``1e-4`` is a float (YAML 1.1 wants
    ``1.0e-4`` and would hand back the string '1e-4', so ``lr: 1e-4`` would be refused)."""


_Yaml.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?|\.[0-9_]+(?:[eE][-+]?[0-9]+)?"
               r"|[0-9][0-9_]*[eE][-+]?[0-9]+|\.inf|\.Inf|\.INF|\.nan|\.NaN|\.NAN)$"),
    list("-+0123456789."))


def _yaml(text: str):
    return yaml.load(text, Loader=_Yaml)  # noqa: S506 (a SafeLoader subclass: no objects built)


@dataclass
class RunConfig:
    name: str = "model"
    features: FeatureConfig = field(default_factory=FeatureConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    description: str = ""
    # the decoder saved with the model as its default, e.g. {"beam_size": 8, "words": "training"}
    # ("training": the words of the training transcripts, a closed vocabulary such as digits)
    decoding: dict = field(default_factory=dict)
    # the features and model options the config itself sets (not defaults): with train.init those
    # in INIT_OVERRIDES replace the initial model's
    given: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_dict(cls, d: dict) -> "RunConfig":
        check_keys(d, cls, "config section")
        tr = check_keys(d.get("train", {}) or {}, TrainConfig, "train option")
        features, model = d.get("features", {}) or {}, d.get("model", {}) or {}
        return cls(name=d.get("name", "model"), description=d.get("description", ""),
                   decoding=d.get("decoding", {}) or {},
                   features=FeatureConfig.from_dict(features),
                   model=ModelConfig.from_dict(model),
                   augment=AugmentConfig.from_dict(d.get("augment", {}) or {}),
                   train=TrainConfig(**tr),
                   given={"features": set(features), "model": set(model)})

    @classmethod
    def load(cls, path, overrides: list[str] = ()) -> "RunConfig":
        """Read a YAML config; ``overrides`` are ``section.key=value`` strings (value in YAML)."""
        try:
            d = _yaml(Path(path).read_text(encoding="utf-8")) or {}
        except OSError as e:
            raise ConfigError(f"{path}: cannot read config ({e.strerror or e})") from None
        except UnicodeDecodeError as e:
            raise ConfigError(f"{path}: not UTF-8 text (byte {e.start + 1}); save the config as UTF-8") from None
        except yaml.YAMLError as e:
            raise ConfigError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
        if not isinstance(d, dict):
            raise ConfigError(f"{path}: a config is a mapping of sections (features, model, augment, train), "
                              f"not a {type(d).__name__}")
        for item in overrides:
            key, sep, value = item.partition("=")
            section, _, name = key.strip().partition(".")
            if not sep or not section or not name:
                raise ConfigError(f"--set {item!r}: expected SECTION.KEY=VALUE")
            try:
                parsed = _yaml(value)
            except yaml.YAMLError as e:
                raise ConfigError(f"--set {item!r}: the value is not valid YAML ({str(e).splitlines()[0]})") from None
            if d.get(section) is None:
                d[section] = {}
            if not isinstance(d[section], dict):
                raise ConfigError(f"--set {item!r}: {section} is not a section of name: value")
            d[section][name] = parsed
        try:
            return cls.from_dict(d)
        except ConfigError as e:  # name the file (the key names the option, in it or in --set)
            raise ConfigError(f"{path}: {e}") from None

    def model_dir_config(self, training_words) -> dict:
        """The config.json of the run's model directories: front end, model, default decoder (a
        word list "training" is ``training_words``, the training transcripts') and this config."""
        decoding = dict(self.decoding)
        if decoding.get("words") == "training":
            decoding["words"] = sorted(training_words)
        return {"name": self.name, "features": self.features.to_dict(), "model": self.model.to_dict(),
                "decoding": decoding, "training": self.to_dict()}

    def to_dict(self) -> dict:
        return {"name": self.name, "description": self.description, "decoding": self.decoding,
                "features": self.features.to_dict(),
                "model": self.model.to_dict(), "augment": self.augment.to_dict(), "train": asdict(self.train)}


# what may change between an interrupted run and its --resume without --force
RESUMABLE_CHANGES = {"out_dir", "threads", "device", "max_minutes", "on_bad_line", "amp", "audio_cache_gb"}


def check_resumable(cfg: RunConfig, saved: dict, force: bool, where: Path) -> None:
    """Refuse to resume with a changed recipe (schedule, data, augmentation, model) unless forced.
    Options a run saved that no longer exist are not compared."""
    now = cfg.to_dict()
    changed = [f"train.{k}" for k in sorted(now["train"])
               if k not in RESUMABLE_CHANGES and now["train"][k] != saved.get("train", {}).get(k)]
    changed += [sec for sec in ("augment", "decoding") if now.get(sec) != saved.get(sec)]
    shape = lambda m: {k: (m or {}).get(k) for k in now["model"] if k not in ("num_outputs", "input_size")}  # noqa: E731
    if not cfg.train.init and shape(now["model"]) != shape(saved.get("model")):  # with init: the model's shape
        changed.append("model")
    if changed and not force:
        raise ConfigError(f"{where}: the config differs from the run being resumed ({', '.join(changed)}); "
                          "resume with the same config, or add --force to continue with the new one")


# with train.init, the options a config may change from the initial model's (none changes a weight's shape)
INIT_OVERRIDES = {"features": ("normalize", "noise_floor", "level_floor_db"), "model": ("dropout",)}


def init_configs(cfg: RunConfig, saved: dict) -> tuple[FeatureConfig, ModelConfig]:
    """The front end and model of a run started from a saved model: the saved ones, with the
    options of INIT_OVERRIDES that the run's config sets (the dropout always comes from the run).
    A changed normalisation drops the saved feature statistics (training computes new ones)."""
    features = dict(saved["features"])
    for key in cfg.given.get("features", ()):
        if key in INIT_OVERRIDES["features"] and getattr(cfg.features, key) != features.get(key):
            features[key] = getattr(cfg.features, key)
            if key == "normalize":
                features["global_mean"] = features["global_std"] = None
    model = {**saved["model"], "dropout": cfg.model.dropout}
    for key in cfg.given.get("model", ()):
        if key in INIT_OVERRIDES["model"]:
            model[key] = getattr(cfg.model, key)
    return FeatureConfig.from_dict(features), ModelConfig.from_dict(model)
