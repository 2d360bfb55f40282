"""The connector contract: a Pydantic config model, `fetch` yielding pages, `parse` turning bytes into records.

A connector only talks to the outside world. The pipeline lands every payload's exact bytes in the raw
zone before parsing, maps and validates the records, upserts them and commits the page together with
the page's `cursor` (where a resumed run continues) and `state` (the source's incremental watermark).
`parse` must be a pure function of the payload, so a dataset can be rebuilt by replaying the raw zone.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import httpx
from pydantic import BaseModel, ConfigDict
from tenacity import (
    RetryCallState,
    retry,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

log = logging.getLogger("cityhub.collect")


class ConnectorConfig(BaseModel):
    """Base of every connector's config; unknown keys are refused so typos surface at once."""

    model_config = ConfigDict(extra="forbid")


class ConnectorError(Exception):
    """A run-ending problem with the upstream, carrying the upstream's own words."""

    def __init__(self, message: str, *, upstream_message: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.upstream_message = upstream_message
        self.code = code


class RetryableError(ConnectorError):
    """Timeouts, 5xx and call-limit answers: worth another try after a pause."""


class RunTimedOut(ConnectorError):
    """The run used up its source's time limit; pages committed before stay."""


class LayoutChanged(ConnectorError):
    """The upstream renamed or dropped fields the mapping needs."""


@dataclass
class Payload:
    """The exact bytes one request returned, and how they were asked for (keys redacted)."""

    body: bytes
    request: dict[str, Any] = field(default_factory=dict)
    content_type: str | None = None
    # Link-header relations of the response (not stored: the raw zone keeps the body and the request).
    links: dict[str, str] = field(default_factory=dict)


@dataclass
class Page:
    """One unit of work: landed, mapped, upserted and committed together with its cursor and state."""

    payload: Payload | None
    records: list[dict[str, Any]]
    cursor: dict[str, Any] | None = None
    state: dict[str, Any] | None = None
    # Keys of records the upstream says are gone (harvests notice deletions).
    deleted: list[dict[str, Any]] = field(default_factory=list)
    # An error answer landed for forensics; the pipeline records it and then fails the run.
    error: ConnectorError | None = None
    # Harvests: the records are datastore rows of this remote resource (id, dataset, url, fields and the
    # remote `_id` range the page covers), not datasets.
    resource: dict[str, Any] | None = None
    # Run totals the connector observed beyond rows (e.g. broker_dropped, messages_missing), recorded on the run.
    counters: dict[str, int | None] | None = None


@dataclass
class FetchContext:
    """What a connector may use while fetching: the resume point, the watermark, an HTTP client."""

    cursor: dict[str, Any] | None
    state: dict[str, Any]
    timeout: float = 30.0
    max_retries: int = 3
    source_name: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    # The source's limit for a whole run (seconds) and the time.monotonic() it ends at; None: no limit.
    run_limit: float | None = None
    deadline: float | None = None
    on_request: Callable[[], None] = lambda: None
    should_stop: Callable[[], bool] = lambda: False
    _client: httpx.Client | None = None

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(timeout=self.timeout, follow_redirects=True,
                                        headers={"user-agent": "cityhub-collect/0.1", **self.headers})
        return self._client

    def check_deadline(self) -> None:
        """Raise RunTimedOut once the run's time is up."""
        if self.deadline is not None and time.monotonic() >= self.deadline:
            raise RunTimedOut(f"run time limit of {self.run_limit:g} s reached; rows of the pages committed "
                              "before stay", code="run_timeout")

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def get(self, url: str, *, params: dict[str, Any] | None = None, headers: dict[str, str] | None = None,
            check: Callable[[httpx.Response], None] | None = None, redact: tuple[str, ...] = ()) -> Payload:
        """GET with retries (exponential backoff + jitter) for timeouts, 5xx and call-limit answers only."""

        @retry(retry=retry_if_exception(lambda e: isinstance(e, RetryableError)),
               stop=stop_after_attempt(max(1, self.max_retries + 1)),
               wait=wait_exponential_jitter(initial=0.2, max=5.0, jitter=0.2),
               before_sleep=_log_retry, reraise=True)
        def attempt() -> Payload:
            return self._get_once(url, params=params, headers=headers, check=check, redact=redact)

        return attempt()

    def _get_once(self, url: str, *, params: dict[str, Any] | None, headers: dict[str, str] | None,
                  check: Callable[[httpx.Response], None] | None, redact: tuple[str, ...]) -> Payload:
        self.on_request()
        shown = redact_url(url, params, redact)
        timeout = self.timeout
        if self.deadline is not None:  # a request never outlives the run's time limit
            timeout = max(0.001, min(timeout, self.deadline - time.monotonic()))
        try:
            response = self.client.get(url, params=params, headers=headers, timeout=timeout)
        except httpx.TimeoutException as exc:
            self.check_deadline()  # cut short by the run's limit, not by the upstream's slowness
            raise RetryableError(f"timed out after {self.timeout:g}s: {shown}", code="timeout") from exc
        except httpx.TransportError as exc:
            raise RetryableError(f"upstream unreachable ({type(exc).__name__}): {shown}",
                                 upstream_message=str(exc), code="unreachable") from exc
        if check is not None:
            check(response)  # envelope-level errors (some APIs answer errors with 4xx/HTTP 200)
        if response.status_code >= 500:
            raise RetryableError(f"upstream answered HTTP {response.status_code}: {shown}",
                                 upstream_message=response.text[:500], code=str(response.status_code))
        if response.status_code == 429:
            raise RetryableError("upstream call limit (HTTP 429)", upstream_message=response.text[:500], code="429")
        if response.status_code >= 400:
            raise ConnectorError(f"upstream answered HTTP {response.status_code}: {shown}",
                                 upstream_message=response.text[:500], code=str(response.status_code))
        return Payload(body=response.content,
                       request={"method": "GET", "url": shown, "status": response.status_code},
                       content_type=response.headers.get("content-type"),
                       links={rel: str(response.url.join(v["url"])) for rel, v in response.links.items()
                              if v.get("url")})


def _log_retry(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    log.warning("retrying upstream call", extra={"attempt": state.attempt_number, "error": str(exc)})


def redact_url(url: str, params: dict[str, Any] | None, secret_params: tuple[str, ...]) -> str:
    """The URL as recorded: secret query parameters (API keys) and secret path parts are masked."""
    shown = url
    for secret in secret_params:
        if secret and secret in shown:
            shown = shown.replace(secret, "***")
    if params:
        shown_params = {k: ("***" if k in secret_params or (v and str(v) in secret_params) else v)
                        for k, v in params.items()}
        shown = str(httpx.URL(shown, params=shown_params))
    return shown


class Connector:
    """Base class: subclasses set `name`, `title`, `Config`, and implement `fetch` and `parse`."""

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    title_ko: ClassVar[str] = ""
    Config: ClassVar[type[ConnectorConfig]] = ConnectorConfig
    # "table": records become rows of the dataset's table; "catalog": records are datasets (harvests).
    sink: ClassVar[str] = "table"

    def __init__(self, config: ConnectorConfig) -> None:
        self.config = config

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Connector:
        return cls(cls.Config.model_validate(raw))

    def fetch(self, fc: FetchContext) -> Iterator[Page]:
        raise NotImplementedError

    def parse(self, payload: Payload) -> list[dict[str, Any]]:
        raise NotImplementedError

    def secrets(self) -> tuple[str, ...]:
        """Values to mask wherever a request is recorded."""
        return ()

    def replay(self, payloads: Iterator[Payload]) -> Iterator[Page]:
        """Pages rebuilt from landed payloads, in arrival order (a rebuild from the raw zone).
        Connectors whose pages carry more than records (harvested DataStore rows) override this."""
        for payload in payloads:
            yield Page(payload=None, records=self.parse(payload))


def jitter(seconds: float) -> float:
    return seconds * (0.8 + random.random() * 0.4)
