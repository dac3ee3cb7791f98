"""Settings from the environment and `.env`. The variable names are a public interface."""

from __future__ import annotations

import re
from datetime import time
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

OFFICIAL_TELEGRAM_API = "https://api.telegram.org"
OFFICIAL_ZALO_BOT_API = "https://bot-api.zaloplatforms.com"
OFFICIAL_ZALO_OAUTH = "https://oauth.zaloapp.com"
OFFICIAL_ZALO_OPENAPI = "https://openapi.zalo.me"
OFFICIAL_ZALO_BUSINESS = "https://business.openapi.zalo.me"
CHANNEL_NAMES = ("telegram", "zalo_bot", "zalo_oa", "zbs")
SUPPORTED_LOCALES = ("vi", "en")
_TOKEN_RE = re.compile(r"^\d{3,}:[A-Za-z0-9_-]{20,}$")
_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{16,256}$")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=True
    )

    TELEGRAM_BOT_TOKEN: str = ""
    TELEGRAM_API_BASE: str = OFFICIAL_TELEGRAM_API
    TELEGRAM_BOT_USERNAME: str = ""  # for links printed offline (QR slips); else getMe
    DATABASE_URL: str = "sqlite+aiosqlite:///./var/hanchot.db"
    PUBLIC_URL: str = ""
    WEBHOOK_SECRET: str = ""
    PORT: int = Field(default=8080, ge=1, le=65535)
    # The HTTP API for the one-stop software, on PORT next to the bot (`hanchot run`).
    API_ENABLED: bool = True
    TIMEZONE: str = "Asia/Ho_Chi_Minh"
    DEFAULT_LOCALE: str = "vi"
    INVITE_TTL_DAYS: int = Field(default=7, ge=1, le=90)
    LOG_LEVEL: str = "INFO"
    # Telegram's published limits; paid broadcasts allow up to 1,000 messages/s.
    TELEGRAM_REQUEST_TIMEOUT: float = Field(default=30.0, gt=0, le=300)
    TELEGRAM_RATE_PER_SECOND: float = Field(default=30.0, gt=0, le=1000)
    TELEGRAM_RATE_PER_CHAT_PER_SECOND: float = Field(default=1.0, gt=0, le=100)
    TELEGRAM_RATE_PER_GROUP_PER_MINUTE: float = Field(default=20.0, gt=0, le=6000)
    OUTBOX_BATCH: int = Field(default=200, ge=1, le=5000)
    OUTBOX_CONCURRENCY: int = Field(default=16, ge=1, le=512)
    OUTBOX_LEASE_SECONDS: int = Field(default=60, ge=1, le=3600)
    OUTBOX_MAX_ATTEMPTS: int = Field(default=6, ge=1, le=50)
    DISPATCH_INTERVAL_SECONDS: float = Field(default=2.0, gt=0, le=60)
    # How often running broadcasts are checked (starts, progress edits, the end).
    BROADCAST_TICK_SECONDS: float = Field(default=1.0, gt=0, le=60)
    REMINDER_RULES: str = "T-7d@08:00,T-3d@08:00,T-1d@08:00,T-0@08:00,T+1d@08:00/daily"
    QUIET_HOURS: str = "21:00-07:00"
    # The rating request follows the handover by this much (quiet hours still apply), and a
    # rating may be redone within RATING_CHANGE_HOURS of the first answer.
    # Shown when the bot cannot answer a question about a procedure.
    FAQ_HOTLINE: str = Field(default="1022", max_length=40)
    RATING_DELAY_MINUTES: int = Field(default=30, ge=0, le=7 * 24 * 60)
    RATING_CHANGE_HOURS: int = Field(default=24, ge=0, le=24 * 30)
    # Every unit's yearly CCHC reports: KEY=dd/mm:Title (the deadline in each year).
    # Zalo Bot Platform: the token from Zalo Bot Creator ("12345689:abc-xyz").
    ZALO_BOT_TOKEN: str = ""
    ZALO_API_BASE: str = OFFICIAL_ZALO_BOT_API
    # Zalo Official Account (OA API v3): the app linked to the OA, its secret, and the OA
    # secret key that signs webhooks. The first refresh token seeds the database; after
    # that the rotated token lives there.
    ZALO_OA_APP_ID: str = ""
    ZALO_OA_APP_SECRET: str = ""
    ZALO_OA_SECRET_KEY: str = ""
    ZALO_OA_REFRESH_TOKEN: str = ""
    ZALO_OAUTH_BASE: str = OFFICIAL_ZALO_OAUTH
    ZALO_OPENAPI_BASE: str = OFFICIAL_ZALO_OPENAPI
    # OA consultation messages are refused 7 days after the person's last interaction
    # (and cost money after 48 h): set 48 to stay in the free window.
    ZALO_OA_WINDOW_HOURS: int = Field(default=168, ge=1, le=168)
    # ZBS template messages by phone: JSON {notice kind: {"template_id": "…",
    # "params": {template param: notice field}}}; empty = ZBS off.
    ZBS_TEMPLATES: str = ""
    ZBS_API_BASE: str = OFFICIAL_ZALO_BUSINESS
    ZBS_DEVELOPMENT: bool = False
    # Where a notice goes when the person's last-used chat cannot take it.
    CHANNEL_ORDER: str = "telegram,zalo_bot,zalo_oa,zbs"
    ZALO_RATE_PER_SECOND: float = Field(default=20.0, gt=0, le=1000)
    REPORT_DEADLINES: str = (
        "Q1=05/03:Báo cáo CCHC quý I,H1=05/06:Báo cáo CCHC 6 tháng,"
        "Q3=05/09:Báo cáo CCHC quý III,Y=05/11:Báo cáo CCHC năm"
    )

    @field_validator("TELEGRAM_BOT_TOKEN")
    @classmethod
    def _token(cls, v: str) -> str:
        v = v.strip()
        if v and not _TOKEN_RE.match(v):
            raise ValueError("does not look like a bot token from @BotFather (digits:letters)")
        return v

    @field_validator("ZALO_BOT_TOKEN")
    @classmethod
    def _zalo_token(cls, v: str) -> str:
        v = v.strip()
        if v and not re.match(r"^\d{3,}:[A-Za-z0-9_-]{8,}$", v):
            raise ValueError("does not look like a Zalo Bot token (digits:letters, from "
                             "Zalo Bot Creator)")
        return v

    @field_validator("CHANNEL_ORDER")
    @classmethod
    def _order(cls, v: str) -> str:
        names = [n.strip() for n in v.split(",") if n.strip()]
        unknown = [n for n in names if n not in CHANNEL_NAMES]
        if unknown or len(set(names)) != len(names):
            raise ValueError(f"must list channels among {', '.join(CHANNEL_NAMES)}, each once")
        return ",".join(names)

    @field_validator("ZBS_TEMPLATES")
    @classmethod
    def _zbs(cls, v: str) -> str:
        from bot.zalo.templates import parse_templates

        parse_templates(v)
        return v.strip()

    @field_validator("TELEGRAM_API_BASE", "PUBLIC_URL", "ZALO_API_BASE", "ZALO_OAUTH_BASE",
                     "ZALO_OPENAPI_BASE", "ZBS_API_BASE")
    @classmethod
    def _url(cls, v: str) -> str:
        v = v.strip().rstrip("/")
        if v and not re.match(r"^https?://[^\s/]+", v):
            raise ValueError("must be an http:// or https:// URL")
        return v

    @field_validator("DATABASE_URL")
    @classmethod
    def _database_url(cls, v: str) -> str:
        return normalize_database_url(v)

    @field_validator("TIMEZONE")
    @classmethod
    def _zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("is not an IANA time zone such as Asia/Ho_Chi_Minh") from None
        return v

    @field_validator("DEFAULT_LOCALE")
    @classmethod
    def _locale(cls, v: str) -> str:
        if v not in SUPPORTED_LOCALES:
            raise ValueError(f"must be one of {', '.join(SUPPORTED_LOCALES)}")
        return v

    @field_validator("REMINDER_RULES")
    @classmethod
    def _rules(cls, v: str) -> str:
        from bot.reminders.planner import parse_rules

        parse_rules(v)
        return v

    @field_validator("REPORT_DEADLINES")
    @classmethod
    def _reports(cls, v: str) -> str:
        from bot.tasks.report_calendar import parse_deadlines

        parse_deadlines(v)
        return v

    @field_validator("QUIET_HOURS")
    @classmethod
    def _quiet(cls, v: str) -> str:
        if not re.match(r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$", v.strip()):
            raise ValueError("must look like 21:00-07:00")
        return v.strip()

    @property
    def quiet_hours(self) -> tuple[time, time]:
        start, end = self.QUIET_HOURS.split("-")
        return time.fromisoformat(start), time.fromisoformat(end)

    @field_validator("LOG_LEVEL")
    @classmethod
    def _level(cls, v: str) -> str:
        v = v.upper()
        if v not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return v

    @model_validator(mode="after")
    def _webhook(self) -> Settings:
        if self.PUBLIC_URL and not _SECRET_RE.match(self.WEBHOOK_SECRET):
            raise ValueError(
                "WEBHOOK_SECRET: webhook mode (PUBLIC_URL set) needs 16-256 characters "
                "of A-Z a-z 0-9 _ -"
            )
        return self

    @model_validator(mode="after")
    def _oa(self) -> Settings:
        if self.ZALO_OA_APP_ID and not (self.ZALO_OA_APP_SECRET and self.ZALO_OA_SECRET_KEY):
            raise ValueError("ZALO_OA_APP_SECRET: the OA needs its app secret and "
                             "ZALO_OA_SECRET_KEY (webhook signatures) with ZALO_OA_APP_ID")
        if self.ZBS_TEMPLATES and not self.ZALO_OA_APP_ID:
            raise ValueError("ZBS_TEMPLATES: ZBS sends with the OA's token; set "
                             "ZALO_OA_APP_ID too")
        return self

    @property
    def channel_order(self) -> list[str]:
        return self.CHANNEL_ORDER.split(",")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.TIMEZONE)

    @property
    def webhook_mode(self) -> bool:
        return bool(self.PUBLIC_URL)

    @property
    def is_sqlite(self) -> bool:
        return self.DATABASE_URL.startswith("sqlite")


def normalize_database_url(url: str) -> str:
    """Accept the common spellings and pick the async driver the project ships."""
    url = url.strip()
    for prefix in ("postgres://", "postgresql://", "postgresql+psycopg://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    if url.startswith("sqlite://") and not url.startswith("sqlite+aiosqlite://"):
        return "sqlite+aiosqlite://" + url[len("sqlite://") :]
    if url.startswith(("postgresql+asyncpg://", "sqlite+aiosqlite://")):
        return url
    raise ValueError("must be a sqlite:/// or postgresql:// URL")


def sqlite_path(url: str) -> Path | None:
    """The file behind a SQLite URL, so its folder can be created on first use."""
    if not url.startswith("sqlite+aiosqlite:///"):
        return None
    raw = url[len("sqlite+aiosqlite:///") :].split("?")[0]
    if not raw or raw == ":memory:":
        return None
    return Path(raw)


class SettingsError(Exception):
    """One line naming the variable and what is wrong with it."""


def load_settings(**overrides: object) -> Settings:
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err.get("loc", ()))
        msg = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
        raise SettingsError(f"{loc}: {msg}" if loc else msg) from None
