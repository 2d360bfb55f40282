"""DCAT-AP 3 descriptions of the catalog and its datasets, built as rdflib graphs.

The mapping follows ckanext-dcat's DCAT-AP 3 profile, so harvesters written for CKAN portals read us
unchanged: title → dct:title, notes → dct:description, keywords → dcat:keyword, publisher → dct:publisher
(foaf:Agent), contact → dcat:contactPoint (vcard:Kind), resources → dcat:Distribution. Controlled values
(themes, frequencies, access rights, file types, languages) use the EU Publications Office vocabularies.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF, RDFS, SKOS, XSD

from cityhub.catalog.schemas import DatasetPublic, ResourcePublic

VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
SPDX = Namespace("http://spdx.org/rdf/terms#")
HYDRA = Namespace("http://www.w3.org/ns/hydra/core#")
LOCN = Namespace("http://www.w3.org/ns/locn#")
GSP = Namespace("http://www.opengis.net/ont/geosparql#")
EU = "http://publications.europa.eu/resource/authority/"
IANA_MEDIA = "http://www.iana.org/assignments/media-types/"

# Inline JSON-LD context: prefixes only, so a document parses offline (no remote context to fetch).
JSONLD_CONTEXT = {
    "dcat": str(DCAT), "dct": str(DCTERMS), "foaf": str(FOAF), "vcard": str(VCARD), "spdx": str(SPDX),
    "hydra": str(HYDRA), "locn": str(LOCN), "gsp": str(GSP), "skos": str(SKOS), "rdfs": str(RDFS),
    "xsd": str(XSD),
}

# Our eight themes → EU data-theme (https://op.europa.eu/en/web/eu-vocabularies/dataset/-/resource?uri=…/data-theme)
THEMES = {
    "transport": "TRAN", "environment": "ENVI", "safety": "JUST", "welfare": "SOCI", "economy": "ECON",
    "culture_tourism": "EDUC", "population": "SOCI", "administration": "GOVE",
}
FREQUENCIES = {
    "realtime": "UPDATE_CONT", "hourly": "HOURLY", "daily": "DAILY", "weekly": "WEEKLY", "monthly": "MONTHLY",
    "quarterly": "QUARTERLY", "yearly": "ANNUAL", "irregular": "IRREG", "never": "NEVER",
}
ACCESS_RIGHTS = {"public": "PUBLIC", "internal": "NON_PUBLIC", "restricted": "RESTRICTED"}
# Our format names → EU file-type codes (the few we name differently are spelled out).
FILE_TYPES = {"GEOJSON": "GEOJSON", "JPEG": "JPEG", "XLS": "XLS", "TXT": "TXT", "SHP": "SHP", "HWP": "HWP"}
KNOWN_FILE_TYPES = frozenset({"CSV", "TSV", "XLSX", "JSON", "PDF", "PNG", "GIF", "SVG", "MP3", "WAV", "OGG", "ZIP",
                              "XML", "PARQUET", "DOCX", *FILE_TYPES})
MEDIA_TYPES = {
    "CSV": "text/csv", "TSV": "text/tab-separated-values", "JSON": "application/json",
    "GEOJSON": "application/geo+json", "XLSX": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "XLS": "application/vnd.ms-excel", "PDF": "application/pdf", "PNG": "image/png", "JPEG": "image/jpeg",
    "GIF": "image/gif", "SVG": "image/svg+xml", "MP3": "audio/mpeg", "WAV": "audio/wav", "OGG": "audio/ogg",
    "ZIP": "application/zip", "XML": "application/xml", "PARQUET": "application/vnd.apache.parquet",
    "TXT": "text/plain",
}
# License ids we publish under → their canonical documents.
LICENSES = {
    "KOGL-1": "https://www.kogl.or.kr/info/licenseType1.do",
    "KOGL-2": "https://www.kogl.or.kr/info/licenseType2.do",
    "KOGL-3": "https://www.kogl.or.kr/info/licenseType3.do",
    "KOGL-4": "https://www.kogl.or.kr/info/licenseType4.do",
    "CC-BY-4.0": "http://creativecommons.org/licenses/by/4.0/",
    "CC-BY-SA-4.0": "http://creativecommons.org/licenses/by-sa/4.0/",
    "CC-BY-NC-4.0": "http://creativecommons.org/licenses/by-nc/4.0/",
    "CC0-1.0": "http://creativecommons.org/publicdomain/zero/1.0/",
    "ODC-BY-1.0": "http://opendatacommons.org/licenses/by/1.0/",
    "ODbL-1.0": "http://opendatacommons.org/licenses/odbl/1.0/",
}
HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")
PAGE_SIZE = 100


@dataclass(frozen=True)
class Page:
    """Where one page of the catalog sits in the whole (Hydra paging, as ckanext-dcat does it)."""

    url: str  # this page's URL without the page parameter's value
    number: int
    total: int
    size: int = PAGE_SIZE

    @property
    def last(self) -> int:
        return max(1, -(-self.total // self.size))

    def link(self, number: int) -> str:
        sep = "&" if "?" in self.url else "?"
        return f"{self.url}{sep}page={number}"


def license_uri(site: str, license_id: str) -> URIRef:
    known = LICENSES.get(license_id) or LICENSES.get(license_id.upper())
    return URIRef(known or f"{site}/license/{license_id}")


def _lang(text: str, fallback: str = "en") -> str:
    return "ko" if HANGUL.search(text) else fallback


def _when(value: datetime | date) -> Literal:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return Literal(value.astimezone(UTC).isoformat().replace("+00:00", "Z"), datatype=XSD.dateTime)
    return Literal(value.isoformat(), datatype=XSD.date)


def dataset_uri(site: str, ds: DatasetPublic) -> URIRef:
    return URIRef(f"{site}/dataset/{ds.id}")


def _texts(g: Graph, node: URIRef, prop: URIRef, primary: str | None, english: str | None) -> None:
    """A Korean-or-primary text and its English twin, each with its language tag."""
    if primary:
        g.add((node, prop, Literal(primary, lang="ko" if english or HANGUL.search(primary) else "en")))
    if english and english != primary:
        g.add((node, prop, Literal(english, lang="en")))


def _publisher(g: Graph, site: str, ds: DatasetPublic) -> URIRef | None:
    org = ds.organization
    if org is None:
        return None
    agent = URIRef(f"{site}/organization/{org.name}")
    g.add((agent, RDF.type, FOAF.Agent))
    _texts(g, agent, FOAF.name, org.title, org.title_en)
    g.add((agent, DCTERMS.identifier, Literal(org.name)))
    return agent


def _contact(g: Graph, ds: DatasetPublic) -> BNode | None:
    name = ds.contact_name or ds.maintainer or (ds.organization.title if ds.organization else None)
    email = ds.contact_email or ds.maintainer_email
    if not (ds.contact_name or email):
        return None
    card = BNode()
    g.add((card, RDF.type, VCARD.Kind))
    if name:
        g.add((card, VCARD.fn, Literal(name)))
    if email:
        g.add((card, VCARD.hasEmail, URIRef(f"mailto:{email}")))
    return card


def _spatial(g: Graph, spatial: str) -> BNode:
    """A place: GeoJSON becomes a geometry (with its bounding box); anything else is a named place."""
    place = BNode()
    g.add((place, RDF.type, DCTERMS.Location))
    geometry = None
    if spatial.lstrip().startswith("{"):
        try:
            geometry = json.loads(spatial)
        except ValueError:
            geometry = None
    if isinstance(geometry, dict) and "type" in geometry:
        g.add((place, LOCN.geometry, Literal(json.dumps(geometry, ensure_ascii=False), datatype=GSP.geoJSONLiteral)))
        try:
            from shapely.geometry import box, shape

            g.add((place, DCAT.bbox, Literal(box(*shape(geometry).bounds).wkt, datatype=GSP.wktLiteral)))
        except Exception:  # noqa: BLE001 - a geometry shapely cannot read keeps its GeoJSON only
            pass
    else:
        g.add((place, SKOS.prefLabel, Literal(spatial, lang=_lang(spatial, "ko"))))
    return place


def _temporal(g: Graph, start: date | None, end: date | None) -> BNode:
    period = BNode()
    g.add((period, RDF.type, DCTERMS.PeriodOfTime))
    if start:
        g.add((period, DCAT.startDate, _when(start)))
    if end:
        g.add((period, DCAT.endDate, _when(end)))
    return period


def _format(g: Graph, fmt: str) -> URIRef | BNode:
    code = fmt.upper()
    if code in KNOWN_FILE_TYPES:
        return URIRef(f"{EU}file-type/{FILE_TYPES.get(code, code)}")
    node = BNode()  # a format the EU list lacks is still described, never dropped
    g.add((node, RDF.type, DCTERMS.MediaTypeOrExtent))
    g.add((node, RDFS.label, Literal(fmt)))
    return node


def media_type(res: ResourcePublic) -> str | None:
    return res.mimetype or MEDIA_TYPES.get((res.format or "").upper())


def add_distribution(g: Graph, site: str, ds: DatasetPublic, res: ResourcePublic) -> URIRef:
    """One resource as a dcat:Distribution."""
    dist = URIRef(f"{site}/dataset/{ds.id}/resource/{res.id}")
    g.add((dist, RDF.type, DCAT.Distribution))
    g.add((dist, DCTERMS.identifier, Literal(res.id)))
    g.add((dist, DCTERMS.title, Literal(res.name, lang=_lang(res.name, "ko" if ds.title_en else "en"))))
    if res.description:
        g.add((dist, DCTERMS.description, Literal(res.description, lang=_lang(res.description))))
    if res.url_type == "upload" and res.download_url:
        g.add((dist, DCAT.accessURL, URIRef(f"{site}/dataset/{ds.name}/resource/{res.id}")))
        g.add((dist, DCAT.downloadURL, URIRef(res.download_url)))
    elif res.url:
        g.add((dist, DCAT.accessURL, URIRef(res.url)))
    mime = media_type(res)
    if mime:
        g.add((dist, DCAT.mediaType, URIRef(IANA_MEDIA + mime)))
    if res.format:
        g.add((dist, DCTERMS["format"], _format(g, res.format)))
    if res.size is not None:
        g.add((dist, DCAT.byteSize, Literal(res.size, datatype=XSD.nonNegativeInteger)))
    if res.sha256:
        checksum = BNode()
        g.add((checksum, RDF.type, SPDX.Checksum))
        g.add((checksum, SPDX.algorithm, SPDX.checksumAlgorithm_sha256))
        g.add((checksum, SPDX.checksumValue, Literal(res.sha256, datatype=XSD.hexBinary)))
        g.add((dist, SPDX.checksum, checksum))
    if ds.license_id:
        g.add((dist, DCTERMS.license, license_uri(site, ds.license_id)))
    g.add((dist, DCTERMS.issued, _when(res.created_at)))
    g.add((dist, DCTERMS.modified, _when(res.modified_at)))
    return dist


def add_dataset(g: Graph, site: str, ds: DatasetPublic) -> URIRef:
    """One dataset (with its distributions) as a dcat:Dataset in DCAT-AP 3 terms."""
    node = dataset_uri(site, ds)
    g.add((node, RDF.type, DCAT.Dataset))
    g.add((node, DCTERMS.identifier, Literal(ds.id)))
    _texts(g, node, DCTERMS.title, ds.title, ds.title_en)
    _texts(g, node, DCTERMS.description, ds.notes, ds.notes_en)
    g.add((node, DCAT.landingPage, URIRef(f"{site}/dataset/{ds.name}")))
    for word in ds.keywords:
        g.add((node, DCAT.keyword, Literal(word, lang=_lang(word))))
    g.add((node, DCTERMS.issued, _when(ds.created_at)))
    g.add((node, DCTERMS.modified, _when(ds.modified_at)))
    g.add((node, DCTERMS.language, URIRef(f"{EU}language/KOR")))
    if ds.title_en or ds.notes_en:
        g.add((node, DCTERMS.language, URIRef(f"{EU}language/ENG")))
    if (publisher := _publisher(g, site, ds)) is not None:
        g.add((node, DCTERMS.publisher, publisher))
    if (card := _contact(g, ds)) is not None:
        g.add((node, DCAT.contactPoint, card))
    if ds.update_frequency in FREQUENCIES:
        g.add((node, DCTERMS.accrualPeriodicity, URIRef(f"{EU}frequency/{FREQUENCIES[ds.update_frequency]}")))
    if ds.spatial:
        g.add((node, DCTERMS.spatial, _spatial(g, ds.spatial)))
    if ds.temporal_start or ds.temporal_end:
        g.add((node, DCTERMS.temporal, _temporal(g, ds.temporal_start, ds.temporal_end)))
    if ds.theme in THEMES:
        g.add((node, DCAT.theme, URIRef(f"{EU}data-theme/{THEMES[ds.theme]}")))
    if ds.license_id:
        g.add((node, DCTERMS.license, license_uri(site, ds.license_id)))
    g.add((node, DCTERMS.accessRights, URIRef(f"{EU}access-right/{ACCESS_RIGHTS.get(ds.access_level, 'NON_PUBLIC')}")))
    if ds.version:
        g.add((node, DCAT.version, Literal(ds.version)))
    if ds.url:
        g.add((node, FOAF.page, URIRef(ds.url)))
    for res in ds.resources:
        g.add((node, DCAT.distribution, add_distribution(g, site, ds, res)))
    return node


def new_graph() -> Graph:
    g = Graph(bind_namespaces="core")
    for prefix, uri in JSONLD_CONTEXT.items():
        g.bind(prefix, uri, override=True)
    return g


def dataset_graph(site: str, ds: DatasetPublic) -> Graph:
    """The DCAT-AP record of one dataset."""
    g = new_graph()
    add_dataset(g, site, ds)
    return g


def catalog_graph(site: str, title: str, datasets: list[DatasetPublic], page: Page) -> Graph:
    """One page of the catalog: the dcat:Catalog, its datasets, and a Hydra PagedCollection for the rest."""
    g = new_graph()
    catalog = URIRef(f"{site}/")
    g.add((catalog, RDF.type, DCAT.Catalog))
    g.add((catalog, DCTERMS.title, Literal(title)))
    g.add((catalog, DCTERMS.description, Literal(f"{title}: 도시 공개 데이터 목록", lang="ko")))
    g.add((catalog, DCTERMS.description, Literal(f"{title}: the city's open data catalog", lang="en")))
    g.add((catalog, FOAF.homepage, URIRef(f"{site}/")))
    g.add((catalog, DCTERMS.language, URIRef(f"{EU}language/KOR")))
    g.add((catalog, DCTERMS.language, URIRef(f"{EU}language/ENG")))
    city = URIRef(f"{site}/#publisher")
    g.add((city, RDF.type, FOAF.Agent))
    g.add((city, FOAF.name, Literal(title)))
    g.add((catalog, DCTERMS.publisher, city))
    if datasets:
        g.add((catalog, DCTERMS.modified, _when(max(d.modified_at for d in datasets))))
    for ds in datasets:
        g.add((catalog, DCAT.dataset, add_dataset(g, site, ds)))
    paging = URIRef(page.link(page.number))
    g.add((paging, RDF.type, HYDRA.PagedCollection))
    g.add((paging, HYDRA.totalItems, Literal(page.total, datatype=XSD.integer)))
    g.add((paging, HYDRA.itemsPerPage, Literal(page.size, datatype=XSD.integer)))
    g.add((paging, HYDRA.firstPage, Literal(page.link(1))))
    g.add((paging, HYDRA.lastPage, Literal(page.link(page.last))))
    if page.number > 1:
        g.add((paging, HYDRA.previousPage, Literal(page.link(page.number - 1))))
    if page.number < page.last:
        g.add((paging, HYDRA.nextPage, Literal(page.link(page.number + 1))))
    return g


# extension → (rdflib format, media type)
SERIALIZATIONS = {
    "jsonld": ("json-ld", "application/ld+json"),
    "ttl": ("turtle", "text/turtle"),
    "rdf": ("xml", "application/rdf+xml"),
    "xml": ("xml", "application/rdf+xml"),
    "n3": ("n3", "text/n3"),
}


def serialize(g: Graph, ext: str) -> tuple[bytes, str]:
    """The graph in the format its URL's extension names; JSON-LD carries its context inline."""
    fmt, media = SERIALIZATIONS[ext]
    if fmt == "json-ld":
        body = g.serialize(format=fmt, context=JSONLD_CONTEXT, auto_compact=True, ensure_ascii=False)
    else:
        body = g.serialize(format=fmt)
    return body.encode("utf-8"), f"{media}; charset=utf-8"
