"""benchmarks/gpu_check.sh --quick: the GPU check's CPU-sized dry run, so the script does not rot."""

from __future__ import annotations

import json
import subprocess

from conftest import ROOT

from core.device import cpu_bf16_supported
from helpers_infer import ONE_THREAD_ENV


def test_the_gpu_check_dry_run_writes_its_table(tmp_path):
    out = tmp_path / "gpu_check.json"
    done = subprocess.run([str(ROOT / "benchmarks" / "gpu_check.sh"), "--quick", "--out", str(out)], cwd=ROOT,
                          capture_output=True, text=True, env=ONE_THREAD_ENV, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    results = json.loads(out.read_text())
    assert results["quick"] and "dry run on the CPU" in out.with_suffix(".md").read_text()
    # batch 1 and 2, fp32 and (where this CPU has bf16 convolutions) bf16
    assert len(results["inference"]) == (4 if cpu_bf16_supported() else 2)
    assert all(r["images/s"] > 0 and r["peak MB"] > 0 for r in results["inference"].values())
    assert all(r["seconds"] > 0 for r in results["training"].values())
    assert results["ddp"]["ok"] and results["ddp"]["detail"] == "done: 8 iterations"
