"""Every kind of damaged or odd input gets one clear line (or is read correctly), and the
rest of the folder or batch is still processed. One table, one place to look."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import cv2
import imageio_ffmpeg
import numpy as np
import pytest
import torch
from conftest import tiny_settings
from PIL import Image
from synthetic import blob_pairs, face_triplets

from configs import ConfigError, load_config
from core.images import ImageReadError, load_image, load_mask
from datasets.base import collate_skip_broken
from datasets.layout import DatasetError
from datasets.reconstruction import ReconstructionDataset
from datasets.segmentation import SegmentationDataset
from modelfiles.checkpoint import CheckpointError, load_checkpoint, load_weights, model_state
from trainers import ReconstructionTrainer, SegmentationTrainer

RNG = np.random.default_rng(7)
PHOTO = RNG.integers(0, 255, (48, 40, 3), np.uint8)


def _jpeg(image: np.ndarray, **kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "JPEG", **kw)
    return buf.getvalue()


def _png(image: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", image)
    assert ok
    return buf.tobytes()


def _exif_rotated() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    buf = io.BytesIO()
    Image.fromarray(PHOTO).save(buf, "JPEG", exif=exif)
    return buf.getvalue()


def _cmyk() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(PHOTO).convert("CMYK").save(buf, "JPEG")
    return buf.getvalue()


def _palette() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(PHOTO).convert("P").save(buf, "PNG")
    return buf.getvalue()


# name -> (file bytes, expected: a message fragment for errors, or a check of the array)
IMAGE_CASES = {
    "truncated.jpg": (_jpeg(PHOTO)[:400], "truncated JPEG"),
    "zero.jpg": (b"", "empty file (0 bytes)"),
    "text_named.jpg": (b"hello, not an image\n" * 10, "not a readable image"),
    "png_named.jpg": (_png(PHOTO[..., ::-1]), lambda a: np.array_equal(a, PHOTO)),
    "palette.png": (_palette(), lambda a: a.shape == (48, 40, 3)),
    "alpha.png": (_png(np.dstack([PHOTO[..., ::-1], np.full((48, 40), 7, np.uint8)])),
                  lambda a: np.array_equal(a, PHOTO)),
    "sixteen.png": (_png(PHOTO[..., ::-1].astype(np.uint16) * 257), lambda a: np.array_equal(a, PHOTO)),
    "cmyk.jpg": (_cmyk(), lambda a: a.shape == (48, 40, 3) and np.abs(a.astype(int) - PHOTO).mean() < 30),
    "exif.jpg": (_exif_rotated(), lambda a: a.shape == (40, 48, 3)),
    "tiny.png": (_png(PHOTO[:10, :10]), lambda a: a.shape == (10, 10, 3)),
}


@pytest.mark.parametrize("name", sorted(IMAGE_CASES))
def test_image_file_cases(tmp_path, name):
    data, expected = IMAGE_CASES[name]
    path = tmp_path / name
    path.write_bytes(data)
    if isinstance(expected, str):
        with pytest.raises(ImageReadError) as err:
            load_image(path)
        msg = str(err.value)
        assert expected in msg and name in msg and "\n" not in msg
    else:
        assert expected(load_image(path))


def test_huge_image_loads_and_resizes(tmp_path):
    path = tmp_path / "huge.png"
    cv2.imwrite(str(path), np.full((8000, 8000, 3), 90, np.uint8))
    masked = tmp_path / "root" / "image_masked"
    masked.mkdir(parents=True)
    path.rename(masked / "big_masked.png")
    binary = tmp_path / "root" / "image_binary"
    binary.mkdir()
    cv2.imwrite(str(binary / "big_binary.png"), np.zeros((8000, 8000), np.uint8))
    item = SegmentationDataset(tmp_path / "root", 64)[0]
    assert item["masked"].shape == (3, 64, 64)
    assert torch.allclose(item["masked"], torch.full_like(item["masked"], 90 / 255), atol=1e-6)


@pytest.mark.parametrize("case, fragment", [
    ("other_aspect", "does not match"),
    ("grey_photo", "not a binary mask"),
    ("zero_one", None),
    ("half_size", None),
])
def test_mask_cases(tmp_path, case, fragment):
    root = face_triplets(tmp_path / "f", 1, size=32)
    binary = root / "image_binary" / "face000_binary.png"
    good = cv2.imread(str(binary), cv2.IMREAD_GRAYSCALE)
    if case == "other_aspect":
        cv2.imwrite(str(binary), cv2.resize(good, (40, 20)))
    elif case == "grey_photo":
        cv2.imwrite(str(binary), cv2.cvtColor(cv2.resize(PHOTO, (32, 32)), cv2.COLOR_RGB2GRAY) // 2 + 64)
    elif case == "zero_one":
        cv2.imwrite(str(binary), (good > 127).astype(np.uint8))
    else:
        cv2.imwrite(str(binary), cv2.resize(good, (16, 16), interpolation=cv2.INTER_NEAREST))
    if fragment:
        with pytest.raises(ImageReadError, match=fragment):
            ReconstructionDataset(root, 32).load_arrays(0)
        assert ReconstructionDataset(root, 32)[0] is None  # skipped, with a warning
    else:
        item = ReconstructionDataset(root, 32)[0]
        expected = torch.from_numpy(good > 127).float()
        assert (item["mask"][0] - expected).abs().mean() < 0.05
        assert load_mask(binary).any()


def test_bad_files_in_a_folder_do_not_stop_the_rest(tmp_path):
    """All image cases as masked photos of one segmentation folder: the good ones load,
    the damaged ones are skipped, a batch of all of them still trains."""
    root = tmp_path / "root"
    for name, (data, _) in IMAGE_CASES.items():
        stem = Path(name).stem
        (root / "image_masked").mkdir(parents=True, exist_ok=True)
        (root / "image_binary").mkdir(parents=True, exist_ok=True)
        (root / "image_masked" / f"{stem}_masked{Path(name).suffix}").write_bytes(data)
        shape = (40, 48) if stem == "exif" else (10, 10) if stem == "tiny" else (48, 40)
        cv2.imwrite(str(root / "image_binary" / f"{stem}_binary.png"), np.zeros(shape, np.uint8))
    ds = SegmentationDataset(root, 32)
    items = [ds[i] for i in range(len(ds))]
    good = [i for i in items if i is not None]
    bad = {ds.samples[k].name for k, i in enumerate(items) if i is None}
    assert bad == {"truncated", "zero", "text_named"}
    assert len(good) == len(IMAGE_CASES) - 3
    cfg = load_config("segm", [], **tiny_settings(tmp_path, root_dir=str(root), train_anns=None,
                                                  val_anns=None, img_size=32, depth=2, batch_size=16))
    trainer = SegmentationTrainer(cfg)
    trainer.fit()
    assert trainer.iteration == 1


@pytest.mark.parametrize("rows, fragment", [
    ("1,image_masked\\00000_masked.png\n", "expected index,masked_path,binary_path"),
    ("1,..\\..\\etc\\passwd.png,image_binary\\00000_binary.png\n", "outside the dataset root"),
    ("1,/etc/hosts.png,image_binary\\00000_binary.png\n", "outside the dataset root"),
])
def test_bad_annotation_csv(tmp_path, rows, fragment):
    root = blob_pairs(tmp_path / "d", 1, 0, size=32)
    csv_path = root / "annotations" / "bad.csv"
    csv_path.write_text("0,image_masked\\00000_masked.png,image_binary\\00000_binary.png\n" + rows)
    with pytest.raises(DatasetError, match=fragment):
        SegmentationDataset(root, 32, csv_path)


def test_yaml_that_is_not_a_mapping(tmp_path):
    path = tmp_path / "list.yaml"
    path.write_text("- img_size\n- 128\n")
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_config(str(path))


@pytest.fixture
def saved_generator(tmp_path) -> Path:
    root = face_triplets(tmp_path / "faces", 1, size=32)
    cfg = load_config("facemask", [], **tiny_settings(tmp_path, root_dir=str(root), train_anns=None,
                                                      val_anns=None, img_size=32, depth=2))
    return ReconstructionTrainer(cfg).save()


def test_truncated_checkpoint(saved_generator, tmp_path):
    cut = tmp_path / "cut.pth"
    cut.write_bytes(saved_generator.read_bytes()[:5000])
    with pytest.raises(CheckpointError, match=r"cut.pth cannot be read \(truncated, damaged"):
        load_checkpoint(cut)


def test_checkpoint_of_another_model(saved_generator, tmp_path):
    from models import Generator, MaskSegmenter

    data = load_checkpoint(saved_generator)
    with pytest.raises(CheckpointError, match="no 'model' weights.*holds D, D2, G"):
        model_state(data, "model", saved_generator)
    with pytest.raises(CheckpointError, match="does not fit the segmenter"):
        load_weights(MaskSegmenter(base_channels=8, depth=2), data["G"], saved_generator, "segmenter")
    with pytest.raises(CheckpointError, match="does not fit the generator.*base_channels=16"):
        load_weights(Generator(base_channels=16, depth=2), data["G"], saved_generator, "generator")


def _ffmpeg(*args: str) -> None:
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-y", *args], check=True)


def test_video_with_no_frames(tmp_path, capsys):
    """An mp4 holding only sound: inference and preparation both say so in one line."""
    from inference.command import script_main as infer_main
    from prepare.run import prepare_video

    video = tmp_path / "sound_only.mp4"
    _ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=1", "-c:a", "aac", str(video))
    with pytest.raises(SystemExit) as stop:
        infer_main(["--input", str(video), "--out", str(tmp_path / "out")], "infer_jpgs.py")
    assert stop.value.code == 2
    (line,) = [x for x in capsys.readouterr().err.splitlines() if x.startswith("error:")]
    assert "sound_only.mp4: no video stream" in line
    with pytest.raises(Exception) as err:
        prepare_video(video, tmp_path / "prepared")
    assert "\n" not in str(err.value) and "no video stream" in str(err.value)


def test_collate_of_an_all_broken_batch_is_none():
    assert collate_skip_broken([None, None]) is None


@pytest.mark.parametrize("suffix, encode", [(".png", ".png"), (".jpg", ".jpg")])
def test_an_image_named_like_a_video_is_called_an_image(tmp_path, suffix, encode):
    from core.media import VideoError, probe

    ok, data = cv2.imencode(encode, np.full((64, 64, 3), 90, np.uint8))
    fake = tmp_path / f"photo{suffix}.mp4"
    fake.write_bytes(data.tobytes())
    with pytest.raises(VideoError, match=r"an image \((png|jpeg|mjpeg|image2)\), not a video"):
        probe(fake)
