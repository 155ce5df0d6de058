"""Settings: defaults, derived values, and start-up errors that name the setting."""

import pytest

from app.settings import ConfigError, Settings, get_settings


@pytest.fixture
def clean_env(monkeypatch):
    for name in (
        "ZENDESK_URL",
        "ZENDESK_SUBDOMAIN",
        "ZENDESK_EMAIL",
        "ZENDESK_API_TOKEN",
        "BROKER_URL",
        "ZENDESK_OAUTH_CLIENT_ID",
        "ZENDESK_OAUTH_CLIENT_SECRET",
        "ZENDESK_OAUTH_SCOPE",
        "ZENDESK_OAUTH_TOKEN_LIFETIME",
        "PRIORITY_MODE",
        "REDIS_URL",
        "SWEEP_INTERVAL",
        "LLM_PROVIDER",
        "REDIS_PREFIX",
        "OPENAI_API_KEY",
        "LLM_BASE_URL",
        "TAXONOMY_FILE",
        "ZENDESK_WEBHOOK_SECRET",
        "LLM_MODEL",
        "LOCAL_GATE_CONFIDENCE",
        "SWEEP_MAX_TICKETS",
        "LOG_FORMAT",
        "BULK_MAX_JOBS",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir("/")  # no .env here
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


@pytest.fixture
def acme_login(clean_env):
    """A clean environment with the least a valid configuration needs: a subdomain and an API-token login."""
    clean_env.setenv("ZENDESK_SUBDOMAIN", "acme")
    clean_env.setenv("ZENDESK_EMAIL", "a@b.c")
    clean_env.setenv("ZENDESK_API_TOKEN", "t")


def test_missing_credentials_name_the_variables(clean_env):
    clean_env.setenv("ZENDESK_SUBDOMAIN", "acme")
    with pytest.raises(ConfigError) as info:
        get_settings()
    message = str(info.value)
    assert "ZENDESK_OAUTH_CLIENT_ID" in message and "ZENDESK_OAUTH_CLIENT_SECRET" in message
    assert "ZENDESK_EMAIL" in message and "ZENDESK_API_TOKEN" in message and "2027-04-30" in message
    assert message.startswith("configuration error:")


def test_an_oauth_client_alone_is_enough_and_half_a_client_names_the_other_half(clean_env):
    clean_env.setenv("ZENDESK_SUBDOMAIN", "acme")
    clean_env.setenv("ZENDESK_OAUTH_CLIENT_ID", "triage-fleet")
    with pytest.raises(ConfigError, match="ZENDESK_OAUTH_CLIENT_SECRET: must be set"):
        get_settings()
    clean_env.setenv("ZENDESK_OAUTH_CLIENT_SECRET", "secret")
    get_settings.cache_clear()
    settings = get_settings()
    assert settings.zendesk.credentials == "oauth" and settings.zendesk.oauth_scope == "read write"
    assert settings.zendesk.credential_warnings() == []


def test_oauth_wins_over_an_api_token_and_says_the_token_is_unused(clean_env, caplog):
    for name, value in (
        ("ZENDESK_SUBDOMAIN", "acme"),
        ("ZENDESK_OAUTH_CLIENT_ID", "c"),
        ("ZENDESK_OAUTH_CLIENT_SECRET", "s"),
        ("ZENDESK_EMAIL", "a@b.c"),
        ("ZENDESK_API_TOKEN", "t"),
    ):
        clean_env.setenv(name, value)
    with caplog.at_level("WARNING"):
        settings = get_settings()
        get_settings()  # cached: warned once
    assert settings.zendesk.credentials == "oauth"
    assert [r.getMessage() for r in caplog.records if "ZENDESK_API_TOKEN" in r.getMessage()] == [
        "ZENDESK_API_TOKEN is set but not used: the OAuth client (ZENDESK_OAUTH_CLIENT_ID) wins; remove it"
    ]


@pytest.mark.usefixtures("acme_login")
def test_an_api_token_still_works_with_a_warning_naming_the_day_it_stops():
    from datetime import date

    settings = get_settings()
    assert settings.zendesk.credentials == "api_token"
    [before] = settings.zendesk.credential_warnings(date(2027, 4, 29))
    [after] = settings.zendesk.credential_warnings(date(2027, 4, 30))
    assert "stop working on 2027-04-30" in before and "stopped working on 2027-04-30" in after
    assert "ZENDESK_OAUTH_CLIENT_ID" in before


@pytest.mark.parametrize(
    "name,value,message",
    [
        ("ZENDESK_OAUTH_SCOPE", "read tickets:delete", "tickets:delete"),
        ("ZENDESK_OAUTH_SCOPE", " ", "an empty scope"),
        ("ZENDESK_OAUTH_TOKEN_LIFETIME", "300", "ZENDESK_OAUTH_TOKEN_LIFETIME"),
        ("ZENDESK_OAUTH_TOKEN_LIFETIME", "172800", "ZENDESK_OAUTH_TOKEN_LIFETIME"),
        ("PRIORITY_MODE", "sometimes", "PRIORITY_MODE"),
    ],
)
def test_bad_oauth_settings_name_the_variable(clean_env, name, value, message):
    for key, good in (
        ("ZENDESK_SUBDOMAIN", "acme"),
        ("ZENDESK_OAUTH_CLIENT_ID", "c"),
        ("ZENDESK_OAUTH_CLIENT_SECRET", "s"),
    ):
        clean_env.setenv(key, good)
    clean_env.setenv(name, value)
    with pytest.raises(ConfigError, match=message):
        get_settings()


def test_zendesk_location_is_required(clean_env):
    clean_env.setenv("ZENDESK_EMAIL", "a@b.c")
    clean_env.setenv("ZENDESK_API_TOKEN", "t")
    with pytest.raises(ConfigError, match="ZENDESK_URL.*ZENDESK_SUBDOMAIN"):
        get_settings()


@pytest.mark.usefixtures("acme_login")
@pytest.mark.parametrize(
    "name,value", [("SWEEP_INTERVAL", "-5"), ("REDIS_URL", "http://localhost:6379"), ("LLM_PROVIDER", "magic")]
)
def test_bad_numbers_and_urls_are_named(clean_env, name, value):
    clean_env.setenv(name, value)
    with pytest.raises(ConfigError, match=name):
        get_settings()


@pytest.mark.usefixtures("acme_login")
def test_llm_provider_choice_says_why(clean_env):
    for name in ("OPENAI_API_KEY", "LLM_BASE_URL", "LLM_PRICE_INPUT_PER_MTOK", "LLM_PRICE_OUTPUT_PER_MTOK"):
        clean_env.delenv(name, raising=False)
    provider, why = Settings().llm_choice()
    assert provider == "rules" and "no OPENAI_API_KEY or LLM_BASE_URL" in why
    clean_env.setenv("OPENAI_API_KEY", "sk-test")
    assert Settings().llm_choice() == ("openai", "gpt-4o-mini at OpenAI (OPENAI_API_KEY is set)")
    clean_env.setenv("LLM_BASE_URL", "http://127.0.0.1:11434/v1")
    assert "LLM_BASE_URL" in Settings().llm_choice()[1]
    clean_env.setenv("LLM_PROVIDER", "rules")
    assert Settings().llm_choice()[0] == "rules"
    clean_env.setenv("LLM_PROVIDER", "openai")
    clean_env.delenv("OPENAI_API_KEY")
    clean_env.delenv("LLM_BASE_URL")
    with pytest.raises(ConfigError, match="LLM_PROVIDER=openai needs OPENAI_API_KEY"):
        get_settings()
    get_settings.cache_clear()
    clean_env.setenv("LLM_PROVIDER", "rules")
    clean_env.setenv("LLM_PRICE_INPUT_PER_MTOK", "0.1")
    with pytest.raises(ConfigError, match="LLM_PRICE_OUTPUT_PER_MTOK"):
        get_settings()


@pytest.mark.usefixtures("acme_login")
def test_defaults_and_derived_values(clean_env):
    settings = Settings()
    assert settings.zendesk.base_url == "https://acme.zendesk.com"
    assert settings.redis.effective_broker_url == settings.redis.url == "redis://127.0.0.1:6379/0"
    assert settings.intake.sweep_interval == 60
    assert settings.llm.model == "gpt-4o-mini"
    clean_env.delenv("ZENDESK_SUBDOMAIN")  # one or the other: both set is an error
    clean_env.setenv("ZENDESK_URL", "http://127.0.0.1:8081/")
    clean_env.setenv("BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")
    settings = Settings()
    assert settings.zendesk.base_url == "http://127.0.0.1:8081"
    assert settings.redis.effective_broker_url.startswith("amqp://")


def test_every_variable_keeps_its_flat_name_and_env_example_lists_them_all():
    import re
    from pathlib import Path

    example = (Path(__file__).resolve().parents[2] / ".env.example").read_text()
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", example, re.M))
    names = Settings.env_names()
    assert len(names) == len(set(names)) and not [name for name in names if "__" in name]
    # Besides the settings, what docker-compose.yml itself reads from .env ($$NAME, ${NAME...}).
    compose = (Path(__file__).resolve().parents[2] / "docker-compose.yml").read_text()
    compose_reads = set(re.findall(r"\$\$\{?([A-Z][A-Z0-9_]+)|\$\{([A-Z][A-Z0-9_]+)", compose))
    compose_names = {name for pair in compose_reads for name in pair if name}
    assert compose_names == {"WEBHOOK_PUBLIC_URL", "FLOWER_BASIC_AUTH", "GRAFANA_ADMIN_PASSWORD"}
    assert documented == set(names) | compose_names


def test_groups_read_their_variables_from_dot_env_too(clean_env, tmp_path):
    (tmp_path / ".env").write_text(
        "ZENDESK_URL=http://127.0.0.1:8081\nZENDESK_EMAIL=a@b.c\nZENDESK_API_TOKEN=t\n"
        "LLM_MODEL=gpt-4.1-mini\nREDIS_PREFIX=fleet-a:\nLOCAL_GATE_CONFIDENCE=0.9\n"
        "SWEEP_MAX_TICKETS=7\nLOG_FORMAT=json\nBULK_MAX_JOBS=3\n"
    )
    clean_env.chdir(tmp_path)
    clean_env.setenv("LLM_MODEL", "gpt-4o")  # the environment wins over .env, as before
    settings = get_settings()
    assert settings.zendesk.base_url == "http://127.0.0.1:8081" and settings.llm.model == "gpt-4o"
    assert settings.redis.prefix == "fleet-a:" and settings.learning.gate_confidence == 0.9
    assert settings.intake.sweep_max_tickets == 7 and settings.operators.log_format == "json"
    assert settings.workers.bulk_max_jobs == 3


@pytest.mark.usefixtures("acme_login")
def test_reasoning_models_refuse_a_temperature_and_get_room_to_think(clean_env):
    clean_env.setenv("LLM_MODEL", "gpt-5-mini")
    settings = Settings()
    assert settings.llm.completion_tokens == 2000  # reasoning tokens come out of max_completion_tokens
    clean_env.setenv("LLM_MAX_TOKENS", "800")
    assert Settings().llm.completion_tokens == 800
    clean_env.setenv("LLM_TEMPERATURE", "0")
    with pytest.raises(ConfigError, match="LLM_TEMPERATURE: gpt-5-mini takes only its default temperature"):
        get_settings()
    get_settings.cache_clear()
    clean_env.setenv("LLM_MODEL", "gpt-4o-mini")
    clean_env.delenv("LLM_MAX_TOKENS")
    assert Settings().llm.completion_tokens == 400 and Settings().llm.temperature == 0


@pytest.mark.usefixtures("acme_login")
def test_the_fleet_takes_only_its_share_of_update_ticket(clean_env):
    assert Settings().zendesk.fleet_update_limit == 50  # half of 100 a minute is left to agents
    clean_env.setenv("ZENDESK_UPDATE_SHARE", "0.8")
    assert Settings().zendesk.fleet_update_limit == 80
    clean_env.setenv("ZENDESK_UPDATE_SHARE", "1.5")
    with pytest.raises(ConfigError, match="ZENDESK_UPDATE_SHARE"):
        get_settings()


def test_with_webhooks_on_the_sweep_becomes_a_five_minute_safety_net_unless_set(clean_env):
    for name, value in (("ZENDESK_SUBDOMAIN", "acme"), ("ZENDESK_EMAIL", "a@b.c"), ("ZENDESK_API_TOKEN", "t")):
        clean_env.setenv(name, value)
    assert get_settings().intake.sweep_interval == 60
    get_settings.cache_clear()
    clean_env.setenv("ZENDESK_WEBHOOK_SECRET", "s3cret")
    assert get_settings().intake.sweep_interval == 300
    get_settings.cache_clear()
    clean_env.setenv("SWEEP_INTERVAL", "90")
    assert get_settings().intake.sweep_interval == 90
    get_settings.cache_clear()
    clean_env.setenv("ZENDESK_WEBHOOK_SECRET", "  ")  # blank is unset: webhooks off
    clean_env.delenv("SWEEP_INTERVAL")
    assert get_settings().intake.sweep_interval == 60 and get_settings().intake.zendesk_webhook_secret is None


def test_the_webhook_command_without_a_secret_stops_with_a_clear_message(clean_env):
    from app.intake.webhook import serve

    for name, value in (("ZENDESK_SUBDOMAIN", "acme"), ("ZENDESK_EMAIL", "a@b.c"), ("ZENDESK_API_TOKEN", "t")):
        clean_env.setenv(name, value)
    with pytest.raises(ConfigError, match="ZENDESK_WEBHOOK_SECRET"):
        serve("127.0.0.1", 0)


def test_zendesk_url_and_subdomain_both_set_is_an_error_naming_both(clean_env):
    """Neither wins in silence: a ZENDESK_URL left from the simulator would take a real account's fleet there."""
    for name, value in (
        ("ZENDESK_SUBDOMAIN", "acme"),
        ("ZENDESK_URL", "http://bot:hunter2@127.0.0.1:8081"),
        ("ZENDESK_OAUTH_CLIENT_ID", "c"),
        ("ZENDESK_OAUTH_CLIENT_SECRET", "s"),
    ):
        clean_env.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        get_settings(need_zendesk=False)
    message = str(info.value)
    assert message.startswith("configuration error: ZENDESK_URL (http://bot:***@127.0.0.1:8081) and ZENDESK_SUBDOMAIN")
    assert "(acme) are both set: set only one" in message and "hunter2" not in message
    clean_env.setenv("ZENDESK_URL", " ")  # blank is unset: the subdomain alone is fine
    get_settings.cache_clear()
    assert get_settings().zendesk.base_url == "https://acme.zendesk.com"


@pytest.mark.parametrize(
    "value,says",
    [
        ("acme corp", "'acme corp' contains a space: a subdomain has only letters, digits and hyphens"),
        ("acme.zendesk.com", "'acme.zendesk.com' is a host name: give only the subdomain, ZENDESK_SUBDOMAIN=acme"),
        ("https://acme.zendesk.com/", "is a host name: give only the subdomain, ZENDESK_SUBDOMAIN=acme"),
        ("http://proxy.internal", "is a URL or host name: give only the subdomain .*or set ZENDESK_URL instead"),
        ("acme_support", "'acme_support' contains '_'"),
        ("-acme", "starts or ends with a hyphen"),
        ("a" * 64, "longer than 63 characters"),
    ],
)
def test_a_subdomain_that_is_not_one_says_what_is_wrong(clean_env, value, says):
    clean_env.setenv("ZENDESK_SUBDOMAIN", value)
    with pytest.raises(ConfigError, match=f"^configuration error: ZENDESK_SUBDOMAIN: .*{says}"):
        get_settings(need_zendesk=False)


@pytest.mark.parametrize("value", ["acme", "acme-support", "ACME2", "  acme  "])
def test_a_subdomain_of_letters_digits_and_hyphens_is_taken(clean_env, value):
    clean_env.setenv("ZENDESK_SUBDOMAIN", value)
    assert get_settings(need_zendesk=False).zendesk.base_url == f"https://{value.strip()}.zendesk.com"


@pytest.mark.parametrize(
    "name,value,says",
    [
        (
            "REDIS_URL",
            "redis://127.0.0.1:6379/abc",
            "REDIS_URL: database 'abc' in redis://127.0.0.1:6379/abc is not a number",
        ),
        ("REDIS_URL", "redis://127.0.0.1:6379/0/1", "REDIS_URL: database '0/1' .* is not a number"),
        ("REDIS_URL", "unix:///run/redis.sock?db=two", "REDIS_URL: database 'two' .* is not a number"),
        ("REDIS_URL", "redis://127.0.0.1:99999/0", r"REDIS_URL: port '99999' .* is not a port number \(1-65535\)"),
        ("REDIS_URL", "redis://127.0.0.1:63a9/0", "REDIS_URL: port '63a9'"),
        ("REDIS_URL", "redis://127.0.0.1:0/0", "REDIS_URL: port '0'"),
        ("REDIS_URL", "redis://my redis:6379/0", "REDIS_URL: 'my redis' .* is not a host name or address"),
        ("REDIS_URL", "unix://", "REDIS_URL: unix:// names no socket"),
        (
            "REDIS_URL",
            "http://127.0.0.1:6379/0",
            "REDIS_URL: unsupported URL scheme 'http'.*expected redis://HOST:PORT/DB",
        ),
        ("BROKER_URL", "amqp://guest:guest@127.0.0.1:5672x//", "BROKER_URL: port '5672x' in amqp://guest:\\*\\*\\*@"),
        ("BROKER_URL", "redis://127.0.0.1:6379/x", "BROKER_URL: database 'x'"),
    ],
)
def test_a_redis_or_broker_url_that_would_fail_later_is_a_configuration_error_now(clean_env, name, value, says):
    clean_env.setenv(name, value)
    with pytest.raises(ConfigError, match=f"^configuration error: {says}"):
        get_settings(need_zendesk=False)


@pytest.mark.parametrize(
    "value",
    [
        "redis://127.0.0.1:6379/0",
        "redis://127.0.0.1:6379",
        "redis://:p%40ss@[::1]:6379/2",
        "rediss://user:pw@redis.internal:6380/15",
        "unix:///run/redis.sock?db=3",
        "redis://redis?db=1",
    ],
)
def test_redis_urls_the_libraries_take_are_taken(clean_env, value):
    clean_env.setenv("REDIS_URL", value)
    assert get_settings(need_zendesk=False).redis.url == value


def test_a_redis_url_in_an_error_never_shows_its_password(clean_env):
    clean_env.setenv("REDIS_URL", "redis://fleet:hunter2@127.0.0.1:6379/abc")
    with pytest.raises(ConfigError) as info:
        get_settings(need_zendesk=False)
    assert "hunter2" not in str(info.value) and "redis://fleet:***@127.0.0.1:6379/abc" in str(info.value)


def test_a_database_redis_does_not_have_is_named_and_other_refusals_are_not():
    import redis

    from app.settings_redis import missing_database

    said = missing_database(redis.ResponseError("DB index is out of range"), 99)
    assert said is not None and said.startswith("REDIS_URL: database 99 does not exist on this Redis server")
    assert missing_database(redis.ResponseError("WRONGTYPE Operation against a key"), 99) is None
    assert missing_database(redis.ConnectionError("Error 111 connecting"), 99) is None


@pytest.mark.usefixtures("acme_login")
def test_note_language_is_english_by_default_and_a_bad_value_stops_start_up_naming_the_choices(clean_env):
    assert Settings().workers.note_language == "en"
    clean_env.setenv("NOTE_LANGUAGE", "ticket")
    assert Settings().workers.note_language == "ticket"
    clean_env.setenv("NOTE_LANGUAGE", "de")
    with pytest.raises(ConfigError, match="NOTE_LANGUAGE: Input should be 'en' or 'ticket'"):
        get_settings()
