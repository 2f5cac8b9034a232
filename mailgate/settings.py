"""The gateway's settings, read once from the application's PREAU_* configuration."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from directory.errors import InvalidInput

MB = 1024 * 1024
_DURATION = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "": 1}


@dataclass(frozen=True)
class Settings:
    domain: str
    quota_bytes: int
    max_message_bytes: int
    queue_lifetime: timedelta
    smarthost: str
    smtp_listen: str
    instance_path: Path
    hostname: str
    tls_cert: str = ""
    tls_key: str = ""
    dkim_key: str = ""
    dkim_selector: str = ""

    def universal(self, local_part: str) -> str:
        return f"{local_part}@{self.domain}"

    def is_local(self, address: str) -> bool:
        return address.rpartition("@")[2].lower() == self.domain


def parse_duration(value: str) -> timedelta:
    """`5d`, `12h`, `30m`, `45s` or a number of seconds."""
    match = _DURATION.match(str(value))
    if not match:
        raise InvalidInput(f"Durée invalide : « {value} » (exemples : 5d, 12h, 30m).")
    return timedelta(seconds=int(match[1]) * _UNITS[match[2]])


def from_app(app) -> Settings:
    """Settings of a Flask app: cached on it, since every message asks."""
    cached = app.extensions.get("mailgate.settings")
    if cached is not None:
        return cached
    preau = app.config.get("PREAU", {})
    domain = (preau.get("MAIL_DOMAIN") or app.config.get("MAIL_DOMAIN") or "ent.test").lower()
    settings = Settings(
        domain=domain,
        quota_bytes=int(float(preau.get("QUOTA_MB", "45")) * MB),
        max_message_bytes=int(float(preau.get("MAX_MESSAGE_MB", "20")) * MB),
        queue_lifetime=parse_duration(preau.get("QUEUE_LIFETIME", "5d")),
        smarthost=preau.get("SMARTHOST", "capture:") or "capture:",
        smtp_listen=preau.get("SMTP_LISTEN", "127.0.0.1:2525"),
        instance_path=Path(app.instance_path),
        hostname=preau.get("HOSTNAME") or f"mail.{domain}",
        tls_cert=preau.get("TLS_CERT", ""),
        tls_key=preau.get("TLS_KEY", ""),
        dkim_key=preau.get("DKIM_KEY", ""),
        dkim_selector=preau.get("DKIM_SELECTOR", ""),
    )
    app.extensions["mailgate.settings"] = settings
    return settings


def current() -> Settings:
    from flask import current_app

    return from_app(current_app._get_current_object())
