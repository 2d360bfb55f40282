"""The one settings object. Every knob is an env var with the CITYHUB_ prefix."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CITYHUB_", extra="ignore")

    data_dir: Path = Path("./cityhub-data")
    # Empty means: a SQLite file inside data_dir (WAL mode).
    database_url: str = ""
    site_url: str = "http://127.0.0.1:8000"
    site_title: str = "cityhub"
    secret_key: str = Field(default="",
                            description="signs sessions and grant links; generated into data_dir when empty")
    default_locale: str = "ko"
    # Uploads larger than this are refused while streaming, before they fill the disk.
    max_upload_bytes: int = 512 * 1024 * 1024
    sql_timeout_seconds: float = 5.0
    sql_row_cap: int = 10_000
    datastore_max_limit: int = 32_000
    # Counting matches beyond this is estimated instead of exact, so big tables answer fast.
    datastore_exact_count_cap: int = 100_000
    xlsx_max_uncompressed_bytes: int = 200 * 1024 * 1024
    json_max_depth: int = 64
    bus_url: str = ""  # empty: in-process; nats://… or redis://… when several workers run
    log_json: bool = True
    # One info line per request (with its request id); off → debug level. Slow or failed requests always log.
    access_log: bool = True
    # When set, /metrics answers only to `Authorization: Bearer <token>`; otherwise loopback clients only.
    metrics_token: str = ""
    # On SIGTERM: how long in-flight requests (uploads, imports) may run before they are cancelled and roll back.
    shutdown_grace_seconds: float = 30.0
    # At start-up, uploads no resource references (their import never committed) are removed once this old.
    orphan_upload_min_age_seconds: float = 3600.0
    run_migrations_on_start: bool = True
    # Collection: run source schedules in this process (tests turn it off and run sources by hand).
    collect_scheduler: bool = True
    collect_schedule_refresh_seconds: float = 30.0
    # Real-time context (NGSI-LD): batch size cap, query limits, notification delivery.
    context_max_batch: int = 10_000
    context_max_limit: int = 1000
    context_q_max_terms: int = 1000
    context_open_write: bool = False  # True lets anonymous clients write entities (lab setups only)
    context_notify_timeout_seconds: float = 2.0
    context_notify_max_attempts: int = 8
    # Geo queries find entities whose geometry reaches at most this far (degrees) from its representative point.
    context_geo_max_extent_deg: float = 0.01
    context_raw_retention_days: int = 30
    # Dataset versions' in-engine copies of big tables: the city default keeps a copy while its version is
    # among the last N holding copies or younger than D days (a dataset may set its own); older versions stay
    # listed with their diffs but are no longer restorable. The scheduler applies it this often (0: off).
    governance_version_keep_copies: int = 5
    governance_version_keep_days: int = 30
    governance_version_retention_interval_seconds: float = 3600.0
    context_rollup_retention_days: int = 730
    # Scheduled upkeep in the server process (0 turns a job off): history retention, and the live-<type>
    # catalog datasets refreshed for the organization named here (empty: no scheduled refresh).
    context_retention_interval_seconds: float = 3600.0
    context_catalog_org: str = ""
    context_catalog_refresh_seconds: float = 300.0
    # `cityhub demo`: the sensor simulator publishes a moment this often inside the served app (0: off), so its
    # writes reach the app's own bus (SSE feed, notifications, ops incidents).
    context_simulate_seconds: float = 0.0
    # mqtt://host:port/topic: NGSI-LD entity arrays published there are upserted into the live layer (empty: off).
    context_mqtt_ingest_url: str = ""
    # Integrated operations (incidents, agency webhooks, video grants).
    ops_webhook_timeout_seconds: float = 2.0
    ops_delivery_max_attempts: int = 8
    ops_duplicate_radius_m: float = 300.0
    ops_duplicate_window_minutes: float = 10.0
    ops_camera_radius_m: float = 500.0
    ops_grant_default_minutes: int = 30
    ops_grant_max_minutes: int = 240
    ops_grant_margin_minutes: int = 60  # a grant may outlive its incident's closing by this much
    ops_sensor_incidents: bool = True  # alert.raised (high/critical) opens incidents
    # Recovery of alerts raised but not yet opened as incidents (a kill -9 with a queue): alerts raised this
    # recently are swept at start-up and, in the worker holding the sweep lease, this often.
    ops_alert_sweep_window_minutes: float = 120.0
    ops_alert_sweep_seconds: float = 60.0
    # Idempotency keys of agency requests and alert claims (ops_inbound_requests) are kept this long, then
    # pruned by the sweep above; never less than a day (the idempotency promise) nor the sweep window.
    ops_inbound_retention_days: float = 3.0
    # Statistics: the derived analysis datasets (incident register, hourly sensor history) are refreshed this
    # often and soon after incidents change; 0 turns the refresher off.
    stats_derived_refresh_seconds: float = 60.0
    board_basemap_url: str = ""  # a tile URL template ({z}/{x}/{y}); empty: districts only, no internet needed
    ops_hazard_dataset: str = "hazardous-facilities"  # catalog dataset (lon/lat rows) for 119 dispatch

    @model_validator(mode="after")
    def _fill_defaults(self) -> Settings:
        self.data_dir = Path(self.data_dir).expanduser().resolve()
        if not self.database_url:
            self.database_url = f"sqlite:///{self.data_dir / 'cityhub.db'}"
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def files_dir(self) -> Path:
        return self.data_dir / "files"

    @property
    def raw_dir(self) -> Path:
        return self.data_dir / "raw"

    def ensure_dirs(self) -> None:
        for path in (self.data_dir, self.files_dir, self.raw_dir, self.data_dir / "tmp"):
            path.mkdir(parents=True, exist_ok=True)

    def resolved_secret(self) -> str:
        """The signing secret; generated once per data dir so restarts keep sessions valid."""
        if self.secret_key:
            return self.secret_key
        import secrets

        self.ensure_dirs()
        key_file = self.data_dir / "secret.key"
        if not key_file.exists():
            key_file.write_text(secrets.token_urlsafe(48))
            key_file.chmod(0o600)
        self.secret_key = key_file.read_text().strip()
        return self.secret_key


@lru_cache
def get_settings() -> Settings:
    return Settings()
