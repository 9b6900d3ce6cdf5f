"""The ``tls=`` mapping turned into redis-py SSL arguments."""

from __future__ import annotations

from pathlib import Path

import pytest
from redis.asyncio.connection import SSLConnection

from dataqueue.backends.redis import RedisBackend
from dataqueue.backends.redis.connection import tls_options

CA = "-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n"
CERT = "-----BEGIN CERTIFICATE-----\ncert\n-----END CERTIFICATE-----\n"
KEY = "-----BEGIN PRIVATE KEY-----\nkey\n-----END PRIVATE KEY-----\n"


def test_pem_strings_become_ca_data_and_private_files() -> None:
    options, created = tls_options({"ca": CA, "cert": CERT, "key": KEY})
    try:
        assert options["connection_class"] is SSLConnection
        assert options["ssl_ca_data"] == CA
        assert Path(options["ssl_certfile"]).read_text() == CERT
        assert Path(options["ssl_keyfile"]).read_text() == KEY
        assert Path(options["ssl_keyfile"]).stat().st_mode & 0o077 == 0
        assert options["ssl_cert_reqs"] == "required"
        assert sorted(created) == sorted(
            [options["ssl_certfile"], options["ssl_keyfile"]]
        )
    finally:
        for path in created:
            Path(path).unlink()


def test_file_urls_are_read_or_passed_as_paths(tmp_path: Path) -> None:
    for name, text in (("ca.pem", CA), ("cert.pem", CERT), ("key.pem", KEY)):
        (tmp_path / name).write_text(text)
    options, created = tls_options(
        {
            "ca": f"file://{tmp_path / 'ca.pem'}",
            "cert": f"file://{tmp_path / 'cert.pem'}",
            "key": f"file://{tmp_path / 'key.pem'}",
        }
    )
    assert created == []
    assert options["ssl_ca_data"] == CA
    assert options["ssl_certfile"] == str(tmp_path / "cert.pem")
    assert options["ssl_keyfile"] == str(tmp_path / "key.pem")


def test_reject_unauthorized_false_skips_verification() -> None:
    options, created = tls_options({"reject_unauthorized": False})
    assert created == []
    assert options["ssl_cert_reqs"] == "none"
    assert options["ssl_check_hostname"] is False
    assert "ssl_ca_data" not in options


def test_unknown_tls_option_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"unknown tls option\(s\) \['verify'\]"):
        tls_options({"verify": True})


async def test_backend_deletes_its_pem_files_on_close() -> None:
    backend = RedisBackend("rediss://127.0.0.1:6390/0", tls={"cert": CERT, "key": KEY})
    kwargs = backend.get_redis_client().connection_pool.connection_kwargs
    paths = [Path(kwargs["ssl_certfile"]), Path(kwargs["ssl_keyfile"])]
    assert all(path.exists() for path in paths)
    await backend.close()
    assert not any(path.exists() for path in paths)
