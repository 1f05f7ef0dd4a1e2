"""int8 ONNX networks for the onnxruntime backend: static QDQ quantisation, calibrated on face crops.

``quantize(src, dst, feeds)`` writes ``dst``, the float graph ``src`` with its convolutions'
weights stored as int8 (per output channel) and their activations as uint8, with
QuantizeLinear / DequantizeLinear pairs around them (the QDQ format, which onnxruntime fuses
into integer kernels). The activations' ranges come from running ``src`` on ``feeds``: prepared
face crops (``calibration_feeds``), the inputs the network meets in use.

Only the span between the first and the last convolution is quantised. Before it, the
generator fills the hole (``models.fill``: means, minima, divisions of colours) and after it
come the logits, the residual generator's ``logit(fill)`` and the sigmoid: on 256 levels a
logit spanning +-7 would move the painted colours by several levels, for no speed (these
layers are a sliver of the work). The convolutions hold over 99.9% of the multiply-adds.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from core.images import load_image, load_mask, resize_image, resize_mask
from datasets.layout import BINARY_DIR, MASKED_DIR, TRAIN_ANNS, Sample, folder_pairs, read_annotations

CALIBRATION_FACES = 32  # enough for stable activation ranges; each costs one run of the network


def calibration_samples(root: Path, count: int = CALIBRATION_FACES) -> list[Sample]:
    """Up to ``count`` (masked face, mask) pairs of a prepared root, spread evenly over its
    training split (``annotations/train.csv``) or, without one, its ``image_masked/`` and
    ``image_binary/`` folders."""
    root = Path(root)
    anns = root / TRAIN_ANNS
    samples = read_annotations(anns, root) if anns.is_file() else folder_pairs(root, MASKED_DIR, BINARY_DIR)
    if not samples:
        raise ValueError(f"no masked faces with masks to calibrate on in {root}")
    picks = np.linspace(0, len(samples) - 1, min(count, len(samples))).round().astype(int)
    return [samples[i] for i in sorted(set(picks.tolist()))]


def calibration_feeds(samples: list[Sample], side: int, inputs: list[str]) -> list[dict[str, np.ndarray]]:
    """One feed per sample for a network with ``inputs`` (``image``; ``image, mask``): the masked
    face ``(1,3,side,side)`` float32 in [0,1] and its mask ``(1,1,side,side)`` in {0,1}, resized
    as inference resizes them (``core.images``)."""
    feeds = []
    for s in samples:
        arrays = {"image": resize_image(load_image(s.masked), side).transpose(2, 0, 1) / 255.0,
                  "mask": resize_mask(load_mask(s.mask), side)[None].astype(np.float32)}
        feeds.append({name: arrays[name][None].astype(np.float32) for name in inputs})
    return feeds


def convolution_span(model: Any) -> set[str]:
    """Names of the nodes that are, or lie between, convolutions: each both reached from a
    ``Conv`` and leading to one (or a ``Conv`` itself)."""
    nodes = list(model.graph.node)
    producer = {out: n.name for n in nodes for out in n.output}
    consumers: dict[str, list[str]] = {}
    for n in nodes:
        for name in n.input:
            if name in producer:
                consumers.setdefault(producer[name], []).append(n.name)
    parents = {n.name: [producer[i] for i in n.input if i in producer] for n in nodes}
    convs = [n.name for n in nodes if n.op_type == "Conv"]
    return _reach(convs, consumers) & _reach(convs, parents)


def _reach(start: list[str], edges: dict[str, list[str]]) -> set[str]:
    """``start`` and every node reachable from it along ``edges``."""
    seen, todo = set(start), list(start)
    while todo:
        for nxt in edges.get(todo.pop(), []):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


class _Feeds:
    """The ``CalibrationDataReader`` protocol (``get_next``: one feed, then None) over a list."""

    def __init__(self, feeds: list[dict[str, np.ndarray]]) -> None:
        self._feeds = iter(feeds)

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._feeds, None)

    def rewind(self) -> None:  # part of the protocol; the calibration reads the feeds once
        pass


def quantize(src: Path, dst: Path, feeds: list[dict[str, np.ndarray]]) -> None:
    """Write ``dst``: ``src`` with its convolution span in int8 QDQ, activation ranges from
    ``feeds`` (see the module's docstring)."""
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    model = onnx.load(str(src))
    for i, node in enumerate(model.graph.node):  # exclusion is by name: give every node one
        node.name = node.name or f"{node.op_type}_{i}"
    keep = convolution_span(model)
    excluded = [n.name for n in model.graph.node if n.name not in keep]
    with tempfile.TemporaryDirectory() as tmp:
        named = Path(tmp) / "named.onnx"
        onnx.save(model, str(named))
        # Its advice to pre-process (symbolic shape inference, which fails on these graphs'
        # dynamic batch) is not the user's business.
        logging.disable(logging.WARNING)
        try:
            quantize_static(str(named), str(dst), _Feeds(feeds), quant_format=QuantFormat.QDQ,
                            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=True,
                            calibrate_method=CalibrationMethod.MinMax, nodes_to_exclude=excluded)
        finally:
            logging.disable(logging.NOTSET)
