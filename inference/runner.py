"""One inference run over an input (a dataset, a folder, a photo, a video): reconstruct,
evaluate, write, summarise. ``infer.py``, ``infer_jpgs.py`` and the web app's videos run it.

``Options.comparison`` chooses what is written: panels + ``metrics.csv`` + ``summary.json``
(``infer.py``) or the reconstructed images alone (``infer_jpgs.py``).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import torch
from tqdm import tqdm

from configs import Config
from core.images import ImageReadError
from core.media import VideoError, VideoWriter
from core.overlap import WriteBehind, read_ahead
from inference.audio import frame_features
from inference.errors import NothingProcessed
from inference.evaluation import evaluate
from inference.inputs import Item, Skipped, Source, VideoSource, open_input
from inference.loading import load_pipeline
from inference.outputs import ImageWriter, MetricsCsv, ensure_writable, write_summary
from inference.paste import Reconstruction
from inference.pipeline import MaskReconstructor
from inference.run_summary import Tally, report_lines, timing
from inference.user_masks import UserMasks


@dataclass
class Options:
    """What the command line chose beyond the config."""

    input: Path
    out_dir: Path
    comparison: bool  # infer.py: panels + metrics.csv + summary.json; infer_jpgs.py: images only
    ext: str  # "png" or "jpg", the format of the per-image files
    save_masks: bool
    masks: Path | None = None  # the user's own masks (--masks): a folder of them, or one file


def batches(items: Iterable[Item | Skipped], size: int) -> Iterator[list[Item] | Skipped]:
    """Group ``Item``s into lists of ``size``; ``Skipped`` entries pass through on their own."""
    batch: list[Item] = []
    for entry in items:
        if isinstance(entry, Skipped):
            yield entry
            continue
        batch.append(entry)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


class Run:
    """One inference run over a source."""

    def __init__(self, cfg: Config, options: Options, source: Source,
                 reconstructor: MaskReconstructor, weights: dict[str, str], out: TextIO) -> None:
        self.cfg, self.options, self.source, self.rec, self.out = cfg, options, source, reconstructor, out
        self.weights = weights  # which checkpoint files were used, for the summary
        self.timer = reconstructor.timer
        self.images = ImageWriter(options.out_dir, options.comparison, options.ext, options.save_masks)
        self.tally = Tally()
        # Metrics run on the GPU when there is one; PSNR needs float64, which MPS lacks.
        on_cuda = reconstructor.device.type == "cuda"
        self.metrics_device = reconstructor.device if on_cuda else torch.device("cpu")
        self.metrics_csv: MetricsCsv | None = None
        self.video: VideoWriter | None = None
        self.outputs: dict[str, str] = {}
        self.wall: float | None = None  # seconds from opening the outputs to closing them
        self.user_masks = UserMasks(options.masks) if options.masks is not None else None
        self.audio_features = None
        if reconstructor.needs_audio:
            if reconstructor.audio_settings is None:
                raise ValueError("the generator is audio-conditioned but no audio encoder was loaded")
            with self.timer("audio"):
                self.audio_features = frame_features(source, reconstructor.audio_settings)

    def audio_embeddings(self, batch: list[Item]) -> torch.Tensor | None:
        """``(B, audio_dim)`` for an audio-conditioned generator, else None."""
        if self.audio_features is None:
            return None
        with self.timer("audio"):
            return self.rec.embed_audio(self.audio_features(batch))

    # --- per batch ---------------------------------------------------------------------
    def with_truth_masks(self, batch: list[Item], audio: torch.Tensor | None,
                         regions: list[list]) -> list[Reconstruction | None]:
        """The generator alone: reconstructions from the ground-truth masks, in the same
        ``regions``, where the dataset has both the masks and the clean faces (None elsewhere).
        A hard edge: the true mask has no margin of real skin to blend with."""
        known = [i for i, item in enumerate(batch)
                 if item.truth is not None and item.truth_mask is not None]
        out: list[Reconstruction | None] = [None] * len(batch)
        if known:
            results = self.rec([batch[i].image for i in known],
                               masks=[batch[i].truth_mask for i in known],
                               audio=None if audio is None else audio[known],
                               regions=[regions[i] for i in known], feather=0)
            for i, result in zip(known, results):
                out[i] = result
        return out

    def given_masks(self, batch: list[Item]) -> tuple[list[Item], list | None]:
        """The items that have a usable mask of the user's and those masks (None: the
        segmenter finds them); the others are skipped with the reason."""
        if self.user_masks is None:
            return batch, None
        kept, masks = [], []
        for item in batch:
            try:
                masks.append(self.user_masks.mask_for(item.name, item.image))
                kept.append(item)
            except ImageReadError as err:
                self.skip(Skipped(item.name, str(err)))
        return kept, masks

    def skip(self, entry: Skipped) -> None:
        self.tally.skipped.append(entry)
        tqdm.write(f"skipped {entry.name}: {entry.reason}", file=sys.stderr)

    def process(self, batch: list[Item]) -> None:
        batch, masks = self.given_masks(batch)
        if not batch:
            return
        audio = self.audio_embeddings(batch)
        results = self.rec([item.image for item in batch], masks=masks, audio=audio,
                           times=[item.time for item in batch])
        if self.options.comparison:
            with_truth = self.with_truth_masks(batch, audio, [r.regions for r in results])
            with self.timer("metrics"):
                for item, result, truth_result in zip(batch, results, with_truth):
                    row = evaluate(item, result, truth_result, self.cfg.identity, self.metrics_device)
                    self.tally.means.add(row)
                    self.metrics_csv.add(row)
        with self.timer("write"):  # the wait for room in the writer's queue
            for item, result in zip(batch, results):
                self.writer.submit(lambda item=item, result=result: self.write(item, result))
                self.tally.add(item.name, result)

    def write(self, item: Item, result: Reconstruction) -> None:
        """One result's files (in the writer's thread, behind the model loop)."""
        if self.video is not None:
            self.video.write(result.image)
        self.images.write(item, result, image=self.video is None)

    # --- the whole run -----------------------------------------------------------------
    def open_outputs(self) -> None:
        if self.options.comparison:
            self.metrics_csv = MetricsCsv(self.options.out_dir / "metrics.csv")
        if isinstance(self.source, VideoSource):
            path = self.options.out_dir / f"{self.source.path.stem}_reconstructed.mp4"
            self.video = VideoWriter.like(path, self.source.info)
            self.outputs["video"] = str(path)
        if self.source.consecutive:
            self.rec.follow_video()

    def go_through(self) -> None:
        """Every input, batch by batch, with a progress bar; skipped ones said on stderr. The
        inputs are read (decoded) ahead and the outputs written behind, in threads of their own,
        while the models run; "read" and "write" time the model loop's waits for them."""
        unit = "frame" if self.video is not None else "img"
        ahead = read_ahead(self.source, 2 * self.cfg.batch_size)
        with tqdm(total=self.source.count, desc="reconstruct", unit=unit, dynamic_ncols=True) as bar:
            for entry in batches(self.timer.timed_iter(ahead, "read"), self.cfg.batch_size):
                if isinstance(entry, Skipped):
                    self.skip(entry)
                    bar.update(1)
                    continue
                self.process(entry)
                bar.update(len(entry))

    def execute(self) -> dict[str, Any]:
        """Run, close the outputs, write and print the summary; returns the summary."""
        start = time.perf_counter()
        self.open_outputs()
        self.writer = WriteBehind(2 * self.cfg.batch_size)
        try:
            self.go_through()
            with self.timer("write"):
                self.writer.close()
            if self.video is not None:
                if self.video.count == 0:
                    raise VideoError(f"{self.source.path}: the video has no frames")
                with self.timer("write"):
                    self.video.close()
        except BaseException:  # Ctrl-C included: leave no half-written video or CSV behind
            try:
                self.writer.close()  # the frames already queued; ffmpeg is stopped next
            except BaseException:  # noqa: S110 - the first error is the one to report
                pass
            if self.video is not None:
                self.video.abort()
            if self.metrics_csv is not None:
                self.metrics_csv.abort()
            raise
        finally:
            self.rec.stop_following()
        if self.metrics_csv is not None:
            self.metrics_csv.close()
            self.outputs["metrics"] = str(self.metrics_csv.path)
        self.wall = time.perf_counter() - start
        summary = self.summary()
        if self.options.comparison:
            path = self.options.out_dir / "summary.json"
            summary["outputs"]["summary"] = str(path)
            write_summary(path, summary)
        for line in report_lines(self.tally, summary, self.cfg.faces, self.cfg.identity):
            print(line, file=self.out)
        if not self.tally.processed:
            raise NothingProcessed(f"no image could be processed ({len(self.tally.skipped)} skipped)")
        return summary

    def summary(self) -> dict[str, Any]:
        """What ``summary.json`` holds."""
        return {
            "input": str(self.source.path),
            "input_kind": self.source.kind,
            "script": "infer.py" if self.options.comparison else "infer_jpgs.py",
            "weights": self.weights,
            "device": str(self.rec.device),
            "img_size": self.rec.img_size,
            "segm_img_size": self.rec.segm_size,
            "faces": self.cfg.faces,
            **self.tally.as_dict(),
            **timing(dict(self.timer.seconds), self.tally.processed, self.wall),
            "outputs": {"folder": str(self.options.out_dir), **self.outputs},
        }


def run(cfg: Config, options: Options, reconstructor: MaskReconstructor | None = None,
        out: TextIO | None = None) -> dict[str, Any]:
    """Check the output folder, open the input, load the models (unless given; what was
    loaded is printed to ``out``), run. Returns the summary (what ``summary.json`` holds)."""
    out = out or sys.stdout
    ensure_writable(options.out_dir)  # before any work: fail in a second, not after an hour
    source = open_input(options.input, cfg)
    try:
        weights: dict[str, str] = {}
        if reconstructor is None:
            loaded = load_pipeline(cfg)
            for line in loaded.notes:
                print(line, file=out)
            reconstructor, weights = loaded.reconstructor, loaded.weights
        return Run(cfg, options, source, reconstructor, weights, out).execute()
    finally:
        source.close()
