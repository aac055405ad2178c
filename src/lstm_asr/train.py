"""The training loop: CTC (or cross-entropy for the classifier head), AdamW, gradient clipping,
one-cycle learning rate, a dev evaluation every epoch, the best model kept, early stopping,
resumable checkpoints, fixed seeds, a progress bar, and the curves as CSV and PNG.

A run directory holds ``best/`` (the best model so far: a model directory), ``last/`` (the latest
epoch: a model directory plus the trainer state, what ``resume`` starts from), ``curves.csv``,
``curves.png`` and ``train.log``.
"""
from __future__ import annotations

import csv
import math
import random
import shutil
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import torch
import yaml
from tqdm import tqdm

from .augment import AugmentConfig, WaveAugmenter, spec_augment
from .checkpoint import load_model_files, load_trainer_state, save_model, save_trainer_state
from .data import AudioDataset, bucket_batches, collate, read_manifest
from .errors import ConfigError
from .features import FeatureConfig
from .metrics import cer, sentence_accuracy, wer
from .model import ModelConfig
from .text import Vocabulary
from .transcribe import Recognizer


@dataclass
class TrainConfig:
    manifests: list = field(default_factory=list)  # training manifests (JSON Lines)
    dev: str = ""                 # dev manifest: evaluated every epoch, picks the best model
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
    max_minutes: float = 0.0      # stop after this much wall time (0: no limit)
    sortagrad: bool = True        # first epoch short-to-long (DeepSpeech 2): CTC leaves its blank plateau sooner


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

    @classmethod
    def from_dict(cls, d: dict) -> "RunConfig":
        unknown = set(d) - {f.name for f in fields(cls)}
        if unknown:
            raise ConfigError(f"unknown config section(s): {', '.join(sorted(unknown))}")
        tr = d.get("train", {}) or {}
        bad = set(tr) - {f.name for f in fields(TrainConfig)}
        if bad:
            raise ConfigError(f"unknown train option(s): {', '.join(sorted(bad))}")
        return cls(name=d.get("name", "model"), description=d.get("description", ""),
                   decoding=d.get("decoding", {}) or {},
                   features=FeatureConfig.from_dict(d.get("features", {}) or {}),
                   model=ModelConfig.from_dict(d.get("model", {}) or {}),
                   augment=AugmentConfig.from_dict(d.get("augment", {}) or {}),
                   train=TrainConfig(**tr))

    @classmethod
    def load(cls, path, overrides: list[str] = ()) -> "RunConfig":
        """Read a YAML config; ``overrides`` are ``section.key=value`` strings (value in YAML)."""
        try:
            d = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except OSError as e:
            raise ConfigError(f"{path}: cannot read config ({e.strerror})") from None
        except yaml.YAMLError as e:
            raise ConfigError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
        for item in overrides:
            key, sep, value = item.partition("=")
            if not sep or "." not in key:
                raise ConfigError(f"override {item!r}: expected section.key=value")
            section, name = key.split(".", 1)
            d.setdefault(section, {})[name] = yaml.safe_load(value)
        return cls.from_dict(d)

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
    import matplotlib
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


