"""The whole job on an embedded example, on a CPU: ``make demo`` (or ``python3 demo.py``).

No dataset and no download: the face is ``skimage.data.astronaut()`` (public domain).

1. photos: the astronaut cut into 96 training and 24 held-out views (crops, zooms,
   rotations, mirror images, colours; the held-out ones use rotation angles no training
   view uses), and a 4-second synthetic talking video with a speech-like soundtrack;
2. ``python3 -m prepare images`` / ``video``: our synthetic masks, all five types;
3. ``python3 train.py segm`` and ``python3 train.py facemask`` with the small demo configs
   (``configs/demo_segm.yaml``, ``configs/demo_facemask.yaml``, 128 px);
4. ``python3 infer.py`` on the held-out photos and the video frames, ``python3 infer_jpgs.py``
   on the masked video (the reconstructed video keeps the soundtrack);
5. a table: segmentation Dice, in-mask PSNR / SSIM of our model and of OpenCV's Telea
   inpainting given the same masks, on the held-out photos.

A second run skips every step whose outputs exist (``--fresh`` starts over). Everything
goes under ``demo_data/``, ``weights/demo/``, ``samples/demo/`` and ``results/demo/``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import time
from pathlib import Path

import cli

cli.use_project_venv()

ROOT = Path(__file__).resolve().parent
DATA = Path("demo_data")
PHOTOS = DATA / "photos"
TRAIN_ROOT, TEST_ROOT = DATA / "train", DATA / "test"
VIDEO = DATA / "video" / "talk.mp4"
MASKED_VIDEO = DATA / "video" / "talk_masked.mp4"
VIDEO_ROOT = DATA / "video_frames"
WEIGHTS, SAMPLES, RESULTS = Path("weights/demo"), Path("samples/demo"), Path("results/demo")
HELD_OUT_RESULTS = RESULTS / "heldout"
VIDEO_FRAME_RESULTS = RESULTS / "video_frames"
VIDEO_RESULTS = RESULTS / "video"
PICTURE = RESULTS / "demo_picture.png"
WIDE_ROOT = DATA / "wide"
WIDE_WHOLE, WIDE_FACES = RESULTS / "wide_whole", RESULTS / "wide_faces"
WIDE_PICTURE = RESULTS / "wide_picture.png"
REPORT = RESULTS / "demo_report.md"
TIMES = RESULTS / "step_seconds.json"

TRAIN_PHOTOS, TEST_PHOTOS = 96, 24
SIZE = 128  # what the demo models see; matches the demo configs' img_size
VIDEO_SECONDS, VIDEO_FPS, VIDEO_SIDE = 4.0, 20.0, 256
PICTURE_ROWS = 4
# dlib finds faces down to ~40 px; the 128 px demo faces are 45-65 px wide.
PREPARE_PHOTOS = "--size 128 --crop none --mask-type random --texture random --min-face 32"


def pick_threads(requested: int | None) -> int:
    """Torch threads per process: one unless asked. The demo's models are tiny, so a second
    thread gains little on an idle machine and loses a lot on a busy one (threads wait for
    each other: on a busy 2-core machine one thread trained 2x faster), and with one thread
    every run gives the same numbers as the README's."""
    return requested or 1


def demo_runs():
    from demos.training import DemoRuns

    return DemoRuns(WEIGHTS, SAMPLES, TRAIN_ROOT)


def make_photos() -> None:
    from demos.astronaut import write_photos

    write_photos(PHOTOS / "train", TRAIN_PHOTOS, held_out=False)
    write_photos(PHOTOS / "test", TEST_PHOTOS, held_out=True)


def make_video() -> None:
    from demos.talking_video import write_talking_video

    write_talking_video(VIDEO, VIDEO_SECONDS, VIDEO_FPS, VIDEO_SIDE)


def make_masked_video() -> None:
    """The prepared masked frames, in order, back into a video with the prepared soundtrack:
    what a user would have filmed of someone talking through a mask."""
    from tqdm import tqdm

    from core.images import load_image
    from core.media import encode_video
    from datasets.layout import read_frames_csv

    names = [name for name, _ in read_frames_csv(VIDEO_ROOT / "frames.csv")]
    frames = [load_image(VIDEO_ROOT / "image_masked" / f"{name}_masked.png")
              for name in tqdm(names, desc="masked video", unit="frame", dynamic_ncols=True)]
    encode_video(MASKED_VIDEO, frames, VIDEO_FPS, VIDEO_ROOT / "audio" / f"{VIDEO.stem}.wav")


