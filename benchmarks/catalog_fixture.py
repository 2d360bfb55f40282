"""A catalog of N synthetic datasets for the catalog benchmark, built in seconds.

Organizations come from the demo seed (through the services). Datasets, keywords and one
metadata-only resource each are bulk-inserted with SQLAlchemy Core; then `cityhub.catalog.search.
rebuild` fills the search projection and the full-text index with the same `index_body` text the
service's reindex writes, so what is searched is exactly what the service would have indexed.
SQLite only: the benchmark's subject is the default single-file install.
"""

from __future__ import annotations

import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from cityhub.auth.models import Organization
from cityhub.catalog import search
from cityhub.catalog.models import Dataset, DatasetKeyword, Resource
from cityhub.cli import system_ctx
from cityhub.demo.districts import districts
from cityhub.demo.organizations import seed_organizations
from cityhub.demo.topics import DISTRICT, TOPICS
from cityhub.settings import Settings

VERSION = "4"  # bump when the generated rows change, so cached fixtures are rebuilt
BATCH = 5_000
FORMATS = ("CSV", "CSV", "CSV", "XLSX", "JSON", "GeoJSON", "PDF", "API")
EXTRA_WORDS = ("현황", "통계", "목록", "정보", "실적", "조사", "결과", "계획")


def settings_for(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, database_url="", log_json=True, secret_key="bench")


def build(data_dir: Path, n: int) -> Settings:
    """Create (or reuse) a data dir holding n datasets; returns its settings."""
    marker = data_dir / f"catalog-fixture-{n}-v{VERSION}"
    settings = settings_for(data_dir)
    if marker.exists():
        from cityhub.migrations.runner import upgrade

        upgrade(settings)  # a cached fixture still gets the schema changes made since it was built
        return settings
    if data_dir.exists():
        import shutil

        shutil.rmtree(data_dir)
    started = time.perf_counter()
    with system_ctx(settings) as ctx:
        seed_organizations(ctx)
        ctx.db.commit()
        orgs = dict(ctx.db.execute(select(Organization.name, Organization.id)).all())
        rng = random.Random(150)
        for start in range(0, n, BATCH):
            _insert_batch(ctx.db, orgs, rng, start, min(n, start + BATCH))
        ctx.db.commit()
        search.rebuild(ctx.db)  # the projection and full-text index, exactly as the catalog indexes
        ctx.db.commit()
        ctx.db.execute(text("ANALYZE"))
        ctx.db.execute(text("INSERT INTO dataset_fts(dataset_fts) VALUES ('optimize')"))
        ctx.db.commit()
    marker.write_text(f"{n} datasets built in {time.perf_counter() - started:.1f} s\n")
    return settings


def _insert_batch(db: Session, orgs: dict, rng: random.Random, start: int, stop: int) -> None:
    gus = districts()
    now = datetime(2025, 6, 1, tzinfo=UTC)
    datasets, keywords, resources = [], [], []
    for i in range(start, stop):
        topic = TOPICS[i % len(TOPICS)]
        gu = gus[(i // len(TOPICS)) % len(gus)]
        year = 2010 + (i // (len(TOPICS) * len(gus))) % 15
        word = EXTRA_WORDS[i % len(EXTRA_WORDS)]
        owner = gu.slug if topic.owner == DISTRICT else topic.owner
        org_id = orgs[owner]
        title = f"{topic.title.format(gu=gu.name_ko, gu_en=gu.name_en)} {year}년 {word}"
        title_en = f"{topic.title_en.format(gu=gu.name_ko, gu_en=gu.name_en)} {year}"
        notes = topic.notes.format(gu=gu.name_ko, gu_en=gu.name_en) + " 합성 데이터."
        notes_en = topic.notes_en.format(gu=gu.name_ko, gu_en=gu.name_en) + " Synthetic data."
        words = [*topic.keywords, gu.name_ko, str(year)]
        access = "internal" if i % 10 == 3 else "restricted" if i % 37 == 5 else "public"
        modified = now - timedelta(minutes=rng.randint(0, 1_000_000))
        ds_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        row = {
            "id": ds_id, "name": f"{topic.key}-{gu.slug}-{year}-{i}", "title": title, "title_en": title_en,
            "notes": notes, "notes_en": notes_en, "theme": topic.theme, "owner_org_id": org_id,
            "access_level": access, "state": "active", "license_id": topic.license,
            "update_frequency": topic.frequency, "spatial": f"부산광역시 {gu.name_ko} ({gu.code})",
            "extras": {}, "synthetic": True, "view_count": rng.randint(0, 5000),
            "created_at": modified - timedelta(days=rng.randint(0, 400)), "modified_at": modified,
        }
        datasets.append(row)
        keywords += [{"dataset_id": ds_id, "keyword": w} for w in dict.fromkeys(words)]
        resources.append({"id": str(uuid.UUID(int=rng.getrandbits(128), version=4)), "dataset_id": ds_id,
                          "name": f"{title} ({FORMATS[i % len(FORMATS)]})", "format": FORMATS[i % len(FORMATS)],
                          "url": f"https://example.invalid/{i}", "position": 0, "state": "active",
                          "datastore_active": False, "created_at": modified, "modified_at": modified})
    db.execute(insert(Dataset.__table__), datasets)
    db.execute(insert(DatasetKeyword.__table__), keywords)
    db.execute(insert(Resource.__table__), resources)