def train(cfg: RunConfig, resume: bool = False, progress: bool = True, log=print) -> Path:
    """Train ``cfg``; return the directory of the best model (``out_dir/best``)."""
    tc = cfg.train
    if not tc.manifests:
        raise ConfigError("train.manifests is empty: give at least one training manifest")
    if not tc.dev:
        raise ConfigError("train.dev is empty: give a dev manifest")
    torch.set_num_threads(max(1, tc.threads))
    run_dir = Path(tc.out_dir)
    if run_dir.exists() and (run_dir / "last").exists() and not resume:
        raise ConfigError(f"{run_dir}: a run already exists there; use --resume to continue it or another --out")
    if resume and not (run_dir / "last" / "trainer.json").is_file():
        raise ConfigError(f"{run_dir}: nothing to resume (no complete checkpoint in {run_dir / 'last'})")
    run_dir.mkdir(parents=True, exist_ok=True)
    classifier = cfg.model.head == "classifier"

    train_utts = []
    for m in tc.manifests:
        man = read_manifest(m, on_error=tc.on_bad_line)
        if man.skipped:
            log(f"{m}: skipped {len(man.skipped)} bad line(s); first: {man.skipped[0]}")
        train_utts += man.utterances
    dev_man = read_manifest(tc.dev, on_error=tc.on_bad_line)
    if dev_man.skipped:
        log(f"{tc.dev}: skipped {len(dev_man.skipped)} bad line(s); first: {dev_man.skipped[0]}")

    if resume:
        vocab = Vocabulary.load(run_dir / "last" / "vocab.json")
    elif classifier:
        vocab = Vocabulary(sorted({u.text for u in train_utts}), has_blank=False)
    else:
        vocab = Vocabulary.from_texts(u.text for u in train_utts)
    dev_utts = [u for u in dev_man.utterances if (u.text in vocab.index if classifier else not vocab.unknown(u.text))]
    if len(dev_utts) < len(dev_man.utterances):
        log(f"{tc.dev}: {len(dev_man.utterances) - len(dev_utts)} dev utterance(s) use units unseen in training; left out")
    cfg.model.num_outputs = len(vocab)
    cfg.model.input_size = cfg.features.n_mels
    decoding = dict(cfg.decoding)
    if decoding.get("words") == "training":
        decoding["words"] = sorted({w for u in train_utts for w in u.text.split()})
    model_config = {"name": cfg.name, "features": cfg.features.to_dict(), "model": cfg.model.to_dict(),
                    "decoding": decoding, "trim_silence": True, "training": cfg.to_dict()}

    target = (lambda u: vocab.index[u.text]) if classifier else (lambda u: vocab.encode(u.text))
    train_set = AudioDataset(train_utts, target, WaveAugmenter(cfg.augment), seed=tc.seed)
    dev_set = AudioDataset(dev_utts, target)
    load_bar = tqdm(range(len(train_set) + len(dev_set)), desc="loading audio", disable=not progress, leave=False)
    for i in load_bar:
        (train_set.wave(i) if i < len(train_set) else dev_set.wave(i - len(train_set)))
    durations = [train_set.duration(i) for i in range(len(train_set))]
    dev_waves = [dev_set.wave(i) for i in range(len(dev_set))]

    _seed_everything(tc.seed)
    rec = Recognizer(model_config, vocab)
    rec.set_decoding()  # dev evaluation (and best-model choice) with greedy decoding: fast and comparable
    model = rec.model
    opt = torch.optim.AdamW(model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)
    steps_per_epoch = len(bucket_batches(durations, tc.batch_seconds, False, max_batch=tc.max_batch))
    total_steps = steps_per_epoch * tc.epochs
    warm = max(1, int(tc.warmup * total_steps))

    def lr_at(step: int) -> float:  # linear warm-up, cosine decay to 1 % of the peak
        if step < warm:
            return tc.lr * (step + 1) / warm
        p = min(1.0, (step - warm) / max(1, total_steps - warm))
        return tc.lr * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * p)))

    metric = "error" if classifier else "wer"
    history: list[dict] = []
    start_epoch, step, best, bad_epochs, elapsed0 = 1, 0, float("inf"), 0, 0.0
    if resume:
        _, _, state = load_model_files(run_dir / "last")
        model.load_state_dict(state)
        info = load_trainer_state(run_dir / "last", opt)
        start_epoch, step = info["epoch"] + 1, info["step"]
        best, bad_epochs, history, elapsed0 = info["best"], info["bad_epochs"], info["history"], info["elapsed"]
        log(f"resuming {run_dir} after epoch {info['epoch']} (best dev {metric} {best:.4f})")

    ctc = torch.nn.CTCLoss(blank=0, zero_infinity=True)
    t_start = time.time() - elapsed0
    bar = tqdm(total=total_steps, initial=min(step, total_steps), desc=cfg.name, disable=not progress,
               unit="batch", dynamic_ncols=True)
    for epoch in range(start_epoch, tc.epochs + 1):
        seed = tc.seed * 1000 + epoch  # per-epoch seeding: a resumed run continues exactly
        _seed_everything(seed)
        train_set.rng = np.random.default_rng(seed)
        gen = torch.Generator().manual_seed(seed)
        model.train()
        losses = []
        shuffle = not (tc.sortagrad and epoch == 1)
        for batch in bucket_batches(durations, tc.batch_seconds, shuffle, seed=seed, max_batch=tc.max_batch):
            waves, lengths, targets = collate([train_set[i] for i in batch])
            feats, flen = rec.fbank(waves, lengths)
            feats = spec_augment(feats, flen, cfg.augment, gen)
            out, olen, _ = model(feats, flen.clamp(min=1))
            if classifier:
                loss = torch.nn.functional.cross_entropy(out, torch.tensor(targets))
            else:
                tgt = torch.tensor([t for seq in targets for t in seq])
                tlen = torch.tensor([len(seq) for seq in targets])
                loss = ctc(out.transpose(0, 1), tgt, olen, tlen)
            for g in opt.param_groups:
                g["lr"] = lr_at(step)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), tc.clip)
            opt.step()
            step += 1
            losses.append(loss.item())
            bar.update(1)
            bar.set_postfix(epoch=epoch, loss=f"{np.mean(losses[-20:]):.3f}",
                            dev=f"{history[-1][metric]:.3f}" if history else "-")
        model.eval()
        hyps = rec.transcribe_waves(dev_waves)
        refs = [u.text for u in dev_utts]
        row = {"epoch": epoch, "step": step, "train_loss": round(float(np.mean(losses)), 5),
               "lr": round(lr_at(step - 1), 7), "seconds": round(time.time() - t_start, 1)}
        if classifier:
            row["error"] = round(1 - sentence_accuracy(refs, hyps), 5)
        else:
            row.update(wer=round(wer(refs, hyps), 5), cer=round(cer(refs, hyps), 5),
                       sent_acc=round(sentence_accuracy(refs, hyps), 5))
        history.append(row)
        _write_curves(run_dir, history, metric)
        improved = row[metric] < best
        if row[metric] <= best:  # on a tie the later, longer-trained model is kept
            save_model(run_dir / "best", model_config, vocab, model.state_dict(), _readme(cfg, history, row, metric))
        if improved:
            best, bad_epochs = row[metric], 0
        elif best < 1.0:  # patience runs only once the model has left CTC's all-blank plateau
            bad_epochs += 1
        tmp = run_dir / "last.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        save_model(tmp, model_config, vocab, model.state_dict())
        save_trainer_state(tmp, opt, {"epoch": epoch, "step": step, "best": best, "bad_epochs": bad_epochs,
                                      "history": history, "elapsed": time.time() - t_start})
        shutil.rmtree(run_dir / "last", ignore_errors=True)
        tmp.rename(run_dir / "last")
        msg = (f"epoch {epoch}: loss {row['train_loss']:.4f}, dev {metric} {row[metric]:.4f}"
               f"{' (best)' if improved else ''}, {row['seconds']:.0f} s")
        with open(run_dir / "train.log", "a") as f:
            f.write(msg + "\n")
        (bar.write if progress else log)(msg)
        if bad_epochs >= tc.patience:
            log(f"early stop: no dev improvement for {tc.patience} epochs")
            break
        if tc.max_minutes and time.time() - t_start > 60 * tc.max_minutes:
            log(f"stopping: time limit of {tc.max_minutes} minutes reached")
            break
    bar.close()
    return run_dir / "best"


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
