"""The training loop: CTC (or cross-entropy for the classifier head), AdamW, gradient clipping,
one-cycle learning rate, a dev evaluation every epoch, the best model kept, early stopping,
resumable checkpoints, fixed seeds, a progress bar, and the curves as CSV and PNG.

A run directory holds ``best/`` (the best model so far: a model directory), ``last`` (the latest
epoch: a model directory plus the trainer state, what ``resume`` starts from; a symbolic link to
``ckpt-N/``, swapped atomically, so there is never a moment without a complete checkpoint), ``curves.csv``,
``curves.png`` and ``train.log``.
"""
from __future__ import annotations

import csv
import math
import os
import random
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import yaml
from tqdm import tqdm

from .augment import AugmentConfig, WaveAugmenter, draw_warps, spec_augment
from .checkpoint import load_model_files, load_trainer_state, resolve_model, save_model, save_trainer_state
from .data import AudioDataset, bucket_batches, collate, load_waves, read_manifest
from .errors import ConfigError, check_keys
from .features import FeatureConfig, FilterBank, global_stats, saved_features
from .metrics import cer, sentence_accuracy, wer
from .model import ModelConfig, resolve_device
from .text import Vocabulary
from .transcribe import Recognizer


@dataclass
class TrainConfig:
    manifests: list = field(default_factory=list)  # training manifests (JSON Lines)
    dev: str = ""                 # dev manifest: evaluated every epoch, picks the best model ("": keep the last)
    out_dir: str = "runs/model"
    epochs: int = 30
    batch_seconds: float = 60.0   # padded seconds of audio per batch
    max_batch: int = 64
    lr: float = 2e-3              # peak of the one-cycle schedule
    weight_decay: float = 1e-2
    clip: float = 5.0             # gradient norm clipping
    warmup: float = 0.1           # fraction of steps spent warming up
    patience: int = 6             # epochs without dev improvement before stopping (counted once dev error < 100 %)
    seed: int = 0
    threads: int = 2
    on_bad_line: str = "stop"     # stop | skip
    max_minutes: float = 0.0      # a time budget (0: none): after 50 steps the schedule is fitted to the
                                  # epochs that fit in it (at most `epochs`), and training stops there
    sortagrad: bool = True        # first epoch short-to-long (DeepSpeech 2): CTC leaves its blank plateau sooner
    device: str = "auto"          # auto | cpu | cuda | cuda:N: model and front end run there
    amp: bool = True              # bf16 autocast on CUDA (ignored on the CPU)
    init: str = ""                # start from this model (directory or bundled name): its weights,
                                  # front end and vocabulary (fine-tuning, adaptation)
    extend_vocab: bool = False    # with init: add the training texts' new characters as output units
    stats_utterances: int = 2000  # utterances for the global feature statistics (normalize: global)
    units: str = "chars"          # chars | phones (ARPAbet through lexicon.py): the output units of a new model
    workers: int = 0              # processes that read and augment batches (0: in the training process)
    teacher: str = ""             # distil from this CTC model (directory or bundled name) with the same
                                  # vocabulary and frame rate: its per-frame output distribution on the same
                                  # audio (through its own front end, without SpecAugment) is a second target
    teacher_weight: float = 1.0   # loss = CTC + teacher_weight * KL(teacher || model), both per target unit


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
            d = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
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
                parsed = yaml.safe_load(value)
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

    def to_dict(self) -> dict:
        return {"name": self.name, "description": self.description, "decoding": self.decoding,
                "features": self.features.to_dict(),
                "model": self.model.to_dict(), "augment": self.augment.to_dict(), "train": asdict(self.train)}


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _write_curves(run_dir: Path, history: list[dict], metric: str) -> None:
    with open(run_dir / "curves.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(history[0]))
        w.writeheader()
        w.writerows(history)
    try:  # the plot is optional: the CSV holds the same numbers
        import matplotlib
    except ImportError:
        return
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    ep = [h["epoch"] for h in history]
    fig, ax = plt.subplots(1, 2, figsize=(9, 3.2))
    ax[0].plot(ep, [h["train_loss"] for h in history], marker="o")
    ax[0].set(xlabel="epoch", ylabel="train loss", title="training loss")
    ax[1].plot(ep, [100 * h[metric] for h in history], marker="o", color="C1")
    ax[1].set(xlabel="epoch", ylabel=f"dev {metric} (%)", title=f"dev {metric}")
    for a in ax:
        a.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(run_dir / "curves.png", dpi=100)
    plt.close(fig)


@dataclass
class _Run:
    """Everything one training run holds between its steps."""
    cfg: RunConfig
    run_dir: Path
    device: torch.device
    rec: Recognizer
    model_config: dict
    vocab: Vocabulary
    train_set: AudioDataset
    durations: list
    dev_utts: list
    dev_waves: list
    opt: torch.optim.Optimizer
    total_steps: int
    warm: int
    metric: str
    teacher: Recognizer | None = None
    step: int = 0
    unfit: int = 0           # utterances whose transcript cannot fit the output frames (CTC loss zeroed)
    skipped_steps: int = 0   # steps with a non-finite loss or gradient norm: not applied
    best: float = float("inf")
    bad_epochs: int = 0
    history: list = field(default_factory=list)
    t_start: float = 0.0
    last_epoch: int = 0
    seconds_done: float = 0.0  # audio seconds trained on in this process (for the time budget)

    def fit_budget(self, log) -> None:
        """With ``train.max_minutes``: from the time the audio so far took, the epochs that fit in
        the budget (85 % of it, the rest for evaluation); the schedule is stretched over them."""
        tc = self.cfg.train
        per_epoch = sum(self.durations) * (time.time() - self.t_start) / max(1e-9, self.seconds_done)
        self.last_epoch = max(1, min(tc.epochs, int(0.85 * 60 * tc.max_minutes / per_epoch)))
        self.total_steps = round(self.total_steps / tc.epochs * self.last_epoch)
        self.warm = max(1, int(tc.warmup * self.total_steps))
        log(f"time budget {tc.max_minutes} min: {self.last_epoch} epochs of about {per_epoch:.0f} s")

    def lr_at(self, step: int) -> float:
        """Linear warm-up, then cosine decay to 1 % of the peak."""
        tc = self.cfg.train
        if step < self.warm:
            return tc.lr * (step + 1) / self.warm
        p = min(1.0, (step - self.warm) / max(1, self.total_steps - self.warm))
        return tc.lr * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * p)))


