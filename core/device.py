"""Which device to run on, and bf16 autocast where it is on."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

import torch


def pick_device(preference: str = "auto", local_rank: int = 0) -> torch.device:
    """``auto``: cuda > mps > cpu. Explicit names are checked, with a one-line error."""
    if preference == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", local_rank % torch.cuda.device_count())
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(preference)
    except RuntimeError:
        raise ValueError(f"device '{preference}' is not a device name (try auto, cpu, cuda, mps)") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError("device=cuda asked for but no CUDA GPU is available (use device=auto)")
        if device.index is None:
            device = torch.device("cuda", local_rank % torch.cuda.device_count())
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError("device=mps asked for but MPS is not available (use device=auto)")
    return device


def cpu_bf16_supported() -> bool:
    """Whether this CPU runs oneDNN's bf16 convolutions (AVX512-BF16, AMX or AVX-NE-CONVERT);
    elsewhere they stop with a RuntimeError."""
    check = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    return bool(check()) if check is not None else False


def autocast_dtype(device: torch.device, amp: bool, cpu_amp: bool) -> torch.dtype | None:
    """bf16 where mixed precision is on for this device (CUDA: ``amp``; CPU: ``amp`` and
    ``cpu_amp``, on a CPU with bf16 convolutions), else None (plain fp32)."""
    if amp and device.type == "cuda":
        return torch.bfloat16
    if amp and device.type == "cpu" and cpu_amp and cpu_bf16_supported():
        return torch.bfloat16
    return None


def autocast(device: torch.device, dtype: torch.dtype | None) -> AbstractContextManager:
    """``torch.autocast`` to ``dtype`` on ``device``; nothing when ``dtype`` is None."""
    return nullcontext() if dtype is None else torch.autocast(device.type, dtype=dtype)
