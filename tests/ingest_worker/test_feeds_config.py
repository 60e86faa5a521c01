"""FEEDS.toml: secrets by name only, and every mistake refused with file, feed and field."""

from pathlib import Path

import pytest

from ingest_worker.feeds.config import FeedsFileError, load_feeds


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
            "kind: Input should be",
        ),
        (
            '[[feed]]\ncpo_id = "ACME"\nkind = "ocpi_pull"\ntoken_env = "ACME_TOKEN"\n',
            "needs versions_url",
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
    with pytest.raises(
        FeedsFileError, match=message.replace("[", r"\[").replace("]", r"\]")
    ) as refused:
        load_feeds(write(tmp_path, text))
    assert str(tmp_path / "feeds.toml") in str(refused.value)