def train(cfg: RunConfig, resume: bool = False, progress: bool = True, log=print, force: bool = False) -> Path:
    """Train ``cfg``; return the directory of the best model (``out_dir/best``; with no dev set,
    the model of the last epoch)."""
    run, start_epoch = _setup(cfg, resume, progress, log, force)
    bar = tqdm(total=run.total_steps, initial=min(run.step, run.total_steps), desc=cfg.name,
               disable=not progress, unit="batch", dynamic_ncols=True)
    run.last_epoch = cfg.train.epochs
    for epoch in range(start_epoch, cfg.train.epochs + 1):
        loss = _train_epoch(run, epoch, bar)
        row = _evaluate(run, epoch, loss)
        improved = _checkpoint(run, row)
        msg = (f"epoch {epoch}: loss {row['train_loss']:.4f}"
               + (f", dev {run.metric} {row[run.metric]:.4f}{' (best)' if improved else ''}" if run.dev_utts else "")
               + f", {row['seconds']:.0f} s"
               + (f"; so far {run.unfit} utterance(s) too short for their transcript (loss zeroed)" if run.unfit else "")
               + (f"; {run.skipped_steps} step(s) skipped for a non-finite loss or gradient" if run.skipped_steps else ""))
        with open(run.run_dir / "train.log", "a") as f:
            f.write(msg + "\n")
        (bar.write if progress else log)(msg)
        if run.bad_epochs >= cfg.train.patience:
            log(f"early stop: no dev improvement for {cfg.train.patience} epochs")
            break
        if epoch >= run.last_epoch:
            break
        if cfg.train.max_minutes and time.time() - run.t_start > 60 * cfg.train.max_minutes:
            log(f"stopping: time limit of {cfg.train.max_minutes} minutes reached")
            break
    bar.close()
    best = run.run_dir / "best"
    if not (best / "config.json").is_file():  # never name a model that is not there
        raise ConfigError(f"{run.run_dir}: no model was saved (epochs {start_epoch}..{cfg.train.epochs} ran none)")
    return best


