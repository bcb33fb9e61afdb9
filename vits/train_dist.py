"""Process-group plumbing for multi-GPU / multi-machine training with torch.distributed.

Three ways to run:
  * one process (no process group);
  * torchrun (or any launcher that sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT):
    every process calls the worker once; works across machines;
  * single-node spawn: torch.multiprocessing starts one process per GPU (or per CPU worker
    for tests) and they meet at MASTER_ADDR:port.
Backend: nccl on CUDA, gloo on CPU.
"""
import contextlib
import datetime
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self):
        return self.rank == 0

    @property
    def distributed(self):
        return self.world_size > 1


def launched_by_torchrun():
    return all(k in os.environ for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK"))


def worker_device(device_name, local_rank):
    """cuda:<local_rank> when training on CUDA with several processes, else the chosen device."""
    device = torch.device(device_name)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", local_rank)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    return device


def init_process_group(rank, world_size, local_rank, device_name, master_addr, master_port, cuda_backend="nccl",
                       init_method=None):
    """Join the group (when world_size > 1) and return this process's DistInfo.

    init_method defaults to tcp://master_addr:master_port (spawn); torchrun workers pass "env://"
    to join the store torchrun already runs on MASTER_PORT."""
    device = worker_device(device_name, local_rank)
    if world_size > 1:
        backend = cuda_backend if device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend, init_method=init_method or f"tcp://{master_addr}:{int(master_port)}",
                                rank=rank, world_size=world_size, timeout=datetime.timedelta(minutes=30))
    return DistInfo(rank=rank, world_size=world_size, local_rank=local_rank, device=device)


def torchrun_info():
    """(rank, world_size, local_rank, master_addr, master_port) from the torchrun environment."""
    return (int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ["LOCAL_RANK"]),
            os.environ.get("MASTER_ADDR", "127.0.0.1"), int(os.environ.get("MASTER_PORT", "29500")))


def cleanup():
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def any_rank(flag, info):
    """True on every rank when `flag` is True on at least one (a no-op without a group)."""
    if not info.distributed:
        return bool(flag)
    device = info.device if dist.get_backend() == "nccl" else torch.device("cpu")
    value = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item() > 0)


def barrier(info):
    if info.distributed:
        dist.barrier()


def no_sync_unless(model, sync):
    """DDP's no_sync() for gradient-accumulation micro-batches; a null context otherwise."""
    if not sync and hasattr(model, "no_sync"):
        return model.no_sync()
    return contextlib.nullcontext()
