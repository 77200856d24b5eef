"""Tests of engine/data: synthetic city, VPR folder loader, place sampler, augmentations."""
