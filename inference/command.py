"""The command line shared by ``infer.py`` and ``infer_jpgs.py``, and the run itself.

The two scripts take the same options and run the same pipeline; they differ only in
what they write (``comparison``: panels + metrics, or the reconstructed images alone).
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import torch
from tqdm import tqdm

import cli
from configs import Config, ConfigError, load_config
from core.device import pick_device
from core.images import ImageReadError
from core.media import VideoError, VideoWriter
from inference.audio import frame_features
from inference.evaluation import RunningMeans, evaluate, nan_to_none, summary_lines
from inference.inputs import InputError, Item, Skipped, Source, VideoSource, open_input
from inference.outputs import ImageWriter, MetricsCsv, OutputError, ensure_writable, write_summary
from inference.pipeline import MaskReconstructor, Reconstruction
from inference.timing import StageTimer
from modelfiles.checkpoint import CheckpointError
from modelfiles.load import load_models
from stages import RECONSTRUCTION, SEGMENTATION

log = logging.getLogger(__name__)
MAX_LISTED = 1000  # names kept in summary.json per list (a long video has many frames)


class NothingProcessed(RuntimeError):
    """Every input was skipped."""


class NameList:
    """How many inputs had some property, and the first ``MAX_LISTED`` of their names."""

    def __init__(self) -> None:
        self.count, self.names = 0, []

    def add(self, name: str) -> None:
        self.count += 1
        if len(self.names) < MAX_LISTED:
            self.names.append(name)

    def as_dict(self) -> dict[str, Any]:
        return {"count": self.count, "names": self.names}

    def line(self, what: str, then: str) -> str:
        shown = ", ".join(self.names[:10]) + (", ..." if self.count > 10 else "")
        return f"{what} in {self.count} image(s), {then}: {shown}"


@dataclass
class Options:
    """What the command line chose beyond the config."""

    input: Path
    out_dir: Path
    comparison: bool  # infer.py: panels + metrics.csv + summary.json; infer_jpgs.py: images only
    ext: str  # "png" or "jpg", the format of the per-image files
    save_masks: bool


def build_parser(description: str, default_ext: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=description,
        epilog="Overrides use config keys (docs/configuration.md), e.g. threshold=0.4 device=cpu. "
               "By default the newest run's weights in checkpoint_path ('weights') are used, each "
               "model at the size it was trained at (img_size=N overrides).")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides")
    parser.add_argument("--input", help="dataset root, folder of photos, one image or a video "
                        "(default: 'input' in the config)")
    parser.add_argument("--out", help="output folder (default: results_dir, 'results')")
    parser.add_argument("--config", default="predict", help="config name or YAML path (default: predict)")
    parser.add_argument("--segm-weights", metavar="FILE", help="segmentation checkpoint")
    parser.add_argument("--recon-weights", metavar="FILE", help="reconstruction checkpoint")
    parser.add_argument("--batch-size", type=int, metavar="N", help="images per batch")
    parser.add_argument("--save-masks", action="store_true",
                        help="also write masks/{name}_mask.png (255 = mask, input resolution)")
    parser.add_argument("--ext", choices=("jpg", "png"), default=default_ext,
                        help=f"format of the per-image files (default: {default_ext})")
    return parser


def config_from_args(args: argparse.Namespace) -> Config:
    """The config with ``key=value`` overrides, then the dedicated options on top."""
    flags = {"segm_weights": args.segm_weights, "recon_weights": args.recon_weights,
             "batch_size": args.batch_size, "input": args.input, "results_dir": args.out}
    if args.save_masks:
        flags["save_masks"] = True
    return load_config(args.config, args.overrides, **{k: v for k, v in flags.items() if v is not None})


def options_from_config(cfg: Config, comparison: bool, ext: str) -> Options:
    if not cfg.input:
        raise InputError("no input: pass --input PATH (a dataset root, a folder of photos, "
                         "an image or a video) or set 'input' in the config")
    return Options(Path(cfg.input), Path(cfg.results_dir), comparison, ext, cfg.save_masks)


def load_reconstructor(cfg: Config, timer: StageTimer, out: TextIO) -> tuple[MaskReconstructor, dict]:
    """Both models from their checkpoints, on the configured device; prints which files."""
    device = pick_device(cfg.device)
    if cfg.backend == "onnxruntime" and device.type != "cpu":
        print(f"note: backend=onnxruntime runs on the CPU (device={cfg.device} is for torch)", file=out)
        device = pick_device("cpu")
    timer.sync = device.type == "cuda"
    with timer("load"):
        segm, recon = load_models(cfg)
    weights = {SEGMENTATION.title: str(segm.path), RECONSTRUCTION.title: str(recon.path)}
    for stage, loaded in ((SEGMENTATION, segm), (RECONSTRUCTION, recon)):
        print(loaded.describe(stage), file=out)
        size = loaded.img_size(cfg)
        if loaded.trained_img_size and loaded.trained_img_size != size:
            print(f"note: the {stage.title} model was trained at {loaded.trained_img_size} px and runs "
                  f"here at img_size={size}, as asked (leave img_size unset to use the trained size)",
                  file=out)
    print(f"device: {device}" + (" (onnxruntime)" if cfg.backend == "onnxruntime" else ""), file=out)
    if recon.audio_encoder is not None:
        print(f"audio conditioning: {recon.model.audio} (each frame hears "
              f"{recon.audio_encoder.features.window_s:g} s of the input's soundtrack)", file=out)
    return MaskReconstructor.from_config(cfg, segm.model, recon.model, device, timer, recon.audio_encoder,
                                         img_size=recon.img_size(cfg), segm_size=segm.img_size(cfg)), weights


def _batches(items, size: int):
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
    """One inference run over a source: reconstruct, evaluate, write, summarise."""

    def __init__(self, cfg: Config, options: Options, source: Source,
                 reconstructor: MaskReconstructor, weights: dict[str, str], out: TextIO) -> None:
        self.cfg, self.options, self.source, self.rec, self.out = cfg, options, source, reconstructor, out
        self.weights = weights  # which checkpoint files were used, for the summary
        self.timer = reconstructor.timer
        self.images = ImageWriter(options.out_dir, options.comparison, options.ext, options.save_masks)
        self.means = RunningMeans()
        self.processed = 0
        self.skipped: list[Skipped] = []
        self.no_mask, self.no_face, self.implausible = NameList(), NameList(), NameList()
        # Metrics run on the GPU when there is one; PSNR needs float64, which MPS lacks.
        on_cuda = reconstructor.device.type == "cuda"
        self.metrics_device = reconstructor.device if on_cuda else torch.device("cpu")
        self.metrics_csv: MetricsCsv | None = None
        self.video: VideoWriter | None = None
        self.outputs: dict[str, str] = {}
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
        ``regions``, where the dataset has both the masks and the clean faces (None elsewhere)."""
        known = [i for i, item in enumerate(batch)
                 if item.truth is not None and item.truth_mask is not None]
        out: list[Reconstruction | None] = [None] * len(batch)
        if known:
            results = self.rec([batch[i].image for i in known],
                               masks=[batch[i].truth_mask for i in known],
                               audio=None if audio is None else audio[known],
                               regions=[regions[i] for i in known])
            for i, result in zip(known, results):
                out[i] = result
        return out

    def process(self, batch: list[Item]) -> None:
        audio = self.audio_embeddings(batch)
        results = self.rec([item.image for item in batch], audio=audio)
        if self.options.comparison:
            with_truth = self.with_truth_masks(batch, audio, [r.regions for r in results])
            with self.timer("metrics"):
                for item, result, truth_result in zip(batch, results, with_truth):
                    row = evaluate(item, result, truth_result, self.cfg.identity, self.metrics_device)
                    self.means.add(row)
                    self.metrics_csv.add(row)
        with self.timer("write"):
            for item, result in zip(batch, results):
                if self.video is not None:
                    self.video.write(result.image)
                self.images.write(item, result, image=self.video is None)
                if not result.mask_found:
                    self.no_mask.add(item.name)
                if result.faces_found == 0:
                    self.no_face.add(item.name)
                if result.implausible:
                    self.implausible.add(item.name)
        self.processed += len(batch)

    # --- the whole run -----------------------------------------------------------------
    def execute(self) -> dict[str, Any]:
        out_dir = self.options.out_dir
        if self.options.comparison:
            self.metrics_csv = MetricsCsv(out_dir / "metrics.csv")
        if isinstance(self.source, VideoSource):
            path = out_dir / f"{self.source.path.stem}_reconstructed.mp4"
            self.video = VideoWriter.like(path, self.source.info)
            self.rec.faces.follow_video()
            self.outputs["video"] = str(path)
        unit = "frame" if self.video is not None else "img"
        bar = tqdm(total=self.source.count, desc="reconstruct", unit=unit, dynamic_ncols=True)
        try:
            with bar:
                for entry in _batches(self.timer.timed_iter(self.source, "read"), self.cfg.batch_size):
                    if isinstance(entry, Skipped):
                        self.skipped.append(entry)
                        tqdm.write(f"skipped {entry.name}: {entry.reason}", file=sys.stderr)
                        bar.update(1)
                        continue
                    self.process(entry)
                    bar.update(len(entry))
            if self.video is not None:
                if self.video.count == 0:
                    raise VideoError(f"{self.source.path}: the video has no frames")
                with self.timer("write"):
                    self.video.close()
        except BaseException:  # Ctrl-C included: leave no half-written video or CSV behind
            if self.video is not None:
                self.video.abort()
            if self.metrics_csv is not None:
                self.metrics_csv.abort()
            raise
        finally:
            self.rec.faces.stop_following()
        if self.metrics_csv is not None:
            self.metrics_csv.close()
            self.outputs["metrics"] = str(self.metrics_csv.path)
        summary = self.summary()
        if self.options.comparison:
            path = out_dir / "summary.json"
            summary["outputs"]["summary"] = str(path)
            write_summary(path, summary)
        self.print_summary(summary)
        if not self.processed:
            raise NothingProcessed(f"no image could be processed ({len(self.skipped)} skipped)")
        return summary

    def summary(self) -> dict[str, Any]:
        seconds = dict(self.timer.seconds)
        total = sum(seconds.values())
        per_stage = {k: round(v, 4) for k, v in seconds.items()}
        rate = {k: (self.processed / v if v > 0 else None) for k, v in seconds.items() if k not in ("load",)}
        work = total - seconds.get("load", 0.0)
        return {
            "input": str(self.source.path),
            "input_kind": self.source.kind,
            "script": "infer.py" if self.options.comparison else "infer_jpgs.py",
            "weights": self.weights,
            "device": str(self.rec.device),
            "img_size": self.rec.img_size,
            "segm_img_size": self.rec.segm_size,
            "processed": self.processed,
            "skipped": [{"name": s.name, "reason": s.reason} for s in self.skipped],
            "faces": self.cfg.faces,
            "no_mask_found": self.no_mask.as_dict(),
            "no_face_found": self.no_face.as_dict(),
            "implausible_mask_area": self.implausible.as_dict(),
            "metrics": {k: nan_to_none(v.items()) for k, v in self.means.as_dict().items()},
            "timing_seconds": per_stage,
            "images_per_second": {**{k: round(v, 3) for k, v in rate.items() if v is not None},
                                  "overall": round(self.processed / work, 3) if work > 0 else None},
            "outputs": {"folder": str(self.options.out_dir), **self.outputs},
        }

    def print_summary(self, summary: dict[str, Any]) -> None:
        def p(line: str) -> None:
            print(line, file=self.out)

        p(f"processed {self.processed} image(s) from {self.source.path} ({self.source.kind}); "
          f"skipped {len(self.skipped)}")
        for s in self.skipped[:20]:
            p(f"  skipped {s.name}: {s.reason}")
        if len(self.skipped) > 20:
            p(f"  ... and {len(self.skipped) - 20} more (see summary.json)")
        if self.no_face.count:
            then = ("reconstructed whole where about square, else left as they are (faces=none "
                    "reconstructs whole images)" if self.cfg.faces == "auto" else "left as they are")
            p(self.no_face.line("no face found", then))
        if self.no_mask.count:
            p(self.no_mask.line("no mask found", "written unchanged"))
        if self.implausible.count:
            p("warning: " + self.implausible.line("a mask area unlike a face mask's", "check them"))
        if self.options.comparison and self.processed:
            for line in summary_lines(self.means, self.cfg.identity):
                p(line)
        timing = summary["timing_seconds"]
        rates = summary["images_per_second"]
        p("timing: " + " | ".join(
            f"{k} {v:.2f} s" + (f" ({rates[k]:.1f} img/s)" if rates.get(k) else "")
            for k, v in timing.items())
          + (f" | overall {rates['overall']:.2f} img/s (excluding load)" if rates.get("overall") else ""))
        p(f"outputs in {self.options.out_dir}/")


