"""Learning, gradient-flow and resume tests for both trainers (real training, tiny models)."""

from __future__ import annotations

import torch
from conftest import tiny_settings
from synthetic import blob_pairs, face_triplets

from configs import Config
from datasets.base import collate_skip_broken
from metrics import masked_l1
from modelfiles.checkpoint import find_latest, load_checkpoint
from stages import SEGMENTATION
from trainers import ReconstructionTrainer, SegmentationTrainer


def segm_config(tmp_path, root, **extra) -> Config:
    return Config.from_dict(tiny_settings(
        tmp_path, task="segm", root_dir=str(root), train_anns=str(root / "annotations/train.csv"),
        val_anns=str(root / "annotations/val.csv"), **extra))


def recon_config(tmp_path, root, **extra) -> Config:
    return Config.from_dict(tiny_settings(tmp_path, task="facemask", root_dir=str(root), **extra))


def test_segmentation_learns_blobs(tmp_path):
    """Validation Dice >= 0.90 on held-out synthetic blobs after ~300 steps."""
    root = blob_pairs(tmp_path / "blobs", n_train=96, n_val=24, size=64)
    cfg = segm_config(tmp_path, root, num_epochs=25, batch_size=8, lr=3e-3, step_iters=[200])
    trainer = SegmentationTrainer(cfg)
    before = trainer.validate()["dice"]
    trainer.fit()
    after = trainer.last_val
    assert after["dice"] >= 0.90, after
    assert after["dice"] > before + 0.3
    assert after["pixel_acc"] >= 0.95
    # The published names, and a log row per step plus a validation row per epoch.
    assert find_latest(cfg.checkpoint_path, SEGMENTATION).name == f"model_segm_25_{trainer.iteration}.pth"
    assert len((trainer.run_dir / "segm_log.csv").read_text().splitlines()) == trainer.iteration + 1
    assert len((trainer.run_dir / "segm_val.csv").read_text().splitlines()) == 26


def _masked_l1(trainer, batch) -> float:
    with trainer.evaluating():
        _, comp = trainer.reconstruct(batch)
    return float(masked_l1(comp, batch["image"], batch["mask"]).mean())


def test_reconstruction_overfits_a_few_faces(tmp_path):
    """In-mask L1 of the composite falls by >= 40% from step 0 on 4 training faces."""
    root = face_triplets(tmp_path / "faces", 4, size=64)
    cfg = recon_config(tmp_path, root, num_epochs=60, lr=2e-3, perceptual="auto")
    trainer = ReconstructionTrainer(cfg)
    batch = trainer.to_device(collate_skip_broken([trainer.train_set[i] for i in range(4)]))
    start = _masked_l1(trainer, batch)
    trainer.fit()
    end = _masked_l1(trainer, batch)
    assert end <= 0.6 * start, (start, end)


def test_generator_gets_gradient_from_both_discriminators(tmp_path):
    root = face_triplets(tmp_path / "faces", 2, size=32)
    trainer = ReconstructionTrainer(recon_config(tmp_path, root, img_size=32, depth=2))
    batch = trainer.to_device(collate_skip_broken([trainer.train_set[i] for i in range(2)]))
    G = trainer.models["G"]
    out = G(batch["masked"], batch["mask"])
    comp = out * batch["mask"] + batch["masked"] * (1 - batch["mask"])
    terms = trainer.generator_loss_terms(out, comp, batch)
    params = [p for p in G.parameters() if p.requires_grad]
    for name in ("adv_D", "adv_D2"):
        grads = torch.autograd.grad(terms[name], params, retain_graph=True, allow_unused=True)
        total = sum(float(g.abs().sum()) for g in grads if g is not None)
        assert total > 0, f"{name} gives the generator no gradient"
    # ... and the discriminators were frozen for it (no gradient lands in them).
    assert all(p.grad is None for p in trainer.models["D"].parameters())


def test_adversarial_terms_alone_move_the_generator(tmp_path):
    """With only lambda_G on, a step still changes G (the published code's GAN did not)."""
    root = face_triplets(tmp_path / "faces", 2, size=32)
    trainer = ReconstructionTrainer(recon_config(tmp_path, root, img_size=32, depth=2,
                                                 lambda_rc=0.0, lambda_per=0.0, flip=False))
    before = [p.detach().clone() for p in trainer.models["G"].parameters()]
    batch = collate_skip_broken([trainer.train_set[i] for i in range(2)])
    trainer.train_step(batch)
    changed = sum(not torch.equal(a, b) for a, b in zip(before, trainer.models["G"].parameters()))
    assert changed > 0


def test_mask_discriminator_sees_ground_truth_as_real(tmp_path):
    """D2's real input is ground_truth*m (not the masked input: published defect 4)."""
    root = face_triplets(tmp_path / "faces", 2, size=32)
    trainer = ReconstructionTrainer(recon_config(tmp_path, root, img_size=32, depth=2, flip=False))
    seen = []
    d2 = trainer.train_models["D2"]
    original = d2.forward
    d2.forward = lambda x, features=False: (seen.append(x.detach().clone()), original(x, features))[1]
    batch = collate_skip_broken([trainer.train_set[i] for i in range(2)])
    trainer.train_step(batch)
    real = seen[0][:2]
    gt, m, masked = batch["image"], batch["mask"], batch["masked"]
    assert torch.allclose(real, gt * m)
    assert not torch.allclose(real, masked * m)


def _weights(trainer) -> dict[str, torch.Tensor]:
    return {f"{n}.{k}": v.detach().clone() for n, m in trainer.models.items()
            for k, v in m.state_dict().items()}


def _resume_matches(make_trainer, tmp_path, n: int) -> None:
    straight = make_trainer(tmp_path / "a", max_iters=2 * n)
    straight.fit()
    first = make_trainer(tmp_path / "b", max_iters=n)
    first.fit()
    ckpt = find_latest(tmp_path / "b" / "weights", first.stage)
    assert load_checkpoint(ckpt)["iteration"] == n
    resumed = make_trainer(tmp_path / "b", max_iters=2 * n, resume=ckpt)
    assert resumed.iteration == n
    resumed.fit()
    assert (resumed.iteration, resumed.epoch, resumed.batch_in_epoch) == \
        (straight.iteration, straight.epoch, straight.batch_in_epoch)
    a, b = _weights(straight), _weights(resumed)
    assert a.keys() == b.keys()
    worst = max(float((a[k].double() - b[k].double()).abs().max()) for k in a if a[k].is_floating_point())
    assert worst <= 1e-6, worst
    assert all(torch.equal(a[k], b[k]) for k in a if not a[k].is_floating_point())


def test_resume_reproduces_straight_run_facemask(tmp_path):
    """2N steps straight == N steps, stop, --resume, N more (stopping mid-epoch, with flips
    and feature matching on)."""
    root = face_triplets(tmp_path / "faces", 5, size=32)

    def make(out, resume=None, **extra):
        cfg = recon_config(out, root, img_size=32, depth=2, batch_size=2, num_epochs=10,
                           perceptual="auto", step_iters=[3], **extra)
        return ReconstructionTrainer(cfg, resume=resume)

    _resume_matches(make, tmp_path, n=4)


def test_resume_reproduces_straight_run_segm(tmp_path):
    root = blob_pairs(tmp_path / "blobs", n_train=10, n_val=2, size=32)

    def make(out, resume=None, **extra):
        cfg = segm_config(out, root, img_size=32, depth=2, batch_size=4, num_epochs=10, **extra)
        return SegmentationTrainer(cfg, resume=resume)

    _resume_matches(make, tmp_path, n=5)
