"""Exported models (export.py): safetensors + model card, ONNX, and loading them back."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import CELEBA30, ROOT
from webapp_models import SIDE, train_tiny_models

from configs import Config
from core.images import load_image
from demos.scenes import masked_astronaut
from faces.track import FaceFinder
from helpers_infer import ONE_THREAD_ENV, one_torch_thread  # noqa: F401 (autouse fixture)
from inference.morphology import clean_mask
from inference.pipeline import MaskReconstructor
from inference.settings import ReconstructorSettings
from modelfiles.card import ExportError, sha256_file
from modelfiles.export import export
from modelfiles.load import load_model
from stages import RECONSTRUCTION, SEGMENTATION


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    return train_tiny_models(tmp_path_factory.mktemp("export_models"), val=3)


@pytest.fixture(scope="module")
def exported(checkpoints, tmp_path_factory):
    out = tmp_path_factory.mktemp("exported") / "tiny"
    card = export(*checkpoints, out, onnx=True)
    return out, card


@pytest.fixture(scope="module")
def images() -> list[np.ndarray]:
    """The masked astronaut and, where the fixture is here, four masked CelebA faces."""
    found = [masked_astronaut(256)["masked"]]
    masked = CELEBA30 / "celeba512_30k_masked"
    if masked.is_dir():
        found += [load_image(p) for p in sorted(masked.glob("*.jpg"))[:4]]
    return found


def reconstructor(path, backend: str = "torch") -> MaskReconstructor:
    cfg = Config.from_dict({"task": "predict", "device": "cpu", "backend": backend})
    segm, recon = load_model(cfg, SEGMENTATION, path[0]), load_model(cfg, RECONSTRUCTION, path[1])
    settings = ReconstructorSettings(recon.img_size(cfg), segm_size=segm.img_size(cfg))
    return MaskReconstructor(segm.model, recon.model, settings, faces=FaceFinder("none"))


def test_the_card_is_filled_from_the_run(exported, checkpoints):
    out, card = exported
    on_disk = json.loads((out / "model_card.json").read_text())
    assert on_disk == card
    segm, recon = card["models"]["segm"], card["models"]["facemask"]
    assert segm["training"]["iterations"] == 120 and recon["training"]["iterations"] == 20
    assert segm["img_size"] == recon["img_size"] == SIDE
    assert recon["architecture"] == {"kind": "generator", **load_model(
        Config.from_dict({}), RECONSTRUCTION, checkpoints[1]).model.spec}
    assert recon["training"]["data"]["train_examples"] == 9 and recon["training"]["data"]["val_examples"] == 3
    # The validation scores are the run's last ones, read from its log.
    assert 0 < segm["validation"]["dice"] <= 1 and segm["validation"]["iteration"] == 120
    assert recon["validation"]["psnr_mask"] > 0 and recon["config"]["lr"] == 2e-3
    for entry in (segm, recon):
        for listed in (entry, entry["onnx"]):
            assert listed["sha256"] == sha256_file(out / listed["file"])
        assert entry["onnx"]["opset"] == 18
    text = (out / "model_card.md").read_text()
    assert recon["sha256"] in text and "licence" in text.lower() and "120 iterations" in text


def test_the_exported_generator_is_much_smaller_than_its_checkpoint(exported, checkpoints):
    out, _ = exported
    ratio = checkpoints[1].stat().st_size / (out / "reconstruction.safetensors").stat().st_size
    # Tiny models: D and D2 are as wide as G here; at the default widths the ratio is larger.
    assert ratio > 4, ratio


def test_every_exported_file_has_a_plain_files_permissions(exported, tmp_path):
    """safetensors writes its file owner-only; the export gives every file the mode a plain
    ``open()`` gives (readable by others, as a shared model should be)."""
    out, _ = exported
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    modes = {p.name: p.stat().st_mode & 0o777 for p in out.iterdir()}
    assert {"reconstruction.safetensors", "segmentation.safetensors"} <= set(modes)
    assert set(modes.values()) == {plain.stat().st_mode & 0o777}, modes


def test_the_torch_backend_reproduces_the_checkpoint_exactly(exported, checkpoints, images):
    out, _ = exported
    ours, theirs = reconstructor((out, out))(images), reconstructor(checkpoints)(images)
    for a, b in zip(ours, theirs):
        assert np.array_equal(a.mask, b.mask) and np.array_equal(a.image, b.image)
    single = reconstructor((out / "segmentation.safetensors", out / "reconstruction.safetensors"))(images[:1])
    assert np.array_equal(single[0].image, theirs[0].image)


def test_the_onnxruntime_backend_matches_torch(exported, images):
    out, _ = exported
    torch_rec, onnx_rec = reconstructor((out, out)), reconstructor((out, out), "onnxruntime")
    with torch.inference_mode():
        x = torch_rec.prepare(images, SIDE)
        p_torch, p_onnx = torch_rec.probabilities(x), onnx_rec.probabilities(x)
        mask = clean_mask(p_torch, **torch_rec.settings.morphology())
        g_torch, g_onnx = torch_rec.generate(x, mask), onnx_rec.generate(x, mask)
    assert (p_torch - p_onnx).abs().max() < 1e-4
    assert (g_torch - g_onnx).abs().max() < 1e-4
    results = onnx_rec(images)
    for a, b, image in zip(results, torch_rec(images), images):  # one pipeline around both backends
        assert (a.mask != b.mask).mean() < 1e-3
        same = a.mask & b.mask
        assert np.abs(a.image[same].astype(int) - b.image[same].astype(int)).max() <= 1
        assert np.array_equal(a.image[~a.mask], image[~a.mask])


def test_a_changed_byte_is_refused_in_one_line(exported, tmp_path):
    import shutil

    out, _ = exported
    copy = tmp_path / "tampered"
    shutil.copytree(out, copy)
    path = copy / "reconstruction.safetensors"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    cfg = Config.from_dict({"task": "predict"})
    with pytest.raises(ExportError, match="does not match its model card") as err:
        load_model(cfg, RECONSTRUCTION, copy)
    assert "\n" not in str(err.value)
    load_model(cfg, SEGMENTATION, copy)  # the other, untouched file still loads
    with pytest.raises(ExportError, match="training checkpoint"):
        load_model(Config.from_dict({"task": "predict", "backend": "onnxruntime"}), RECONSTRUCTION,
                   out.parent / "missing.pth")


def test_export_and_infer_from_the_command_line(checkpoints, tmp_path):
    out = tmp_path / "cli_export"
    run = lambda *args: subprocess.run([sys.executable, *map(str, args)], cwd=ROOT, capture_output=True,  # noqa: E731
                                       text=True, env=ONE_THREAD_ENV, timeout=600)
    done = run("export.py", "--segm-weights", checkpoints[0], "--recon-weights", checkpoints[1], "--out", out)
    assert done.returncode == 0, done.stderr
    assert "reconstruction: reconstruction.safetensors" in done.stdout and "x larger" in done.stdout
    # which checkpoints, by their run folder (runs share file names), not their base name alone
    for checkpoint in checkpoints:
        assert f"from {checkpoint.resolve().as_posix()}" in done.stdout, done.stdout
    again = run("export.py", "--segm-weights", checkpoints[0], "--recon-weights", checkpoints[1],
                "--out", out)
    assert again.returncode == 2 and "already holds an export" in again.stderr
    photo = tmp_path / "photo.png"
    from core.images import write_image

    write_image(photo, masked_astronaut(128)["masked"])
    done = run("infer_jpgs.py", "--input", photo, "--out", tmp_path / "res", "--segm-weights", out,
               "--recon-weights", out, "faces=none")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "res" / "results2_photo.jpg").is_file()
    refused = run("infer_jpgs.py", "--input", photo, "--out", tmp_path / "res2", "--segm-weights", out,
                  "--recon-weights", out, "backend=onnxruntime")
    assert refused.returncode == 2 and "no ONNX file" in refused.stderr and "--onnx" in refused.stderr


def test_a_half_precision_export_is_half_the_size_and_close(checkpoints, exported, images, tmp_path):
    out, _ = exported
    card = export(*checkpoints, tmp_path / "half", half=True)
    assert card["models"]["facemask"]["dtype"] == "float16"
    full, half = (out / "reconstruction.safetensors").stat().st_size, card["models"]["facemask"]["bytes"]
    assert 0.45 < half / full < 0.55
    a, b = reconstructor((out, out)), reconstructor((tmp_path / "half", tmp_path / "half"))
    with torch.inference_mode():
        x = a.prepare(images[:2], SIDE)
        mask = clean_mask(a.probabilities(x), **a.settings.morphology())
        assert (a.generate(x, mask) - b.generate(x, mask)).abs().max() < 2e-2


def test_an_audio_generator_exports_with_its_encoder_and_onnx_refuses_it(checkpoints, tmp_path):
    from modelfiles.card import ENCODER_PREFIX
    from models import AudioEncoder, Generator

    torch.manual_seed(0)
    generator, encoder = Generator(8, 3, audio="film", audio_dim=16), AudioEncoder(audio_dim=16, channels=8)
    data = torch.load(checkpoints[1], weights_only=False)
    data.update(G=generator.state_dict(), audio_encoder=encoder.state_dict(),
                specs={**data["specs"], "G": generator.spec, "audio_encoder": encoder.spec})
    path = tmp_path / "model_1_20.pth"
    torch.save(data, path)
    with pytest.raises(ExportError, match="audio-conditioned .* export without --onnx") as err:
        export(checkpoints[0], path, tmp_path / "refused", onnx=True)
    assert "\n" not in str(err.value) and not (tmp_path / "refused").exists()
    card = export(checkpoints[0], path, tmp_path / "audio")
    assert card["models"]["facemask"]["audio"] == "film"
    loaded = load_model(Config.from_dict({"task": "predict"}), RECONSTRUCTION, tmp_path / "audio")
    assert loaded.model.audio == "film" and loaded.audio_encoder is not None
    mels = torch.rand(2, 40, 30)
    with torch.inference_mode():
        assert torch.equal(loaded.audio_encoder(mels), encoder.eval()(mels))
    assert ENCODER_PREFIX.rstrip(".") in card["models"]["facemask"]["audio_encoder"]["prefix"]


def test_a_mean_face_generator_exports_with_its_prior(checkpoints, images, tmp_path):
    """``fill: prior`` keeps the training faces' mean face in the generator: the export carries
    it, and both backends paint from it."""
    from webapp_models import astronaut_root

    from trainers import ReconstructionTrainer

    root = astronaut_root(tmp_path / "data")
    cfg = Config.from_dict({"task": "facemask", "root_dir": str(root), "device": "cpu", "img_size": SIDE,
                            "base_channels": 8, "depth": 3, "num_workers": 0, "perceptual": "none",
                            "val_anns": "none", "fill": "prior", "residual": True,
                            "checkpoint_path": str(tmp_path / "weights"),
                            "sample_folder": str(tmp_path / "samples")})
    trainer = ReconstructionTrainer(cfg)
    card = export(checkpoints[0], trainer.save(), tmp_path / "out", onnx=True)
    assert card["models"]["facemask"]["architecture"]["fill"] == "prior"
    out = tmp_path / "out"
    loaded = load_model(Config.from_dict({"task": "predict", "device": "cpu"}), RECONSTRUCTION,
                        out / "reconstruction.safetensors").model
    assert torch.equal(loaded.prior, trainer.models["G"].prior)
    torch_rec, onnx_rec = reconstructor((out, out)), reconstructor((out, out), "onnxruntime")
    with torch.inference_mode():
        x = torch_rec.prepare(images, SIDE)
        mask = clean_mask(torch_rec.probabilities(x), **torch_rec.settings.morphology())
        assert (torch_rec.generate(x, mask) - onnx_rec.generate(x, mask)).abs().max() < 1e-4