def run(cfg: Config, options: Options, reconstructor: MaskReconstructor | None = None,
        out: TextIO | None = None) -> dict[str, Any]:
    """Check the output folder, open the input, load the models (unless given), run.

    Returns the summary (what ``summary.json`` holds).
    """
    out = out or sys.stdout
    ensure_writable(options.out_dir)  # before any work: fail in a second, not after an hour
    source = open_input(options.input, cfg)
    try:
        weights: dict[str, str] = {}
        if reconstructor is None:
            reconstructor, weights = load_reconstructor(cfg, StageTimer(), out)
        return Run(cfg, options, source, reconstructor, weights, out).execute()
    finally:
        source.close()


ERRORS = (ConfigError, CheckpointError, InputError, VideoError, ImageReadError, OutputError,
          NothingProcessed, ValueError)  # expected: the scripts print them as one line


def main(argv: list[str] | None, comparison: bool, description: str, default_ext: str) -> dict[str, Any]:
    """Parse the command line and run; returns the summary."""
    # intermixed: key=value overrides may come before, between or after the options
    args = build_parser(description, default_ext).parse_intermixed_args(argv)
    cfg = config_from_args(args)
    return run(cfg, options_from_config(cfg, comparison, args.ext))


SCRIPTS = {  # comparison -> (what --help says, the default --ext)
    True: ("Find the face mask, paint the face back, write comparison panels and metrics.", "png"),
    False: ("Find the face mask and paint the face back; write the reconstructed images only.", "jpg"),
}


def script_main(argv: list[str] | None, comparison: bool) -> int:
    """What ``infer.py`` (``comparison``) and ``infer_jpgs.py`` run: ``main`` with logging set
    up and the expected errors as one line (exit status 2)."""
    description, ext = SCRIPTS[comparison]
    cli.setup_logging()
    with cli.one_line_errors(*ERRORS):
        main(argv, comparison=comparison, description=description, default_ext=ext)
    return 0

