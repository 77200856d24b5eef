"""Metric kernels (numpy + faiss, pure functions): k-NN retrieval and Recall@N for VPR."""

from engine.metrics.recall import knn, positives_within, recall_at

__all__ = ["knn", "positives_within", "recall_at"]
