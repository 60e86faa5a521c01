"""FEEDS.toml: secrets by name only, and every mistake refused with file, feed and field."""

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from ingest_worker.feeds.config import (
    FeedConfig,
    FeedsFileError,
    OcpiPullFeed,
    OcpiPushFeed,
    OcppFeedConfig,
    RestPushFeed,
    load_feeds,
    parse_feed,
)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "feeds.toml"
    path.write_text(text)
    return path


def test_good_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACME_TOKEN", "s1")
    monkeypatch.setenv("BETA_TOKEN", "s2")
    feeds = load_feeds(
        write(
            tmp_path,
            """
[[feed]]
cpo_id = "ACME"
kind = "rest_push"
token_env = "ACME_TOKEN"
max_gap_minutes = 20

[[feed]]
cpo_id = "BETA"
kind = "ocpi_pull"
token_env = "BETA_TOKEN"
versions_url = "https://beta.example/ocpi/versions"
poll_seconds = 30
""",
        )
    )
    assert [(f.cpo_id, f.kind, f.secret, f.max_gap_minutes) for f in feeds] == [
        ("ACME", "rest_push", "s1", 20),
        ("BETA", "ocpi_pull", "s2", None),
    ]
    assert "s1" not in repr(feeds[0])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[[feed]]\ncpo_id = "ACME"\nkind = "rest_push"\ntoken_env = "MISSING_TOKEN"\n',
            "the secret variable MISSING_TOKEN is not set",
        ),
        (
            '[[feed]]\ncpo_id = "ACME"\nkind = "carrier_pigeon"\ntoken_env = "ACME_TOKEN"\n',
            "(ACME/carrier_pigeon): kind: must be one of rest_push, ws_push, ocpi_pull,",
        ),
        (
            '[[feed]]\ncpo_id = "ACME"\nkind = "ocpi_pull"\ntoken_env = "ACME_TOKEN"\n',
            "feed #1 (ACME/ocpi_pull): versions_url: Field required",
        ),
        (
            '[[feed]]\ncpo_id = "ACME"\nkind = "rest_push"\ntoken_env = "ACME_TOKEN"\ntoken = "in-the-file"\n',
            "token: Extra inputs",
        ),
        (
            '[[feed]]\ncpo_id = "AC ME"\nkind = "rest_push"\ntoken_env = "ACME_TOKEN"\n',
            "cpo_id: String should match",
        ),
        ("[[feed]\n", "not valid TOML"),
        ("", "no [[feed]] tables"),
        ("[server]\nport = 1\n", "unknown top-level key"),
        (
            '[[feed]]\ncpo_id = "ACME"\nkind = "rest_push"\ntoken_env = "ACME_TOKEN"\n[[feed]]\ncpo_id = "ACME"\nkind = "rest_push"\ntoken_env = "ACME_TOKEN"\n',
            "repeats ACME/rest_push",
        ),
        (
            '[[feed]]\ncpo_id = "ACME"\nkind = "rest_push"\ntoken_env = "ACME_TOKEN"\n[[feed]]\ncpo_id = "BETA"\nkind = "rest_push"\ntoken_env = "ACME_TOKEN"\n',
            "shares its secret with ACME",
        ),
    ],
)
def test_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, message: str) -> None:
    monkeypatch.setenv("ACME_TOKEN", "secret")
    monkeypatch.delenv("MISSING_TOKEN", raising=False)
    with pytest.raises(FeedsFileError, match=re.escape(message)) as refused:
        load_feeds(write(tmp_path, text))
    assert str(tmp_path / "feeds.toml") in str(refused.value)


