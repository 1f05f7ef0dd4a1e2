"""Both models loaded into one ``MaskReconstructor`` the way the config says, with the lines
that tell a person what was loaded (the caller prints them, or not)."""

from __future__ import annotations

from dataclasses import dataclass, field

from configs import Config
from core.device import pick_device
from inference.pipeline import MaskReconstructor
from inference.timing import StageTimer
from modelfiles.load import load_models
from stages import RECONSTRUCTION, SEGMENTATION


@dataclass
class LoadedPipeline:
    """A ready pipeline and what it was made from."""

    reconstructor: MaskReconstructor
    weights: dict[str, str]  # stage title -> the checkpoint or export file used
    notes: list[str] = field(default_factory=list)  # which files, sizes, device: one line each


def load_pipeline(cfg: Config, timer: StageTimer | None = None) -> LoadedPipeline:
    """Both models from their checkpoints, on the configured device; ``timer`` is charged the
    "load" stage and kept by the pipeline."""
    timer = timer or StageTimer()
    notes: list[str] = []
    device = pick_device(cfg.device)
    if cfg.backend == "onnxruntime" and device.type != "cpu":
        notes.append(f"note: backend=onnxruntime runs on the CPU (device={cfg.device} is for torch)")
        device = pick_device("cpu")
    timer.sync = device.type == "cuda"
    with timer("load"):
        segm, recon = load_models(cfg)
    weights = {SEGMENTATION.title: str(segm.path), RECONSTRUCTION.title: str(recon.path)}
    sides = {SEGMENTATION: segm.img_size(cfg, "segm_size"), RECONSTRUCTION: recon.img_size(cfg)}
    for stage, loaded in ((SEGMENTATION, segm), (RECONSTRUCTION, recon)):
        notes.append(loaded.describe(stage))
        size = sides[stage]
        if loaded.trained_img_size and loaded.trained_img_size != size:
            key = "segm_size" if stage is SEGMENTATION and cfg.segm_size is not None else "img_size"
            notes.append(f"note: the {stage.title} model was trained at {loaded.trained_img_size} px and "
                         f"runs here at {key}={size}, as asked (leave {key} unset to use the "
                         "trained size)")
    notes.append(f"device: {device}" + (" (onnxruntime)" if cfg.backend == "onnxruntime" else ""))
    if recon.audio_encoder is not None:
        notes.append(f"audio conditioning: {recon.audio} (each frame hears "
                     f"{recon.audio_encoder.features.window_s:g} s of the input's soundtrack)")
    reconstructor = MaskReconstructor.from_config(cfg, segm.model, recon.model, device, timer,
                                                  recon.audio_encoder, img_size=sides[RECONSTRUCTION],
                                                  segm_size=sides[SEGMENTATION])
    with timer("load"):
        reconstructor.faces.load()
    return LoadedPipeline(reconstructor, weights, notes)