def make_report() -> None:
    """Telea on the same masks, the comparison table and the picture, into ``REPORT``."""
    import torch

    from demos.baseline import score_telea
    from demos.report import compare, demo_picture, headline, markdown_table, pick_examples, video_line

    # Tiny per-image tensors: one thread is many times faster on a busy machine.
    torch.set_num_threads(1)
    telea_truth = score_telea(TEST_ROOT)
    telea_predicted = score_telea(TEST_ROOT, masks_dir=HELD_OUT_RESULTS / "masks")
    comparison = compare(HELD_OUT_RESULTS, telea_truth, telea_predicted)
    video = video_line(VIDEO_FRAME_RESULTS, score_telea(VIDEO_ROOT))
    from demos.wide import wide_picture, wide_table

    demo_picture(HELD_OUT_RESULTS, pick_examples(TEST_ROOT, PICTURE_ROWS), PICTURE)
    wide_picture(WIDE_WHOLE, WIDE_FACES, sorted(p.stem for p in (WIDE_ROOT / "image").glob("*.png"))[0],
                 WIDE_PICTURE)
    text = [f"Held-out demo photos ({comparison.images} views of the face never used in training, "
            f"{SIZE} px), scored inside the ground-truth mask:", "", markdown_table(comparison), "",
            headline(comparison), "", video, "",
            "The same held-out faces pasted into 1280x720 photos without people (a face 40-60% of "
            "the frame's height), scored inside the ground-truth mask:", "",
            wide_table(WIDE_WHOLE, WIDE_FACES)]
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text("\n".join(text) + "\n")


def make_wide_frames() -> None:
    from demos.report import pick_examples
    from demos.wide import PLACES, write_wide_frames

    write_wide_frames(TEST_ROOT, pick_examples(TEST_ROOT, len(PLACES)), WIDE_ROOT)


def build_steps(python: str = "python3") -> list:
    from demos.steps import Step

    runs = demo_runs()
    predict = "--config configs/demo_predict.yaml"
    return [
        Step("make the demo photos", [PHOTOS / "train", PHOTOS / "test"], action=make_photos),
        Step("prepare the training photos", [TRAIN_ROOT / "annotations" / "train.csv"],
             command=f"{python} -m prepare images --src {PHOTOS / 'train'} --out {TRAIN_ROOT} "
                     f"{PREPARE_PHOTOS}"),
        Step("prepare the held-out photos", [TEST_ROOT / "annotations" / "train.csv"],
             command=f"{python} -m prepare images --src {PHOTOS / 'test'} --out {TEST_ROOT} "
                     f"{PREPARE_PHOTOS} --val-fraction 0"),
        Step("make the talking video", [VIDEO], action=make_video),
        Step("prepare the video", [VIDEO_ROOT / "frames.csv"],
             command=f"{python} -m prepare video --video {VIDEO} --out {VIDEO_ROOT} "
                     f"--fps {VIDEO_FPS:g} --size {VIDEO_SIDE} --crop none --mask-type surgical "
                     "--color '#7ab0de' --min-face 32 --val-fraction 0"),
        Step("make the masked video", [MASKED_VIDEO], action=make_masked_video),
        Step("train the segmenter", lambda: runs.outputs("segm"),
             command=f"{python} train.py segm --config configs/demo_segm.yaml" + runs.resume_option("segm"),
             before=lambda: runs.clear("segm")),
        Step("train the reconstructor", lambda: runs.outputs("facemask"),
             command=f"{python} train.py facemask --config configs/demo_facemask.yaml"
                     + runs.resume_option("facemask"),
             before=lambda: runs.clear("facemask")),
        # The demo photos are whole faces at the models' size, trained on as they are (--crop
        # none), and mostly too small for the face detector: no face to look for.
        Step("reconstruct the held-out photos", [HELD_OUT_RESULTS / "summary.json"],
             command=f"{python} infer.py {predict} --input {TEST_ROOT} --out {HELD_OUT_RESULTS} "
                     "--save-masks faces=none"),
        Step("reconstruct the video frames", [VIDEO_FRAME_RESULTS / "summary.json"],
             command=f"{python} infer.py {predict} --input {VIDEO_ROOT} --out {VIDEO_FRAME_RESULTS}"),
        Step("reconstruct the masked video", [VIDEO_RESULTS / f"{MASKED_VIDEO.stem}_reconstructed.mp4"],
             command=f"{python} infer_jpgs.py {predict} --input {MASKED_VIDEO} --out {VIDEO_RESULTS}"),
        Step("make the wide frames", [WIDE_ROOT / "image_masked"], action=make_wide_frames),
        Step("reconstruct the wide frames, whole", [WIDE_WHOLE / "summary.json"],
             command=f"{python} infer.py {predict} --input {WIDE_ROOT} --out {WIDE_WHOLE} faces=none"),
        Step("reconstruct the wide frames, face by face", [WIDE_FACES / "summary.json"],
             command=f"{python} infer.py {predict} --input {WIDE_ROOT} --out {WIDE_FACES}"),
        Step("compare with OpenCV Telea", [REPORT, PICTURE, WIDE_PICTURE], action=make_report),
    ]


