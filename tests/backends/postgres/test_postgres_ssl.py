"""Mapping ssl= options to libpq parameters (no TLS server needed)."""

from __future__ import annotations

import stat
from pathlib import Path

import psycopg
import pytest

from dataqueue.backends.postgres import PostgresBackend
from dataqueue.backends.postgres.connection import ssl_params

CA = "-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n"
KEY = "-----BEGIN PRIVATE KEY-----\nkey\n-----END PRIVATE KEY-----\n"
SYSTEM = {"sslrootcert": "system"} if psycopg.pq.version() >= 160000 else {}


def test_no_ssl_adds_nothing(tmp_path: Path) -> None:
    assert ssl_params(None, tmp_path) == {}


def test_pem_strings_are_written_to_private_files(tmp_path: Path) -> None:
    params = ssl_params({"ca": CA, "cert": CA, "key": KEY}, tmp_path)
    assert params["sslmode"] == "verify-full"
    for param, text in [("sslrootcert", CA), ("sslcert", CA), ("sslkey", KEY)]:
        path = Path(params[param])
        assert path.parent == tmp_path
        assert path.read_text() == text
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_file_urls_are_used_as_paths(tmp_path: Path) -> None:
    params = ssl_params(
        {"ca": "file:///etc/ca.crt", "cert": "file:///c.crt", "key": "file:///c.key"},
        tmp_path,
    )
    assert params == {
        "sslmode": "verify-full",
        "sslrootcert": "/etc/ca.crt",
        "sslcert": "/c.crt",
        "sslkey": "/c.key",
    }
    assert list(tmp_path.iterdir()) == []


def test_reject_unauthorized_false_encrypts_without_verifying(tmp_path: Path) -> None:
    params = ssl_params({"ca": CA, "reject_unauthorized": False}, tmp_path)
    assert params == {"sslmode": "require"}


def test_verification_without_a_ca_uses_the_system_store(tmp_path: Path) -> None:
    assert ssl_params({"reject_unauthorized": True}, tmp_path) == {
        "sslmode": "verify-full",
        **SYSTEM,
    }


def test_unknown_options_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="rejectUnauthorized"):
        ssl_params({"rejectUnauthorized": False}, tmp_path)


async def test_backend_passes_ssl_to_libpq_and_removes_its_files() -> None:
    backend = PostgresBackend(
        "postgresql://u@db.example/app?sslmode=disable", ssl={"ca": CA}
    )
    conninfo = psycopg.conninfo.conninfo_to_dict(backend.get_pool().conninfo)
    assert conninfo["sslmode"] == "verify-full"
    ca_file = Path(str(conninfo["sslrootcert"]))
    assert ca_file.read_text() == CA
    await backend.close()
    assert not ca_file.exists()
