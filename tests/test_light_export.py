"""Light models trained from their configs, exported (safetensors, ONNX, int8 ONNX) and loaded back."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import CELEBA30
from webapp_models import astronaut_root

import export as export_script
from configs import Config, load_config
from core.images import load_image
from helpers_infer import one_torch_thread  # noqa: F401 (autouse fixture)
from inference.loading import load_pipeline
from modelfiles.card import ExportError
from modelfiles.export import export
from modelfiles.load import load_model
from modelfiles.onnx_cost import onnx_gflops
from stages import RECONSTRUCTION, SEGMENTATION

SEGM_SIDE, GEN_SIDE = 32, 64  # the segmenter runs at half the generator's side, as the light configs do
# int8 against fp32 on the CelebA fixture's 14 validation faces with these tiny models, int8
# calibrated on its 16 training faces (0-1 scale). Measured: painted face inside the mask, mean
# per face <= 0.0003 and max 0.006; mask probability, mean per face <= 0.011 (max 0.09); masks
# found agree on 98.8% of pixels. Bounds about twice that:
INT8_GENERATOR_MEAN = 0.001
INT8_GENERATOR_MAX = 0.02
INT8_PROBABILITY_MEAN = 0.025
INT8_MASK_AGREEMENT = 0.975


def _train(work, name: str, **values) -> object:
    from trainers import TRAINERS

    cfg = load_config(name, root_dir=str(work / "data"), device="cpu", base_channels=8, depth=3,
                      batch_size=4, num_workers=0, num_epochs=1000, print_per_iter=10_000,
                      visualize_per_iter=10_000, save_per_iter=10_000, perceptual="none", val_anns="none",
                      d_base_channels=8, seed=0, lr=2e-3, augment="none", thin_weight=0.0,
                      checkpoint_path=str(work / "weights"), sample_folder=str(work / "samples"), **values)
    trainer = TRAINERS[cfg.task](cfg)
    trainer.fit()
    return trainer.save()


@pytest.fixture(scope="module")
def light_export(tmp_path_factory):
    """Tiny light models trained with configs/segm_light.yaml and configs/facemask_light.yaml
    (the generator painting the whole hole: white fill, no residual), exported with ONNX and
    int8 copies calibrated on the CelebA fixture's training faces (without it, the astronaut root)."""
    work = tmp_path_factory.mktemp("light")
    astronaut_root(work / "data")
    segm = _train(work, "segm_light", img_size=SEGM_SIDE, max_iters=60)
    recon = _train(work, "facemask_light", img_size=GEN_SIDE, max_iters=30, fill="white", residual=False)
    out = work / "exported"
    calibration = CELEBA30 if CELEBA30.is_dir() else work / "data"  # real faces where they are here
    card = export(segm, recon, out, onnx=True, int8=calibration)
    return out, card, (segm, recon)


def _cfg(out, **values) -> Config:
    return Config.from_dict({"task": "predict", "device": "cpu", "faces": "none", "segm_weights": str(out),
                             "recon_weights": str(out), **values})


def test_the_card_records_the_light_arch_and_loading_rebuilds_it(light_export):
    out, card, checkpoints = light_export
    models = card["models"]
    assert models["segm"]["architecture"]["arch"] == models["facemask"]["architecture"]["arch"] == "light"
    assert (models["segm"]["img_size"], models["facemask"]["img_size"]) == (SEGM_SIDE, GEN_SIDE)
    assert models["facemask"]["onnx_int8"]["calibration"]["faces"] == (16 if CELEBA30.is_dir() else 12)
    for stage, checkpoint in zip((SEGMENTATION, RECONSTRUCTION), checkpoints):
        exported = load_model(_cfg(out), stage).model
        trained = load_model(_cfg(out), stage, checkpoint).model
        assert exported.spec["arch"] == "light" and exported.spec == trained.spec
        for (name, a), b in zip(exported.state_dict().items(), trained.state_dict().values()):
            assert torch.equal(a, b), name


