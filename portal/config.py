"""Configuration from PREAU_* environment variables over defaults (SPEC §10)."""
from __future__ import annotations

import ipaddress
import os
import re
import secrets
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import SplitResult, urlsplit

from directory.domain import DEFAULT_MAIL_DOMAIN
from directory.errors import InvalidInput
from mailgate.settings import parse_megabytes

DEFAULTS = {
    "MAIL_DOMAIN": DEFAULT_MAIL_DOMAIN,
    "SMTP_LISTEN": "127.0.0.1:2525",
    "SMARTHOST": "capture:",
    "WEB_LISTEN": "127.0.0.1:5000",
    "PUBLIC_URL": "",
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


KEY_BYTES = 32          # a generated key: 64 hexadecimal digits
_KEY_BEGINNING = re.compile(r"[0-9a-f]{0,63}")
KEY_WAIT_SECONDS = 2


def _secret_key(folder: Path) -> str:
    """PREAU_SECRET_KEY, or one generated once and kept in the instance folder."""
    key = os.environ.get("PREAU_SECRET_KEY")
    if key:
        return key
    key_file = folder / "secret_key"
    if not key_file.exists():
        folder.mkdir(parents=True, exist_ok=True)
        _write_once(key_file, secrets.token_hex(KEY_BYTES))
    return _whole_key(key_file)


def _write_once(path: Path, text: str) -> None:
    """`text` into `path`, unless another process wrote it first (`preau serve` starts three
    at once): written whole into a file of its own (mode 0600), then linked to `path`, which
    fails when `path` exists. A reader finds no file or a whole one, and every process reads
    the key that won. Where there are no hard links (some shared folders, FUSE), `path` is
    created exclusively and written in place (`_create_once`)."""
    handle, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    try:
        with os.fdopen(handle, "w") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(partial, path)
        except FileExistsError:
            pass
        except OSError:     # EPERM, EOPNOTSUPP, ENOSYS…: this filesystem links nothing
            _create_once(path, text)
    finally:
        os.unlink(partial)


def _create_once(path: Path, text: str) -> None:
    """`text` into `path` unless it exists, with O_CREAT|O_EXCL (mode 0600): another process
    may find the file before it is written, empty or begun, which `_whole_key` waits out."""
    try:
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    try:
        with os.fdopen(handle, "w") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
    except BaseException:
        path.unlink(missing_ok=True)    # never a key cut short for the next start to read
        raise


def _whole_key(path: Path) -> str:
    """The key of `path` once whole: a generated key being written in place (`_create_once`)
    is read as nothing or the beginning of its 64 digits for a moment, so such a text is read
    again for up to KEY_WAIT_SECONDS. Still nothing then: the writer died before writing."""
    deadline = time.monotonic() + KEY_WAIT_SECONDS
    key = _text_of(path)
    while _KEY_BEGINNING.fullmatch(key) and time.monotonic() < deadline:
        time.sleep(0.02)
        key = _text_of(path)
    if not key:
        raise InvalidInput(f"Le fichier de la clé secrète {path} est vide : supprimez-le (une "
                           "nouvelle clé sera créée) ou donnez PREAU_SECRET_KEY.")
    return key


def _text_of(path: Path) -> str:
    """Nothing for a file gone: a writer that failed removes what it began."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        return ""


def public_url(value: str) -> str:
    """PREAU_PUBLIC_URL as mailed links begin with it — `https://ent.example.org`, without a
    path or a final slash — or "" when unset; InvalidInput for anything else."""
    value = value.strip().rstrip("/")
    if not value:
        return ""
    parts = _url_parts(value)
    if (parts is None or parts.scheme not in ("http", "https") or not parts.hostname
            or parts.username is not None or parts.path or parts.query or parts.fragment):
        raise InvalidInput(f"PREAU_PUBLIC_URL invalide : « {value} » (l'adresse où l'on ouvre "
                           "le portail, par exemple https://ent.example.org).")
    return f"{parts.scheme}://{parts.netloc}"


def link_origin(preau: Mapping[str, str], host: str, scheme: str) -> str | None:
    """Where a link mailed to someone else than the one asking points (`scheme://host[:port]`):
    PREAU_PUBLIC_URL. Unset, the request's own host only when it is this machine (`localhost`,
    127.0.0.1, [::1]: `make run`, `preau serve`, the tests), never another: the Host header is
    whatever the client wrote, and a « mot de passe oublié » asked with `Host: evil.example`
    would mail its genuine link to evil.example. None: no link may be mailed."""
    configured = preau.get("PUBLIC_URL", "").strip().rstrip("/")
    if configured:
        return configured
    parts = _url_parts(f"//{host}")
    if (parts is None or parts.netloc != host or parts.username is not None
            or not _this_machine(parts.hostname)):
        return None
    return f"{scheme}://{host}"


def _url_parts(url: str) -> SplitResult | None:
    """`url` split, or None when it cannot be one (a port that is no number, a bad IPv6)."""
    try:
        parts = urlsplit(url)
        parts.port      # noqa: B018  (raises ValueError for a port that is no number)
    except ValueError:
        return None
    return parts


def _this_machine(name: str | None) -> bool:
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name or "").is_loopback
    except ValueError:
        return False


def database_url(folder: Path) -> str:
    return os.environ.get("PREAU_DATABASE_URL") or f"sqlite:///{folder / 'preau.db'}"


def load(folder: Path | None = None) -> dict:
    folder = folder or instance_path()
    folder.mkdir(parents=True, exist_ok=True)
    preau = {name: os.environ.get(f"PREAU_{name}", default) for name, default in DEFAULTS.items()}
    preau["PUBLIC_URL"] = public_url(preau["PUBLIC_URL"])
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
