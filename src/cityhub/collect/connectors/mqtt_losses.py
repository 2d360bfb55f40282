"""What an MQTT run notices missing: messages the broker dropped, and gaps in the payloads' own numbering.

The broker's `$SYS/broker/publish/messages/dropped` counts messages dropped for any client (a queue or
in-flight limit reached), so it is broker-wide, not this source's alone. The last value seen is kept in
the source's state: the next run counts from there, so drops while the platform was down (the broker
queueing for our persistent session, `max_queued_messages` reached) are reported by the next run.
A counter lower than before means the broker restarted and began counting again from zero. Mosquitto
keeps its $SYS values retained for 60 s only and publishes this one only when it changes: a subscription
to a quiet broker receives nothing, which means no drop lately (the run records 0 while it watches), and a
first value arriving while we listen changed from one we never saw: the whole count is taken, an upper
bound, unless an earlier run of the source left its last value.

Sequence numbers (`sequence_path` in the payload) are followed per topic across runs: a jump is counted
as missing messages; a number at or below the last one is a redelivery (QoS 1 after a crash) unless it
is far below, which means the publisher started its numbering again.
"""

from __future__ import annotations

from typing import Any

# A sequence number this far below the last one means the publisher restarted, not a redelivery.
RESTART_BELOW = 10_000


class Losses:
    def __init__(self, *, sequence_path: str | None, state: dict[str, Any]) -> None:
        self.path = sequence_path.split(".") if sequence_path else None
        self.last_seq: dict[str, int] = dict(state.get("mqtt_seq") or {})
        self.stored: int | None = state.get("broker_dropped_counter")
        self.base: int | None = None  # the counter value this run counts from
        self.current: int | None = None
        self.carried = 0  # drops counted before a broker restart during this run
        self.missing: int | None = 0 if self.path else None
        self.changed = False
        self.watched = False  # the broker accepted our subscription to its counter

    def saw_counter(self, seen: tuple[int, bool] | None, *, watched: bool = False) -> None:
        """The broker's dropped-message counter as last published (value, published while we listened)."""
        if watched and not self.watched:
            self.watched = self.changed = True
        if seen is None or seen[0] == self.current:
            return
        value, live = seen
        if self.base is None:
            if self.stored is not None:
                self.base = self.stored if value >= self.stored else 0
            else:  # retained: earlier drops were before our time; live: from a value never seen
                self.base = 0 if live else value
        elif value < (self.current or 0):
            self.carried += (self.current or 0) - self.base
            self.base = 0
        self.current = value
        self.changed = True

    def check(self, records: list[dict[str, Any]]) -> None:
        """Count gaps in the sequence numbers of a batch's messages (records of {topic, payload})."""
        if self.path is None:
            return
        last_seq, path = self.last_seq, self.path
        for record in records:
            seq = record["payload"]
            for part in path:
                seq = seq.get(part) if isinstance(seq, dict) else None
            if not isinstance(seq, int) or isinstance(seq, bool):
                continue
            topic = record["topic"]
            last = last_seq.get(topic)
            if last is not None:
                if seq > last + 1:
                    self.missing += seq - last - 1
                elif last - RESTART_BELOW < seq <= last:
                    continue  # delivered again
            last_seq[topic] = seq
        self.changed = True

    def counters(self) -> dict[str, int | None]:
        if self.current is None:
            dropped = 0 if self.watched else None  # watched, and the counter did not move
        else:
            dropped = self.carried + self.current - (self.base or 0)
        return {"broker_dropped": dropped, "messages_missing": self.missing}

    def state(self) -> dict[str, Any]:
        self.changed = False
        state: dict[str, Any] = {}
        if self.current is not None:
            state["broker_dropped_counter"] = self.current
        if self.path is not None:
            state["mqtt_seq"] = dict(self.last_seq)
        return state
