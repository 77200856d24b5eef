"""Recall@N for visual place recognition: exact k-NN (faiss), positives within a radius, recall percentages.

The protocol follows gmberton/VPR-methods-evaluation: a query is correct at N when any of its first N
retrieved database images lies within `radius_m` metres (UTM) of it; a query with no database image
inside the radius can never be correct, so it counts as wrong (it is not dropped from the denominator).
"""

from __future__ import annotations

from collections.abc import Sequence

import faiss
import numpy as np
from sklearn.neighbors import NearestNeighbors


def knn(database: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Exact nearest neighbours by L2 distance (equivalently cosine, for unit descriptors).

    Args:
        database: N×D descriptors.
        queries: M×D descriptors.
        k: Neighbours per query; clipped to N.

    Returns:
        M×min(k, N) int64 database indices, nearest first.
    """
    database = np.ascontiguousarray(database, dtype=np.float32)
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    if database.ndim != 2 or queries.ndim != 2 or database.shape[1] != queries.shape[1]:
        raise ValueError(f"descriptor shapes differ: database {database.shape}, queries {queries.shape}")
    k = min(k, len(database))
    if k < 1 or len(queries) == 0:
        return np.zeros((len(queries), max(k, 0)), dtype=np.int64)
    index = faiss.IndexFlatL2(database.shape[1])
    index.add(database)
    _, indices = index.search(queries, k)  # M×k, ascending distance
    return indices.astype(np.int64, copy=False)


def positives_within(db_utm: np.ndarray, query_utm: np.ndarray, radius_m: float) -> list[np.ndarray]:
    """Database images within `radius_m` metres (inclusive) of each query.

    Args:
        db_utm: N×2 (east, north) database positions in metres.
        query_utm: M×2 query positions in metres.
        radius_m: Positive radius (25 m is the field's default).

    Returns:
        M sorted int64 arrays of database indices; empty for a query with no positive.
    """
    db_utm = np.asarray(db_utm, dtype=np.float64).reshape(-1, 2)
    query_utm = np.asarray(query_utm, dtype=np.float64).reshape(-1, 2)
    if len(db_utm) == 0:
        return [np.zeros(0, dtype=np.int64) for _ in range(len(query_utm))]
    if len(query_utm) == 0:
        return []
    neighbours = NearestNeighbors(n_jobs=1).fit(db_utm)
    found = neighbours.radius_neighbors(query_utm, radius=radius_m, return_distance=False)
    return [np.sort(np.asarray(f, dtype=np.int64)) for f in found]


def recall_at(
    predictions: np.ndarray, positives: Sequence[np.ndarray], ns: Sequence[int]
) -> dict[str, float]:
    """Recall@N in percent: share of queries with a positive among their first N predictions.

    Args:
        predictions: M×K database indices per query, best first (e.g. from `knn`).
        positives: M arrays of positive database indices (e.g. from `positives_within`).
        ns: The N values; an N above K uses all K predictions.

    Returns:
        {"R@1": 61.2, "R@5": ...} in the order of `ns`; 0.0 for every N when there are no queries.
    """
    predictions = np.asarray(predictions)
    if len(predictions) != len(positives):
        raise ValueError(f"{len(predictions)} prediction rows for {len(positives)} queries")
    if len(predictions) == 0:
        return {f"R@{n}": 0.0 for n in ns}
    first_hit = _first_correct_rank(predictions, positives)  # M, rank of first positive (or "never")
    return {f"R@{n}": float(100.0 * np.mean(first_hit < n)) for n in ns}


def _first_correct_rank(predictions: np.ndarray, positives: Sequence[np.ndarray]) -> np.ndarray:
    """Per query, the 0-based rank of its first correct prediction; int64 max when none is correct."""
    # A sentinel above any N, so an N larger than K never counts a query without a hit.
    ranks = np.full(len(predictions), np.iinfo(np.int64).max, dtype=np.int64)
    for i, (row, pos) in enumerate(zip(predictions, positives)):
        hits = np.flatnonzero(np.isin(row, pos))
        if hits.size:
            ranks[i] = hits[0]
    return ranks
