"""Recall of the face detector on masked faces, per detector setting (run by hand).

    python3 benchmarks/face_detection.py [--scales 0.25,0.35,0.45,0.6] [--out FILE]

Faces: the 30 CelebA sample faces (``../shared/fixtures/celeba30``) wearing MaskTheFace's
masks (the sample's own masked images) and wearing ours (``prepare images --crop none`` on
the sample's clean faces: its default surgical masks), as 512 px crops and pasted into
1920x1080 photos without people at each of ``--scales`` of the frame height (a random
position per face); and, as crops, wearing all five of our mask types (``--mask-type
random``: N95, cloth and gas masks hide far more of the face). A face counts as found when
a detected box overlaps the HOG box of the same face found in its bare version by IoU >
0.4. False faces: boxes on six 1920x1080 photos without people. Time: per 1920x1080 frame.
Writes a Markdown table and ``results/face_detection.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import cli

cli.use_project_venv()

import numpy as np

from core.images import load_image
from demos.scenes import NO_PEOPLE, background, paste, random_placement
from faces.detect import BARE_FULL_RESOLUTION, DetectorSettings, box_iou, detect, find_faces
from prepare.options import PrepareOptions
from prepare.run import prepare_images

FIXTURE = REPO.parent / "shared" / "fixtures" / "celeba30"
FRAME = (1920, 1080)
FOUND_IOU = 0.4
SETTINGS = {
    "dlib HOG, default threshold": DetectorSettings(hog_threshold=0.0, haar=False, cnn_fallback=False),
    "dlib HOG, threshold -0.3": DetectorSettings(haar=False, cnn_fallback=False),
    "OpenCV Haar (alt2)": DetectorSettings(hog=False, cnn_fallback=False),
    "dlib CNN (768 px)": DetectorSettings(hog=False, haar=False),
    "HOG -0.3 + Haar": DetectorSettings(cnn_fallback=False),
    "HOG -0.3 + Haar, CNN where both miss (default)": DetectorSettings(),
}


def face_sets(scales: list[float], work: Path) -> tuple[dict[str, list], list[np.ndarray]]:
    """``{set name: [(image, truth box), ...]}`` and the frames without people."""
    names = sorted(p.stem for p in (FIXTURE / "celeba512_30k").glob("*.jpg"))
    clean = [load_image(FIXTURE / "celeba512_30k" / f"{n}.jpg") for n in names]
    truth = []
    for image in clean:
        found = detect(image, BARE_FULL_RESOLUTION)
        if not found:
            raise SystemExit("error: no face found in a bare sample face; is dlib installed correctly?")
        truth.append(found[0].box)
    for kind in ("surgical", "random"):
        prepare_images(FIXTURE / "celeba512_30k", work / kind,
                       PrepareOptions(crop="none", mask_type=kind, progress=False))
    theirs = FIXTURE / "celeba512_30k_masked"
    masked = {"MaskTheFace": [load_image(theirs / f"{n}_masked.jpg") for n in names],
              "ours": [load_image(work / "surgical" / "image_masked" / f"{n}_masked.png") for n in names]}
    every_type = [load_image(work / "random" / "image_masked" / f"{n}_masked.png") for n in names]
    rng = np.random.default_rng(0)
    frames = [background(k, FRAME) for k in range(len(NO_PEOPLE))]
    sets: dict[str, list] = {}
    for kind, images in masked.items():
        sets[f"{kind} crop"] = list(zip(images, truth))
        for scale in scales:
            items = []
            for k, (image, box) in enumerate(zip(images, truth)):
                where = random_placement(rng, FRAME, scale)
                items.append((paste(frames[k % len(frames)], image, where), where.box(box, image.shape[0])))
            sets[f"{kind} in frame @{scale:g}"] = items
    sets["ours, all types crop"] = list(zip(every_type, truth))
    return sets, frames


def measure(settings: DetectorSettings, sets: dict[str, list], frames: list[np.ndarray]) -> dict:
    found, seconds, count = {}, 0.0, 0
    for name, items in sets.items():
        hits = 0
        for image, box in items:
            start = time.perf_counter()
            faces = find_faces(image, settings)
            if "in frame" in name:
                seconds += time.perf_counter() - start
                count += 1
            hits += any(box_iou(np.array(f.box, float), np.array(box, float)) > FOUND_IOU for f in faces)
        found[name] = hits
    false = sum(len(find_faces(frame, settings)) for frame in frames)
    return {"found": found, "false_faces": false, "ms_per_frame": 1000 * seconds / max(count, 1)}


def markdown(results: dict[str, dict], sets: dict[str, list], scales: list[float]) -> str:
    n = len(next(iter(sets.values())))
    head = ("| detector | MaskTheFace, crop | ours, crop | MaskTheFace in 1920x1080 at "
            + " / ".join(f"{s:g}" for s in scales) + " of the height | ours in 1920x1080 at the same | "
            f"ours, all five types, crop | false faces on {len(NO_PEOPLE)} photos without people "
            "| ms per 1920x1080 frame |")
    lines = [head, "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, r in results.items():
        f = r["found"]
        framed = {kind: " / ".join(str(f[f"{kind} in frame @{s:g}"]) for s in scales)
                  for kind in ("MaskTheFace", "ours")}
        lines.append(f"| {name} | {f['MaskTheFace crop']}/{n} | {f['ours crop']}/{n} "
                     f"| {framed['MaskTheFace']} | {framed['ours']} | {f['ours, all types crop']}/{n} "
                     f"| {r['false_faces']} | {r['ms_per_frame']:.0f} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scales", default="0.25,0.35,0.45,0.6", help="face crop height / frame height")
    parser.add_argument("--out", type=Path, default=REPO / "results" / "face_detection.json")
    args = parser.parse_args()
    if not (FIXTURE / "celeba512_30k").is_dir():
        print(f"error: the CelebA sample is not at {FIXTURE}", file=sys.stderr)
        return 2
    scales = [float(s) for s in args.scales.split(",")]
    with tempfile.TemporaryDirectory() as work:
        sets, frames = face_sets(scales, Path(work))
    results = {}
    for name, settings in SETTINGS.items():
        results[name] = {**measure(settings, sets, frames), "settings": asdict(settings)}
        print(f"{name}: {results[name]['found']}", flush=True)
    table = markdown(results, sets, scales)
    print("\n" + table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"scales": scales, "results": results, "table": table}, indent=1) + "\n")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