def _read_utterances(paths: list, on_error: str, log) -> list:
    utts = []
    for m in paths:
        man = read_manifest(m, on_error=on_error)
        if man.skipped:
            log(f"{m}: skipped {len(man.skipped)} bad line(s); first: {man.skipped[0]}")
        utts += man.utterances
    return utts


# what may change between an interrupted run and its --resume without --force
RESUMABLE_CHANGES = {"out_dir", "threads", "device", "max_minutes", "on_bad_line", "amp"}


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The newest complete checkpoint of a run (``last``, else the newest ``ckpt-N``), or None."""
    run_dir = Path(run_dir)
    if (run_dir / "last" / "trainer.json").is_file():
        return run_dir / "last"
    done = [p for p in run_dir.glob("ckpt-*") if (p / "trainer.json").is_file() and p.name[5:].isdigit()]
    return max(done, key=lambda p: int(p.name[5:])) if done else None


def _check_resumable(cfg: RunConfig, saved: dict, force: bool, where: Path) -> None:
    """Refuse to resume with a changed recipe (schedule, data, augmentation, model) unless forced."""
    now = cfg.to_dict()
    changed = [f"train.{k}" for k in sorted(set(now["train"]) | set(saved.get("train", {})))
               if k not in RESUMABLE_CHANGES and now["train"].get(k) != saved.get("train", {}).get(k)]
    changed += [sec for sec in ("augment", "decoding") if now.get(sec) != saved.get(sec)]
    shape = lambda m: {k: v for k, v in (m or {}).items() if k not in ("num_outputs", "input_size")}  # noqa: E731
    if not cfg.train.init and shape(now["model"]) != shape(saved.get("model")):  # with init: the model's shape
        changed.append("model")
    if changed and not force:
        raise ConfigError(f"{where}: the config differs from the run being resumed ({', '.join(changed)}); "
                          "resume with the same config, or add --force to continue with the new one")


def _setup(cfg: RunConfig, resume: bool, progress: bool, log, force: bool = False) -> tuple[_Run, int]:
    """Check the config, read the data, build (or restore) model and optimizer -> (run, first epoch)."""
    tc = cfg.train
    if not tc.manifests:
        raise ConfigError("train.manifests is empty: give at least one training manifest")
    device = resolve_device(tc.device)
    torch.set_num_threads(max(1, tc.threads))
    run_dir = Path(tc.out_dir)
    last = latest_checkpoint(run_dir)
    if last is not None and not resume:
        raise ConfigError(f"{run_dir}: a run already exists there; use --resume to continue it or another --out")
    if resume and last is None:
        raise ConfigError(f"{run_dir}: nothing to resume (no complete checkpoint in {run_dir / 'last'})")
    run_dir.mkdir(parents=True, exist_ok=True)
    classifier = cfg.model.head == "classifier"

    train_utts = _read_utterances(tc.manifests, tc.on_bad_line, log)
    dev_all = _read_utterances([tc.dev], tc.on_bad_line, log) if tc.dev else []
    # the audio, read once (an unreadable file under on_bad_line: skip is reported and left out)
    train_utts, train_waves = load_waves(train_utts, tc.on_bad_line, progress, log)
    dev_all, dev_waves = load_waves(dev_all, tc.on_bad_line, progress, log)
    if not train_utts:
        raise ConfigError(f"{', '.join(map(str, tc.manifests))}: no training utterance with readable audio")
    start_state = None  # the weights to start from: the checkpoint resumed, or the model fine-tuned
    if resume:
        vocab = Vocabulary.load(last / "vocab.json")
        saved, _, start_state = load_model_files(last)
        _check_resumable(cfg, saved.get("training") or {}, force, last)
        cfg.features = FeatureConfig.from_saved(saved["features"])  # the statistics it was trained with
        cfg.model = ModelConfig.from_dict(saved["model"])
    elif tc.init:
        init_dir = resolve_model(tc.init)
        saved, vocab_path, start_state = load_model_files(init_dir)
        vocab = Vocabulary.load(vocab_path)
        cfg.features, cfg.model = _init_configs(cfg, saved)
        log(f"starting from {init_dir}: its front end, model shape and vocabulary")
    elif classifier:
        vocab = Vocabulary(sorted({u.text for u in train_utts}), has_blank=False)
    else:
        vocab = Vocabulary.from_texts((u.text for u in train_utts), kind=tc.units)
        vocab.prepare({w for u in train_utts + dev_all for w in u.text.split()})
    if tc.init and tc.extend_vocab and not classifier and not resume:
        new = sorted({ch for u in train_utts for ch in vocab.unknown(u.text)})
        if new:
            vocab, start_state = _extend_vocabulary(vocab, start_state, new, tc.seed)
            log(f"output units added to {tc.init}'s vocabulary: {''.join(new)!r}")
    usable = (lambda u: u.text in vocab.index) if classifier else (lambda u: not vocab.unknown(u.text))
    if tc.init and not all(usable(u) for u in train_utts):
        bad = next(u for u in train_utts if not usable(u))
        raise ConfigError(f"{bad.audio}: transcript {bad.text!r} uses units the model {tc.init} cannot output "
                          "(train.extend_vocab: true adds them)")
    dev_utts = [u for u in dev_all if usable(u)]
    dev_waves = [w for u, w in zip(dev_all, dev_waves) if usable(u)]
    if len(dev_utts) < len(dev_all):
        log(f"{tc.dev}: {len(dev_all) - len(dev_utts)} dev utterance(s) use units unseen in training; left out")
    cfg.model.num_outputs = len(vocab)
    cfg.model.input_size = cfg.features.n_mels

    target = (lambda u: vocab.index[u.text]) if classifier else (lambda u: vocab.encode(u.text))
    train_set = AudioDataset(train_utts, target, WaveAugmenter(cfg.augment), seed=tc.seed, waves=train_waves)
    dev_set = AudioDataset(dev_utts, target, waves=dev_waves)
    if cfg.features.normalize in ("global", "causal") and cfg.features.global_mean is None:
        _set_global_stats(cfg.features, train_set, tc.stats_utterances, tc.seed)
        log(f"global feature statistics from {min(len(train_set), tc.stats_utterances)} training utterances")

    decoding = dict(cfg.decoding)
    if decoding.get("words") == "training":
        decoding["words"] = sorted({w for u in train_utts for w in u.text.split()})
    model_config = {"name": cfg.name, "features": cfg.features.to_dict(), "model": cfg.model.to_dict(),
                    "decoding": decoding, "trim_silence": True, "training": cfg.to_dict()}

    _seed_everything(tc.seed)
    rec = Recognizer(model_config, vocab, start_state)
    rec.set_decoding()  # dev evaluation (and best-model choice) with greedy decoding: fast and comparable
    rec.to(device)
    teacher = _load_teacher(tc.teacher, rec, device) if tc.teacher else None
    opt = torch.optim.AdamW(rec.model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)
    durations = [train_set.duration(i) for i in range(len(train_set))]
    steps_per_epoch = len(bucket_batches(durations, tc.batch_seconds, False, max_batch=tc.max_batch))
    total = steps_per_epoch * tc.epochs
    run = _Run(cfg, run_dir, device, rec, model_config, vocab, train_set, durations, dev_utts,
               [dev_set.wave(i) for i in range(len(dev_set))], opt, total, max(1, int(tc.warmup * total)),
               "error" if classifier else "wer", teacher)
    start_epoch, elapsed = 1, 0.0
    if resume:
        info = load_trainer_state(last, opt)
        start_epoch, run.step, elapsed = info["epoch"] + 1, info["step"], info["elapsed"]
        run.unfit, run.skipped_steps = info.get("unfit", 0), info.get("skipped_steps", 0)
        run.best, run.bad_epochs, run.history = info["best"], info["bad_epochs"], info["history"]
        log(f"resuming {run_dir} after epoch {info['epoch']} (best dev {run.metric} {run.best:.4f})")
    log(f"training on {device} ({sum(durations) / 3600:.2f} h of audio per epoch, "
        f"{rec.model.num_parameters():,} parameters)")
    run.t_start = time.time() - elapsed
    return run, start_epoch


# with train.init, the options a config may change from the initial model's (none changes a weight's shape)
INIT_OVERRIDES = {"features": ("normalize", "noise_floor", "level_floor_db", "level_floor_warmup_s"),
                  "model": ("dropout", "chunk", "right_context", "input_norm")}


def _init_configs(cfg: RunConfig, saved: dict) -> tuple[FeatureConfig, ModelConfig]:
    """The front end and model of a run started from a saved model: the saved ones, with the
    options of INIT_OVERRIDES that the run's config sets (the dropout always comes from the run).
    A changed normalisation drops the saved feature statistics (training computes new ones)."""
    features = saved_features(dict(saved["features"]))
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


def _load_teacher(name: str, rec: Recognizer, device) -> Recognizer:
    """The model a run distils from (train.teacher): a CTC model with the student's output units
    and output frame rate, so that its frames and the student's match one to one."""
    teacher = Recognizer.from_dir(name)
    if teacher.is_classifier or rec.is_classifier:
        raise ConfigError(f"train.teacher {name}: distillation needs CTC models (teacher and model)")
    if teacher.vocab.units != rec.vocab.units:
        raise ConfigError(f"train.teacher {name}: its output units differ from the model's "
                          "(distil into a model started from it, or with the same vocabulary)")
    if teacher.frame_seconds != rec.frame_seconds:
        raise ConfigError(f"train.teacher {name}: {teacher.frame_seconds * 1000:g} ms per output frame, the "
                          f"model {rec.frame_seconds * 1000:g} ms: the frames must match")
    teacher.to(device)
    teacher.model.eval()
    return teacher


