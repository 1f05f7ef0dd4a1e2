"""Multi-process (torchrun / DDP) plumbing: the process group, barriers, shared decisions."""

from __future__ import annotations

import atexit
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class DistContext:
    """This process's place in a torchrun job (rank 0 of 1 when run plainly)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def init_distributed(device_preference: str) -> DistContext:
    """Join the process group torchrun set up (``nccl`` on GPU, ``gloo`` on CPU), if any."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistContext()
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        use_cuda = torch.cuda.is_available() and device_preference in ("auto", "cuda") or \
            device_preference.startswith("cuda")
        if use_cuda:
            torch.cuda.set_device(local % torch.cuda.device_count())
        # Rank 0 alone validates and writes samples and checkpoints while the others wait in
        # their next collective: allow that an hour (NCCL's default is 10 minutes).
        dist.init_process_group("nccl" if use_cuda else "gloo", timeout=timedelta(hours=1))
        # Leave the group cleanly at exit: a process that ends with it alive can abort
        # ("terminate called without an active exception") while a peer is still saving.
        atexit.register(close_distributed)
    return DistContext(rank, world, local)


def close_distributed() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def barrier(ctx: DistContext) -> None:
    """Wait here until every rank arrives (nothing to do in a single process)."""
    if ctx.enabled:
        dist.barrier()


def any_rank(flag: bool, ctx: DistContext, device: torch.device) -> bool:
    """True on every rank if ``flag`` is true on any (so all ranks stop together)."""
    if not ctx.enabled:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def broadcast_buffers(models: Iterable[nn.Module], ctx: DistContext) -> None:
    """Copy rank 0's buffers (BatchNorm running statistics) to every rank."""
    if not ctx.enabled:
        return
    with torch.no_grad():
        for model in models:
            for buffer in model.buffers():
                dist.broadcast(buffer, src=0)


def broadcast_object(value, ctx: DistContext):
    """Rank 0's ``value`` on every rank (a picklable object such as a folder name)."""
    if not ctx.enabled:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def wrap_for_training(model: nn.Module, ctx: DistContext, device: torch.device) -> nn.Module:
    """``model`` inside ``DistributedDataParallel`` under torchrun (gradients averaged over the
    ranks), else ``model`` itself."""
    if not ctx.enabled:
        return model
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
