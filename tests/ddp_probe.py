"""Run one facemask training under torchrun and record what each rank did (for test_distributed).

    python -m torch.distributed.run --standalone --nproc_per_node 2 \
        tests/ddp_probe.py SETTINGS.json PROBE_DIR [CKPT]

Each rank writes to PROBE_DIR:
- ``rank{R}.pt``: its G, D, D2 state dicts after training;
- ``rank{R}.json``: every file it created, opened for writing, renamed or deleted under the
  settings' ``watch`` folder during training (seen through Python audit hooks), and the
  dataset indices of each batch it trained on, per epoch.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def watch_writes(folder: Path, seen: list[str]) -> None:
    """Append to ``seen`` every write-like file operation under ``folder``."""
    prefix = str(folder.resolve())

    def inside(path) -> bool:
        try:
            return os.path.abspath(os.fsdecode(path)).startswith(prefix)
        except TypeError:  # a file descriptor
            return False

    def hook(event: str, args: tuple) -> None:
        if event == "open":
            path, mode, flags = args
            writes = any(c in mode for c in "wax+") if isinstance(mode, str) else bool(flags & WRITE_FLAGS)
            if writes and inside(path):
                seen.append(f"open {os.fsdecode(path)}")
        elif event == "os.rename" and (inside(args[0]) or inside(args[1])):
            seen.append(f"rename {os.fsdecode(args[1])}")  # the name it ends up with
        elif event in ("os.remove", "os.mkdir", "os.rmdir") and inside(args[0]):
            seen.append(f"{event} {os.fsdecode(args[0])}")

    sys.addaudithook(hook)


def main() -> None:
    settings_path, probe = Path(sys.argv[1]), Path(sys.argv[2])
    resume = sys.argv[3] if len(sys.argv) > 3 else None
    settings = json.loads(settings_path.read_text())
    watch = Path(settings.pop("watch"))
    rank = int(os.environ["RANK"])

    import torch

    from configs import Config
    from models import PerceptualNet, PerceptualUnavailable
    from trainers import ReconstructionTrainer

    def offline(path=None):  # no download attempt: use the feature-matching fallback
        raise PerceptualUnavailable("offline test", "https://example.invalid/vgg19.pth", Path("vgg19.pth"))

    PerceptualNet.pretrained = staticmethod(offline)
    writes: list[str] = []
    watch_writes(watch, writes)
    trainer = ReconstructionTrainer(Config.from_dict(settings), resume=resume)
    seen: dict[int, list[int]] = {}
    step = trainer.train_step

    def recording_step(batch):
        seen.setdefault(trainer.epoch, []).extend(int(i) for i in batch["index"])
        return step(batch)

    trainer.train_step = recording_step
    trainer.fit()
    done = list(writes)  # what fit() wrote; the probe's own files below are not counted
    probe.mkdir(parents=True, exist_ok=True)
    torch.save({n: m.state_dict() for n, m in trainer.models.items()}, probe / f"rank{rank}.pt")
    (probe / f"rank{rank}.json").write_text(json.dumps({"writes": done, "indices": seen}))


if __name__ == "__main__":
    main()
