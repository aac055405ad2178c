"""The training loop, to read from the top: :func:`train` runs :func:`_setup`'s named steps, then
per epoch :func:`_train_epoch` (CTC loss, AdamW, gradient clipping,
one-cycle learning rate, fixed seeds), :func:`_evaluate` (the dev set) and :func:`_checkpoint` (the
best model kept, resumable checkpoints, the curves as CSV and PNG), with early stopping. The run's
config is :mod:`.config`. A run directory holds ``best/`` (the best model so far: a model
directory), ``last`` (the latest epoch: a model directory plus the trainer state, what ``resume``
starts from; a symbolic link to ``ckpt-N/``, swapped atomically, so there is never a moment
without a complete checkpoint), ``curves.csv``, ``curves.png`` and ``train.log``.

Launched by ``torchrun`` as several processes, the same loop trains data-parallel
(:mod:`.distributed`): each rank takes its share of every epoch's batches, gradients are averaged,
the dev set is decoded in shares, and rank 0 alone writes the run directory, in the same format as
a single process (docs/training.md).
"""
from __future__ import annotations

import math
import random
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from .augment import WaveAugmenter, draw_warps, spec_augment
from .checkpoint import load_model_files, load_trainer_state, resolve_model, save_model, save_trainer_state
from .config import RunConfig, TrainConfig, check_resumable, init_configs
from .data import AudioDataset, bucket_batches, collate, load_waves, manifest_shards, read_manifest
from .distributed import Dist, init_distributed, shard
from .errors import ConfigError
from .features import FeatureConfig, FilterBank, global_stats
from .metrics import cer, sentence_accuracy, wer
from .model import ModelConfig, resolve_device
from .run_dir import latest_checkpoint, model_card, point_last_at, write_curves
from .text import Vocabulary
from .transcribe import Recognizer


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
    step: int = 0
    unfit: int = 0           # utterances whose transcript cannot fit the output frames (CTC loss zeroed)
    skipped_steps: int = 0   # steps with a non-finite loss or gradient norm: not applied
    best: float = float("inf")
    bad_epochs: int = 0
    history: list = field(default_factory=list)
    t_start: float = 0.0
    last_epoch: int = 0
    seconds_done: float = 0.0  # audio seconds trained on in this process (for the time budget)
    dist: Dist = field(default_factory=Dist)  # this process's rank among the data-parallel processes
    net: torch.nn.Module | None = None  # what the training forward runs through: rec.model, or it in DDP

    def fit_budget(self, log) -> None:
        """With ``train.max_minutes``: from the time the audio so far took, the epochs that fit in
        the budget (85 % of it, the rest for evaluation); the schedule is stretched over them."""
        tc = self.cfg.train
        # each of the world_size processes trains on its share; the clock is rank 0's, for all
        per_epoch = self.dist.from_main(sum(self.durations) / self.dist.world_size
                                        * (time.time() - self.t_start) / max(1e-9, self.seconds_done))
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
    the model of the last epoch). Launched by torchrun as several processes, they train data-parallel
    (:mod:`.distributed`): rank 0 writes the run directory and logs; every rank returns the path."""
    dist = init_distributed(cfg.train.device)
    try:
        if not dist.main:
            progress, log = False, lambda message: None
        return _train(cfg, resume, progress, log, force, dist)
    finally:
        dist.close()


def _train(cfg: RunConfig, resume: bool, progress: bool, log, force: bool, dist: Dist) -> Path:
    run, start_epoch = _setup(cfg, resume, progress, log, force, dist)
    bar = tqdm(total=run.total_steps, initial=min(run.step, run.total_steps), desc=cfg.name,
               disable=not progress, unit="batch", dynamic_ncols=True)
    run.last_epoch = cfg.train.epochs
    for epoch in range(start_epoch, cfg.train.epochs + 1):
        loss = _train_epoch(run, epoch, bar)
        row = _evaluate(run, epoch, loss)
        improved = _checkpoint(run, row)
        msg = (f"epoch {epoch}: loss {row['train_loss']:.4f}"
               + (f", dev wer {row['wer']:.4f}{' (best)' if improved else ''}" if run.dev_utts else "")
               + f", {row['seconds']:.0f} s"
               + (f"; so far {run.unfit} utterance(s) too short for their transcript (loss zeroed)" if run.unfit else "")
               + (f"; {run.skipped_steps} step(s) skipped for a non-finite loss or gradient" if run.skipped_steps else ""))
        if dist.active:  # every epoch: the replicas must hold the same weights (raises if not)
            msg += f"; {dist.world_size} replicas identical (sha256 {dist.check_replicas(run.rec.model)[:16]})"
        if dist.main:
            with open(run.run_dir / "train.log", "a") as f:
                f.write(msg + "\n")
        (bar.write if progress else log)(msg)
        if run.bad_epochs >= cfg.train.patience:
            log(f"early stop: no dev improvement for {cfg.train.patience} epochs")
            break
        if epoch >= run.last_epoch:
            break
        if cfg.train.max_minutes and dist.from_main(time.time() - run.t_start > 60 * cfg.train.max_minutes):
            log(f"stopping: time limit of {cfg.train.max_minutes} minutes reached")
            break
    bar.close()
    dist.barrier()  # rank 0 has written its last checkpoint (on its node: the others may not see it)
    best = run.run_dir / "best"
    if dist.main and not (best / "config.json").is_file():  # never name a model that is not there
        raise ConfigError(f"{run.run_dir}: no model was saved (epochs {start_epoch}..{cfg.train.epochs} ran none)")
    return best


def _setup(cfg: RunConfig, resume: bool, progress: bool, log, force: bool = False,
           dist: Dist | None = None) -> tuple[_Run, int]:
    """Everything before the first epoch, in named steps: the run directory, the data, the
    vocabulary and the weights to start from, the datasets, the model and optimizer, and with
    ``resume`` the trainer state -> (run, first epoch). Every process of a distributed run
    (``dist``) does the same, reading the same data and starting from the same weights."""
    tc = cfg.train
    if not tc.manifests:
        raise ConfigError("train.manifests is empty: give at least one training manifest")
    dist = dist or Dist(device=resolve_device(tc.device))
    device = dist.device
    torch.set_num_threads(max(1, tc.threads))
    run_dir, last = _run_directory(Path(tc.out_dir), resume)
    train_utts, train_waves, dev_utts, dev_waves = _read_data(tc, progress, log)
    vocab, start_state = _vocabulary(cfg, last, train_utts, dev_utts, force, log)
    dev_utts, dev_waves = _usable_data(cfg, vocab, train_utts, dev_utts, dev_waves, log)
    cfg.model.num_outputs = len(vocab)
    cfg.model.input_size = cfg.features.n_mels
    train_set, dev_set = _datasets(cfg, vocab, train_utts, train_waves, dev_utts, dev_waves, log)
    model_config = cfg.model_dir_config({w for u in train_utts for w in u.text.split()})

    _seed_everything(tc.seed)
    rec = Recognizer(model_config, vocab, start_state)
    rec.set_decoding()  # dev evaluation (and best-model choice) with greedy decoding: fast and comparable
    rec.to(device)
    opt = torch.optim.AdamW(rec.model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)
    durations = [train_set.duration(i) for i in range(len(train_set))]
    steps_per_epoch = len(shard(bucket_batches(durations, tc.batch_seconds, False, max_batch=tc.max_batch), dist))
    total = steps_per_epoch * tc.epochs
    run = _Run(cfg, run_dir, device, rec, model_config, vocab, train_set, durations, dev_utts,
               [dev_set.wave(i) for i in range(len(dev_set))], opt, total, max(1, int(tc.warmup * total)),
               dist=dist, net=dist.wrap(rec.model))
    start_epoch, elapsed = _restore(run, last, log) if last is not None else (1, 0.0)
    log(f"training on {device}" + (f" and {dist.world_size - 1} more process(es)" if dist.active else "")
        + f" ({sum(durations) / 3600:.2f} h of audio per epoch, {rec.model.num_parameters():,} parameters)")
    run.t_start = time.time() - elapsed
    return run, start_epoch


def _run_directory(run_dir: Path, resume: bool) -> tuple[Path, Path | None]:
    """The run directory, made -> (it, the checkpoint to resume or None). A run is never
    overwritten: without ``resume`` the directory must hold none."""
    last = latest_checkpoint(run_dir)
    if last is not None and not resume:
        raise ConfigError(f"{run_dir}: a run already exists there; use --resume to continue it or another --out")
    if resume and last is None:
        raise ConfigError(f"{run_dir}: nothing to resume (no complete checkpoint in {run_dir / 'last'})")
    run_dir.mkdir(parents=True, exist_ok=True)
    return run_dir, last




def _read_data(tc: TrainConfig, progress: bool, log) -> tuple[list, list, list, list]:
    """The training and dev utterances (their metadata, from every manifest shard) and their
    audio: the training audio up to train.audio_cache_gb (past it each file is only checked, and
    read when used), the dev audio all. An unreadable file under on_bad_line: skip is reported
    and left out -> (train utts, train waves or None, dev utts, dev waves)."""
    def utterances(entries: list, what: str) -> list:
        utts = []
        for m in manifest_shards(entries, what):
            man = read_manifest(m, on_error=tc.on_bad_line, extra=False)
            if man.skipped:
                log(f"{m}: skipped {len(man.skipped)} bad line(s); first: {man.skipped[0]}")
            utts += man.utterances
        return utts
    train_utts = utterances(tc.manifests, "train.manifests")
    dev_utts = utterances([tc.dev] if tc.dev else [], "train.dev")
    budget = tc.audio_cache_gb * 2**30
    train_utts, train_waves = load_waves(train_utts, tc.on_bad_line, progress, log, max_bytes=budget)
    held = sum(w is not None for w in train_waves)
    if held < len(train_waves):
        log(f"audio of {held} of {len(train_waves)} training utterances held in memory (train.audio_cache_gb: "
            f"{tc.audio_cache_gb}); the rest is read from disk each time it is used")
    dev_utts, dev_waves = load_waves(dev_utts, tc.on_bad_line, progress, log)
    if not train_utts:
        raise ConfigError(f"{', '.join(map(str, tc.manifests))}: no training utterance with readable audio")
    return train_utts, train_waves, dev_utts, dev_waves


def _vocabulary(cfg: RunConfig, last: Path | None, train_utts: list, dev_utts: list,
                force: bool, log) -> tuple[Vocabulary, dict | None]:
    """The output units and the weights to start from: the checkpoint's being resumed (``last``),
    the model's of train.init (its vocabulary extended with train.extend_vocab), or a new vocabulary
    of the training texts and no weights. Resuming or starting from a model sets the config's front
    end and model to the saved ones."""
    tc = cfg.train
    if last is not None:
        saved, vocab_path, state = load_model_files(last)
        check_resumable(cfg, saved.get("training") or {}, force, last)
        cfg.features = FeatureConfig.from_dict(saved["features"])  # the statistics it was trained with
        cfg.model = ModelConfig.from_dict(saved["model"])
        return Vocabulary.load(vocab_path), state
    if tc.init:
        init_dir = resolve_model(tc.init)
        saved, vocab_path, state = load_model_files(init_dir)
        vocab = Vocabulary.load(vocab_path)
        cfg.features, cfg.model = init_configs(cfg, saved)
        log(f"starting from {init_dir}: its front end, model shape and vocabulary")
        new = sorted({ch for u in train_utts for ch in vocab.unknown(u.text)}) if tc.extend_vocab else []
        if new:
            vocab, state = _extend_vocabulary(vocab, state, new, tc.seed)
            log(f"output units added to {tc.init}'s vocabulary: {''.join(new)!r}")
        return vocab, state
    vocab = Vocabulary.from_texts((u.text for u in train_utts), kind=tc.units)
    vocab.prepare({w for u in train_utts + dev_utts for w in u.text.split()})
    return vocab, None


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


def _usable_data(cfg: RunConfig, vocab: Vocabulary, train_utts: list, dev_utts: list,
                 dev_waves: list, log) -> tuple[list, list]:
    """Refuse training transcripts a model started from (train.init) cannot output; leave out the
    dev utterances with units the vocabulary lacks -> (dev utts, dev waves)."""
    tc = cfg.train
    usable = lambda u: not vocab.unknown(u.text)  # noqa: E731
    if tc.init and not all(usable(u) for u in train_utts):
        bad = next(u for u in train_utts if not usable(u))
        raise ConfigError(f"{bad.audio}: transcript {bad.text!r} uses units the model {tc.init} cannot output "
                          "(train.extend_vocab: true adds them)")
    kept = [(u, w) for u, w in zip(dev_utts, dev_waves) if usable(u)]
    if len(kept) < len(dev_utts):
        log(f"{tc.dev}: {len(dev_utts) - len(kept)} dev utterance(s) use units unseen in training; left out")
    return [u for u, _ in kept], [w for _, w in kept]


def _datasets(cfg: RunConfig, vocab: Vocabulary, train_utts: list, train_waves: list,
              dev_utts: list, dev_waves: list, log) -> tuple[AudioDataset, AudioDataset]:
    """The training set (augmented) and the dev set; the global feature statistics when the front
    end needs them and has none yet."""
    tc = cfg.train
    target = lambda u: vocab.encode(u.text)  # noqa: E731
    train_set = AudioDataset(train_utts, target, WaveAugmenter(cfg.augment), seed=tc.seed, waves=train_waves,
                             cache_bytes=tc.audio_cache_gb * 2**30)
    dev_set = AudioDataset(dev_utts, target, waves=dev_waves)
    if cfg.features.normalize == "global" and cfg.features.global_mean is None:
        _set_global_stats(cfg.features, train_set, tc.stats_utterances, tc.seed)
        log(f"global feature statistics from {min(len(train_set), tc.stats_utterances)} training utterances")
    return train_set, dev_set


def _set_global_stats(fc: FeatureConfig, data: AudioDataset, n: int, seed: int) -> None:
    """Per-bin mean/std of the (level-normalised) log-mel of up to ``n`` training utterances."""
    fbank = FilterBank(fc)
    pick = np.random.default_rng(seed).permutation(len(data))[:n]
    waves = [torch.from_numpy(data.wave(int(i))) for i in pick]
    fc.global_mean, fc.global_std = global_stats([fbank.raw(w[None], torch.tensor([len(w)]))[0][0] for w in waves])


def _restore(run: _Run, last: Path, log) -> tuple[int, float]:
    """The trainer state of the checkpoint ``last`` into ``run`` -> (first epoch, seconds trained)."""
    info = load_trainer_state(last, run.opt)
    run.step, run.unfit, run.skipped_steps = info["step"], info.get("unfit", 0), info.get("skipped_steps", 0)
    run.best, run.bad_epochs, run.history = info["best"], info["bad_epochs"], info["history"]
    log(f"resuming {run.run_dir} after epoch {info['epoch']} (best dev wer {run.best:.4f})")
    saved_world = info.get("world_size", 1)
    if saved_world != run.dist.world_size:  # another number of processes: another number of steps per epoch
        run.step = info["epoch"] * (run.total_steps // run.cfg.train.epochs)
        log(f"the run was trained by {saved_world} process(es), now {run.dist.world_size}: continuing with "
            f"epoch {info['epoch'] + 1} at step {run.step} of {run.total_steps} of the new schedule")
    return info["epoch"] + 1, info["elapsed"]


def _train_epoch(run: _Run, epoch: int, bar) -> float:
    """One pass over the training set -> its mean loss. Seeded per epoch, so a resumed run
    continues exactly as an uninterrupted one. In a distributed run each process takes its share
    of the epoch's batches (the same order on every rank), with its own augmentation and dropout
    draws (rank 0's are a single process's), and the loss is averaged over all."""
    cfg, tc, model, device = run.cfg, run.cfg.train, run.rec.model, run.device
    seed = tc.seed * 1000 + epoch
    own = seed + 1_000_003 * run.dist.rank  # this rank's random draws
    _seed_everything(own)
    rng = np.random.default_rng(own)
    run.train_set.rng = np.random.default_rng(own)
    gen = torch.Generator().manual_seed(own)
    ctc = torch.nn.CTCLoss(blank=0, zero_infinity=True)
    amp = device.type == "cuda" and tc.amp
    run.net.train()
    losses, unfit_before = [], run.unfit
    shuffle = not (tc.sortagrad and epoch == 1)
    batches = shard(bucket_batches(run.durations, tc.batch_seconds, shuffle, seed=seed, max_batch=tc.max_batch),
                    run.dist)
    for batch, (waves, lengths, targets) in zip(batches, _batch_loader(run.train_set, batches, tc.workers, own)):
        warps = draw_warps(len(batch), cfg.augment, rng)
        feats, flen = run.rec.fbank(waves.to(device), lengths.to(device), warps)
        feats = spec_augment(feats, flen, cfg.augment, gen)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            out, olen = run.net(feats, flen.clamp(min=1))
        out = out.float()
        tgt = torch.tensor([t for seq in targets for t in seq], device=device)
        tlen = torch.tensor([len(seq) for seq in targets], device=device)
        loss = ctc(out.transpose(0, 1), tgt, olen, tlen)
        run.unfit += sum(int(n) < ctc_frames_needed(seq) for n, seq in zip(olen.tolist(), targets))
        for g in run.opt.param_groups:
            g["lr"] = run.lr_at(run.step)
        run.opt.zero_grad(set_to_none=True)
        run.step += 1
        bar.update(1)
        if not run.dist.all_true(bool(torch.isfinite(loss))):  # all ranks skip together
            run.skipped_steps += 1
            continue
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), tc.clip)  # of the averaged gradients
        if not torch.isfinite(norm):  # never apply a NaN/inf update
            run.skipped_steps += 1
            continue
        run.opt.step()
        losses.append(loss.item())
        run.seconds_done += sum(run.durations[i] for i in batch)
        if tc.max_minutes and run.step == 50 and epoch == 1:
            run.fit_budget(bar.write)
        bar.set_postfix(epoch=epoch, loss=f"{np.mean(losses[-20:]):.3f}",
                        dev=f"{run.history[-1]['wer']:.3f}" if run.history and run.dev_utts else "-")
    if not run.dist.active:
        return float(np.mean(losses)) if losses else float("nan")
    total, n, unfit = run.dist.sum([float(np.sum(losses)), len(losses), run.unfit - unfit_before])
    run.unfit = unfit_before + int(unfit)
    return total / n if n else float("nan")


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def ctc_frames_needed(target: list[int]) -> int:
    """The fewest output frames CTC can spell ``target`` in: one per unit, plus a blank between
    repeated units. With fewer, its loss is infinite (training zeroes it and counts it)."""
    return len(target) + sum(a == b for a, b in zip(target, target[1:]))


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
        row["wer"] = 0.0
        return row
    hyps = _dev_transcripts(run)
    refs = [run.vocab.reference(u.text) for u in run.dev_utts]
    row.update(wer=round(wer(refs, hyps), 5), cer=round(cer(refs, hyps), 5),
               sent_acc=round(sentence_accuracy(refs, hyps), 5))
    return row


def _dev_transcripts(run: _Run) -> list[str]:
    """The dev set's transcripts. In a distributed run each rank decodes every world_size-th
    utterance, and every rank gets all of them."""
    d = run.dist
    if not d.active:
        return run.rec.transcribe_waves(run.dev_waves)
    hyps: list = [None] * len(run.dev_waves)
    for r, part in enumerate(d.gather(run.rec.transcribe_waves(run.dev_waves[d.rank::d.world_size]))):
        hyps[r::d.world_size] = part
    return hyps


def _checkpoint(run: _Run, row: dict) -> bool:
    """Record the row, keep the best model, write the resumable ``last/`` -> whether dev improved.
    Every rank of a distributed run keeps the same record; rank 0 alone writes the files."""
    run.history.append(row)
    keep = row["wer"] <= run.best  # on a tie the later, longer-trained model is kept
    improved = row["wer"] < run.best
    if improved:
        run.best, run.bad_epochs = row["wer"], 0
    elif run.best < 1.0 and run.dev_utts:  # patience: only with a dev set, once off CTC's all-blank plateau
        run.bad_epochs += 1
    if not run.dist.main:
        return improved
    write_curves(run.run_dir, run.history)
    state = run.rec.model.state_dict()  # the model's own, never a DDP wrapper's: any process loads it
    if keep:
        save_model(run.run_dir / "best", run.model_config, run.vocab, state,
                   model_card(run.cfg, run.history, row))
    ckpt = run.run_dir / f"ckpt-{row['epoch']}"
    shutil.rmtree(ckpt, ignore_errors=True)
    save_model(ckpt, run.model_config, run.vocab, state)
    save_trainer_state(ckpt, run.opt, {"epoch": row["epoch"], "step": run.step, "best": run.best,
                                       "bad_epochs": run.bad_epochs, "history": run.history,
                                       "elapsed": time.time() - run.t_start,
                                       "unfit": run.unfit, "skipped_steps": run.skipped_steps,
                                       "world_size": run.dist.world_size})
    point_last_at(run.run_dir, ckpt)
    return improved
