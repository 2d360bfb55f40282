"""Thresholds and alerts (being built)."""

from __future__ import annotations


def evaluate(ctx, changes):  # noqa: ANN001, ANN201
    return []