def distillation_loss(student: torch.Tensor, teacher: torch.Tensor, lengths: torch.Tensor,
                      target_lengths: torch.Tensor) -> torch.Tensor:
    """KL(teacher || student) of CTC log-probabilities (B, T, V) over each utterance's ``lengths``
    frames, summed per utterance and divided by its target length (as CTCLoss's "mean" does), then
    averaged over the batch."""
    frames = min(student.shape[1], teacher.shape[1])
    student, teacher = student[:, :frames], teacher[:, :frames]
    kl = (teacher.exp() * (teacher - student)).sum(-1)  # (B, T)
    mask = torch.arange(kl.shape[1], device=kl.device)[None, :] < lengths[:, None]
    per_utt = torch.where(mask, kl, kl.new_zeros(())).sum(1)
    return (per_utt / target_lengths.clamp(min=1).to(kl.dtype)).mean()


def _extend_vocabulary(vocab: Vocabulary, state: dict, new: list[str], seed: int) -> tuple[Vocabulary, dict]:
    """Append output units ``new`` to a CTC model: vocabulary and output layer (new rows small
    random weights, bias at the mean of the old non-blank units' biases), the rest unchanged."""
    vocab = Vocabulary(vocab.units + list(new))
    w, b = state["head.weight"], state["head.bias"]  # (V, H), (V,)
    gen = torch.Generator().manual_seed(seed)
    rows = torch.randn(len(new), w.shape[1], generator=gen, dtype=w.dtype) * float(w[1:].std())
    state = {**state, "head.weight": torch.cat([w, rows]),
             "head.bias": torch.cat([b, b[1:].mean().expand(len(new))])}
    return vocab, state


