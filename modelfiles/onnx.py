"""The onnxruntime backend: one exported ONNX network, called as the pipeline calls a torch one.

``MaskReconstructor`` calls ``segmenter(x)`` and ``generator(x, mask, audio)`` on
``(B,C,S,S)`` float tensors; an ``OnnxNetwork`` takes the same call, runs its session on the
CPU and hands back a tensor. It is not a torch module: it has no weights to fold or move, and
the pipeline uses it as it is (exported generators are image-only, so ``audio`` is None).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch


class OnnxNetwork:
    """One exported network (``segmentation.onnx`` or ``reconstruction.onnx``) on the CPU."""

    def __init__(self, path: Path, threads: int | None = None) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 3  # warnings about unused initialisers are not the user's
        if threads:
            options.intra_op_num_threads = threads
        self.path = Path(path)
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]

    def __call__(self, *tensors: torch.Tensor | None) -> torch.Tensor:
        """The network's inputs in order (``image``; ``image, mask``), each ``(B,C,S,S)`` float;
        a trailing None (the generator's absent audio) is left out. Returns ``(B,C,S,S)`` float32."""
        given = list(tensors)
        while given and given[-1] is None:
            given.pop()
        if len(given) != len(self.inputs) or any(t is None for t in given):
            raise ValueError(f"{self.path.name} takes {', '.join(self.inputs)}; got {len(given)} tensors")
        feed = {name: np.ascontiguousarray(t.detach().float().cpu().numpy())
                for name, t in zip(self.inputs, given)}
        (out,) = self.session.run(None, feed)
        return torch.from_numpy(out)
