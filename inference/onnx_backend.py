"""The onnxruntime backend: an exported ONNX network behind the ``nn.Module`` call the
pipeline already makes, so pre- and post-processing stay one code path (``backend`` key).

``MaskReconstructor`` calls ``segmenter(x)`` and ``generator(x, mask, audio)`` on
``(B,C,S,S)`` float tensors; an ``OnnxNetwork`` takes the same call, runs the session on
the CPU and hands back a tensor. It has no parameters, so the pipeline's BatchNorm folding
and channels-last layout leave it as it is.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn


class OnnxNetwork(nn.Module):
    """One exported network (``segmentation.onnx`` or ``reconstruction.onnx``) on the CPU."""

    audio = "none"  # exported generators are image-only

    def __init__(self, path: Path, threads: int | None = None) -> None:
        super().__init__()
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 3  # warnings about unused initialisers are not the user's
        if threads:
            options.intra_op_num_threads = threads
        self.path = Path(path)
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]

    def __deepcopy__(self, memo):  # the pipeline copies models before fusing; a session is shared
        return self

    def forward(self, *tensors: torch.Tensor | None) -> torch.Tensor:
        feed = {name: np.ascontiguousarray(t.detach().float().cpu().numpy())
                for name, t in zip(self.inputs, tensors)}
        (out,) = self.session.run(None, feed)
        return torch.from_numpy(out)