def remove_outputs() -> None:
    for folder in (DATA, WEIGHTS, SAMPLES, RESULTS):
        shutil.rmtree(folder, ignore_errors=True)


def cpu_seconds() -> float:
    """User + system CPU time of this process and every finished child (the commands)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def record_times(seconds: dict[str, float | None]) -> dict[str, float]:
    """Merge this run's step times into ``step_seconds.json`` (a skipped step keeps the time
    of the run that did it), so the total of a full run stays known."""
    known = json.loads(TIMES.read_text()) if TIMES.is_file() else {}
    known.update({k: round(v, 1) for k, v in seconds.items() if v is not None})
    TIMES.parent.mkdir(parents=True, exist_ok=True)
    TIMES.write_text(json.dumps(known, indent=1) + "\n")
    return known


def where_things_are() -> list[str]:
    runs = demo_runs()
    return [
        f"pictures: {PICTURE} (masked | found mask | reconstructed | truth, held-out photos);",
        f"          every held-out photo: {HELD_OUT_RESULTS}/results_*.png "
        "(numbers: metrics.csv, summary.json);",
        f"          video frames with ground truth: {VIDEO_FRAME_RESULTS}/",
        f"          wide frames: {WIDE_PICTURE} (masked | faces=none | faces=auto), {WIDE_FACES}/, "
        f"{WIDE_WHOLE}/",
        f"video:    {VIDEO_RESULTS}/{MASKED_VIDEO.stem}_reconstructed.mp4 (with the soundtrack; "
        f"input {MASKED_VIDEO})",
        f"training: {runs.folder('segm')}/, {runs.folder('facemask')}/ (checkpoints, logs, *_curves.png), "
        f"{SAMPLES}/facemask/ (sample grids)",
        f"report:   {REPORT}",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Run the whole job on an embedded example (the astronaut photo shipped with "
                    "scikit-image): make data, prepare, train both stages, infer, compare with "
                    "OpenCV Telea. A second run reuses what is done.")
    parser.add_argument("--fresh", action="store_true",
                        help="delete demo_data/, weights/demo/, samples/demo/, results/demo/ first")
    parser.add_argument("--threads", type=int, default=None, metavar="N",
                        help="torch threads per process (default 1: reproducible numbers)")
    args = parser.parse_args(argv)
    os.chdir(ROOT)  # every path above is relative to the repository
    cli.setup_logging()
    from demos.steps import StepFailed, StepRunner

    if args.fresh:
        remove_outputs()
    threads = pick_threads(args.threads)
    start, load_start = time.perf_counter(), os.getloadavg()
    print(f"demo: {os.cpu_count()} CPU cores, load average {load_start[0]:.2f}; "
          f"{threads} torch thread(s) per process", flush=True)
    runner = StepRunner(DATA / ".steps", env={"OMP_NUM_THREADS": str(threads), "PYTHONUNBUFFERED": "1"})
    try:
        log = runner.run(build_steps())
    except StepFailed as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print("\n" + REPORT.read_text(), end="")
    wall = time.perf_counter() - start
    known = record_times(log.seconds)
    load_end = os.getloadavg()
    skipped = [name for name, s in log.seconds.items() if s is None]
    print(f"\nthis run: {wall:.0f} s wall, {cpu_seconds():.0f} s CPU (all processes), load average "
          f"{load_start[0]:.2f} at the start, {load_end[0]:.2f} / {load_end[1]:.2f} / {load_end[2]:.2f} "
          f"(1 / 5 / 15 min) at the end"
          + (f"; {len(skipped)} step(s) done earlier and skipped" if skipped else ""))
    if skipped:
        print(f"all steps, as last run: {sum(known.values()):.0f} s ({TIMES})")
    print("\n".join(where_things_are()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
