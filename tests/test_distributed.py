"""DDP under torchrun: 2 CPU processes (gloo) train facemask on tiny data (issue 7, must-show 2)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch
from conftest import ROOT, tiny_settings
from synthetic import face_triplets

PROBE = ROOT / "tests" / "ddp_probe.py"


def torchrun(settings: dict, probe: Path, resume: Path | None = None) -> list[dict]:
    """Launch the probe on 2 processes; returns each rank's record (``ddp_probe.py``)."""
    path = probe.with_suffix(".json")
    path.write_text(json.dumps(settings))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           str(PROBE), str(path), str(probe)] + ([str(resume)] if resume else [])
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    records = []
    for rank in (0, 1):
        record = json.loads((probe / f"rank{rank}.json").read_text())
        record["state"] = torch.load(probe / f"rank{rank}.pt", weights_only=True)
        records.append(record)
    return records


def flat(state: dict[str, dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    return {f"{model}.{key}": value for model, sd in state.items() for key, value in sd.items()}


def test_two_process_ddp_training(tmp_path):
    faces = face_triplets(tmp_path / "faces", 6, size=32)
    run_dir = tmp_path / "run"

    def settings(out: Path) -> dict:
        return {**tiny_settings(out, task="facemask", root_dir=str(faces), val_dir=str(faces),
                                img_size=32, depth=2, batch_size=2, num_epochs=5, max_iters=4,
                                save_per_iter=2, visualize_per_iter=2, perceptual="auto", run_name="ddp"),
                "watch": str(out)}

    rank0, rank1 = torchrun(settings(run_dir), tmp_path / "probe")

    # Every parameter and buffer of G, D and D2 is identical on both ranks ...
    a, b = flat(rank0["state"]), flat(rank1["state"])
    assert a.keys() == b.keys() and any(k.startswith("D2.") for k in a)
    different = [k for k in a if not torch.equal(a[k], b[k])]
    assert not different, different
    # ... although each rank trained on its own half of the data, reshuffled every epoch:
    # without synchronised gradients the ranks would have drifted apart.
    for epoch in ("0", "1"):
        assert sorted(rank0["indices"][epoch] + rank1["indices"][epoch]) == list(range(6))
    assert rank0["indices"]["0"] != rank0["indices"]["1"]

    # Only rank 0 wrote: checkpoints, samples and the CSV logs.
    assert rank1["writes"] == [], rank1["writes"]
    written = {Path(w.split(" ", 1)[1]).name for w in rank0["writes"]}
    assert {"model_0_2.pth", "model_1_4.pth", "0_2.png", "1_4.png", "facemask_log.csv",
            "facemask_val.csv"} <= written, written
    files = sorted(p.name for p in (run_dir / "weights" / "ddp").iterdir() if p.name != "tensorboard")
    assert files == ["facemask_curves.png", "facemask_log.csv", "facemask_val.csv", "model_0_2.pth",
                     "model_1_4.pth", "model_1_4_best.pth"]
    log = run_dir / "weights" / "ddp" / "facemask_log.csv"
    assert len(log.read_text().splitlines()) == 1 + 4  # one row a step

    # Resume under torchrun: 2 steps, stop, --resume, 2 more == 4 straight.
    resumed0, resumed1 = torchrun(settings(tmp_path / "resumed"), tmp_path / "probe2",
                                  resume=run_dir / "weights" / "ddp" / "model_0_2.pth")
    c = flat(resumed0["state"])
    assert all(torch.equal(c[k], v) for k, v in flat(resumed1["state"]).items())
    worst = max(float((a[k].double() - c[k].double()).abs().max()) for k in a if a[k].is_floating_point())
    assert worst <= 1e-6, worst
