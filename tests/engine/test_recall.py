"""Recall@N kernels against brute-force numpy on hand-placed coordinates."""

from __future__ import annotations

import numpy as np
import pytest

from engine.metrics.recall import knn, positives_within, recall_at

# Database along a street (east, north) in metres; queries placed by hand around it.
DB_UTM = np.array([[0, 0], [10, 0], [40, 0], [100, 0], [100, 30], [500, 500]], dtype=np.float64)
QUERY_UTM = np.array(
    [
        [1, 0],  # q0: positives 0, 1
        [60, 0],  # q1: positive 2 only (20 m); 3 is 40 m away
        [100, 10],  # q2: positives 3, 4 (10 m and 20 m)
        [250, 250],  # q3: nothing within 25 m
    ],
    dtype=np.float64,
)


def brute_positives(db: np.ndarray, queries: np.ndarray, radius: float) -> list[np.ndarray]:
    dist = np.linalg.norm(queries[:, None, :] - db[None, :, :], axis=2)
    return [np.flatnonzero(row <= radius) for row in dist]


def brute_recall(predictions: np.ndarray, positives: list[np.ndarray], n: int) -> float:
    hits = [len(set(row[:n]) & set(pos)) > 0 for row, pos in zip(predictions, positives)]
    return 100.0 * sum(hits) / len(hits)


def test_positives_within_radius() -> None:
    found = positives_within(DB_UTM, QUERY_UTM, 25.0)
    expected = brute_positives(DB_UTM, QUERY_UTM, 25.0)
    assert [f.tolist() for f in found] == [e.tolist() for e in expected] == [[0, 1], [2], [3, 4], []]
    assert all(f.dtype == np.int64 for f in found)


def test_radius_is_inclusive() -> None:
    found = positives_within(np.array([[0.0, 0.0], [3.0, 4.0]]), np.array([[0.0, 0.0]]), 5.0)
    assert found[0].tolist() == [0, 1]


def test_knn_matches_brute_force() -> None:
    rng = np.random.default_rng(0)
    db = rng.normal(size=(50, 16)).astype(np.float32)
    queries = rng.normal(size=(7, 16)).astype(np.float32)
    found = knn(db, queries, 5)
    dist = ((queries[:, None, :] - db[None, :, :]) ** 2).sum(axis=2)
    assert found.dtype == np.int64 and found.shape == (7, 5)
    np.testing.assert_array_equal(found, np.argsort(dist, axis=1)[:, :5])


def test_knn_clips_k_to_database() -> None:
    db = np.eye(3, dtype=np.float32)
    assert knn(db, db, 10).shape == (3, 3)
    np.testing.assert_array_equal(knn(db, db, 10)[:, 0], [0, 1, 2])


def test_recall_exact_percentages() -> None:
    positives = positives_within(DB_UTM, QUERY_UTM, 25.0)
    predictions = np.array(
        [
            [0, 3, 5],  # q0: right at rank 1
            [3, 5, 2],  # q1: only positive at rank 3
            [0, 4, 1],  # q2: positive at rank 2
            [0, 1, 2],  # q3: no positive exists, always wrong
        ]
    )
    recalls = recall_at(predictions, positives, [1, 2, 3, 20])
    assert recalls == {"R@1": 25.0, "R@2": 50.0, "R@3": 75.0, "R@20": 75.0}
    for n in (1, 2, 3, 20):
        assert recalls[f"R@{n}"] == pytest.approx(brute_recall(predictions, positives, n))


def test_end_to_end_with_descriptors() -> None:
    """Descriptors equal to positions: each query's nearest database image is the closest place."""
    db = np.hstack([DB_UTM, np.zeros((6, 2))]).astype(np.float32)
    queries = np.hstack([QUERY_UTM, np.zeros((4, 2))]).astype(np.float32)
    predictions = knn(db, queries, 20)  # k above N: clipped to 6
    positives = positives_within(DB_UTM, QUERY_UTM, 25.0)
    assert recall_at(predictions, positives, [1, 5, 10]) == {"R@1": 75.0, "R@5": 75.0, "R@10": 75.0}


def test_no_queries() -> None:
    assert recall_at(np.zeros((0, 5), dtype=np.int64), [], [1, 5]) == {"R@1": 0.0, "R@5": 0.0}
