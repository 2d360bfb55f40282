"""Start-up and shutdown of the context domain's background work (the notification dispatcher)."""

from __future__ import annotations

from fastapi import FastAPI


def install(app: FastAPI) -> None:
    """Register start-up/shutdown hooks (filled in as background workers are added)."""
    return None