def _set_global_stats(fc: FeatureConfig, data: AudioDataset, n: int, seed: int) -> None:
    """Per-bin mean/std of the (level-normalised) log-mel of up to ``n`` training utterances."""
    fbank = FilterBank(fc)
    pick = np.random.default_rng(seed).permutation(len(data))[:n]
    waves = [torch.from_numpy(data.wave(int(i))) for i in pick]
    fc.global_mean, fc.global_std = global_stats([fbank.raw(w[None], torch.tensor([len(w)]))[0][0] for w in waves])


def ctc_frames_needed(target: list[int]) -> int:
    """The fewest output frames CTC can spell ``target`` in: one per unit, plus a blank between
    repeated units. With fewer, its loss is infinite (training zeroes it and counts it)."""
    return len(target) + sum(a == b for a, b in zip(target, target[1:]))


def _train_epoch(run: _Run, epoch: int, bar) -> float:
    """One pass over the training set -> its mean loss. Seeded per epoch, so a resumed run
    continues exactly as an uninterrupted one."""
    cfg, tc, model, device = run.cfg, run.cfg.train, run.rec.model, run.device
    seed = tc.seed * 1000 + epoch
    _seed_everything(seed)
    rng = np.random.default_rng(seed)
    run.train_set.rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    ctc = torch.nn.CTCLoss(blank=0, zero_infinity=True)
    amp = device.type == "cuda" and tc.amp
    model.train()
    losses = []
    shuffle = not (tc.sortagrad and epoch == 1)
    batches = bucket_batches(run.durations, tc.batch_seconds, shuffle, seed=seed, max_batch=tc.max_batch)
    for batch, (waves, lengths, targets) in zip(batches, _batch_loader(run.train_set, batches, tc.workers, seed)):
        warps = draw_warps(len(batch), cfg.augment, rng)
        feats, flen = run.rec.fbank(waves.to(device), lengths.to(device), warps)
        if run.teacher is not None:
            with torch.no_grad():
                tfeats, tflen = run.teacher.fbank(waves.to(device), lengths.to(device), warps)
                teacher_out = run.teacher.model(tfeats, tflen.clamp(min=1))[0].float()
        feats = spec_augment(feats, flen, cfg.augment, gen)
        if model.cfg.chunk:  # latency-controlled: chunk edges at a random phase
            model.encoder.phase = int(rng.integers(0, model.cfg.chunk))
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            out, olen, _ = model(feats, flen.clamp(min=1))
        out = out.float()
        if model.cfg.head == "classifier":
            loss = torch.nn.functional.cross_entropy(out, torch.tensor(targets, device=device))
        else:
            tgt = torch.tensor([t for seq in targets for t in seq], device=device)
            tlen = torch.tensor([len(seq) for seq in targets], device=device)
            loss = ctc(out.transpose(0, 1), tgt, olen, tlen)
            if run.teacher is not None:
                loss = loss + tc.teacher_weight * distillation_loss(out, teacher_out, olen, tlen)
            run.unfit += sum(int(n) < ctc_frames_needed(seq) for n, seq in zip(olen.tolist(), targets))
        for g in run.opt.param_groups:
            g["lr"] = run.lr_at(run.step)
        run.opt.zero_grad(set_to_none=True)
        run.step += 1
        bar.update(1)
        if not torch.isfinite(loss):
            run.skipped_steps += 1
            continue
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), tc.clip)
        if not torch.isfinite(norm):  # never apply a NaN/inf update
            run.skipped_steps += 1
            continue
        run.opt.step()
        losses.append(loss.item())
        run.seconds_done += sum(run.durations[i] for i in batch)
        if tc.max_minutes and run.step == 50 and epoch == 1:
            run.fit_budget(bar.write)
        bar.set_postfix(epoch=epoch, loss=f"{np.mean(losses[-20:]):.3f}",
                        dev=f"{run.history[-1][run.metric]:.3f}" if run.history and run.dev_utts else "-")
    return float(np.mean(losses)) if losses else float("nan")


