"""Exact search against brute-force numpy references, and the stored vector forms against independent codecs."""

from __future__ import annotations

import numpy as np
import pytest

from advisor.quality.search import brute_force, hamming, search
from advisor.quality.vectors import Int8Calibration, derive, quantize, truncate_normalize
from advisor.models.variants import bytes_per_vector


@pytest.fixture(scope="module")
def vectors() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    # clustered data, so that binary codes collide and Hamming ties are frequent
    centres = rng.normal(size=(20, 96)).astype(np.float32)
    docs = centres[rng.integers(0, 20, 2500)] + 0.3 * rng.normal(size=(2500, 96)).astype(np.float32)
    queries = centres[rng.integers(0, 20, 150)] + 0.3 * rng.normal(size=(150, 96)).astype(np.float32)
    return queries, docs


def numpy_hamming_reference(q_bits: np.ndarray, d_bits: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Unpacked bits, pairwise count of differing positions, full stable sort: nothing shared with the search."""
    qb = np.unpackbits(q_bits, axis=1).astype(bool)
    db = np.unpackbits(d_bits, axis=1).astype(bool)
    dist = np.array([[np.count_nonzero(qrow ^ drow) for drow in db] for qrow in qb])
    order = np.argsort(dist, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(dist, order, axis=1)


@pytest.mark.parametrize("dim", [96, 64, 13])
def test_hamming_search_equals_numpy_reference(vectors, dim):
    q, d = vectors
    v = derive({"queries": q[:40], "corpus": d[:600]}, dim, "binary", calibrate_on="corpus")
    ref_idx, ref_dist = numpy_hamming_reference(v["queries"].data, v["corpus"].data, 50)
    # tiny chunks: the running top-k merge across many blocks must still be exact, ties included
    res = search(v["queries"], v["corpus"], 50, chunk_bytes=4096)
    assert (ref_dist > 0).any() and len(np.unique(ref_dist)) < ref_dist.size  # ties do occur
    np.testing.assert_array_equal(res.indices, ref_idx)
    np.testing.assert_array_equal(res.scores, dim - 2 * ref_dist)


def test_hamming_kernel_matches_unpacked_count(vectors):
    q, d = vectors
    qb, db = np.packbits(q[:30] > 0, axis=1), np.packbits(d[:70] > 0, axis=1)
    expected = (np.unpackbits(qb, axis=1)[:, None, :] != np.unpackbits(db, axis=1)[None, :, :]).sum(axis=2)
    np.testing.assert_array_equal(hamming(qb, db), expected)


@pytest.mark.parametrize("precision", ["float32", "float16", "int8"])
def test_float_search_equals_full_sort(vectors, precision):
    q, d = vectors
    v = derive({"queries": q, "corpus": d}, 48, precision, calibrate_on="corpus")
    res = search(v["queries"], v["corpus"], 100, chunk_bytes=32 * 1024)
    ref = brute_force(v["queries"], v["corpus"], 100)
    np.testing.assert_allclose(res.scores, ref.scores, atol=1e-5)
    assert (res.indices == ref.indices).mean() > 0.999  # only float-rounding near-ties may swap


def test_rescoring_recovers_float_ranking(vectors):
    q, d = vectors
    full = derive({"queries": q, "corpus": d}, None, "float32")
    exact = search(full["queries"], full["corpus"], 10)
    binary = derive({"queries": q, "corpus": d}, None, "binary", calibrate_on="corpus")
    plain = search(binary["queries"], binary["corpus"], 10)
    rescored = search(binary["queries"], binary["corpus"], 10, rescore_multiplier=10,
                      query_float=full["queries"].data)
    overlap = lambda r: np.mean([len(set(a) & set(b)) / 10 for a, b in zip(r.indices, exact.indices)])
    assert rescored.details["rescore_multiplier"] == 10 and rescored.details["rescore"]["candidates"] == 100
    assert plain.details["rescore_multiplier"] == 0
    assert overlap(rescored) > overlap(plain)
    # rescored scores are float query . (+-1 document bits), in descending order
    s = (np.unpackbits(binary["corpus"].data[rescored.indices[0]], axis=1)[:, :96] * 2.0 - 1) @ full["queries"].data[0]
    np.testing.assert_allclose(rescored.scores[0], s, rtol=1e-5)
    assert np.all(np.diff(rescored.scores, axis=1) <= 0)


def test_truncate_renormalizes():
    x = np.random.default_rng(0).normal(size=(5, 32)).astype(np.float32)
    t = truncate_normalize(x, 8)
    assert t.shape == (5, 8)
    np.testing.assert_allclose(np.linalg.norm(t, axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(t, x[:, :8] / np.linalg.norm(x[:, :8], axis=1, keepdims=True), rtol=1e-6)


def test_binary_packing_equals_sentence_transformers(vectors):
    from sentence_transformers.quantization import quantize_embeddings

    q, _ = vectors
    unit = truncate_normalize(q)
    np.testing.assert_array_equal(quantize(unit, "binary").data, quantize_embeddings(unit, precision="ubinary"))
    assert quantize(unit, "binary").nbytes_per_vector == bytes_per_vector(96, "binary") == 12


def test_int8_calibration_recorded_and_close_to_sentence_transformers(vectors):
    from sentence_transformers.quantization import quantize_embeddings

    q, d = vectors
    unit_d, unit_q = truncate_normalize(d), truncate_normalize(q)
    cal = Int8Calibration.fit(unit_d, sample=1000, seed=3)
    assert cal.sample_size == 1000
    again = Int8Calibration.fit(unit_d, sample=1000, seed=3)
    np.testing.assert_array_equal(cal.start, again.start)  # seeded: the same sample every run
    rec = cal.to_dict()
    assert len(rec["min"]) == len(rec["max"]) == 96 and rec["seed"] == 3
    codes = cal.encode(unit_q)
    assert codes.dtype == np.int8
    # sentence-transformers truncates where we round: codes agree within one step
    sample = unit_d[np.sort(np.random.default_rng(3).choice(len(unit_d), 1000, replace=False))]
    st = quantize_embeddings(unit_q, precision="int8", calibration_embeddings=sample)
    assert np.abs(codes.astype(int) - st.astype(int)).max() <= 1
    # decoding error is at most half a step inside the calibrated range
    inside = (unit_q >= cal.start) & (unit_q <= cal.start + 255 * cal.step)
    err = np.abs(cal.decode(codes) - unit_q)
    assert np.all(err[inside] <= (cal.step / 2 + 1e-6)[None, :].repeat(len(q), 0)[inside])


def test_int8_variant_shares_corpus_calibration(vectors):
    q, d = vectors
    v = derive({"queries": q, "corpus": d}, 32, "int8", calibrate_on="corpus")
    assert v["queries"].calibration is v["corpus"].calibration
    expected = Int8Calibration.fit(truncate_normalize(d, 32))
    np.testing.assert_array_equal(v["corpus"].calibration.start, expected.start)


@pytest.mark.gpu
@pytest.mark.parametrize("precision", ["float32", "binary"])
def test_gpu_search_equals_cpu(vectors, precision):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    q, d = vectors
    v = derive({"queries": q, "corpus": d}, 64, precision, calibrate_on="corpus")
    cpu = search(v["queries"], v["corpus"], 50, chunk_bytes=64 * 1024)
    gpu = search(v["queries"], v["corpus"], 50, device="cuda", chunk_bytes=64 * 1024)
    np.testing.assert_allclose(gpu.scores, cpu.scores, atol=1e-5)
    if precision == "binary":  # integer scores: identical, ties included
        np.testing.assert_array_equal(gpu.indices, cpu.indices)


@pytest.mark.parametrize("precision", ["float32", "int8", "binary"])
def test_torch_block_code_equals_numpy_path(vectors, precision):
    """The torch path (the CPU default, and the GPU's code): same keys, so the same top-k as the numpy reference
    path, which keys every score; binary codes tie often here, so the tied-row settling is exercised."""
    pytest.importorskip("torch")
    from advisor.quality._search_torch import torch_topk_keys
    from advisor.quality.search import _decode_keys

    q, d = vectors
    v = derive({"queries": q, "corpus": d}, 64, precision, calibrate_on="corpus")
    keys = np.sort(torch_topk_keys(v["queries"], v["corpus"], 40, 64 * 1024, device="cpu"), axis=1)
    idx, scores = _decode_keys(keys)
    ref = search(v["queries"], v["corpus"], 40, chunk_bytes=64 * 1024, device="numpy")
    np.testing.assert_allclose(scores, ref.scores, atol=1e-5)
    assert (idx == ref.indices).mean() > (0.999 if precision != "binary" else 1 - 1e-12)


def test_tied_scores_go_to_the_lower_row():
    """Thirty identical documents tie for the top: the search returns the five lowest rows, as a stable sort
    would, whichever path selects them."""
    rng = np.random.default_rng(3)
    docs = truncate_normalize(rng.normal(size=(50, 32)).astype(np.float32))
    docs[10:40] = docs[10]
    corpus = quantize(docs, "float32")
    queries = quantize(docs[[10]], "float32")
    for device in ("cpu", "numpy"):
        assert search(queries, corpus, 5, device=device).indices.tolist() == [[10, 11, 12, 13, 14]]
