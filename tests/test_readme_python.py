"""The README's Python example runs as printed: on tiny models trained here, found where the
README says (the newest run in ``weights/``), it reconstructs a photo, writes the result and
reports a mask that the result respects."""

from __future__ import annotations

import re

import numpy as np
from conftest import ROOT
from webapp_models import train_tiny_models

from core.images import load_image, write_image
from demos.scenes import masked_astronaut
from helpers_infer import one_torch_thread  # noqa: F401 (autouse fixture)


def readme_python() -> str:
    """The README's ```python block that loads the pipeline."""
    blocks = re.findall(r"^```python\n(.*?)^```", (ROOT / "README.md").read_text(), flags=re.S | re.M)
    (snippet,) = [b for b in blocks if "load_pipeline" in b]
    return snippet


def test_the_readme_python_example_runs_as_printed(tmp_path, monkeypatch, capsys):
    train_tiny_models(tmp_path)  # into tmp_path/weights/, where load_config("predict") looks
    monkeypatch.chdir(tmp_path)
    face = masked_astronaut(256)
    write_image(tmp_path / "photo.jpg", face["masked"])
    capsys.readouterr()
    names: dict = {}
    exec(compile(readme_python(), "README.md", "exec"), names)  # noqa: S102 - the README's own code
    said = capsys.readouterr().out
    result, image = names["result"], names["image"]
    written = load_image(tmp_path / "photo_unmasked.png")
    assert np.array_equal(written, result.image) and result.image.shape == image.shape
    assert re.fullmatch(r"\d+ face\(s\), mask \d+\.\d% of the photo\n", said), said
    mask = result.mask
    dice = 2 * (mask & face["mask"]).sum() / (mask.sum() + face["mask"].sum())
    assert dice > 0.7, f"the mask found is the mask worn (Dice {dice:.2f})"
    assert np.array_equal(written[~mask], image[~mask]), "outside the mask, the photo's own pixels"
    assert np.abs(written[mask].astype(int) - image[mask].astype(int)).mean() > 10, "inside, painted"
