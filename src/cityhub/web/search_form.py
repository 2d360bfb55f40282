"""The dataset search page's URL parameters (CKAN's names) and its facet links.

`/dataset?q=버스&organization=busan-transport&tags=노선&res_format=CSV&sort=modified&page=2` — the same
parameters CKAN's portal uses, so bookmarked searches carry over.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlencode

from starlette.datastructures import QueryParams

from cityhub.catalog.schemas import DatasetSearch

PAGE_SIZE = 20
# URL parameter → catalog facet field
FACET_PARAMS = {
    "organization": "organization",
    "theme": "theme",
    "tags": "keywords",
    "res_format": "format",
    "license_id": "license_id",
    "access_level": "access_level",
}
SORTS = ("relevance", "modified", "name", "views")
FACET_SHOWN = 10


@dataclass
class FacetLink:
    value: str
    label: str
    count: int
    href: str
    active: bool


@dataclass
class FacetGroup:
    param: str
    links: list[FacetLink] = field(default_factory=list)


@dataclass
class SearchForm:
    q: str
    filters: dict[str, list[str]]  # URL parameter → values
    sort: str
    page: int
    fixed: dict[str, str] = field(default_factory=dict)  # set by the page (an organization's own page)

    @classmethod
    def from_params(cls, params: QueryParams, fixed: dict[str, str] | None = None) -> SearchForm:
        fixed = fixed or {}
        filters = {p: [v for v in params.getlist(p) if v] for p in FACET_PARAMS if p not in fixed}
        sort = params.get("sort") or "relevance"
        try:
            page = max(1, min(int(params.get("page") or 1), 10_000))
        except ValueError:
            page = 1
        return cls(q=(params.get("q") or "").strip()[:200], filters={k: v for k, v in filters.items() if v},
                   sort=sort if sort in SORTS else "relevance", page=page, fixed=fixed)

    def query(self) -> DatasetSearch:
        return DatasetSearch(
            q=self.q or None,
            filters={FACET_PARAMS[p]: values for p, values in (self.filters | self.fixed_lists).items()},
            sort=self.sort if self.q or self.sort != "relevance" else "modified",
            limit=PAGE_SIZE, offset=(self.page - 1) * PAGE_SIZE, full=True,
        )

    @property
    def fixed_lists(self) -> dict[str, list[str]]:
        return {p: [v] for p, v in self.fixed.items()}

    def params(self, **changes: object) -> list[tuple[str, str]]:
        """The current search as URL pairs, with `changes` applied (None removes a parameter)."""
        pairs: list[tuple[str, str]] = []
        if self.q:
            pairs.append(("q", self.q))
        for p, values in self.filters.items():
            pairs.extend((p, v) for v in values)
        if self.sort != "relevance":
            pairs.append(("sort", self.sort))
        for key, value in changes.items():
            pairs = [pair for pair in pairs if pair[0] != key]
            if value is not None:
                pairs.append((key, str(value)))
        return pairs

    def href(self, base: str, pairs: list[tuple[str, str]]) -> str:
        return f"{base}?{urlencode(pairs)}" if pairs else base

    def toggle(self, base: str, param: str, value: str) -> tuple[str, bool]:
        """The link that adds a facet value to the search, or removes it when already chosen."""
        pairs = [pair for pair in self.params() if pair[0] != "page"]
        active = (param, value) in pairs
        pairs = [pair for pair in pairs if pair != (param, value)] if active else pairs + [(param, value)]
        return self.href(base, pairs), active

    def page_href(self, base: str, page: int) -> str:
        return self.href(base, self.params(page=page if page > 1 else None))

    def sort_href(self, base: str, sort: str) -> str:
        return self.href(base, self.params(sort=None if sort == "relevance" else sort, page=None))

    def facet_groups(self, base: str, facets: dict[str, dict[str, int]], label) -> list[FacetGroup]:  # noqa: ANN001
        """Facet links per parameter; chosen values stay listed (with their count) so they can be removed."""
        groups = []
        for param, fld in FACET_PARAMS.items():
            if param in self.fixed:
                continue
            counts = dict(facets.get(fld, {}))
            for chosen in self.filters.get(param, []):
                counts.setdefault(chosen, 0)
            if not counts:
                continue
            group = FacetGroup(param)
            ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
            for value, count in ordered:
                href, active = self.toggle(base, param, value)
                if len(group.links) >= FACET_SHOWN and not active:
                    continue
                group.links.append(FacetLink(value, label(param, value), count, href, active))
            groups.append(group)
        return groups
