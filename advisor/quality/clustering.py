"""Clustering quality as mteb computes it: Mini-Batch k-means with as many clusters as gold groups (mteb's
ClusteringEvaluator settings: batch 500, ``n_init="auto"``, seeded), scored by the V-measure of the assignment."""

from __future__ import annotations

from typing import Sequence

import numpy as np

MTEB_CLUSTERING_BATCH_SIZE = 500
MTEB_SEED = 42


def cluster_assignments(vectors: np.ndarray, n_clusters: int, *, seed: int = MTEB_SEED,
                        batch_size: int = MTEB_CLUSTERING_BATCH_SIZE) -> np.ndarray:
    """The cluster of each row, from the same k-means mteb fits."""
    from sklearn.cluster import MiniBatchKMeans

    model = MiniBatchKMeans(n_clusters=n_clusters, batch_size=batch_size, n_init="auto", compute_labels=True,
                            random_state=seed)
    model.fit(vectors)
    return np.asarray(model.labels_)


def clustering_metrics(vectors: np.ndarray, labels: Sequence[str], *, seed: int = MTEB_SEED,
                       batch_size: int = MTEB_CLUSTERING_BATCH_SIZE) -> tuple[dict[str, float], np.ndarray]:
    """``v_measure`` (mteb's main clustering figure) with its two halves, and the assignment."""
    from sklearn.metrics import homogeneity_completeness_v_measure

    labels = list(labels)
    if len(set(labels)) < 2:
        return {"v_measure": 1.0, "homogeneity": 1.0, "completeness": 1.0}, np.zeros(len(labels), dtype=np.int64)
    predicted = cluster_assignments(vectors, len(set(labels)), seed=seed, batch_size=batch_size)
    homogeneity, completeness, v_measure = homogeneity_completeness_v_measure(labels, predicted)
    return {"v_measure": float(v_measure), "homogeneity": float(homogeneity),
            "completeness": float(completeness)}, predicted
