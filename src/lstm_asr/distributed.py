"""Data-parallel training over several processes, as ``torchrun`` launches them (one process per
GPU with NCCL, or several CPU processes with gloo); see docs/training.md for the launch commands.

Launched by ``torchrun`` (its environment: ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, and the
rendezvous in ``MASTER_ADDR``/``MASTER_PORT``), :func:`init_distributed` joins the process group;
otherwise, or with a world of one process, everything here is a no-op and training runs as a
single process. Each process (a *rank*) holds the whole model; :func:`shard` gives it its own
share of every epoch's batches; DistributedDataParallel averages the gradients, so the replicas
take identical steps (:meth:`Dist.check_replicas` verifies it every epoch). Rank 0 writes the run
directory; the others only train.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from datetime import timedelta

import torch
import torch.distributed as td

from .errors import ConfigError
from .model import resolve_device

# how long a rank waits for the others at a collective (loading a large corpus before the first one
# may take long; a rank that fails is reported by torchrun, which stops the others at once)
TIMEOUT = timedelta(minutes=60)


@dataclass
class Dist:
    """This process's place in the job: rank ``rank`` of ``world_size``; ``device`` is where it
    trains (``cuda:LOCAL_RANK`` on GPUs). With ``world_size == 1`` every method is a no-op."""
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def main(self) -> bool:
        """Rank 0: the process that writes checkpoints, curves and logs."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        """The module to run the training forward pass through: ``model`` in DistributedDataParallel
        (which averages gradients in backward), or ``model`` itself in a single process. Checkpoints
        are always taken from ``model``, never from the wrapper."""
        if not self.active:
            return model
        ids = [self.device.index] if self.device.type == "cuda" else None
        return torch.nn.parallel.DistributedDataParallel(model, device_ids=ids,
                                                         output_device=self.device if ids else None)

    def _comm_device(self) -> torch.device:
        return self.device if self.device.type == "cuda" else torch.device("cpu")

    def sum(self, values: list[float]) -> list[float]:
        """Each value summed over the ranks."""
        if not self.active:
            return list(values)
        t = torch.tensor(values, dtype=torch.float64, device=self._comm_device())
        td.all_reduce(t)
        return t.tolist()

    def all_true(self, flag: bool) -> bool:
        """Whether ``flag`` holds on every rank (so that all ranks take the same branch)."""
        return self.sum([0.0 if flag else 1.0])[0] == 0.0 if self.active else flag

    def from_main(self, value):
        """Rank 0's ``value`` on every rank (a picklable object): a decision that depends on the
        clock, taken once."""
        if not self.active:
            return value
        box = [value]
        td.broadcast_object_list(box, src=0, device=self._comm_device())
        return box[0]

    def gather(self, value) -> list:
        """Every rank's ``value`` (a picklable object), in rank order, on every rank."""
        if not self.active:
            return [value]
        out = [None] * self.world_size
        td.all_gather_object(out, value)
        return out

    def barrier(self) -> None:
        if self.active:
            td.barrier()

    def check_replicas(self, model: torch.nn.Module) -> str:
        """The digest of ``model``'s weights, the same on every rank; raises RuntimeError naming
        the ranks' digests when the replicas have drifted apart (they must never)."""
        mine = state_digest(model.state_dict())
        digests = self.gather(mine)
        if len(set(digests)) > 1:
            raise RuntimeError("data-parallel replicas differ: "
                               + ", ".join(f"rank {r} {d[:12]}" for r, d in enumerate(digests)))
        return mine

    def close(self) -> None:
        if self.active and td.is_initialized():
            td.destroy_process_group()


def state_digest(state: dict) -> str:
    """SHA-256 of a state dict's tensors (names sorted; values as float32/int bytes on the CPU): equal
    digests, equal weights. Also what a saved ``model.safetensors`` gives when loaded."""
    h = hashlib.sha256()
    for name in sorted(state):
        t = state[name].detach().cpu().contiguous()
        h.update(name.encode())
        h.update(str(t.dtype).encode() + str(tuple(t.shape)).encode())
        h.update(t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.float().numpy().tobytes())
    return h.hexdigest()


def launched() -> bool:
    """Whether this process was started by torchrun (or another launcher setting its variables)."""
    return all(k in os.environ for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK"))


def init_distributed(device_name: str) -> Dist:
    """This process's :class:`Dist`, joining the process group when torchrun launched more than one:
    gloo when training on the CPU, NCCL on CUDA (each process on GPU ``LOCAL_RANK``). A config
    device of ``cuda:N`` is refused in a distributed run (the local rank picks the GPU)."""
    device = resolve_device(device_name)
    if not launched() or int(os.environ["WORLD_SIZE"]) <= 1:
        return Dist(device=device)
    try:
        rank, world, local = (int(os.environ[k]) for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK"))
    except ValueError:
        raise ConfigError("RANK, WORLD_SIZE and LOCAL_RANK must be integers (as torchrun sets them)") from None
    if device.type == "cuda":
        if device.index is not None:
            raise ConfigError(f"device {device_name!r}: under torchrun each process takes GPU LOCAL_RANK; "
                              "give --device cuda (or auto), and choose GPUs with CUDA_VISIBLE_DEVICES")
        if local >= torch.cuda.device_count():
            raise ConfigError(f"LOCAL_RANK {local}: only {torch.cuda.device_count()} CUDA device(s) on this node "
                              "(--nproc_per_node at most the GPUs per node)")
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    if not td.is_initialized():
        td.init_process_group("nccl" if device.type == "cuda" else "gloo", timeout=TIMEOUT)
    return Dist(rank, world, local, device)


def shard(batches: list, dist: Dist) -> list:
    """Rank ``dist.rank``'s share of an epoch's batches (already shuffled the same way on every
    rank): every ``world_size``-th batch, the list first padded by repeating its first batches so
    that every rank gets the same number (a rank with fewer would leave the others waiting)."""
    if not dist.active:
        return batches
    pad = -len(batches) % dist.world_size
    padded = [batches[k % len(batches)] for k in range(len(batches) + pad)]
    return padded[dist.rank::dist.world_size]
