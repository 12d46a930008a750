"""GPU-only checks of the fast path (skipped without CUDA): CUDA-graph batch-1 vectors equal the eager bulk
vectors, fp16/bf16 bulk vectors match sentence-transformers fp32, and measure_cost reports the CUDA peak of the
serving footprint's process."""

from __future__ import annotations

import numpy as np
import pytest

from advisor.cost.memory import FOOTPRINT_METHOD

torch = pytest.importorskip("torch")
pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]

TEXTS = ["a gripping thriller with a weak ending", "the cast is wonderful but the script is thin " * 6,
         "boring", "a family comedy about a dog who learns to surf " * 20]


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_gpu_fast_path_matches_reference(minilm_dir, precision):
    from sentence_transformers import SentenceTransformer

    from advisor.models.fastpath import FastTransformerEncoder

    ref = SentenceTransformer(str(minilm_dir), device="cuda").encode(TEXTS)
    enc = FastTransformerEncoder(minilm_dir, device="cuda", weight_precision=precision)
    assert enc.use_graphs
    bulk = enc.encode(TEXTS)
    enc.warmup()
    one = np.stack([enc.encode_one(t, kind="document") for t in TEXTS])
    assert _cos(bulk, ref).min() >= 0.999
    assert _cos(one, ref).min() >= 0.999
    enc.close()


def test_gpu_measure_cost_reports_the_serving_processs_cuda_peak(minilm_dir, repo):
    from advisor.cost import measure_cost
    from advisor.datasets.tasks import load_task
    from advisor.models.backends import LoadOptions, load_encoder
    from advisor.models.resolve import resolve_model

    task = load_task(repo / "data" / "rt-reviews-plots")
    entry, load = resolve_model(str(minilm_dir)), LoadOptions(device="cuda", weight_precision="fp16")
    enc = load_encoder(entry, load)
    f = measure_cost(enc, task, entry=entry, load=load, bulk_docs=156, load_requests=200)
    # the serving footprint's fresh process loaded the model on the GPU: its allocator peak holds the fp16 weights
    assert f["memory"]["method"] == FOOTPRINT_METHOD and f["gpu_peak_memory_mb"] > 40
    assert f["serving_memory_mb"] > f["serving_runtime_mb"] > 0
    assert f["environment"]["hardware"]["gpus"]
    enc.close()
