"""The light rows of the speed suite: ``arch: light`` against the default models, per face.

Each pair of models (segmenter + generator, random weights: speed does not depend on the
values) runs in the same pipeline three ways: torch fp32 (the fast path), onnxruntime on the
exported fp32 ONNX files, and onnxruntime on their int8 QDQ copies (calibrated on a few
astronaut crops: the ranges do not change the speed). The default pair runs both networks at
the face's side; the light pair runs its segmenter at half of it (``configs/segm_light.yaml``:
128 for a 256 px face). Params are the torch modules'; GFLOPs are counted on the exported ONNX
graphs (``modelfiles.onnx_cost``; the int8 graphs hold the same convolutions). Run by
``benchmarks/speed.py`` (``--light`` for these rows alone).
"""

from __future__ import annotations

from pathlib import Path

import torch

from configs import load_config
from inference.pipeline import MaskReconstructor
from inference.settings import ReconstructorSettings
from modelfiles.export import write_onnx
from modelfiles.load import LoadedModel
from modelfiles.onnx import OnnxNetwork
from modelfiles.onnx_cost import onnx_gflops
from modelfiles.quantize import calibration_feeds, calibration_samples, quantize
from models import Generator, MaskSegmenter
from stages import RECONSTRUCTION, SEGMENTATION

RUNTIMES = ("torch fp32", "onnxruntime fp32", "onnxruntime int8")


def model_pairs() -> dict[str, tuple[MaskSegmenter, Generator, int]]:
    """Per name: segmenter, generator, and the segmenter's side as a divisor of the face's."""
    segm, recon = load_config("segm"), load_config("facemask")
    light_segm, light_recon = load_config("segm_light"), load_config("facemask_light")
    torch.manual_seed(0)
    return {"default": (MaskSegmenter(segm.base_channels, segm.depth, segm.arch).eval(),
                        Generator(recon.base_channels, recon.depth, recon.arch).eval(), 1),
            "light": (MaskSegmenter(light_segm.base_channels, light_segm.depth, "light").eval(),
                      Generator(light_recon.base_channels, light_recon.depth, "light").eval(),
                      light_recon.img_size // light_segm.img_size)}


def onnx_files(name: str, segmenter: MaskSegmenter, generator: Generator, sides: tuple[int, int],
               calibration: Path, work: Path) -> dict[str, tuple[Path, Path]]:
    """``{"fp32": (segm, gen), "int8": (segm, gen)}`` ONNX files of one pair at ``sides``
    (segmenter, generator)."""
    samples = calibration_samples(calibration, 8)
    files: dict[str, list[Path]] = {"fp32": [], "int8": []}
    for stage, model, side in ((SEGMENTATION, segmenter, sides[0]), (RECONSTRUCTION, generator, sides[1])):
        fp32, int8 = (work / f"{name}_{stage.name}_{side}{suffix}.onnx" for suffix in ("", ".int8"))
        write_onnx(fp32, LoadedModel(model, fp32, None, side), stage, side)
        inputs = ["image"] if stage is SEGMENTATION else ["image", "mask"]
        quantize(fp32, int8, calibration_feeds(samples, side, inputs))
        files["fp32"].append(fp32)
        files["int8"].append(int8)
    return {k: (v[0], v[1]) for k, v in files.items()}


def light_pipelines(size: int, calibration: Path, work: Path) -> tuple[dict[str, MaskReconstructor], dict]:
    """The six pipelines at face side ``size`` ("default, torch fp32", ...) and, per pair, its
    params and ONNX GFLOPs (segmenter, generator)."""
    pipelines: dict[str, MaskReconstructor] = {}
    costs: dict[str, dict] = {}
    threads = torch.get_num_threads()
    for name, (segmenter, generator, divisor) in model_pairs().items():
        sides = (size // divisor, size)
        files = onnx_files(name, segmenter, generator, sides, calibration, work)
        settings = ReconstructorSettings(size, segm_size=sides[0])
        pipelines[f"{name}, torch fp32"] = MaskReconstructor(segmenter, generator, settings)
        for precision in ("fp32", "int8"):
            networks = [OnnxNetwork(path, threads) for path in files[precision]]
            pipelines[f"{name}, onnxruntime {precision}"] = MaskReconstructor(*networks, settings)
        params = [sum(p.numel() for p in m.parameters()) / 1e6 for m in (segmenter, generator)]
        costs[name] = {"segm side": sides[0], "params M": params,
                       "GFLOPs": [onnx_gflops(path) for path in files["fp32"]]}
    return pipelines, costs


SPLITS = {"people": "new people", "block": "other stretch of the recording"}


def quality_columns(quality: dict | None) -> dict[str, dict[str, dict]]:
    """``{recipe: {split: scores}}`` from the quality benchmark's JSON (``benchmarks/quality.py
    --recipes default,light``), or {} without one."""
    out: dict[str, dict[str, dict]] = {}
    for row in (quality or {}).get("results", {}).values():
        if row["split"] in SPLITS:
            out.setdefault(row["recipe"], {})[row["split"]] = row
    return out


def report_light(results: dict) -> list[str]:
    """The table of ``results["light"]`` (``{size: {"costs": ..., "times": ...}}``), with the
    quality benchmark's scores of each pair where ``results["quality"]`` holds them."""
    quality = quality_columns(results.get("quality"))
    splits = [k for k in SPLITS if any(k in q for q in quality.values())]
    lines = ["", "**Light models** (`arch: light`, configs `segm_light` + `facemask_light`, against the "
             "default configs' models; batch 1, per face; the light segmenter runs at half the face's "
             "side; GFLOPs counted on the exported ONNX graphs; the six pipelines take turns)", "",
             "| size | models | runtime | params (M) | GFLOPs | segmentation (ms) | generator (ms) "
             "| end to end (ms) | faces/s | time / default torch |"
             + "".join(f" {SPLITS[k]}: in-mask PSNR / SSIM, end to end | {SPLITS[k]}: Dice |"
                       for k in splits),
             "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|" + "---:|---:|" * len(splits)]
    for size, r in results["light"].items():
        base = r["times"]["default, torch fp32"]["end to end"]
        for key, t in r["times"].items():
            name, runtime = key.split(", ")
            cost = r["costs"][name]
            scores = ""
            for split in splits:
                q = quality.get(name, {}).get(split)
                # quality was measured at 256 px with torch; fp32 onnxruntime runs the same arithmetic
                shown = q is not None and int(size) == 256 and "fp32" in runtime
                scores += (f" {q['e2e_psnr']:.2f} / {q['e2e_ssim']:.3f} | {q['dice']:.3f} |" if shown
                           else " - | - |")
            lines.append(f"| {size} | {name} (segmenter at {cost['segm side']}) | {runtime} | "
                         f"{sum(cost['params M']):.2f} | {sum(cost['GFLOPs']):.1f} | "
                         f"{1000 * t['segmentation']:.1f} | {1000 * t['generator']:.1f} | "
                         f"{1000 * t['end to end']:.1f} | {1 / t['end to end']:.1f} | "
                         f"{t['end to end'] / base:.2f} |" + scores)
    return lines
