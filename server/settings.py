"""Settings, read from the environment (`ORDERPASS_*`) in this one place."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_DATABASE_URL = "sqlite:///./orderpass.db"
DEV_DOJO_USERNAME = "dojo"
DEV_DOJO_PASSWORD = "orderpass-dev"  # printed by `serve --dev`; never used unless asked for
DOJO_API_URL = "https://api.dojo.tech"  # the `servers` entry of Dojo's API description

# Limits on what a Dojo or a client that misbehaves can hold (security issue 11), each default
# written once, here. Dojo promises to release or extend a lock before its expiry and extends a
# live payment in short steps (NOTES.md), so ten minutes is more than a slow payer needs. The
# rest are `orderpass serve`'s (server/serving.py says what each does). Every kitchen screen
# holds a WebSocket for as long as it is on, and WebSockets count towards the connection limit:
# 2000 leaves room for the 1000 screens tests/test_operations.py holds, and for Dojo and staff.
DOJO_LOCK_MAX_SECONDS = 600
MAX_CONNECTIONS = 2000
HEADER_TIMEOUT_SECONDS = 10
KEEP_ALIVE_SECONDS = 5
MAX_HEADER_BYTES = 16 * 1024
WS_MAX_MESSAGE_BYTES = 1024 * 1024
WS_PROTOCOL_PING_SECONDS = 20


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    dojo_username: str | None = None
    dojo_password: str | None = None
    max_body_bytes: int = 1024 * 1024
    auto_confirm: bool = False
    sqlite_synchronous: str = "FULL"
    busy_timeout_ms: int = 5000
    log_level: str = "INFO"
    broker_url: str = "memory://"
    ws_ping_seconds: float = 3.0
    ws_send_timeout_seconds: float = 10.0
    ws_max_operations: int = 4  # a kitchen screen runs one subscription; GraphiQL one or two
    token_recheck_seconds: float = 2.0  # how soon an open socket notices its token was revoked
    kds_amber_seconds: int = 300
    kds_red_seconds: int = 600
    kds_recall_limit: int = 20
    kds_recall_minutes: int = 15
    # The KDS behind a proxy, its cookie and its busiest board (security issue 11): whose
    # X-Forwarded-Proto/-For to believe (IPs or CIDRs; none by default; 127.0.0.1 behind nginx or
    # caddy on the same box), how many days a paired screen's cookie lives, and how many tickets
    # a board loads at most (it counts the rest).
    trusted_proxies: tuple[str, ...] = ()
    kds_cookie_days: int = 30
    kds_board_limit: int = 1000
    timezone: str = "Europe/London"
    dojo_api_url: str = DOJO_API_URL
    dojo_api_key: str | None = None
    dojo_software_house_id: str | None = None
    dojo_event_delay_ms: int = 250
    dojo_poll_seconds: float = 2.0
    tune_gc: bool = False  # on for `orderpass serve` (from the environment); off where apps come and go
    merchant_name: str = "orderpass"
    merchant_address: tuple[str, ...] = ()
    merchant_postcode: str = ""
    merchant_vat_number: str | None = None
    merchant_phone: str | None = None
    merchant_email: str | None = None
    # Limits (see the block above the class)
    dojo_lock_max_seconds: int = DOJO_LOCK_MAX_SECONDS
    max_connections: int = MAX_CONNECTIONS
    header_timeout_seconds: int = HEADER_TIMEOUT_SECONDS
    keep_alive_seconds: int = KEEP_ALIVE_SECONDS
    max_header_bytes: int = MAX_HEADER_BYTES
    ws_max_message_bytes: int = WS_MAX_MESSAGE_BYTES
    ws_protocol_ping_seconds: int = WS_PROTOCOL_PING_SECONDS
    # What one GraphQL client can make the whole process do (security issue 11).
    max_replays: int = 8  # subscriptions catching up from the store at once; the rest wait their turn

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Self:
        env = os.environ if env is None else env
        read = _Reader(env)
        return cls(
            database_url=read.text("DATABASE_URL", DEFAULT_DATABASE_URL),
            dojo_username=read.optional("DOJO_USERNAME"),
            dojo_password=read.optional("DOJO_PASSWORD"),
            max_body_bytes=read.integer("MAX_BODY_BYTES", 1024 * 1024),
            auto_confirm=read.flag("AUTO_CONFIRM", False),
            sqlite_synchronous=read.choice("SQLITE_SYNCHRONOUS", "FULL", ("FULL", "NORMAL")),
            busy_timeout_ms=read.integer("BUSY_TIMEOUT_MS", 5000),
            log_level=read.choice("LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR")),
            broker_url=read.text("BROKER_URL", "memory://"),
            ws_ping_seconds=read.integer("WS_PING_SECONDS", 3),
            ws_send_timeout_seconds=read.integer("WS_SEND_TIMEOUT_SECONDS", 10),
            ws_max_operations=read.integer("WS_MAX_OPERATIONS", 4),
            token_recheck_seconds=read.integer("TOKEN_RECHECK_SECONDS", 2),
            kds_amber_seconds=read.integer("KDS_AMBER_SECONDS", 300),
            kds_red_seconds=read.integer("KDS_RED_SECONDS", 600),
            kds_recall_limit=read.integer("KDS_RECALL_LIMIT", 20),
            kds_recall_minutes=read.integer("KDS_RECALL_MINUTES", 15),
            trusted_proxies=read.networks("TRUSTED_PROXIES"),
            kds_cookie_days=read.integer("KDS_COOKIE_DAYS", 30),
            kds_board_limit=read.integer("KDS_BOARD_LIMIT", 1000, at_most=1000),
            timezone=read.timezone("TIMEZONE", "Europe/London"),
            dojo_api_url=read.text("DOJO_API_URL", DOJO_API_URL),
            dojo_api_key=read.optional("DOJO_API_KEY"),
            dojo_software_house_id=read.optional("DOJO_SOFTWARE_HOUSE_ID"),
            dojo_event_delay_ms=read.integer("DOJO_EVENT_DELAY_MS", 250),
            dojo_poll_seconds=read.integer("DOJO_POLL_SECONDS", 2),
            tune_gc=read.flag("TUNE_GC", True),
            merchant_name=read.text("MERCHANT_NAME", "orderpass"),
            merchant_address=tuple(
                line.strip() for line in read.text("MERCHANT_ADDRESS", "").split("|") if line.strip()
            ),
            merchant_postcode=read.text("MERCHANT_POSTCODE", ""),
            merchant_vat_number=read.optional("MERCHANT_VAT_NUMBER"),
            merchant_phone=read.optional("MERCHANT_PHONE"),
            merchant_email=read.optional("MERCHANT_EMAIL"),
            dojo_lock_max_seconds=read.integer("DOJO_LOCK_MAX_SECONDS", DOJO_LOCK_MAX_SECONDS),
            max_connections=read.integer("MAX_CONNECTIONS", MAX_CONNECTIONS),
            header_timeout_seconds=read.integer("HEADER_TIMEOUT_SECONDS", HEADER_TIMEOUT_SECONDS),
            keep_alive_seconds=read.integer("KEEP_ALIVE_SECONDS", KEEP_ALIVE_SECONDS),
            max_header_bytes=read.integer("MAX_HEADER_BYTES", MAX_HEADER_BYTES),
            ws_max_message_bytes=read.integer("WS_MAX_MESSAGE_BYTES", WS_MAX_MESSAGE_BYTES),
            ws_protocol_ping_seconds=read.integer("WS_PROTOCOL_PING_SECONDS", WS_PROTOCOL_PING_SECONDS),
            # What one GraphQL client can make the whole process do (security issue 11).
            max_replays=read.integer("MAX_REPLAYS", 8),
        )

    @property
    def talks_to_dojo(self) -> bool:
        """Calls to Dojo (POS events, payment-intent lookups) need an API key."""
        return self.dojo_api_key is not None

    @property
    def has_dojo_credentials(self) -> bool:
        return bool(self.dojo_username and self.dojo_password)

    def secrets(self) -> tuple[str | None, ...]:
        """What no log line may show (server/logs.py redacts them wherever they appear)."""
        return (self.dojo_password, self.dojo_api_key)

    def dojo_credentials(self) -> tuple[str, str]:
        if not (self.dojo_username and self.dojo_password):
            missing = "set ORDERPASS_DOJO_USERNAME and ORDERPASS_DOJO_PASSWORD, or serve with --dev"
            raise SettingsError(f"no Dojo credentials: {missing}")
        return self.dojo_username, self.dojo_password

    def with_dev_credentials(self) -> Settings:
        """Fill in the development pair, only where none is configured."""
        if self.has_dojo_credentials:
            return self
        return replace(self, dojo_username=DEV_DOJO_USERNAME, dojo_password=DEV_DOJO_PASSWORD)


@dataclass(frozen=True, slots=True)
class _Reader:
    env: Mapping[str, str]

    def optional(self, name: str) -> str | None:
        value = self.env.get(f"ORDERPASS_{name}", "").strip()
        return value or None

    def text(self, name: str, default: str) -> str:
        return self.optional(name) or default

    def integer(self, name: str, default: int, *, at_most: int | None = None) -> int:
        raw = self.optional(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise SettingsError(f"ORDERPASS_{name} must be a whole number, got {raw!r}") from None
        if value <= 0:
            raise SettingsError(f"ORDERPASS_{name} must be positive, got {value}")
        if at_most is not None and value > at_most:
            raise SettingsError(f"ORDERPASS_{name} must be at most {at_most}, got {value}")
        return value

    def networks(self, name: str) -> tuple[str, ...]:
        """Comma-separated IP addresses or CIDR networks (uvicorn would quietly take a typo as a
        literal that never matches, so each is checked here)."""
        found = tuple(part.strip() for part in self.text(name, "").split(",") if part.strip())
        for part in found:
            try:
                ipaddress.ip_network(part)
            except ValueError:
                raise SettingsError(
                    f"ORDERPASS_{name} must be IP addresses or networks like 127.0.0.1 or 10.0.0.0/8, "
                    f"got {part!r}"
                ) from None
        return found

    def flag(self, name: str, default: bool) -> bool:
        raw = self.optional(name)
        if raw is None:
            return default
        if raw.lower() in {"1", "true", "yes", "on"}:
            return True
        if raw.lower() in {"0", "false", "no", "off"}:
            return False
        raise SettingsError(f"ORDERPASS_{name} must be true or false, got {raw!r}")

    def timezone(self, name: str, default: str) -> str:
        value = self.text(name, default)
        try:
            ZoneInfo(value)
        except (ValueError, ZoneInfoNotFoundError):
            raise SettingsError(
                f"ORDERPASS_{name} must be an IANA time zone like Europe/London, got {value!r}"
            ) from None
        return value

    def choice(self, name: str, default: str, allowed: tuple[str, ...]) -> str:
        raw = (self.optional(name) or default).upper()
        if raw not in allowed:
            raise SettingsError(f"ORDERPASS_{name} must be one of {', '.join(allowed)}, got {raw!r}")
        return raw
