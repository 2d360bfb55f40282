"""Incident types and their lifecycles (state machines), in the city's words, Korean and English.

A fire follows the 119 timeline the public sees on Seoul's board: 출동지령 → 현장도착 → 활동개시 →
초진 → 완진 → 상황종결. Every other incident follows the generic control-room lifecycle. A
transition may only go one step forward; anything else is refused with the allowed step named.
"""

from __future__ import annotations

from dataclasses import dataclass

# type -> allowed subtypes (None: no subtype)
TYPES: dict[str, tuple[str, ...]] = {
    "fire": ("building", "vehicle", "forest", "other"),
    "rescue": ("water", "height", "confined", "other"),
    "ems": ("cardiac", "injury", "illness", "other"),
    "crime": ("assault", "theft", "robbery", "missing", "other"),
    "traffic_accident": ("collision", "pedestrian", "multi_vehicle", "other"),
    "disaster": ("flood", "typhoon", "earthquake", "landslide", "heavy_snow"),
    "environment": ("air_pollution", "water_pollution"),
    "vulnerable_person": ("child", "elderly", "dementia"),
}
TYPE_LABELS = {
    "fire": ("화재", "Fire"), "rescue": ("구조", "Rescue"), "ems": ("구급", "EMS"), "crime": ("범죄", "Crime"),
    "traffic_accident": ("교통사고", "Traffic accident"), "disaster": ("재난", "Disaster"),
    "environment": ("환경", "Environment"), "vulnerable_person": ("사회적 약자", "Vulnerable person"),
}
SEVERITIES = ("low", "medium", "high", "critical")
SOURCES = ("agency", "sensor", "citizen", "operator")


@dataclass(frozen=True)
class Lifecycle:
    name: str
    states: tuple[str, ...]
    labels: dict[str, tuple[str, str]]

    @property
    def initial(self) -> str:
        return self.states[0]

    @property
    def final(self) -> str:
        return self.states[-1]

    def allowed_from(self, state: str) -> list[str]:
        """The states one may move to from `state` (one step forward; none once closed)."""
        i = self.states.index(state)
        return list(self.states[i + 1:i + 2])

    def label(self, state: str) -> tuple[str, str]:
        return self.labels.get(state, (state, state))


FIRE = Lifecycle("fire", ("dispatched", "arrived", "operating", "initially_suppressed", "fully_suppressed",
                          "closed"),
                 {"dispatched": ("출동지령", "Dispatch order"), "arrived": ("현장도착", "Arrived on scene"),
                  "operating": ("활동개시", "Operations started"),
                  "initially_suppressed": ("초진", "Initially suppressed"),
                  "fully_suppressed": ("완진", "Fully suppressed"), "closed": ("상황종결", "Closed")})
GENERIC = Lifecycle("generic", ("reported", "acknowledged", "dispatched", "on_scene", "resolved", "closed"),
                    {"reported": ("접수", "Reported"), "acknowledged": ("확인", "Acknowledged"),
                     "dispatched": ("출동", "Dispatched"), "on_scene": ("현장도착", "On scene"),
                     "resolved": ("조치완료", "Resolved"), "closed": ("종결", "Closed")})
LIFECYCLES = {"fire": FIRE, "generic": GENERIC}


def lifecycle_for(incident_type: str) -> Lifecycle:
    return FIRE if incident_type == "fire" else GENERIC