def test_the_pipeline_runs_the_segmenter_at_its_own_side(light_export):
    out, _, _ = light_export
    found = sorted((CELEBA30 / "celeba512_30k_masked").glob("*.jpg")) if CELEBA30.is_dir() else []
    image = load_image(found[0]) if found else np.full((100, 90, 3), 128, np.uint8)
    for values, side in (({}, SEGM_SIDE), ({"segm_size": 48}, 48)):
        rec = load_pipeline(_cfg(out, **values)).reconstructor
        assert (rec.segm_size, rec.img_size) == (side, GEN_SIDE)
        (result,) = rec([image])
        assert result.mask.shape == image.shape[:2]
    for backend in ("onnxruntime",):  # ONNX graphs have fixed sides: each runs at its exported one
        rec = load_pipeline(_cfg(out, backend=backend)).reconstructor
        assert (rec.segm_size, rec.img_size) == (SEGM_SIDE, GEN_SIDE)


def test_onnx_precision_picks_the_file(light_export, tmp_path):
    out, _, checkpoints = light_export
    names = {p: load_model(_cfg(out, backend="onnxruntime", onnx_precision=p), RECONSTRUCTION).path.name
             for p in ("auto", "fp32", "int8")}
    assert names == {"auto": "reconstruction.int8.onnx", "fp32": "reconstruction.onnx",
                     "int8": "reconstruction.int8.onnx"}
    assert load_model(_cfg(out, backend="onnxruntime"), SEGMENTATION,
                      out / "segmentation.onnx").path.name == "segmentation.onnx"
    plain = tmp_path / "plain"
    export(*checkpoints, plain, onnx=True)
    assert load_model(_cfg(plain, backend="onnxruntime"), SEGMENTATION).path.name == "segmentation.onnx"
    with pytest.raises(ExportError, match="no int8 ONNX file"):
        load_model(_cfg(plain, backend="onnxruntime", onnx_precision="int8"), SEGMENTATION)


def test_the_int8_graphs_keep_the_multiply_adds(light_export):
    """Quantisation stores the same convolutions in int8: the counted work is unchanged."""
    out, _, _ = light_export
    for name in ("segmentation", "reconstruction"):
        assert onnx_gflops(out / f"{name}.int8.onnx") == pytest.approx(onnx_gflops(out / f"{name}.onnx"))


def test_export_refuses_int8_without_a_calibration_root(light_export, tmp_path, capsys):
    _, _, (segm, recon) = light_export
    args = ["--segm-weights", str(segm), "--recon-weights", str(recon), "--out", str(tmp_path / "x")]
    with pytest.raises(SystemExit) as stop:
        export_script.main([*args, "--onnx", "--int8"])
    assert stop.value.code == 2 and "--calibrate ROOT" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        export_script.main([*args, "--onnx", "--int8", "--calibrate", str(tmp_path / "nothing")])
    assert "--calibrate" in capsys.readouterr().err and not (tmp_path / "x").exists()


def test_int8_matches_fp32_on_real_faces(light_export, celeba30):
    """The CelebA fixture's validation faces (people the models never saw) through the fp32 and
    the int8 ONNX files (``benchmarks/int8_parity.py``): mask probabilities and painted faces
    inside the mask differ by at most the stated means, the masks found agree, and no pixel
    outside the mask found changes."""
    from benchmarks.int8_parity import parity
    from datasets.layout import read_annotations

    out, _, _ = light_export
    samples = read_annotations(celeba30 / "annotations" / "val.csv", celeba30)
    scores = parity(out, [load_image(s.masked) for s in samples])
    assert scores["painted_spread"] > 0.01, "the painted faces vary (a constant output would pass the rest)"
    assert scores["painted_mean_worst"] <= INT8_GENERATOR_MEAN, scores
    assert scores["painted_max"] <= INT8_GENERATOR_MAX, scores
    assert scores["probability_worst"] <= INT8_PROBABILITY_MEAN, scores
    assert scores["mask_agreement"] >= INT8_MASK_AGREEMENT, scores
    assert scores["masks_found"] == len(samples) and scores["changed_outside"] == 0, scores
