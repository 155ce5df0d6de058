"""Flower never starts open to the network without a login."""

from __future__ import annotations

import pytest

from app.ops.flower import basic_auth_pairs, refuse_unsafe_start, unsafe_start_reason
from app.settings import ConfigError, OperatorSettings, Settings, ZendeskSettings, get_settings

ZENDESK = {"url": "http://127.0.0.1:9", "email": "bot@example.com", "api_token": "t"}


def settings_with(**operators: object) -> Settings:
    return Settings(zendesk=ZendeskSettings(**ZENDESK), operators=OperatorSettings(**operators))


@pytest.mark.parametrize("address", ["127.0.0.1", "::1", "localhost"])
def test_loopback_without_a_login_is_allowed(address):
    assert unsafe_start_reason(address, []) is None


@pytest.mark.parametrize("address", ["0.0.0.0", "", "10.0.0.5", "::"])
def test_other_addresses_need_a_login(address):
    reason = unsafe_start_reason(address, [])
    assert reason and "FLOWER_BASIC_AUTH" in reason and "--address=127.0.0.1" in reason
    assert unsafe_start_reason(address, ["ops:s3cret"]) is None
    assert unsafe_start_reason(address, [], auth=".*@example\\.com") is None  # Flower's OAuth
    assert unsafe_start_reason(address, [], unix_socket="/run/flower.sock") is None


def test_refusal_is_a_configuration_error_that_never_shows_the_password():
    class Options:
        address, basic_auth, auth, unix_socket = "0.0.0.0", [], "", ""

    with pytest.raises(ConfigError, match="without a login"):
        refuse_unsafe_start(Options)
    Options.basic_auth = [""]  # FLOWER_BASIC_AUTH set to nothing
    with pytest.raises(ConfigError, match="without a login"):
        refuse_unsafe_start(Options)


def test_basic_auth_comes_from_settings_and_bad_values_are_refused_without_echoing_them(monkeypatch):
    assert basic_auth_pairs(settings_with()) == []
    assert basic_auth_pairs(settings_with(flower_basic_auth="ops:s3cret, lead:pa:ss")) == ["ops:s3cret", "lead:pa:ss"]
    assert "s3cret" not in repr(settings_with(flower_basic_auth="ops:s3cret"))
    for bad in ("ops", "ops:", ":s3cret", "ops:s3cret,nopassword"):
        monkeypatch.setenv("FLOWER_BASIC_AUTH", bad)
        get_settings.cache_clear()
        with pytest.raises(ConfigError) as error:
            get_settings()
        assert "FLOWER_BASIC_AUTH: expected user:password" in str(error.value.code)
        assert "s3cret" not in str(error.value.code)
    get_settings.cache_clear()
