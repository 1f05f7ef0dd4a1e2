"""int8 against fp32: one exported pair of models through both ONNX files, on faces they never saw.

    python3 benchmarks/int8_parity.py EXPORTED [--faces ROOT]

EXPORTED: a folder written by ``export.py --onnx --int8 --calibrate ...``. ROOT: a triplet root
whose ``annotations/val.csv`` names the faces (default: the CelebA fixture's validation split,
people no model here trained on). Each face goes through the fp32 and the int8 files: the
segmenter's probabilities (at its own side), the mask cleaned from the fp32 ones, the generator
on that mask (at its side), and the whole pipeline (faces found and cut, as by default) at the
photo's resolution with the int8 files.
Prints, over the faces: the mask probability's mean absolute difference (mean and worst face),
the share of mask pixels (p > 0.5) that agree, the painted face's mean absolute difference
inside the mask (worst face) and its largest one (0-1 scale), and the pixels outside the mask
found that the int8 pipeline changed (must be 0); where ROOT has clean faces, each pipeline's
PSNR inside the true mask against them, end to end.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import cli

cli.use_project_venv()

import numpy as np
import torch
import torch.nn.functional as F

from configs import Config
from core.images import load_image, load_mask
from datasets.layout import read_annotations
from demos.baseline import in_mask_scores
from inference.loading import load_pipeline
from inference.morphology import clean_mask

CELEBA = REPO.parent / "shared" / "fixtures" / "celeba30"


def parity(folder: Path, images: list[np.ndarray], truths: list[tuple[np.ndarray, np.ndarray]] | None = None,
           faces: str = "none") -> dict[str, float]:
    """fp32 against int8 ONNX files of ``folder`` on ``images`` (``(H,W,3)`` uint8), as above;
    with ``truths`` (per image: the clean face and the true ``(H,W)`` bool mask) also each
    pipeline's in-mask PSNR against the clean face. ``faces``: how the whole pipelines find the
    regions (the models' own comparison is on the whole images)."""
    def pipeline(precision: str):
        cfg = Config.from_dict({"task": "predict", "device": "cpu", "faces": faces,
                                "segm_weights": str(folder), "recon_weights": str(folder),
                                "backend": "onnxruntime", "onnx_precision": precision})
        return load_pipeline(cfg).reconstructor

    fp32, int8 = pipeline("fp32"), pipeline("int8")
    with torch.inference_mode():
        x_segm, x = fp32.prepare(images, fp32.segm_size), fp32.prepare(images, fp32.img_size)
        p32, p8 = fp32.probabilities(x_segm), int8.probabilities(x_segm)
        mask = clean_mask(F.interpolate(p32, size=fp32.img_size, mode="bilinear", align_corners=False),
                          **fp32.settings.morphology())
        g32, g8 = fp32.generate(x, mask), int8.generate(x, mask)
        results, float_results = int8(images), fp32(images)
    inside = mask.expand_as(g32).bool()
    painted = [float((a - b).abs()[m].mean()) for a, b, m in zip(g32, g8, inside) if m.any()]
    probability = (p32 - p8).abs().flatten(1).mean(1)
    return {
        "faces": len(images),
        "probability_mean": float(probability.mean()), "probability_worst": float(probability.max()),
        "mask_agreement": float(((p32 > 0.5) == (p8 > 0.5)).float().mean()),
        "painted_mean_worst": max(painted, default=0.0),
        "painted_max": float((g32 - g8).abs()[inside].max()) if inside.any() else 0.0,
        "painted_spread": min((float(a[m].std()) for a, m in zip(g32, inside) if m.any()), default=0.0),
        "changed_outside": int(sum((r.image[~r.mask] != im[~r.mask]).any(axis=-1).sum()
                                   for r, im in zip(results, images))),
        "masks_found": sum(bool(r.mask.any()) for r in results),
        **({} if truths is None else {
            f"psnr_{name}": float(np.mean([in_mask_scores(r.image, clean, m)[0]
                                           for r, (clean, m) in zip(rs, truths)]))
            for name, rs in (("fp32", float_results), ("int8", results))}),
    }


def clean_face(root: Path, sample) -> Path | None:
    """The clean face of ``sample``: its ``image`` (the published layout), or where the CelebA
    fixture keeps them (``celeba512_30k/NAME.jpg``); None when neither is there."""
    if sample.image is not None:
        return sample.image
    fixture = root / "celeba512_30k" / f"{sample.name}.jpg"
    return fixture if fixture.is_file() else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("exported", type=Path, help="a folder written by export.py --onnx --int8")
    parser.add_argument("--faces", type=Path, default=CELEBA, help="a triplet root with annotations/val.csv")
    args = parser.parse_args(argv)
    names = args.faces / "annotations" / "val.csv"
    if not names.is_file():
        print(f"error: {names} not found (pass --faces ROOT)", file=sys.stderr)
        return 2
    samples = read_annotations(names, args.faces)
    images = [load_image(s.masked) for s in samples]
    cleans = [clean_face(args.faces, s) for s in samples]
    truths = [(load_image(c), load_mask(s.mask)) for c, s in zip(cleans, samples)] if all(cleans) else None
    scores = parity(args.exported, images, truths, faces="auto")
    print("| faces | probability: mean / worst face | masks agree | painted in mask: worst face mean / max "
          "| pixels changed outside the mask | PSNR in the true mask, end to end: fp32 / int8 (dB) |")
    print("|---:|---:|---:|---:|---:|---:|")
    psnrs = f"{scores['psnr_fp32']:.2f} / {scores['psnr_int8']:.2f}" if truths else "-"
    print(f"| {scores['faces']} | {scores['probability_mean']:.4f} / {scores['probability_worst']:.4f} | "
          f"{100 * scores['mask_agreement']:.1f}% | {scores['painted_mean_worst']:.4f} / "
          f"{scores['painted_max']:.4f} | {scores['changed_outside']} | {psnrs} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
