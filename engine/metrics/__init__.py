"""Metric kernels, pure functions checked against their reference definitions: Recall@N for VPR (`recall`), mIoU
and per-class IoU from confusion matrices (`segmentation`), top-k accuracy (`classification`)."""
