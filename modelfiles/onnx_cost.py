"""What an ONNX graph costs: multiply-adds of its convolutions and matrix products, from its shapes.

Counted on the graph that runs (an exported file, float or int8), not on the torch module it
came from, so a benchmark's GFLOPs are those of the file it times. ``onnx.shape_inference``
gives every tensor's shape; a symbolic dimension (the dynamic batch) counts as ``batch``.
Per node, with ``N`` the batch:

- ``Conv`` (and ``QLinearConv``, ``ConvInteger``): ``N * C_out * prod(out spatial) * C_in/groups
  * prod(kernel)``;
- ``ConvTranspose``: ``N * C_in * prod(in spatial) * C_out/groups * prod(kernel)``;
- ``MatMul`` (and ``MatMulInteger``, ``QLinearMatMul``, ``Gemm``): ``prod(output) * K``.

Elementwise layers, pooling, resizing and normalisation are left out, as in the usual
counts; GFLOPs are these multiply-adds times 2.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any

CONVS = {"Conv": 1, "ConvInteger": 1, "QLinearConv": 3}  # op -> the position of its weight input
MATMULS = {"MatMul", "MatMulInteger", "QLinearMatMul", "Gemm"}


def _shapes(model: Any, batch: int) -> dict[str, list[int]]:
    """Every named tensor's shape, symbolic or unknown dimensions taken as ``batch``."""
    import onnx

    graph = onnx.shape_inference.infer_shapes(model).graph
    shapes = {t.name: list(t.dims) for t in graph.initializer}
    for info in (*graph.input, *graph.value_info, *graph.output):
        dims = info.type.tensor_type.shape.dim
        shapes[info.name] = [d.dim_value if d.HasField("dim_value") else batch for d in dims]
    return shapes


def _node_macs(node: Any, shapes: dict[str, list[int]]) -> int:
    """Multiply-adds of one node (0 for the ops not counted); KeyError when a shape is unknown."""
    op = node.op_type
    if op in CONVS:
        weight, out = shapes[node.input[CONVS[op]]], shapes[node.output[0]]
        return math.prod(out[:2]) * math.prod(out[2:]) * math.prod(weight[1:])
    if op == "ConvTranspose":
        x, weight = shapes[node.input[0]], shapes[node.input[1]]
        return math.prod(x) * math.prod(weight[1:])
    if op in MATMULS:
        a, out = shapes[node.input[0]], shapes[node.output[0]]
        trans_a = any(a_.name == "transA" and a_.i for a_ in node.attribute)
        inner = a[-2] if op == "Gemm" and trans_a else a[-1]
        return math.prod(out) * inner
    return 0


def graph_macs(model: Any, batch: int = 1) -> Counter:
    """Multiply-adds per op type of an ONNX ``ModelProto`` (or a path to one) for ``batch``
    inputs. ValueError when a counted node's shape cannot be inferred (a count would be wrong)."""
    import onnx

    if isinstance(model, (str, Path)):
        model = onnx.load(str(model))
    shapes = _shapes(model, batch)
    macs: Counter = Counter()
    for node in model.graph.node:
        try:
            macs[node.op_type] += _node_macs(node, shapes)
        except KeyError as missing:
            raise ValueError(f"no inferred shape for {missing} of {node.op_type} node {node.name}") from None
    return +macs


def onnx_gflops(model: Any, batch: int = 1) -> float:
    """GFLOPs (multiply-adds x 2) of one run of the ONNX graph ``model`` on ``batch`` inputs."""
    return 2 * sum(graph_macs(model, batch).values()) / 1e9
