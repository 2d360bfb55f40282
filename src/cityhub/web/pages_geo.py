"""Offline map context for pages: Busan's districts as GeoJSON, drawn under data on a blank map
(no tile basemap, because the city network may have no internet)."""

from __future__ import annotations

from functools import lru_cache

from fastapi import APIRouter
from fastapi.responses import Response
from shapely.geometry import mapping

from cityhub.context.districts import districts
from cityhub.http import dumps

router = APIRouter()


@lru_cache(maxsize=1)
def _district_geojson() -> bytes:
    features = [
        {"type": "Feature", "id": d.code, "geometry": mapping(d.polygon.simplify(0.0005)),
         "properties": {"code": d.code, "name_ko": d.name_ko, "name_en": d.name_en}}
        for d in districts()
    ]
    return dumps({"type": "FeatureCollection", "features": features})


@router.get("/geo/districts.geojson")
def district_outlines() -> Response:
    """The 16 districts (generated outlines of the demo city), cached by browsers for a day."""
    return Response(_district_geojson(), media_type="application/geo+json",
                    headers={"Cache-Control": "public, max-age=86400"})