def _batch_loader(data: AudioDataset, batches: list[list[int]], workers: int, seed: int):
    """Each batch's (waves, lengths, targets), read and augmented in this process or, with
    ``workers``, in that many processes (each with its own seeded generator, in batch order)."""
    if not workers:
        return (collate([data[i] for i in b]) for b in batches)

    def init(worker: int) -> None:
        torch.set_num_threads(1)
        torch.utils.data.get_worker_info().dataset.rng = np.random.default_rng([seed, worker])
    return iter(torch.utils.data.DataLoader(data, batch_sampler=batches, collate_fn=collate, num_workers=workers,
                                            worker_init_fn=init, prefetch_factor=4))


def _evaluate(run: _Run, epoch: int, loss: float) -> dict:
    """Score the dev set (greedy decoding) -> the epoch's row of the learning curves."""
    run.rec.model.eval()
    row = {"epoch": epoch, "step": run.step, "train_loss": round(loss, 5),
           "lr": round(run.lr_at(run.step - 1), 7), "seconds": round(time.time() - run.t_start, 1),
           "unfit": run.unfit, "skipped_steps": run.skipped_steps}
    if not run.dev_utts:  # no dev set (e.g. adaptation): the latest model is the one kept
        row[run.metric] = 0.0
        return row
    hyps = run.rec.transcribe_waves(run.dev_waves)
    refs = [run.vocab.reference(u.text) for u in run.dev_utts]
    if run.metric == "error":
        row["error"] = round(1 - sentence_accuracy(refs, hyps), 5)
    else:
        row.update(wer=round(wer(refs, hyps), 5), cer=round(cer(refs, hyps), 5),
                   sent_acc=round(sentence_accuracy(refs, hyps), 5))
    return row


