"""What the dataset page shows for each resource: its preview kind, downloads and API snippets."""

from __future__ import annotations

from dataclasses import dataclass, field

from cityhub.catalog.schemas import DatasetPublic, ResourcePublic

IMAGE_FORMATS = frozenset({"PNG", "JPEG", "JPG", "GIF", "SVG", "WEBP"})
AUDIO_FORMATS = frozenset({"MP3", "WAV", "OGG", "M4A", "FLAC"})
VIDEO_FORMATS = frozenset({"MP4", "WEBM"})
# Datastore exports of a tabular resource: (label key, format at /api/v1/datastore/{id}/download.{format})
DATASTORE_EXPORTS = (
    ("download.csv", "csv"),
    ("download.csv_excel", "csv-bom"),
    ("download.json", "json"),
    ("download.geojson", "geojson"),
    ("download.parquet", "parquet"),
)


@dataclass
class Download:
    label_key: str
    href: str
    fmt: str


@dataclass
class ResourceView:
    resource: ResourcePublic
    kind: str  # table | image | audio | video | pdf | link | file
    file_href: str | None
    inline_href: str | None
    downloads: list[Download] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.resource.id


def resource_view(ds: DatasetPublic, res: ResourcePublic, has_geometry: bool = False) -> ResourceView:
    fmt = (res.format or "").upper()
    file_href = f"/dataset/{ds.name}/resource/{res.id}/download" if res.url_type == "upload" else None
    if res.datastore_active:
        kind = "table"
    elif fmt in IMAGE_FORMATS or (res.mimetype or "").startswith("image/"):
        kind = "image"
    elif fmt in AUDIO_FORMATS or (res.mimetype or "").startswith("audio/"):
        kind = "audio"
    elif fmt in VIDEO_FORMATS or (res.mimetype or "").startswith("video/"):
        kind = "video"
    elif fmt == "PDF":
        kind = "pdf"
    else:
        kind = "file" if file_href else "link"
    downloads = []
    if file_href:
        downloads.append(Download("download.original", file_href, fmt or "FILE"))
    elif res.url:
        downloads.append(Download("download.link", res.url, fmt or "URL"))
    if res.datastore_active:
        for key, export in DATASTORE_EXPORTS:
            if export == "geojson" and not has_geometry:
                continue
            downloads.append(Download(key, f"/api/v1/datastore/{res.id}/download.{export}", export.upper()))
    inline = f"{file_href}?inline=1" if file_href else res.url
    return ResourceView(res, kind, file_href, inline if kind in ("image", "audio", "video", "pdf") else None,
                        downloads)


def api_snippets(base_url: str, ds: DatasetPublic, table: ResourcePublic | None) -> dict[str, str]:
    """Copy-paste examples for curl, Python (httpx) and the ckanapi client."""
    if table is not None:
        rid = table.id
        return {
            "curl": f'curl "{base_url}/api/3/action/datastore_search?resource_id={rid}&limit=5"',
            "python": (
                "import httpx\n\n"
                f'rows = httpx.get("{base_url}/api/v1/datastore/{rid}", params={{"limit": 5}}).json()\n'
                'print(rows["records"])'
            ),
            "ckanapi": (
                "from ckanapi import RemoteCKAN\n\n"
                f'city = RemoteCKAN("{base_url}")\n'
                f'result = city.action.datastore_search(resource_id="{rid}", limit=5)\n'
                'print(result["records"])'
            ),
        }
    return {
        "curl": f'curl "{base_url}/api/3/action/package_show?id={ds.name}"',
        "python": (
            "import httpx\n\n"
            f'dataset = httpx.get("{base_url}/api/v1/datasets/{ds.name}").json()\n'
            'print(dataset["title"], [r["name"] for r in dataset["resources"]])'
        ),
        "ckanapi": (
            "from ckanapi import RemoteCKAN\n\n"
            f'city = RemoteCKAN("{base_url}")\n'
            f'dataset = city.action.package_show(id="{ds.name}")'
        ),
    }
