"""Tables of the city board: the replay log of live events and minute samples for sparklines."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cityhub.db import Base, UTCDateTime, utcnow


class BoardEvent(Base):
    """One event as boards received it. Its id is the SSE event id, so a reconnecting board sends
    Last-Event-ID and gets what it missed; the log is bounded (oldest rows are pruned)."""

    __tablename__ = "board_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    topic: Mapped[str] = mapped_column(String(100))
    scope: Mapped[str] = mapped_column(String(10))  # public | staff
    payload: Mapped[dict] = mapped_column(JSON)


class BoardSample(Base):
    """City-wide and per-district figures once a minute: the panels' 24-hour sparklines."""

    __tablename__ = "board_samples"

    at: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    figures: Mapped[dict] = mapped_column(JSON)