OCPP = '[[feed]]\ncpo_id = "ACME"\nkind = "ocpp"\ntoken_env = "ACME_TOKEN"\n'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # A charge point's own secret names a variable that is not set: the feed and the field.
        (
            OCPP + '[feed.options.charge_point_secret_envs]\nCP7 = "CP7_SECRET_NOT_SET"\n',
            "feed #1 (ACME/ocpp): options.charge_point_secret_envs.CP7: the secret variable"
            " CP7_SECRET_NOT_SET of charge point CP7 is not set",
        ),
        (
            OCPP + "[feed.options]\ncharge_point_secret_envs = 7\n",
            "feed #1 (ACME/ocpp): options.charge_point_secret_envs: Input should be a valid dictionary",
        ),
        (
            OCPP + '[feed.options.charge_point_secret_envs]\nCP7 = "not a name"\n',
            "feed #1 (ACME/ocpp): options.charge_point_secret_envs.CP7: String should match",
        ),
        (
            OCPP + "[feed.options]\nheartbeat_second = 30\n",
            "feed #1 (ACME/ocpp): options.heartbeat_second: Extra inputs are not permitted",
        ),
        (
            OCPP + '[feed.options]\nclock_past_hours = "a day"\n',
            "feed #1 (ACME/ocpp): options.clock_past_hours: Input should be a valid number",
        ),
        # Options of one kind are refused on another.
        (
            '[[feed]]\ncpo_id = "ACME"\nkind = "rest_push"\ntoken_env = "ACME_TOKEN"\n'
            'versions_url = "https://acme.example/ocpi/versions"\n',
            "feed #1 (ACME/rest_push): versions_url: Extra inputs are not permitted",
        ),
        (
            '[[feed]]\ncpo_id = "ACME"\nkind = "ocpi_push"\ntoken_env = "ACME_TOKEN"\n'
            "[feed.options]\nheartbeat_seconds = 30\n",
            "feed #1 (ACME/ocpi_push): options: Extra inputs are not permitted",
        ),
        (
            '[[feed]]\ncpo_id = "ACME"\nkind = "ocpi_push"\ntoken_env = "ACME_TOKEN"\n'
            'party_id = "ACMEE"\n',
            "feed #1 (ACME/ocpi_push): party_id: String should have at most 3 characters",
        ),
        (
            '[[feed]]\ncpo_id = "ACME"\nkind = "ocpi_pull"\ntoken_env = "ACME_TOKEN"\n'
            'versions_url = "ftp://acme.example/versions"\n',
            "feed #1 (ACME/ocpi_pull): versions_url: Value error, versions_url must be an http(s) URL",
        ),
    ],
)
def test_per_kind_options_are_checked_by_feed_and_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, message: str
) -> None:
    monkeypatch.setenv("ACME_TOKEN", "secret")
    monkeypatch.delenv("CP7_SECRET_NOT_SET", raising=False)
    with pytest.raises(FeedsFileError) as refused:
        load_feeds(write(tmp_path, text))
    assert str(refused.value).startswith(f"{tmp_path / 'feeds.toml'}: {message}"), refused.value
    assert "Traceback" not in str(refused.value) and "pydantic" not in str(refused.value)


def test_each_kind_gets_its_own_model_with_its_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACME_TOKEN", "feed-secret")
    monkeypatch.setenv("ACME_CP7", "cp7-secret")
    monkeypatch.setenv("BETA_TOKEN", "beta-a")
    (ocpp, push) = load_feeds(
        write(
            tmp_path,
            OCPP
            + '[feed.options]\ncharge_points = ["CP7", "CP8"]\nheartbeat_seconds = 30\n'
            + '[feed.options.charge_point_secret_envs]\nCP7 = "ACME_CP7"\n'
            + '[[feed]]\ncpo_id = "BETA"\nkind = "ocpi_push"\ntoken_env = "BETA_TOKEN"\n'
            + 'country_code = "au"\nparty_id = "bet"\n',
        )
    )
    assert isinstance(ocpp, OcppFeedConfig) and isinstance(push, OcpiPushFeed)
    assert ocpp.options.charge_points == ["CP7", "CP8"] and ocpp.options.heartbeat_seconds == 30
    assert ocpp.secret == "feed-secret" and ocpp.charge_point_secrets == {"CP7": "cp7-secret"}
    assert "cp7-secret" not in repr(ocpp) and "feed-secret" not in repr(ocpp)
    assert push.party == ("AU", "BET") and push.poll_seconds is None


def test_feed_config_builds_the_model_of_its_kind() -> None:
    pull = FeedConfig(
        cpo_id="A", kind="ocpi_pull", token_env="A_PULL", versions_url="https://a.example/v"
    )
    assert type(pull) is OcpiPullFeed and pull.poll_seconds == 60
    assert type(parse_feed({"cpo_id": "A", "kind": "rest_push", "token_env": "A"})) is RestPushFeed
    with pytest.raises(ValidationError, match="versions_url"):
        FeedConfig(cpo_id="A", kind="ocpi_pull", token_env="A_PULL")
    with pytest.raises(ValidationError, match="options"):
        FeedConfig(cpo_id="A", kind="ws_push", token_env="A_WS", options={})


def test_the_worker_command_refuses_such_a_file_by_feed_and_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At start-up, before any app is built: one line naming the file, feed and field."""
    from click.testing import CliRunner

    from ingest_worker.commands import worker

    monkeypatch.setenv("ACME_TOKEN", "secret")
    monkeypatch.delenv("CP7_SECRET_NOT_SET", raising=False)
    path = write(
        tmp_path, OCPP + '[feed.options.charge_point_secret_envs]\nCP7 = "CP7_SECRET_NOT_SET"\n'
    )
    result = CliRunner().invoke(worker, ["--feeds", str(path), "--port", "1"])
    assert result.exit_code == 1 and result.exception is not None
    assert isinstance(result.exception, SystemExit)  # click's own error, not a traceback
    assert result.output == (
        f"Error: {path}: feed #1 (ACME/ocpp): options.charge_point_secret_envs.CP7: the secret"
        " variable CP7_SECRET_NOT_SET of charge point CP7 is not set\n"
    )
