"""Excluded downtime (spec 4.3): proposal rules, the review workflow and its audit trail, the
approved exclusions the monthly job reads, and the ``chargeatlarge exclusions`` commands."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, func, inspect, select

from chargeatlarge.cli import main
from shared.db.tables import exclusion, exclusion_event
from shared.exclusions import (
    APPROVED_SCHEMA,
    ExclusionError,
    ExclusionNotFound,
    SiteScopes,
    StateConflict,
    approve,
    approved_exclusions,
    check_proposal,
    get_exclusion,
    history,
    list_exclusions,
    parse_import_csv,
    propose,
    reject,
    withdraw,
)
from shared.sites import validate_sites_csv

FIXTURE = Path(__file__).parent.parent / "fixtures" / "sites_small.csv"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def scopes() -> SiteScopes:
    import pandas as pd

    rows = validate_sites_csv(FIXTURE.read_bytes(), "sites_small.csv").rows
    return SiteScopes.from_connectors(pd.DataFrame(rows))


def good(**changes: object) -> dict[str, object]:
    fields: dict[str, object] = {
        "cpo_id": "TESTCPO",
        "scope": "evse",
        "scope_id": "AU*TST*E1",
        "from_at": "2026-11-01T08:00:00+11:00",
        "to_at": "2026-11-01T12:30:00+11:00",
        "cause": "UTILITY_INTERRUPTION",
        "note": "grid outage, Endeavour Energy ref 123",
    }
    fields.update(changes)
    return fields


def test_a_good_proposal_is_checked_into_utc(scopes: SiteScopes) -> None:
    proposal = check_proposal(
        **good(cause="vandalism", scope="Site", scope_id="S1"), scopes=scopes, now=NOW
    )
    assert proposal.from_at == datetime(2026, 10, 31, 21, 0, tzinfo=UTC)
    assert proposal.to_at == datetime(2026, 11, 1, 1, 30, tzinfo=UTC)
    assert (proposal.scope, proposal.cause) == ("site", "VANDALISM")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"cause": "SOLAR_FLARE"}, "cause: 'SOLAR_FLARE' is not one of UTILITY_INTERRUPTION"),
        ({"cause": ""}, "cause: '' is not one of"),
        ({"to_at": "2026-11-01T08:00:00+11:00"}, "to: 2026-10-31T21:00:00+00:00 is not after from"),
        ({"to_at": "2026-11-01T07:00:00+11:00"}, "is not after from"),
        (
            {"from_at": "2025-11-01T00:00:00Z", "to_at": "2026-11-01T00:00:01Z"},
            "is longer than a year",
        ),
        (
            {"from_at": "2027-02-18T12:00:01Z", "to_at": "2027-02-19T00:00:00Z"},
            "more than 90 days in the future",
        ),
        (
            {"scope_id": "AU*TST*E9"},
            "scope_id: evse 'AU*TST*E9' is not in TESTCPO's static site CSV",
        ),
        ({"scope": "charger", "scope_id": "C9"}, "charger 'C9' is not in TESTCPO's"),  # OTHERCPO's
        ({"scope": "site", "scope_id": "AU*TST*E1"}, "site 'AU*TST*E1' is not in TESTCPO's"),
        ({"cpo_id": "NOBODY"}, "NOBODY has no static sites loaded"),
        ({"scope": "connector"}, "scope: 'connector' is not one of evse, charger, site"),
        (
            {"from_at": "2026-11-01T08:00:00"},
            "from: timestamp 2026-11-01T08:00:00 has no UTC offset",
        ),
        ({"to_at": "yesterday"}, "to: not an ISO 8601 timestamp"),
        ({"from_at": 12}, "from: expected an ISO 8601 string, got int"),
        ({"note": "x" * 2001}, "note: longer than 2000 characters"),
        ({"note": "bell\x07"}, "note: contains control characters"),
        ({"scope_id": ""}, "scope_id: must not be empty"),
        ({"cpo_id": None}, "cpo_id: expected a string, got NoneType"),
    ],
)
def test_bad_proposals_say_what_is_wrong(scopes: SiteScopes, changes: dict, message: str) -> None:
    with pytest.raises(ExclusionError) as caught:
        check_proposal(**good(**changes), scopes=scopes, now=NOW)
    assert message in str(caught.value)


def test_every_problem_of_a_proposal_is_listed(scopes: SiteScopes) -> None:
    with pytest.raises(ExclusionError) as caught:
        check_proposal(
            **good(cause="X", scope_id="nope", to_at="2026-10-01T00:00:00Z"), scopes=scopes, now=NOW
        )
    assert str(caught.value).count("; ") == 2


LEAP_NOW = datetime(2028, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("start", "end", "now"),
    [
        ("2025-11-01T00:00:00Z", "2026-11-01T00:00:00Z", NOW),  # exactly a year
        ("2028-01-01T00:00:00Z", "2029-01-01T00:00:00Z", LEAP_NOW),  # a leap year: 366 days
        ("2028-02-29T00:00:00Z", "2029-03-01T00:00:00Z", LEAP_NOW),  # 29 Feb + 1 year = 1 Mar
        ("2027-02-18T12:00:00Z", "2027-02-19T00:00:00Z", NOW),  # exactly 90 days ahead
    ],
)
def test_limits_are_inclusive(scopes: SiteScopes, start: str, end: str, now: datetime) -> None:
    check_proposal(**good(from_at=start, to_at=end), scopes=scopes, now=now)


def proposal(scopes: SiteScopes, **changes: object):  # type: ignore[no-untyped-def]
    return check_proposal(**good(**changes), scopes=scopes, now=NOW)


def test_review_workflow_keeps_every_change(engine: Engine, scopes: SiteScopes) -> None:
    (eid,) = propose(engine, [proposal(scopes)], "cpo:TESTCPO", now=NOW)
    with engine.connect() as connection:
        first = get_exclusion(connection, eid)
    assert (first.state, first.proposed_by, first.reviewed_by) == ("PROPOSED", "cpo:TESTCPO", None)
    approved = approve(engine, eid, "cli:ana", "utility confirmed", now=NOW + timedelta(hours=1))
    assert (approved.state, approved.reviewed_by, approved.reason) == (
        "APPROVED",
        "cli:ana",
        "utility confirmed",
    )
    assert approved.reviewed_at == NOW + timedelta(hours=1)
    revoked = reject(
        engine, eid, "cli:lead", "utility says no outage", now=NOW + timedelta(hours=2)
    )
    assert revoked.state == "REJECTED"
    with pytest.raises(
        StateConflict, match="is REJECTED; only a PROPOSED exclusion can be approved"
    ):
        approve(engine, eid, "cli:ana")
    with pytest.raises(
        StateConflict, match="only a PROPOSED or APPROVED exclusion can be withdrawn"
    ):
        withdraw(engine, eid, "cpo:TESTCPO", cpo_id="TESTCPO")
    with engine.connect() as connection:
        trail = history(connection, eid)
        stored = connection.execute(select(exclusion)).all()
    assert [(e.seq, e.state, e.actor, e.reason) for e in trail] == [
        (1, "PROPOSED", "cpo:TESTCPO", None),
        (2, "APPROVED", "cli:ana", "utility confirmed"),
        (3, "REJECTED", "cli:lead", "utility says no outage"),
    ]
    assert [e.at for e in trail] == [NOW, NOW + timedelta(hours=1), NOW + timedelta(hours=2)]
    # The proposal itself is as it was written: nothing is edited in place.
    assert len(stored) == 1 and stored[0].proposed_at == NOW.replace(tzinfo=None)
    assert stored[0].note == "grid outage, Endeavour Energy ref 123"


def test_rejection_needs_a_reason_and_unknown_ids_are_not_found(
    engine: Engine, scopes: SiteScopes
) -> None:
    (eid,) = propose(engine, [proposal(scopes)], "cli:ana", now=NOW)
    with pytest.raises(ExclusionError, match="a rejection needs a reason"):
        reject(engine, eid, "cli:ana", "  ")
    with pytest.raises(ExclusionNotFound):
        approve(engine, "ex-0000000000000000", "cli:ana")
    with engine.connect() as connection:
        assert get_exclusion(connection, eid).state == "PROPOSED"
        assert (
            connection.execute(select(func.count()).select_from(exclusion_event)).scalar_one() == 1
        )


def test_a_cpo_can_only_withdraw_its_own(engine: Engine, scopes: SiteScopes) -> None:
    (eid,) = propose(engine, [proposal(scopes)], "cpo:TESTCPO", now=NOW)
    with pytest.raises(ExclusionNotFound):
        withdraw(engine, eid, "cpo:OTHERCPO", cpo_id="OTHERCPO")
    with engine.connect() as connection:
        with pytest.raises(ExclusionNotFound):
            get_exclusion(connection, eid, cpo_id="OTHERCPO")
        assert list_exclusions(connection, cpo_id="OTHERCPO") == []
    assert withdraw(engine, eid, "cpo:TESTCPO", cpo_id="TESTCPO").state == "WITHDRAWN"


def test_the_same_window_twice_is_refused_until_the_first_is_rejected(
    engine: Engine, scopes: SiteScopes
) -> None:
    (eid,) = propose(engine, [proposal(scopes)], "cli:ana", now=NOW)
    with pytest.raises(ExclusionError, match=f"is already proposed as {eid}"):
        propose(engine, [proposal(scopes, note="again")], "cli:ana", now=NOW)
    reject(engine, eid, "cli:lead", "wrong window")
    propose(engine, [proposal(scopes)], "cli:ana", now=NOW)  # a fresh proposal is fine now
    with pytest.raises(ExclusionError, match="given twice"):
        propose(engine, [proposal(scopes, cause="VANDALISM")] * 2, "cli:ana", now=NOW)
    with engine.connect() as connection:
        assert len(list_exclusions(connection)) == 2  # the refused batch stored nothing


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_approved_exclusions_are_the_approved_ones_overlapping_the_period(
    engine: Engine, scopes: SiteScopes
) -> None:
    start, end = utc("2026-10-31T13:00:00"), utc("2026-11-30T13:00:00")  # November in Sydney
    windows = {
        "before": ("2026-10-30T00:00:00Z", "2026-10-31T13:00:00Z"),  # ends at the start: out
        "edge_start": ("2026-10-31T00:00:00Z", "2026-10-31T13:00:01Z"),
        "inside": ("2026-11-10T00:00:00Z", "2026-11-11T00:00:00Z"),
        "edge_end": ("2026-11-30T12:59:59Z", "2026-12-02T00:00:00Z"),
        "after": ("2026-11-30T13:00:00Z", "2026-12-01T00:00:00Z"),  # starts at the end: out
        "proposed_only": ("2026-11-12T00:00:00Z", "2026-11-13T00:00:00Z"),
        "rejected": ("2026-11-14T00:00:00Z", "2026-11-15T00:00:00Z"),
        "withdrawn": ("2026-11-16T00:00:00Z", "2026-11-17T00:00:00Z"),
    }
    ids = {}
    for name, (a, b) in windows.items():
        (ids[name],) = propose(
            engine, [proposal(scopes, from_at=a, to_at=b, note=name)], "cli:ana", now=NOW
        )
        if name != "proposed_only":
            approve(engine, ids[name], "cli:lead")
    reject(engine, ids["rejected"], "cli:lead", "revoked")
    withdraw(engine, ids["withdrawn"], "cpo:TESTCPO", cpo_id="TESTCPO")
    (site_id,) = propose(
        engine,
        [proposal(scopes, scope="site", scope_id="S2", cause="NATURAL_DISASTER", note=None)],
        "cli:ana",
        now=NOW,
    )
    approve(engine, site_id, "cli:lead")
    with engine.connect() as connection:
        table = approved_exclusions(connection, start, end)
    assert table.schema == APPROVED_SCHEMA
    assert table.schema.field("from_at").type == pa.timestamp("us", tz="UTC")
    assert table.column("note").to_pylist() == ["edge_start", "inside", "edge_end", None]
    assert table.column("exclusion_id").to_pylist() == [
        ids["edge_start"],
        ids["inside"],
        ids["edge_end"],
        site_id,
    ]
    last = table.slice(3).to_pylist()[0]
    assert (last["cpo_id"], last["scope"], last["scope_id"], last["cause"]) == (
        "TESTCPO",
        "site",
        "S2",
        "NATURAL_DISASTER",
    )
    assert last["from_at"] == utc("2026-10-31T21:00:00")
    with engine.connect() as connection:
        empty = approved_exclusions(
            connection, utc("2020-01-01T00:00:00"), utc("2020-02-01T00:00:00")
        )
    assert empty.num_rows == 0 and empty.schema == APPROVED_SCHEMA


def test_list_filters_by_state(engine: Engine, scopes: SiteScopes) -> None:
    a, b = propose(
        engine, [proposal(scopes), proposal(scopes, cause="VANDALISM")], "cli:ana", now=NOW
    )
    approve(engine, b, "cli:lead")
    with engine.connect() as connection:
        assert [x.exclusion_id for x in list_exclusions(connection, state="approved")] == [b]
        assert [x.exclusion_id for x in list_exclusions(connection, state="PROPOSED")] == [a]
        with pytest.raises(ExclusionError, match="state: 'DONE' is not one of"):
            list_exclusions(connection, state="DONE")


IMPORT_HEADER = "cpo_id,scope,scope_id,from,to,cause,note"


def test_import_csv_reports_bad_rows_by_line(scopes: SiteScopes) -> None:
    data = "\n".join(
        [
            IMPORT_HEADER,
            "TESTCPO,evse,AU*TST*E1,2026-11-01T08:00:00+11:00,2026-11-01T09:00:00+11:00,VANDALISM,cable cut",
            "TESTCPO,evse,AU*TST*E1,2026-11-01T08:00:00+11:00,2026-11-01T07:00:00+11:00,VANDALISM,",
            'TESTCPO,site,S2,2026-11-02T00:00:00Z,2026-11-03T00:00:00Z,SCHEDULED_MAINTENANCE,"two, words"',
            "TESTCPO,evse,AU*TST*E1",
            "OTHERCPO,charger,C9,2026-11-02T00:00:00Z,2026-11-03T00:00:00Z,METEOR,",
        ]
    ).encode()
    parsed = parse_import_csv(data, "ex.csv", scopes, now=NOW)
    assert [line for line, _ in parsed.proposals] == [2, 4]
    assert parsed.proposals[1][1].note == "two, words"
    assert [str(p).split(": ", 1)[0] for p in parsed.problems] == [
        "ex.csv:3",
        "ex.csv:5",
        "ex.csv:6",
    ]
    assert "is not after from" in parsed.problems[0].reason
    assert "fields, got a different count" in parsed.problems[1].reason
    assert "cause: 'METEOR'" in parsed.problems[2].reason


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"cpo_id,scope,scope_id\nA,evse,E1\n", "missing column(s) from, to, cause"),
        (b"", "expected the header cpo_id,scope,scope_id,from,to,cause,note"),
        ("cpo_id,scope\n\xc4".encode("latin-1"), "not UTF-8"),
        (IMPORT_HEADER.encode() + b'\nA,evse,"' + b"x" * 200_000 + b'"\n', "not valid CSV"),
    ],
)
def test_import_files_that_are_not_exclusion_csvs_are_refused(
    scopes: SiteScopes, data: bytes, message: str
) -> None:
    with pytest.raises(ExclusionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_import_csv(data, "x.csv", scopes)


def test_migration_0004_goes_down_and_up(tmp_path: Path) -> None:
    from alembic import command

    from shared.db.engine import alembic_config, make_engine, upgrade

    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    upgrade(url)
    command.downgrade(alembic_config(url), "0003")
    engine = make_engine(url)
    assert not {"exclusion", "exclusion_event"} & set(inspect(engine).get_table_names())
    upgrade(url, "0004")
    assert {"exclusion", "exclusion_event"} <= set(inspect(engine).get_table_names())
    engine.dispose()


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    from shared.settings import get_settings

    monkeypatch.setenv("CAL_DATA_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0
    loaded = runner.invoke(main, ["sites", "load", str(FIXTURE)])
    assert loaded.exit_code == 0, loaded.output
    yield runner
    get_settings.cache_clear()


def soon(days: float) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


def test_cli_propose_approve_reject_list(cli_env: CliRunner) -> None:
    args = ["exclusions", "propose", "--cpo", "TESTCPO", "--scope", "charger", "--id", "C1"]
    window = ["--from", soon(-3), "--to", soon(-2), "--cause", "UTILITY_INTERRUPTION"]
    first = cli_env.invoke(main, [*args, *window, "--note", "feeder fault"])
    assert first.exit_code == 0, first.output
    first_id = first.stdout.strip().splitlines()[-1]
    assert first_id.startswith("ex-") and " " not in first_id
    second = cli_env.invoke(
        main, [*args, "--from", soon(-1), "--to", soon(-0.5), "--cause", "VANDALISM"]
    )
    second_id = second.stdout.strip().splitlines()[-1]

    approved = cli_env.invoke(
        main, ["exclusions", "approve", first_id, "--reason", "ok", "--by", "ana"]
    )
    assert approved.exit_code == 0 and f"{first_id}: APPROVED by cli:ana" in approved.output
    rejected = cli_env.invoke(
        main, ["exclusions", "reject", second_id, "--reason", "not vandalism"]
    )
    assert rejected.exit_code == 0 and "REJECTED" in rejected.output
    no_reason = cli_env.invoke(main, ["exclusions", "reject", first_id])
    assert no_reason.exit_code != 0 and "--reason" in no_reason.output
    again = cli_env.invoke(main, ["exclusions", "approve", second_id])
    assert again.exit_code == 1 and "is REJECTED" in again.output

    table = cli_env.invoke(main, ["exclusions", "list"])
    assert table.exit_code == 0 and "2 exclusion(s)" in table.output
    assert table.output.splitlines()[0].split() == [
        "exclusion_id",
        "state",
        "cpo_id",
        "scope",
        "scope_id",
        "from_at",
        "to_at",
        "cause",
    ]
    listed = cli_env.invoke(main, ["exclusions", "list", "--state", "APPROVED", "--format", "csv"])
    rows = list(csv.DictReader(io.StringIO(listed.stdout)))
    assert [
        (r["exclusion_id"], r["state"], r["reviewed_by"], r["reason"], r["note"]) for r in rows
    ] == [(first_id, "APPROVED", "cli:ana", "ok", "feeder fault")]
    assert rows[0]["from_at"].endswith("Z")
    bad_state = cli_env.invoke(main, ["exclusions", "list", "--state", "LOST"])
    assert bad_state.exit_code == 1 and "state: 'LOST' is not one of" in bad_state.output


def test_cli_propose_refuses_bad_input(cli_env: CliRunner) -> None:
    base = ["exclusions", "propose", "--cpo", "TESTCPO", "--scope", "evse", "--from", soon(-1)]
    unknown = cli_env.invoke(
        main, [*base, "--id", "AU*TST*E7", "--to", soon(0), "--cause", "VANDALISM"]
    )
    assert unknown.exit_code == 1
    assert "scope_id: evse 'AU*TST*E7' is not in TESTCPO's static site CSV" in unknown.output
    backwards = cli_env.invoke(
        main, [*base, "--id", "AU*TST*E1", "--to", soon(-2), "--cause", "VANDALISM"]
    )
    assert backwards.exit_code == 1 and "is not after from" in backwards.output
    far = cli_env.invoke(
        main,
        ["exclusions", "propose", "--cpo", "TESTCPO", "--scope", "site", "--id", "S1",
         "--from", soon(91), "--to", soon(92), "--cause", "SCHEDULED_MAINTENANCE"],
    )  # fmt: skip
    assert far.exit_code == 1 and "more than 90 days in the future" in far.output
    scope = cli_env.invoke(
        main, [*base, "--scope", "plug", "--id", "x", "--to", soon(0), "--cause", "VANDALISM"]
    )
    assert scope.exit_code == 2 and "'plug' is not one of" in scope.output
    listed = cli_env.invoke(main, ["exclusions", "list", "--format", "csv"])
    assert listed.stdout.strip().splitlines()[1:] == []


def test_cli_import(cli_env: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "exclusions.csv"
    path.write_text(
        "\n".join(
            [
                IMPORT_HEADER,
                f"TESTCPO,evse,AU*TST*E1,{soon(-5)},{soon(-4)},VEHICLE_FAULT,car stuck",
                f"TESTCPO,evse,AU*TST*E1,{soon(-5)},{soon(-6)},VEHICLE_FAULT,",
                f"OTHERCPO,site,S9,{soon(-3)},{soon(-2)},NATURAL_DISASTER,flood",
                f"OTHERCPO,site,S1,{soon(-3)},{soon(-2)},NATURAL_DISASTER,not theirs",
            ]
        )
        + "\n"
    )
    result = cli_env.invoke(main, ["exclusions", "import", str(path)])
    assert result.exit_code == 0, result.output
    ids = result.stdout.strip().splitlines()[:-1]
    assert len(ids) == 2 and all(i.startswith("ex-") for i in ids)
    assert f"{path}: proposed 2, bad rows 2" in result.stdout
    assert f"bad row: {path}:3: to:" in result.stderr
    assert f"bad row: {path}:5: scope_id: site 'S1' is not in OTHERCPO's" in result.stderr
    # Re-importing proposes nothing twice.
    again = cli_env.invoke(main, ["exclusions", "import", str(path)])
    assert "proposed 0, bad rows 4" in again.stdout and "is already proposed as" in again.stderr
    listed = cli_env.invoke(main, ["exclusions", "list", "--state", "PROPOSED", "--format", "csv"])
    assert sorted(r["exclusion_id"] for r in csv.DictReader(io.StringIO(listed.stdout))) == sorted(
        ids
    )


def test_two_reviewers_at_once_cannot_both_approve(engine: Engine, scopes: SiteScopes) -> None:
    """Whatever the interleaving, one approval is stored and the other is told it conflicts."""
    import threading

    for round_number in range(8):
        (eid,) = propose(
            engine,
            [proposal(scopes, to_at=f"2026-11-0{round_number + 2}T00:00:00Z")],
            "cli:ana",
            now=NOW,
        )
        barrier = threading.Barrier(2)
        outcomes: list[str] = []

        def review_now(
            who: str,
            eid: str = eid,
            barrier: threading.Barrier = barrier,
            outcomes: list[str] = outcomes,
        ) -> None:
            barrier.wait()
            try:
                approve(engine, eid, who)
                outcomes.append("approved")
            except StateConflict:
                outcomes.append("conflict")

        threads = [threading.Thread(target=review_now, args=(who,)) for who in ("cli:a", "cli:b")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert sorted(outcomes) == ["approved", "conflict"]
        with engine.connect() as connection:
            assert [e.state for e in history(connection, eid)] == ["PROPOSED", "APPROVED"]


def test_approved_exclusions_takes_naive_instants_as_utc(
    engine: Engine, scopes: SiteScopes
) -> None:
    (eid,) = propose(engine, [proposal(scopes)], "cli:ana", now=NOW)  # 2026-10-31 21:00 UTC on
    approve(engine, eid, "cli:lead")
    with engine.connect() as connection:
        hit = approved_exclusions(connection, datetime(2026, 10, 31, 21, 30), datetime(2026, 11, 1))
        miss = approved_exclusions(connection, datetime(2026, 11, 1, 1, 30), datetime(2026, 11, 2))
    assert (hit.num_rows, miss.num_rows) == (1, 0)


def test_import_control_characters_are_a_bad_row(scopes: SiteScopes) -> None:
    data = IMPORT_HEADER.encode() + (
        b"\nTESTCPO,evse,AU*TST*E1\x00,2026-11-01T00:00:00Z,2026-11-02T00:00:00Z,VANDALISM,\n"
    )
    parsed = parse_import_csv(data, "x.csv", scopes, now=NOW)
    assert parsed.proposals == []
    assert [str(p) for p in parsed.problems] == ["x.csv:2: scope_id: contains control characters"]
