"""One prepared GPU check (``benchmarks/gpu_check.sh`` runs it; at most 8 minutes on a GPU).

    python3 benchmarks/gpu_check.py [--quick] [--out FILE]

On a CUDA machine, in one run:

1. inference, the two networks (segmenter + generator, the default architectures) at 512 px:
   images/s for batch 1 / 8 / 32 in fp32 and bf16, with and without ``torch.compile``, and
   the peak memory of each; and the whole pipeline (``MaskReconstructor``, faces=none) at
   batch 8 in bf16;
2. one training step of each stage (bf16 autocast, channels_last: the CUDA defaults) in
   images/s, with its peak memory;
3. a 1-process DDP smoke run under torchrun (NCCL): ``train.py segm`` for 4 steps, then
   ``--resume`` to 8, checking the resumed run reached 8.

Writes a Markdown table (printed, and to ``results/gpu_check.md``) and the numbers as JSON.
Without a GPU, or with ``--quick``, it runs a CPU-sized dry run of the same code (64 px,
batch 1 / 2, no compile, gloo) in about a minute, and says so: it keeps the script working
between the times a GPU is at hand.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import cli

cli.use_project_venv()

import torch

from benchmarks.measure import PeakMemory, best_seconds
from benchmarks.speed import default_models, measure_training, sample_images, write_triplets
from core.device import autocast, cpu_bf16_supported
from inference.pipeline import MaskReconstructor
from inference.settings import ReconstructorSettings
from models.fusion import fuse_for_inference


def network_rate(device: torch.device, size: int, batch: int, bf16: bool, compile_: bool,
                 repeats: int) -> dict[str, float]:
    """Images/s of segmenter + generator forward passes on the device, and the peak memory."""
    segmenter, generator = (fuse_for_inference(m, device, channels_last=True) for m in default_models())
    if compile_:
        segmenter, generator = torch.compile(segmenter), torch.compile(generator)
    x = torch.rand(batch, 3, size, size, device=device).contiguous(memory_format=torch.channels_last)
    dtype = torch.bfloat16 if bf16 else None

    def once():
        with torch.inference_mode(), autocast(device, dtype):
            mask = (torch.sigmoid(segmenter(x).float()) > 0.5).float()
            generator(x, mask, None)

    with PeakMemory(device) as peak:
        once()  # warm-up: kernel choice, compilation
        once()
    seconds = best_seconds(once, repeats, device)
    return {"images/s": batch / seconds, "peak MB": peak.mb}


def pipeline_rate(device: torch.device, size: int, batch: int, repeats: int) -> dict[str, float]:
    segmenter, generator = default_models()
    rec = MaskReconstructor(segmenter, generator, ReconstructorSettings(size, device=device, amp=True))
    images, _ = sample_images(size, batch)
    with PeakMemory(device) as peak:
        rec(images)
    seconds = best_seconds(lambda: rec(images), repeats, device)
    return {"images/s": batch / seconds, "peak MB": peak.mb}


def ddp_smoke(work: Path, size: int, on_cuda: bool) -> dict[str, object]:
    """``train.py segm`` under torchrun (1 process) for 4 steps, then resumed to 8."""
    root = work / "ddp_data"
    write_triplets(root, 4, size)
    base = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "1",
            str(REPO / "train.py"), "segm", f"root_dir={root}", f"img_size={size}", "batch_size=2",
            "num_workers=0", "train_anns=none", "val_anns=none", f"checkpoint_path={work / 'ddp_w'}",
            f"sample_folder={work / 'ddp_s'}", "num_epochs=100", f"device={'cuda' if on_cuda else 'cpu'}"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    start = time.perf_counter()
    first = subprocess.run([*base, "max_iters=4"], capture_output=True, text=True, env=env, timeout=300)
    if first.returncode != 0:
        return {"ok": False, "detail": (first.stderr or first.stdout).strip().splitlines()[-1:]}
    ckpt = sorted((work / "ddp_w").rglob("model_segm_*_4.pth"))
    if not ckpt:
        return {"ok": False, "detail": "no checkpoint at iteration 4"}
    second = subprocess.run([*base, "max_iters=8", "--resume", str(ckpt[-1])], capture_output=True,
                            text=True, env=env, timeout=300)
    resumed = sorted((work / "ddp_w").rglob("model_segm_*_8.pth"))
    said = re.search(r"done: (\d+) iterations", second.stdout + second.stderr)
    ok = second.returncode == 0 and bool(resumed)
    return {"ok": ok, "backend": "nccl" if on_cuda else "gloo", "seconds": time.perf_counter() - start,
            "detail": said.group(0) if said else (second.stderr.strip().splitlines() or [""])[-1]}


def table(results: dict) -> str:
    r = results
    lines = [f"GPU check on {r['device']} (torch {r['torch']}, {r['date']})"
             + (": **dry run on the CPU (--quick)**, not GPU numbers" if r["quick"] else ""), "",
             f"| measure ({r['size']} px) | images/s | peak MB |", "|---|---:|---:|"]
    for key, v in r["inference"].items():
        lines.append(f"| inference, networks: {key} | {v['images/s']:.1f} | {v['peak MB']:.0f} |")
    p = r["pipeline"]
    lines.append(f"| inference, whole pipeline: {p['label']} | {p['images/s']:.1f} | {p['peak MB']:.0f} |")
    for kind, v in r["training"].items():
        lines.append(f"| training step, {kind} (batch {r['train_batch']}, {r['train_precision']}, "
                     f"channels_last) | {1 / v['seconds']:.1f} | {v['peak MB']:.0f} |")
    d = r["ddp"]
    lines += ["", f"DDP smoke run (1 process, {d.get('backend', '?')}, train 4 steps, resume to 8): "
              f"{'ok' if d['ok'] else 'FAILED'} ({d.get('detail', '')})"]
    if r["skipped"]:
        lines.append(f"Not run: {r['skipped']}.")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="the CPU-sized dry run (the default without a GPU)")
    parser.add_argument("--out", type=Path, help="JSON file (default: results/gpu_check.json)")
    args = parser.parse_args()
    on_cuda = torch.cuda.is_available()
    quick = args.quick or not on_cuda
    if not on_cuda:
        print("no CUDA device here: running the CPU-sized dry run (--quick); these are not GPU numbers")
    device = torch.device("cuda" if on_cuda and not args.quick else "cpu")
    size, batches, repeats = (64, (1, 2), 2) if quick else (512, (1, 8, 32), 10)
    compiles = (False,) if quick else (False, True)
    train_batch = 2 if quick else 8
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else (platform.processor() or
                                                                             platform.machine()) + " CPU"
    results: dict = {"device": name, "torch": torch.__version__, "date": time.strftime("%Y-%m-%d"),
                     "quick": quick, "size": size, "train_batch": train_batch,
                     "train_precision": "bf16" if device.type == "cuda" else "fp32",
                     "skipped": "torch.compile (the dry run skips it: minutes of compiling on a CPU)"
                     if quick else "", "inference": {}, "training": {}}
    start = time.perf_counter()
    for compile_ in compiles:
        for bf16 in (False, True) if device.type == "cuda" or cpu_bf16_supported() else (False,):
            for batch in batches:
                key = f"batch {batch}, {'bf16' if bf16 else 'fp32'}{', compile' if compile_ else ''}"
                results["inference"][key] = network_rate(device, size, batch, bf16, compile_, repeats)
                print(f"{key}: {results['inference'][key]['images/s']:.1f} images/s", flush=True)
    pipe_batch = batches[-1] if quick else 8
    results["pipeline"] = {**pipeline_rate(device, size, pipe_batch, repeats),
                           "label": f"batch {pipe_batch}, {'bf16' if device.type == 'cuda' else 'fp32'}"}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        write_triplets(work / "data", train_batch, size)
        for kind in ("segm", "facemask"):
            results["training"][kind] = measure_training(kind, size, train_batch, repeats, device, work)
            print(f"training {kind}: {1 / results['training'][kind]['seconds']:.1f} images/s", flush=True)
        results["ddp"] = ddp_smoke(work, size, device.type == "cuda")
    results["seconds"] = time.perf_counter() - start
    text = table(results)
    print("\n" + text)
    out = args.out or REPO / "results" / "gpu_check.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1) + "\n")
    out.with_suffix(".md").write_text(text + "\n")
    print(f"\nwrote {out} and {out.with_suffix('.md')} ({results['seconds']:.0f} s)")
    return 0 if results["ddp"]["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
