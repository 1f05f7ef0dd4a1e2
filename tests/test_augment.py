"""Training-batch augmentation (``trainers.augment``), the in-mask reconstruction weight and a
local VGG19 file for the perceptual term."""

from __future__ import annotations

import pytest
import torch
from conftest import tiny_settings
from synthetic import face_triplets

from configs import Config
from datasets.base import collate_skip_broken
from models.perceptual import PerceptualNet, PerceptualUnavailable
from trainers import ReconstructionTrainer
from trainers.augment import augment


def batch(n: int = 4, side: int = 32) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(3)
    truth = torch.rand(n, 3, side, side, generator=gen)
    mask = torch.zeros(n, 1, side, side)
    mask[:, :, side // 2:, side // 4: 3 * side // 4] = 1
    masked = truth * (1 - mask) + torch.tensor([0.2, 0.5, 0.9]).view(1, 3, 1, 1) * mask
    return {"image": truth, "masked": masked, "mask": mask}


@pytest.mark.parametrize("mode", ["shape", "full"])
def test_a_sample_keeps_its_images_and_mask_aligned(mode):
    before = batch()
    after = augment(before, ("image", "masked"), ("mask",), mode, True, torch.Generator().manual_seed(0))
    assert not torch.equal(after["masked"], before["masked"]), "something changed"
    assert set(after["mask"].unique().tolist()) <= {0.0, 1.0}
    # Away from the mask's edge the masked face still equals its ground truth, and inside the
    # mask it still shows the mask's colour: the three moved together.
    m = after["mask"]
    inner = -torch.nn.functional.max_pool2d(-m, 5, 1, 2)
    outer = 1 - torch.nn.functional.max_pool2d(m, 5, 1, 2)
    differs = (after["masked"] - after["image"]).abs().amax(1, keepdim=True) > 0.02
    assert differs[outer.bool()].float().mean() < 0.01
    if mode == "shape":
        assert (after["masked"] - torch.tensor([0.2, 0.5, 0.9]).view(1, 3, 1, 1)).abs()[
            inner.expand(-1, 3, -1, -1).bool()].max() < 0.02


def test_the_same_seed_draws_the_same_changes():
    a = augment(batch(), ("image", "masked"), ("mask",), "full", True, torch.Generator().manual_seed(5))
    b = augment(batch(), ("image", "masked"), ("mask",), "full", True, torch.Generator().manual_seed(5))
    c = augment(batch(), ("image", "masked"), ("mask",), "full", True, torch.Generator().manual_seed(6))
    assert all(torch.equal(a[k], b[k]) for k in a) and not torch.equal(a["masked"], c["masked"])


def test_hole_weight_adds_the_in_mask_error(tmp_path):
    root = face_triplets(tmp_path / "faces", 2, size=32)
    terms = {}
    for weight in (0.0, 6.0):
        cfg = Config.from_dict(tiny_settings(tmp_path / str(weight), task="facemask", root_dir=str(root),
                                             img_size=32, depth=2, hole_weight=weight))
        trainer = ReconstructionTrainer(cfg)
        b = trainer.to_device(collate_skip_broken([trainer.train_set[i] for i in range(2)]))
        out = torch.zeros_like(b["image"])  # wrong everywhere, inside the mask too
        terms[weight] = float(trainer.generator_loss_terms(out, out, b)["rec"])
    in_mask = float(((torch.zeros_like(b["image"]) - b["image"]).abs() * b["mask"]).sum()
                    / (b["mask"].sum() * 3))
    assert terms[6.0] - terms[0.0] == pytest.approx(6.0 * in_mask, rel=0.05)


def test_a_local_vgg19_file_is_used_and_checked(tmp_path):
    from torchvision.models import vgg19

    good = tmp_path / "vgg19.pth"
    torch.save(vgg19(weights=None).state_dict(), good)
    net = PerceptualNet.pretrained(good)
    assert torch.equal(net.slices[0][0].weight, torch.load(good, weights_only=True)["features.0.weight"])
    bad = tmp_path / "other.pth"
    torch.save({"weight": torch.zeros(3)}, bad)
    with pytest.raises(PerceptualUnavailable, match="not a VGG19 state dict"):
        PerceptualNet.pretrained(bad)
    with pytest.raises(PerceptualUnavailable, match="is not a file"):
        PerceptualNet.pretrained(tmp_path / "missing.pth")


def test_bare_faces_show_the_clean_face_with_an_empty_mask(tmp_path):
    from trainers import SegmentationTrainer

    root = face_triplets(tmp_path / "faces", 4, size=32)

    def first_batch(share):
        cfg = Config.from_dict(tiny_settings(tmp_path / str(share), task="segm", root_dir=str(root),
                                             img_size=32, depth=2, bare_faces=share))
        trainer = SegmentationTrainer(cfg)
        b = trainer.to_device(collate_skip_broken([trainer.train_set[i] for i in range(4)]))
        return b, trainer.show_bare_faces(b)

    b, shown = first_batch(1.0)
    assert torch.equal(shown["masked"], b["image"]) and not shown["mask"].any() and b["mask"].any()
    b, shown = first_batch(0.5)
    bare = ~shown["mask"].flatten(1).any(1)
    assert 0 < int(bare.sum()) < 4  # this seed's draw: some bare, some masked
    assert torch.equal(shown["masked"][bare], b["image"][bare])
    assert torch.equal(shown["masked"][~bare], b["masked"][~bare])
    b, shown = first_batch(0.0)
    assert "image" not in b and shown is b  # off: the clean faces are not even loaded


def test_a_segmenter_that_sees_bare_faces_leaves_a_bare_face_alone(tmp_path):
    """Trained on one face only (as the demo is), a segmenter learns where her mask sits and
    paints her bare mouth; shown a quarter of the examples bare, it learns the mask itself
    (240 steps; measured: 0.130 of the bare photo painted without, 0.002 with; at 120 steps
    the bare examples had not yet taught it: 0.080)."""
    from webapp_models import SIDE, astronaut_root

    from demos.scenes import masked_astronaut
    from trainers import SegmentationTrainer

    root = astronaut_root(tmp_path / "data")
    face = masked_astronaut(SIDE)
    bare, masked = (torch.from_numpy(face[k]).permute(2, 0, 1)[None].float() / 255
                    for k in ("truth", "masked"))
    shares = {}
    for share in (0.0, 0.25):
        cfg = Config.from_dict(tiny_settings(tmp_path / str(share), task="segm", root_dir=str(root),
                                             img_size=SIDE, base_channels=8, depth=3, batch_size=4,
                                             lr=2e-3, max_iters=240, num_epochs=1000,
                                             val_anns="none", bare_faces=share))
        trainer = SegmentationTrainer(cfg)
        trainer.fit()
        with torch.no_grad():
            found = trainer.predict(torch.cat([bare, masked]))
        shares[share] = (float(found[0].mean()), float(found[1].mean()))
    true_share = float(face["mask"].mean())
    assert shares[0.0][0] > 0.02, shares  # the bare mouth painted without bare examples
    assert shares[0.25][0] < shares[0.0][0] / 4, shares
    assert shares[0.25][1] > true_share / 2, shares  # and the mask itself still found
