"""The speed suite: inference, the published topology, classical inpainting, training steps.

    python3 benchmarks/speed.py [--quick] [--device auto|cpu|cuda] [--threads N] [--out FILE]
                                [--backends-only | --light [--quality JSON]]

In one run on one machine, per image (run by hand; prints Markdown tables, writes JSON to
``results/``):

- our inference at 256 and 512 px, by stage (segmentation, post-processing = mask
  cleaning + paste-back, generator) and end to end, for several batch sizes; peak memory;
  the generator's achieved GFLOP/s against the machine's measured matmul GFLOP/s;
- what the fast path gives: the same models run plainly (BatchNorm layers, NCHW: the
  pipeline without the fast path) and with bf16 autocast (``cpu_amp``, an option on the CPU);
- the published topology (``arch: flat``: every level at full resolution), generator and
  segmenter, measured at 128 and 256 px and extrapolated to 512 by FLOPs (it costs 7.8
  TFLOPs per 512 generator pass; ``--flat-512`` measures it there too), and the published
  per-pixel threshold loop at 512;
- OpenCV Telea and Navier-Stokes and scikit-image biharmonic inpainting on the same images
  and masks;
- one training step per image: segmentation, and facemask with both discriminators and the
  VGG19 perceptual net (random weights here: the same cost as the ImageNet ones);
- on the CPU, the two backends of the same pipeline: torch against onnxruntime running the
  exported ONNX networks (``backend=onnxruntime``), same images, at 256 and 512 px
  (``--backends-only`` measures just this);
- on the CPU, ``arch: light`` against the default models, each with torch fp32, onnxruntime
  fp32 and onnxruntime int8, batch 1: params, GFLOPs counted on the ONNX graphs, ms per face,
  faces per second (``benchmarks/light_speed.py``; ``--light`` measures just this; ``--quality``
  adds the quality benchmark's held-out scores of both pairs to its table).

Models have the default architectures of ``configs/segm.yaml`` and ``configs/facemask.yaml``
with random weights (the speed does not depend on the values). Every time is the fastest
of several runs after a warm-up (the least disturbed on a shared machine), and every ratio
is between numbers of the same run. ``--quick`` measures fewer batch sizes, repeats and
training sizes (under 10 minutes on a 2-core CPU). The run ends with the line
``speed-up vs published topology at 512: NNx`` (ours end to end vs the published pipeline).
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import cli

cli.use_project_venv()

import cv2
import numpy as np
import torch

from benchmarks.baselines import classical_inpainters, published_threshold_loop
from benchmarks.light_speed import light_pipelines, report_light
from benchmarks.measure import (
    PeakMemory,
    best_seconds,
    count_gflops,
    load_average,
    matmul_gflops,
)
from configs import load_config
from core.device import pick_device
from core.images import write_image
from datasets.base import collate_skip_broken
from inference.morphology import binarize, clean_mask
from inference.pipeline import MaskReconstructor
from inference.settings import ReconstructorSettings
from inference.timing import StageTimer
from losses import PerceptualLoss
from models import Generator, MaskSegmenter, PerceptualNet
from trainers import TRAINERS

TARGET = 512  # the size the headline numbers are for


@dataclass
class Plan:
    """What one run measures."""

    sizes: list[int] = field(default_factory=lambda: [256, 512])
    batches: list[int] = field(default_factory=lambda: [1, 2, 4, 8])
    repeats: int = 5
    flat_sizes: list[int] = field(default_factory=lambda: [128, 256])
    flat_repeats: int = 2
    train_sizes: list[int] = field(default_factory=lambda: [256, 512])
    train_batch: int = 2
    train_repeats: int = 3
    backend_batch: int = 4
    light_sizes: list[int] = field(default_factory=lambda: [256, 512])


QUICK = Plan(batches=[1, 4], repeats=3, flat_repeats=1, train_sizes=[256], train_repeats=2, light_sizes=[256])


# --- inputs ----------------------------------------------------------------------------------

def sample_images(size: int, count: int) -> tuple[list[np.ndarray], np.ndarray]:
    """``count`` masked faces ``(size,size,3)`` uint8 (the public-domain astronaut with a
    mask-blue region painted over the lower face, shifted a little each) and that region
    ``(size,size)`` bool (21% of the image)."""
    from skimage import data

    base = cv2.resize(data.astronaut()[30:250, 140:330], (size, size), interpolation=cv2.INTER_AREA)
    mask = np.zeros((size, size), bool)
    mask[int(size * 0.55):int(size * 0.9), int(size * 0.2):int(size * 0.8)] = True
    base[mask] = (120, 170, 230)
    return [np.roll(base, 3 * i, axis=1) for i in range(count)], mask


def default_models(arch: str = "unet") -> tuple[MaskSegmenter, Generator]:
    """The segmenter and generator of the default configs, in topology ``arch``."""
    segm, recon = load_config("segm"), load_config("facemask")
    torch.manual_seed(0)
    return (MaskSegmenter(segm.base_channels, segm.depth, arch).eval(),
            Generator(recon.base_channels, recon.depth, arch).eval())


def gflops(model: torch.nn.Module, size: int) -> float:
    """GFLOPs of one ``size`` x ``size`` forward pass of a segmenter or generator."""
    spec = {k: v for k, v in model.spec.items() if k != "kind"}
    if isinstance(model, Generator):
        return count_gflops(lambda: Generator(**spec), [(1, 3, size, size), (1, 1, size, size)])
    return count_gflops(lambda: MaskSegmenter(**spec), [(1, 3, size, size)])


# --- our pipeline ----------------------------------------------------------------------------

def reconstructor(size: int, device: torch.device, fast: bool = True,
                  cpu_amp: bool = False) -> MaskReconstructor:
    """Our pipeline with the default models. ``fast``: the default path (BatchNorm folded,
    Conv+ReLU fused, channels_last); off: the models as they are, NCHW (no fast path)."""
    segmenter, generator = default_models()
    return MaskReconstructor(segmenter, generator, ReconstructorSettings(
        size, device=device, cpu_amp=cpu_amp, fuse=fast, channels_last=fast))


def measure_pipelines(pipelines: dict[str, MaskReconstructor], batch: int, repeats: int,
                      device: torch.device) -> dict[str, dict[str, float]]:
    """Per pipeline: seconds per image by stage and end to end, and the peak memory of a run.

    The pipelines take turns, one call each per round (so a burst of load from other jobs
    hits them alike); each stage's time is its fastest over the rounds (the pipeline's own
    stage timer), end to end is the fastest call.
    """
    size = next(iter(pipelines.values())).img_size
    images, _ = sample_images(size, batch)
    best: dict[str, dict[str, float]] = {name: {} for name in pipelines}
    memory: dict[str, float] = {}
    with torch.inference_mode():
        for name, rec in pipelines.items():
            with PeakMemory(device) as peak:
                rec(images)  # warm-up: allocations, oneDNN / cuDNN kernel choice
            memory[name] = peak.mb
        for _ in range(max(1, repeats)):
            for name, rec in pipelines.items():
                rec.timer = StageTimer(device)
                rec(images)
                for stage, seconds in {**rec.timer.seconds, "end to end": rec.timer.total}.items():
                    best[name][stage] = min(best[name].get(stage, math.inf), seconds)
    results = {}
    for name, rec in pipelines.items():
        # The pipeline's "segmentation" stage includes the mask cleaning: time that apart.
        with torch.inference_mode():  # a segmenter at its own side: its map resized, as the pipeline does
            prob = rec.probabilities(rec.prepare(images, rec.segm_size))
            prob = torch.nn.functional.interpolate(prob, size=(rec.img_size, rec.img_size), mode="bilinear")
            morphology = rec.settings.morphology()
            cleaning = best_seconds(lambda p=prob, m=morphology: clean_mask(p, **m), repeats, device)
        b = best[name]
        stages = {"prepare": b["prepare"], "segmentation": b["segmentation"] - cleaning,
                  "post-processing": cleaning + b["paste"], "generator": b["generator"],
                  "end to end": b["end to end"]}
        results[name] = {**{k: v / batch for k, v in stages.items()}, "peak MB": memory[name]}
    return results


# --- the published topology ------------------------------------------------------------------

def measure_flat(size: int, repeats: int, device: torch.device) -> dict[str, float]:
    """Seconds for one image through the flat generator and the flat segmenter (batch 1),
    with the same fast path as ours (so the difference is the topology, not the tricks)."""
    segmenter, generator = default_models("flat")
    rec = MaskReconstructor(segmenter, generator, ReconstructorSettings(size, device=device))
    images, mask = sample_images(size, 1)
    with torch.inference_mode():
        x = rec.prepare(images)
        m = torch.from_numpy(mask).float()[None, None].to(device)
        rec.generate(x, m)
        rec.probabilities(x)
        return {"generator": best_seconds(lambda: rec.generate(x, m), repeats, device),
                "segmentation": best_seconds(lambda: rec.probabilities(x), repeats, device)}


def measure_thresholds(size: int, device: torch.device) -> dict[str, float]:
    """Seconds to threshold one ``size`` probability map: the published per-pixel Python
    loop, and ours (one vectorised comparison) on the same map."""
    prob = torch.rand(1, 1, size, size, generator=torch.Generator().manual_seed(0))
    looped = published_threshold_loop(prob)
    assert torch.equal(looped, binarize(prob, 0.5)), "the two thresholdings disagree"
    cpu = torch.device("cpu")
    return {"published loop": best_seconds(lambda: published_threshold_loop(prob), 1, cpu),
            "vectorised": best_seconds(lambda: binarize(prob, 0.5), 50, cpu)}


# --- finding faces ---------------------------------------------------------------------------

def measure_faces(repeats: int) -> dict[str, float]:
    """Seconds to find the faces of one frame (one masked face, a third of the frame high),
    per frame size: searched (``faces=auto``), and followed between searches on a video
    (``detect_every`` 3: two frames in three cost only the tracking)."""
    from demos.scenes import Placement, background, masked_astronaut, scene
    from faces.track import FaceFinder

    face = masked_astronaut(256)["masked"]
    out = {}
    for width, height in ((1280, 720), (1920, 1080)):
        frame = scene({"m": face}, Placement(width // 3, height // 3, height // 3),
                      background(0, (width, height)))["m"]
        finder = FaceFinder("auto")
        finder.regions(frame)  # warm-up: load the detectors
        out[f"{width}x{height}"] = best_seconds(lambda f=frame, d=finder: d.regions(f), repeats,
                                                torch.device("cpu"))
        video = FaceFinder("auto", detect_every=3)
        video.follow_video()
        start = time.perf_counter()
        for _ in range(3 * max(1, repeats)):
            video.regions(frame)
        out[f"{width}x{height} video"] = (time.perf_counter() - start) / (3 * max(1, repeats))
    return out


# --- classical inpainting --------------------------------------------------------------------

def measure_classical(size: int, repeats: int) -> dict[str, float]:
    images, mask = sample_images(size, 1)
    out = {}
    for name, inpaint in classical_inpainters().items():
        inpaint(images[0], mask)
        out[name] = best_seconds(lambda f=inpaint: f(images[0], mask), repeats, torch.device("cpu"))
    return out


# --- training --------------------------------------------------------------------------------

def write_triplets(root: Path, count: int, size: int) -> None:
    """A training root (the published triplet layout) of ``count`` astronaut triplets."""
    images, mask = sample_images(size, count)
    from skimage import data

    clean = cv2.resize(data.astronaut()[30:250, 140:330], (size, size), interpolation=cv2.INTER_AREA)
    for i, masked in enumerate(images):
        write_image(root / "image" / f"face{i}.png", np.roll(clean, 3 * i, axis=1))
        write_image(root / "image_masked" / f"face{i}_masked.png", masked)
        binary = np.roll(mask, 3 * i, axis=1).astype(np.uint8) * 255
        write_image(root / "image_binary" / f"face{i}_binary.png", binary)


def measure_loading(size: int, root: Path, repeats: int) -> dict[str, float]:
    """Seconds to load one training triplet (decode 3 PNGs, resize), from disk and from the
    ``cache_images`` cache."""
    from datasets.reconstruction import ReconstructionDataset

    cpu = torch.device("cpu")
    plain = ReconstructionDataset(root, size)
    cached = ReconstructionDataset(root, size, cache_images=True)
    cached.preload()
    n = len(plain)
    return {"from disk": best_seconds(lambda: [plain[i] for i in range(n)], repeats, cpu) / n,
            "cached": best_seconds(lambda: [cached[i] for i in range(n)], repeats, cpu) / n}


def measure_training(kind: str, size: int, batch: int, repeats: int, device: torch.device,
                     work: Path) -> dict[str, float]:
    """Seconds per image of one optimisation step of ``kind`` ("segm" or "facemask", the
    latter with D, D2 and a VGG19 perceptual net), and the peak memory of the steps."""
    base = load_config(kind)
    cfg = base.replace(root_dir=str(work / "data"), train_anns=None, val_anns=None, val_dir=None,
                       img_size=size, batch_size=batch, device=str(device), num_workers=0,
                       checkpoint_path=str(work / "weights"), sample_folder=str(work / "samples"),
                       perceptual="none")
    trainer = TRAINERS[kind](cfg)
    if kind == "facemask":
        trainer.perceptual = PerceptualLoss(PerceptualNet().to(trainer.device))
    items = collate_skip_broken([trainer.train_set[i % len(trainer.train_set)] for i in range(batch)])
    trainer.train_step(items)  # warm-up
    seconds = best_seconds(lambda: trainer.train_step(items), repeats, device)
    with PeakMemory(device) as memory:
        trainer.train_step(items)
    return {"seconds": seconds / batch, "peak MB": memory.mb}


def measure_backends(size: int, batch: int, repeats: int, work: Path) -> dict[str, dict[str, float]]:
    """End to end per image: the pipeline with torch, and with the same networks exported to
    ONNX and run by onnxruntime (the two take turns, as in ``measure_pipelines``)."""
    from modelfiles.export import write_onnx
    from modelfiles.load import LoadedModel
    from modelfiles.onnx import OnnxNetwork
    from stages import RECONSTRUCTION, SEGMENTATION

    segmenter, generator = default_models()
    files = []
    for stage, model in ((SEGMENTATION, segmenter), (RECONSTRUCTION, generator)):
        path = work / f"{stage.name}_{size}.onnx"
        write_onnx(path, LoadedModel(model, path, None, size), stage, size)
        files.append(OnnxNetwork(path, torch.get_num_threads()))
    pipelines = {"torch": reconstructor(size, torch.device("cpu")),
                 "onnxruntime": MaskReconstructor(*files, ReconstructorSettings(size))}
    return measure_pipelines(pipelines, batch, repeats, torch.device("cpu"))


# --- the run ---------------------------------------------------------------------------------

def run_backends(plan: Plan, device: torch.device, log=print) -> dict:
    """The torch / onnxruntime comparison alone (``--backends-only``)."""
    results: dict = {"plan": asdict(plan), "device": describe(device), "load_average": [load_average()],
                     "backends": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for size in plan.sizes:
            results["backends"][size] = measure_backends(size, plan.backend_batch, plan.repeats, Path(tmp))
            r = results["backends"][size]
            log(f"backends {size} px: torch {1000 * r['torch']['end to end']:.0f} ms, onnxruntime "
                f"{1000 * r['onnxruntime']['end to end']:.0f} ms per image")
    results["load_average"].append(load_average())
    return results


def run_light(plan: Plan, device: torch.device, log=print) -> dict:
    """``arch: light`` against the default models, torch / onnxruntime fp32 / int8 (``--light``)."""
    results: dict = {"plan": asdict(plan), "device": describe(device), "load_average": [load_average()],
                     "light": {}}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        write_triplets(work / "data", 8, TARGET)  # calibration crops for the int8 files
        for size in plan.light_sizes:
            pipelines, costs = light_pipelines(size, work / "data", work)
            times = measure_pipelines(pipelines, 1, plan.repeats, torch.device("cpu"))
            results["light"][size] = {"costs": costs, "times": times}
            log(f"light {size} px: " + ", ".join(f"{k} {1000 * v['end to end']:.0f} ms"
                                                 for k, v in times.items()))
    results["load_average"].append(load_average())
    return results


def run(plan: Plan, device: torch.device, log=print) -> dict:
    """Measure everything in ``plan``; returns all the numbers (what the JSON holds)."""
    results: dict = {"plan": asdict(plan), "device": describe(device), "load_average": [load_average()]}
    matmul_dtype = torch.bfloat16 if device.type == "cuda" else torch.float32  # what the models run in
    results["matmul GFLOP/s"] = [matmul_gflops(device, matmul_dtype)]
    log(f"matmul ({str(matmul_dtype).removeprefix('torch.')}): {results['matmul GFLOP/s'][0]:,.0f} GFLOP/s")
    segmenter, generator = default_models()
    flat_segmenter, flat_generator = default_models("flat")
    results["GFLOPs"] = {
        "ours": {s: {"segmentation": gflops(segmenter, s), "generator": gflops(generator, s)}
                 for s in plan.sizes},
        "flat": {s: {"segmentation": gflops(flat_segmenter, s), "generator": gflops(flat_generator, s)}
                 for s in sorted({*plan.flat_sizes, TARGET})},
    }

    results["ours"] = {}
    for size in plan.sizes:
        for batch in plan.batches:
            r = measure_pipelines({"ours": reconstructor(size, device)}, batch, plan.repeats, device)["ours"]
            results["ours"][f"{size}/{batch}"] = r
            log(f"ours {size} px batch {batch}: end to end {1000 * r['end to end']:.0f} ms/image")
    best_batch = {size: min(plan.batches, key=lambda b: results["ours"][f"{size}/{b}"]["end to end"])
                  for size in plan.sizes}
    results["best batch"] = best_batch

    b = best_batch[TARGET]
    variants = {"default (fast path)": reconstructor(TARGET, device),
                "plain (BatchNorm, NCHW; no fast path)": reconstructor(TARGET, device, fast=False)}
    if device.type == "cpu":
        variants["bf16 autocast (cpu_amp=true)"] = reconstructor(TARGET, device, cpu_amp=True)
        results["bf16 matmul GFLOP/s"] = matmul_gflops(device, torch.bfloat16)
    results["variants"] = measure_pipelines(variants, b, plan.repeats, device)
    log("variants: " + ", ".join(f"{k} {1000 * v['end to end']:.0f} ms"
                                 for k, v in results["variants"].items()))

    # The machine's limit again between sections: on a shared machine the best of several
    # measurements is the least disturbed one.
    results["matmul GFLOP/s"].append(matmul_gflops(device, matmul_dtype))
    results["flat"] = {}
    for size in plan.flat_sizes:
        results["flat"][size] = measure_flat(size, plan.flat_repeats, device)
        log(f"flat {size} px: generator {results['flat'][size]['generator']:.2f} s")
    results["threshold 512 s"] = measure_thresholds(TARGET, device)

    results["classical"] = {size: measure_classical(size, plan.repeats) for size in plan.sizes}
    results["faces"] = measure_faces(plan.repeats)

    results["training"] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        write_triplets(work / "data", plan.train_batch, TARGET)  # 512 px files, like CelebA-HQ
        for size in plan.train_sizes:
            results["training"][f"loading/{size}"] = measure_loading(size, work / "data", plan.repeats)
            for kind in ("segm", "facemask"):
                r = measure_training(kind, size, plan.train_batch, plan.train_repeats, device, work)
                results["training"][f"{kind}/{size}"] = r
                log(f"training {kind} {size} px: {r['seconds']:.2f} s/image")

    if device.type == "cpu":
        results["backends"] = run_backends(plan, device, log)["backends"]
        results["light"] = run_light(plan, device, log)["light"]
    results["matmul GFLOP/s"].append(matmul_gflops(device, matmul_dtype))
    results["load_average"].append(load_average())
    results["summary"] = summarise(results, plan)
    return results


def describe(device: torch.device) -> dict:
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else (
        platform.processor() or platform.machine())
    return {"type": device.type, "name": name, "threads": torch.get_num_threads(),
            "torch": torch.__version__, "python": platform.python_version()}


def flat_at(results: dict, model: str) -> float:
    """Seconds per image of a flat model at TARGET: measured there, or extrapolated by FLOPs
    from the largest measured size (its cost grows exactly with the pixel count)."""
    measured = results["flat"]
    if TARGET in measured:
        return measured[TARGET][model]
    size = max(measured)
    flops = results["GFLOPs"]["flat"]
    return measured[size][model] * flops[TARGET][model] / flops[size][model]


def summarise(results: dict, plan: Plan) -> dict[str, float]:
    b = results["best batch"][TARGET]
    ours = results["ours"][f"{TARGET}/{b}"]
    matmul = max(results["matmul GFLOP/s"])
    gen_gflops = results["GFLOPs"]["ours"][TARGET]["generator"]
    published_generator = flat_at(results, "generator")
    published_pipeline = (flat_at(results, "segmentation") + results["threshold 512 s"]["published loop"]
                          + published_generator)
    return {
        "best batch": b,
        "ours end to end s": ours["end to end"],
        "generator GFLOP/s": gen_gflops / ours["generator"],
        "matmul GFLOP/s": matmul,
        "generator % of matmul": 100 * gen_gflops / ours["generator"] / matmul,
        "published generator s": published_generator,
        "published pipeline s": published_pipeline,
        "vs published generator": published_generator / ours["end to end"],
        # Less sensitive to load than its measured time: its FLOPs at the matmul rate.
        "published generator at matmul rate s": results["GFLOPs"]["flat"][TARGET]["generator"] / matmul,
        "vs published pipeline": published_pipeline / ours["end to end"],
        "ours / Telea": ours["end to end"] / results["classical"][TARGET]["OpenCV Telea"],
    }


# --- the report ------------------------------------------------------------------------------

def ms(seconds: float) -> str:
    return f"{1000 * seconds:,.1f}" if seconds < 10 else f"{1000 * seconds:,.0f}"


def report_backends(results: dict) -> list[str]:
    lines = ["", f"**Backends** (the same pipeline and images, batch {results['plan']['backend_batch']}, "
             "default models; torch with its fast path, onnxruntime on the exported ONNX networks, "
             "CPU, the same thread count)", "",
             "| size | torch end to end (ms) | onnxruntime end to end (ms) | onnxruntime / torch time |",
             "|---:|---:|---:|---:|"]
    for size, r in results["backends"].items():
        t, o = r["torch"]["end to end"], r["onnxruntime"]["end to end"]
        lines.append(f"| {size} | {ms(t)} | {ms(o)} | {o / t:.2f} |")
    return lines


def report(results: dict) -> str:
    if "summary" not in results:  # --backends-only, --light
        d = results["device"]
        loads = ", ".join("?" if v is None else f"{v:.2f}" for v in results["load_average"])
        return "\n".join([f"{d['name']} ({d['type']}), {d['threads']} torch threads, torch {d['torch']}; "
                          f"1-minute load average at start, end: {loads}",
                          *(report_backends(results) if "backends" in results else report_light(results))])
    plan, device, summary = results["plan"], results["device"], results["summary"]
    matmul = summary["matmul GFLOP/s"]
    loads = ", ".join("?" if v is None else f"{v:.2f}" for v in results["load_average"])
    lines = [f"{device['name']} ({device['type']}), {device['threads']} torch threads, "
             f"torch {device['torch']}; "
             f"1-minute load average at start, end: {loads}; matmul {matmul:,.0f} GFLOP/s (best of "
             f"{', '.join(f'{v:,.0f}' for v in results['matmul GFLOP/s'])} through the run); "
             f"run took {results.get('wall seconds', float('nan')) / 60:.1f} min", ""]

    lines += ["**Inference, ours** (per image; post-processing = mask threshold, erosion, dilation "
              "and paste-back; peak = process memory during the first run)", "",
              "| size | batch | segmentation (ms) | post-processing (ms) | generator (ms) | end to end (ms) "
              "| images/s | peak memory (MB) | generator GFLOP/s | % of matmul |",
              "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for key, r in results["ours"].items():
        size, batch = (int(v) for v in key.split("/"))
        rate = results["GFLOPs"]["ours"][size]["generator"] / r["generator"]
        best = " (best)" if results["best batch"][size] == batch else ""
        lines.append(f"| {size} | {batch}{best} | {ms(r['segmentation'])} | {ms(r['post-processing'])} | "
                     f"{ms(r['generator'])} | {ms(r['end to end'])} | {1 / r['end to end']:.2f} | "
                     f"{r['peak MB']:,.0f} | {rate:.0f} | {100 * rate / matmul:.0f}% |")

    b = summary["best batch"]
    lines += ["", f"**What the fast path gives** ({TARGET} px, batch {b}; the three take turns, "
              "a separate measurement from the table above)", "",
              "| variant | generator (ms) | end to end (ms) | speed-up | generator GFLOP/s |",
              "|---|---:|---:|---:|---:|"]
    plain = results["variants"]["plain (BatchNorm, NCHW; no fast path)"]["end to end"]
    for name, r in results["variants"].items():
        rate = results["GFLOPs"]["ours"][TARGET]["generator"] / r["generator"]
        lines.append(f"| {name} | {ms(r['generator'])} | {ms(r['end to end'])} | "
                     f"{plain / r['end to end']:.2f}x | {rate:.0f} |")
    if "bf16 matmul GFLOP/s" in results:
        lines.append(f"\n(bf16 matmul on this machine: {results['bf16 matmul GFLOP/s']:,.0f} GFLOP/s)")

    flat_sizes = sorted(int(s) for s in results["flat"])
    measured = TARGET in flat_sizes
    shown = [s for s in flat_sizes if s != TARGET]
    how = "measured" if measured else f"extrapolated from {max(flat_sizes)} px by FLOPs"
    lines += ["", "**Published topology** (`arch: flat`, batch 1, same fast path as ours; "
              f"{TARGET} px {how})", "",
              "| model | " + " | ".join(f"{s} px (s)" for s in shown)
              + f" | {TARGET} px (s) | GFLOPs at {TARGET} |",
              "|---|" + "---:|" * (len(shown) + 2)]
    for model in ("generator", "segmentation"):
        lines.append(f"| flat {model} | " + " | ".join(f"{results['flat'][s][model]:.2f}" for s in shown)
                     + f" | {flat_at(results, model):.1f}{'' if measured else ' (extrapolated)'} | "
                     f"{results['GFLOPs']['flat'][TARGET][model]:,.0f} |")
    flat_sizes = shown
    blank = " | ".join("" for _ in flat_sizes)
    thresholds = results["threshold 512 s"]
    lines.append(f"| per-pixel threshold loop (measured at {TARGET}) | {blank} | "
                 f"{thresholds['published loop']:.2f} | |")
    lines.append(f"| **published pipeline** (the three above) | {blank} | "
                 f"**{summary['published pipeline s']:.1f}** | |")

    lines.append(f"\nOur vectorised threshold of the same {TARGET} px map: "
                 f"{1e6 * thresholds['vectorised']:,.0f} us "
                 f"({thresholds['published loop'] / thresholds['vectorised']:,.0f}x faster than the loop).")

    sizes = plan["sizes"]
    lines += ["", "**Classical inpainting** (per image, same images and masks: 21% of the image; "
              "ours = end to end at the best batch, segmentation included)", "",
              "| method | " + " | ".join(f"{s} px (ms)" for s in sizes) + " |",
              "|---|" + "---:|" * len(sizes)]
    for name in next(iter(results["classical"].values())):
        lines.append(f"| {name} | " + " | ".join(ms(results["classical"][s][name]) for s in sizes) + " |")
    lines.append("| ours | " + " | ".join(
        ms(results["ours"][f"{s}/{results['best batch'][s]}"]["end to end"]) for s in sizes) + " |")

    faces = results["faces"]
    lines += ["", "**Finding faces** (`faces=auto`, one masked face a third of the frame high; a video "
              "searches every 3rd frame and follows the faces in between)", "",
              "| frame | photo (ms) | video, per frame (ms) | / ours end to end at "
              + " / ".join(f"{s} px" for s in sizes) + " |", "|---|---:|---:|---:|"]
    ours_at = {s: results["ours"][f"{s}/{results['best batch'][s]}"]["end to end"] for s in sizes}
    for frame in ("1280x720", "1920x1080"):
        ratios = " / ".join(f"{faces[frame] / ours_at[s]:.2f}" for s in sizes)
        lines.append(f"| {frame} | {ms(faces[frame])} | {ms(faces[frame + ' video'])} | {ratios} |")

    lines += ["", f"**Training step** (per image, batch {plan['train_batch']}; facemask: G, D, D2 and "
              "the VGG19 perceptual net, random weights)", "",
              "| stage | size | s per image | peak memory (MB) |", "|---|---:|---:|---:|"]
    for key, r in results["training"].items():
        kind, size = key.split("/")
        if kind == "loading":
            lines.append(f"| loading one example ({TARGET} px PNGs): from disk {ms(r['from disk'])} ms, "
                         f"cached (`cache_images`) {ms(r['cached'])} ms | {size} | | |")
        else:
            lines.append(f"| {kind} | {size} | {r['seconds']:.2f} | {r['peak MB']:,.0f} |")

    if "backends" in results:
        lines += report_backends(results)
    if "light" in results:
        lines += report_light(results)

    ours_gflops = results["GFLOPs"]["ours"][TARGET]["generator"]
    flat_gflops = results["GFLOPs"]["flat"][TARGET]["generator"]
    lines += ["",
              f"FLOPs per {TARGET} px image: our generator {ours_gflops:,.0f} GFLOPs, the published "
              f"topology's {flat_gflops:,.0f} ({flat_gflops / ours_gflops:.0f}x more)",
              f"our generator at {TARGET}: {summary['generator GFLOP/s']:.0f} GFLOP/s = "
              f"{summary['generator % of matmul']:.0f}% of the measured matmul ({matmul:,.0f} GFLOP/s)",
              f"ours end to end at {TARGET}: {ms(summary['ours end to end s'])} ms/image; vs the published "
              f"generator alone ({summary['published generator s']:.1f} s): "
              f"{summary['vs published generator']:.0f}x faster",
              f"even run at the measured matmul rate the published generator would take "
              f"{summary['published generator at matmul rate s']:.1f} s per {TARGET} px image: "
              f"{summary['published generator at matmul rate s'] / summary['ours end to end s']:.0f}x "
              "our end to end",
              f"ours end to end / OpenCV Telea at {TARGET}: {summary['ours / Telea']:.0f}",
              f"speed-up vs published topology at {TARGET}: {summary['vs published pipeline']:.0f}x"]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer batch sizes, repeats and training sizes")
    parser.add_argument("--device", default="auto", help="auto (cuda > mps > cpu), cpu, cuda")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--out", type=Path, help="JSON file (default: results/speed_{device}_{time}.json)")
    parser.add_argument("--flat-512", action="store_true",
                        help="also time the published topology at 512 px (about a minute and "
                             "several GB on a CPU) instead of extrapolating it by FLOPs")
    parser.add_argument("--backends-only", action="store_true",
                        help="only torch vs onnxruntime, at 256 and 512 px (CPU)")
    parser.add_argument("--light", action="store_true",
                        help="only arch light vs the default models: torch, onnxruntime fp32 and int8 (CPU)")
    parser.add_argument("--quality", type=Path, metavar="JSON",
                        help="the quality benchmark's JSON (benchmarks/quality.py --recipes default,light): "
                             "its held-out scores of both pairs join the light table")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    plan = QUICK if args.quick else Plan()
    if args.flat_512:
        plan = replace(plan, flat_sizes=[*plan.flat_sizes, TARGET])
    started = time.time()
    log = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    if args.backends_only or args.light:
        results = (run_backends if args.backends_only else run_light)(plan, torch.device("cpu"), log)
    else:
        results = run(plan, device, log)
    results["wall seconds"] = time.time() - started
    if args.quality:
        results["quality"] = json.loads(args.quality.read_text())
    out = args.out or ROOT / "results" / f"speed_{device.type}_{time.strftime('%Y%m%d_%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1, default=str))
    print(f"numbers in {out}", file=sys.stderr, flush=True)
    print(report(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
