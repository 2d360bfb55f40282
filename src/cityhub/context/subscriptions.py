"""Subscriptions (being built)."""

from __future__ import annotations


def enqueue_notifications(ctx, changes, now):  # noqa: ANN001, ANN201
    return None
