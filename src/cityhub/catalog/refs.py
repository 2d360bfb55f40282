"""Small immutable views of catalog rows that other domains receive instead of ORM models."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DatasetRef:
    """Enough of a dataset for access decisions (satisfies policy.DatasetLike)."""

    id: str
    name: str
    title: str
    access_level: str
    owner_org_id: str | None


@dataclass(frozen=True)
class ResourceRef:
    id: str
    dataset_id: str
    dataset_name: str
    name: str
    format: str | None
    file_path: Path | None
    datastore_table: str | None
    row_count: int | None
    dataset: DatasetRef

    @property
    def access_level(self) -> str:
        return self.dataset.access_level

    @property
    def owner_org_id(self) -> str | None:
        return self.dataset.owner_org_id
