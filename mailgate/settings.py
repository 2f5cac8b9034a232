"""The gateway's settings, read once from the application's PREAU_* configuration."""
from __future__ import annotations

import ipaddress
import re
import ssl
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from pathlib import Path

from directory.domain import mail_domain, universal
from directory.errors import InvalidInput

MB = 1024 * 1024
_DURATION = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "": 1}
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class SenderAuth(StrEnum):
    """PREAU_SENDER_AUTH: what becomes of mail claiming a member's redirect address that does
    not authenticate (mailgate/sender_auth.py)."""

    ENFORCE = "enforce"     # refused (550 5.7.26)
    MARK = "mark"           # delivered, shown as "Expéditeur non vérifié"
    OFF = "off"             # not checked


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
    # Signs the bounce addresses of forwards (mailgate/bounces.py): the app's SECRET_KEY.
    secret_key: bytes = field(default=b"", repr=False)
    sender_auth: SenderAuth = SenderAuth.ENFORCE
    trusted_networks: tuple[Network, ...] = ()
    dns_servers: tuple[tuple[str, int], ...] = ()    # empty: the system's resolvers
    dns_timeout: float = 5.0
    send_threads: int = 4       # the worker's SMTP connections to the smarthost at once

    def universal(self, local_part: str) -> str:
        return universal(local_part, self.domain)

    def is_local(self, address: str) -> bool:
        return address.rpartition("@")[2].lower() == self.domain


def parse_duration(value: str) -> timedelta:
    """`5d`, `12h`, `30m`, `45s` or a number of seconds."""
    match = _DURATION.match(str(value))
    if not match:
        raise InvalidInput(f"Durée invalide : « {value} » (exemples : 5d, 12h, 30m).")
    return timedelta(seconds=int(match[1]) * _UNITS[match[2]])


def parse_networks(value: str) -> tuple[Network, ...]:
    """`127.0.0.0/8, ::1`: addresses or networks separated by commas or spaces."""
    try:
        return tuple(ipaddress.ip_network(part, strict=False)
                     for part in re.split(r"[,\s]+", value) if part)
    except ValueError as error:
        raise InvalidInput(f"PREAU_TRUSTED_NETWORKS invalide : « {value} » ({error}).") \
            from None


def parse_servers(value: str) -> tuple[tuple[str, int], ...]:
    """`192.0.2.53, 127.0.0.1:5300, [2001:db8::53]:5353`: port 53 unless given."""
    return tuple(_server(part) for part in re.split(r"[,\s]+", value) if part)


def _server(part: str) -> tuple[str, int]:
    if part.startswith("["):
        host, _, port = part[1:].partition("]")
        port = port.removeprefix(":")
    elif part.count(":") == 1:
        host, _, port = part.partition(":")
    else:
        host, port = part, ""
    try:
        return str(ipaddress.ip_address(host)), int(port or 53)
    except ValueError:
        raise InvalidInput(f"PREAU_DNS_SERVERS invalide : « {part} » (une adresse IP, "
                           "éventuellement suivie de :port).") from None


def parse_count(name: str, value: str, default: int, *, most: int) -> int:
    """A whole number from 1 to `most`; empty: `default`."""
    if not str(value).strip():
        return default
    try:
        number = int(value)
    except ValueError:
        number = 0
    if not 1 <= number <= most:
        raise InvalidInput(f"PREAU_{name} invalide : « {value} » (un nombre de 1 à {most}).")
    return number


def parse_megabytes(name: str, value: str, default: float) -> float:
    """A size in megabytes (« 20 », « 2.5 »); empty: `default`."""
    if not str(value).strip():
        return default
    try:
        number = float(str(value).replace(",", "."))
    except ValueError:
        number = 0.0
    if not 0.01 <= number <= 100_000:
        raise InvalidInput(f"PREAU_{name} invalide : « {value} » (un nombre de mégaoctets, "
                           "par exemple 20).")
    return number


def parse_choice(name: str, value: str, choices: type[StrEnum]):
    try:
        return choices(value.strip().lower())
    except ValueError:
        allowed = ", ".join(c.value for c in choices)
        raise InvalidInput(f"PREAU_{name} invalide : « {value} » ({allowed}).") from None


def from_app(app) -> Settings:
    """Settings of a Flask app: cached on it, since every message asks."""
    cached = app.extensions.get("mailgate.settings")
    if cached is not None:
        return cached
    settings = app.extensions["mailgate.settings"] = read(app)
    return settings


def read(app) -> Settings:
    """The settings the app's configuration gives, or InvalidInput naming the first variable
    that cannot be used: the app factory asks once, so that a typo stops every process at
    start, the web's included, in one line. The certificate's files are not opened here:
    only where SMTP is served (`tls_context`, portal/processes.py `checked_app`), since they
    may be readable by the gateway's user alone, or lie on its machines alone."""
    preau = app.config.get("PREAU", {})
    domain = mail_domain(app)
    settings = Settings(
        domain=domain,
        quota_bytes=int(parse_megabytes("QUOTA_MB", preau.get("QUOTA_MB", ""), 45) * MB),
        max_message_bytes=int(parse_megabytes("MAX_MESSAGE_MB",
                                              preau.get("MAX_MESSAGE_MB", ""), 20) * MB),
        queue_lifetime=parse_duration(preau.get("QUEUE_LIFETIME", "5d")),
        smarthost=preau.get("SMARTHOST", "capture:") or "capture:",
        smtp_listen=preau.get("SMTP_LISTEN", "127.0.0.1:2525"),
        instance_path=Path(app.instance_path),
        hostname=preau.get("HOSTNAME") or f"mail.{domain}",
        tls_cert=preau.get("TLS_CERT", ""),
        tls_key=preau.get("TLS_KEY", ""),
        dkim_key=preau.get("DKIM_KEY", ""),
        dkim_selector=preau.get("DKIM_SELECTOR", ""),
        secret_key=str(app.config["SECRET_KEY"]).encode(),
        sender_auth=parse_choice("SENDER_AUTH", preau.get("SENDER_AUTH") or "enforce",
                                 SenderAuth),
        trusted_networks=parse_networks(preau.get("TRUSTED_NETWORKS", "127.0.0.0/8, ::1")),
        dns_servers=parse_servers(preau.get("DNS_SERVERS", "")),
        dns_timeout=parse_duration(preau.get("DNS_TIMEOUT") or "5s").total_seconds(),
        send_threads=parse_count("SEND_THREADS", preau.get("SEND_THREADS", ""), 4, most=64),
    )
    if not settings.smarthost.startswith("capture:"):
        from .smarthost import parse_url

        parse_url(settings.smarthost)   # a typo stops the start, not every sending round
    return settings


def tls_context(settings: Settings) -> ssl.SSLContext | None:
    """The gateway's STARTTLS context (PREAU_TLS_CERT, PREAU_TLS_KEY), None without a
    certificate; InvalidInput when the files cannot be read as a certificate and its key."""
    if not settings.tls_cert:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(settings.tls_cert, settings.tls_key or None)
    except (OSError, ssl.SSLError) as error:
        raise InvalidInput(f"PREAU_TLS_CERT / PREAU_TLS_KEY inutilisables : « "
                           f"{settings.tls_cert} », « {settings.tls_key} » ({error}).") from None
    return context


def current() -> Settings:
    from flask import current_app

    return from_app(current_app._get_current_object())
