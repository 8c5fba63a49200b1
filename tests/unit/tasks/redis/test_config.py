"""The Sentinel settings as written (tasks/redis/config.py): the Sentinels' list, the master's
name, what REDIS_URL may say with Sentinel, and the broker URL made of them."""

from __future__ import annotations

import kombu
import pytest

from tasks.redis.config import (
    check_data_url,
    check_master_name,
    data_credentials,
    parse_sentinels,
    sentinel_broker_url,
)


def test_sentinel_lists() -> None:
    assert parse_sentinels("") == ()
    assert parse_sentinels(" a:26379, 10.0.0.2:1 ,[::1]:26380,") == (
        ("a", 26379), ("10.0.0.2", 1), ("::1", 26380))


@pytest.mark.parametrize("bad", ["a", "a:", ":26379", "a:0", "a:65536", "a:port", "a b:1",
                                 "user@a:1", "a:1/0", "a:-1"])
def test_bad_sentinel_entries_are_named(bad: str) -> None:
    with pytest.raises(ValueError, match=r"REDIS_SENTINELS must be host:port") as info:
        parse_sentinels(f"ok:1,{bad}")
    assert repr(bad) in str(info.value)


def test_master_names() -> None:
    check_master_name("my-master.1_a")
    for bad in ("", "two words", "a/b", "x" * 129):
        with pytest.raises(ValueError, match="REDIS_SENTINEL_MASTER"):
            check_master_name(bad)


@pytest.mark.parametrize(("url", "problem"), [
    ("rediss://:pw@m/0", "scheme rediss"), ("unix:///tmp/r.sock", "scheme unix"),
    ("redis://:pw@m:6379/0", "a port"), ("redis://:pw@10.0.0.9/0", "the host '10.0.0.9'"),
    ("redis://:pw@m/zero", "not a database number")])
def test_data_url_gives_credentials_only(url: str, problem: str) -> None:
    with pytest.raises(ValueError, match="redis://:PASSWORD@m/0") as info:
        check_data_url(url, "m")
    assert problem in str(info.value) and "pw" not in str(info.value)


def test_data_credentials_and_broker_url() -> None:
    for fine in ("", "redis://m", "redis://:pw@M/3", "redis://@/1"):
        check_data_url(fine, "m")
    assert data_credentials("redis://us%40r:p%3Aw@m/3") == {
        "username": "us@r", "password": "p:w", "db": 3}
    assert data_credentials("") == {"username": None, "password": None, "db": 0}
    url = sentinel_broker_url((("a", 1), ("::1", 2)), "redis://:p%3Aw@m/3")
    assert url == "sentinel://:p%3Aw@a:1/3;sentinel://:p%3Aw@[::1]:2/3"
    conn = kombu.Connection(url)  # what kombu's sentinel transport reads of it
    assert (conn.transport_cls, conn.password, conn.virtual_host) == ("sentinel", "p:w", "3")
    assert len(conn.alt) == 2
    assert sentinel_broker_url((("a", 1),), "") == "sentinel://a:1/0"