def _checkpoint(run: _Run, row: dict) -> bool:
    """Record the row, keep the best model, write the resumable ``last/`` -> whether dev improved."""
    run.history.append(row)
    _write_curves(run.run_dir, run.history, run.metric)
    state = run.rec.model.state_dict()
    improved = row[run.metric] < run.best
    if row[run.metric] <= run.best:  # on a tie the later, longer-trained model is kept
        save_model(run.run_dir / "best", run.model_config, run.vocab, state,
                   _readme(run.cfg, run.history, row, run.metric))
    if improved:
        run.best, run.bad_epochs = row[run.metric], 0
    elif run.best < 1.0 and run.dev_utts:  # patience: only with a dev set, once off CTC's all-blank plateau
        run.bad_epochs += 1
    ckpt = run.run_dir / f"ckpt-{row['epoch']}"
    shutil.rmtree(ckpt, ignore_errors=True)
    save_model(ckpt, run.model_config, run.vocab, state)
    save_trainer_state(ckpt, run.opt, {"epoch": row["epoch"], "step": run.step, "best": run.best,
                                       "bad_epochs": run.bad_epochs, "history": run.history,
                                       "elapsed": time.time() - run.t_start,
                                       "unfit": run.unfit, "skipped_steps": run.skipped_steps})
    _point_last_at(run.run_dir, ckpt)
    return improved


def _point_last_at(run_dir: Path, ckpt: Path) -> None:
    """Make ``run_dir/last`` name ``ckpt`` atomically (a symlink replaced with os.replace), then
    delete the older checkpoints: at every moment ``last`` or a ckpt-N is complete."""
    last = run_dir / "last"
    if last.is_dir() and not last.is_symlink():  # a run from before symlinked checkpoints
        last.rename(run_dir / "ckpt-0")
    link = run_dir / "last.link"
    link.unlink(missing_ok=True)
    link.symlink_to(ckpt.name)
    os.replace(link, last)
    for old in run_dir.glob("ckpt-*"):
        if old != ckpt:
            shutil.rmtree(old, ignore_errors=True)


def _readme(cfg: RunConfig, history: list[dict], best_row: dict, metric: str) -> str:
    tc = cfg.train
    lines = [f"# {cfg.name}", "", cfg.description or "", "",
             f"- cell {cfg.model.cell}, layers {cfg.model.layer_sizes}, bidirectional {cfg.model.bidirectional}, "
             f"subsampling x{cfg.model.subsample}, head {cfg.model.head}",
             f"- trained on: {', '.join(map(str, tc.manifests))}; dev: {tc.dev}",
             f"- best epoch {best_row['epoch']} of {len(history)} run so far: dev {metric} {best_row[metric]:.4f}, "
             f"after {best_row['seconds'] / 60:.1f} min of training",
             ""]
    return "\n".join(lines)
