"""Configuration from PREAU_* environment variables over defaults (SPEC §10)."""
from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path

from directory.domain import DEFAULT_MAIL_DOMAIN
from mailgate.settings import parse_megabytes

DEFAULTS = {
    "MAIL_DOMAIN": DEFAULT_MAIL_DOMAIN,
    "SMTP_LISTEN": "127.0.0.1:2525",
    "SMARTHOST": "capture:",
    "WEB_LISTEN": "127.0.0.1:5000",
    "QUOTA_MB": "45",
    "MAX_MESSAGE_MB": "20",
    "QUEUE_LIFETIME": "5d",
    "HOSTNAME": "",
    "TLS_CERT": "",
    "TLS_KEY": "",
    "TRUSTED_PROXIES": "0",
    "DKIM_KEY": "",
    "DKIM_SELECTOR": "",
    "FANOUT_BATCH": "",
    "SEND_THREADS": "",
    "TIMEZONE": "Europe/Paris",
    "SENDER_AUTH": "enforce",
    "TRUSTED_NETWORKS": "127.0.0.0/8, ::1",
    "DNS_SERVERS": "",
    "DNS_TIMEOUT": "5s",
}


def instance_path() -> Path:
    return Path(os.environ.get("PREAU_INSTANCE_PATH") or Path.cwd() / "instance").resolve()


def _secret_key(folder: Path) -> str:
    """PREAU_SECRET_KEY, or one generated once and kept in the instance folder."""
    key = os.environ.get("PREAU_SECRET_KEY")
    if key:
        return key
    key_file = folder / "secret_key"
    if not key_file.exists():
        folder.mkdir(parents=True, exist_ok=True)
        _write_once(key_file, secrets.token_hex(32))
    return key_file.read_text().strip()


def _write_once(path: Path, text: str) -> None:
    """`text` into `path`, unless another process wrote it first (`preau serve` starts three
    at once): written whole into a file of its own (mode 0600), then linked to `path`, which
    fails when `path` exists. A reader finds no file or a whole one, and every process reads
    the key that won."""
    handle, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    try:
        with os.fdopen(handle, "w") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.link(partial, path)
    except FileExistsError:
        pass
    finally:
        os.unlink(partial)


def database_url(folder: Path) -> str:
    return os.environ.get("PREAU_DATABASE_URL") or f"sqlite:///{folder / 'preau.db'}"


def load(folder: Path | None = None) -> dict:
    folder = folder or instance_path()
    folder.mkdir(parents=True, exist_ok=True)
    preau = {name: os.environ.get(f"PREAU_{name}", default) for name, default in DEFAULTS.items()}
    return {
        "SECRET_KEY": _secret_key(folder),
        "SQLALCHEMY_DATABASE_URI": database_url(folder),
        # No pool_pre_ping: directory.db.ping_when_idle pings only connections left idle.
        "SQLALCHEMY_ENGINE_OPTIONS": {},
        "PREAU": preau,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "WTF_CSRF_TIME_LIMIT": None,
        "BABEL_DEFAULT_LOCALE": "fr",
        "MAX_CONTENT_LENGTH": int(
            (parse_megabytes("MAX_MESSAGE_MB", preau["MAX_MESSAGE_MB"], 20) + 5) * 1024 * 1024),
    }
