"""The raw archive rolls per CPO per hour: many writer drains append to one blob per CPO and
UTC hour of receipt (an Azure append blob on Azurite, an append-only file locally); a payload is
archived once however often its drain is retried."""

from __future__ import annotations

import asyncio
import gzip
import json
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ingest_worker.pipeline import Ingest
from ingest_worker.raw_archive import read_archive
from ingest_worker.records import ObservationBatch
from ingest_worker.spool import Spool, SpoolRecord
from shared.blobstore import MAX_APPEND_BLOCKS, AzureBlobStore, BlobStore, LocalBlobStore
from shared.db.engine import make_engine, upgrade
from shared.db.tables import ingest_batch
from shared.settings import Settings
from shared.status import Observation
from tests.ingest_worker.conftest import feed

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
FEEDS = [feed("ACME", "rest_push", "a"), feed("BETA", "ws_push", "b")]


@pytest.fixture(params=["local", "azurite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BlobStore]:
    if request.param == "local":
        yield LocalBlobStore(tmp_path / "blobs")
        return
    connection = request.getfixturevalue("azurite_connection_string")
    name = "raw" + format(abs(hash(request.node.nodeid)), "x")[:16]
    settings = Settings(
        _env_file=None, data_dir=tmp_path, blob_connection_string=connection, blob_container=name
    )
    azure = AzureBlobStore.from_settings(settings)
    yield azure
    azure.container.delete_container()


def _record(index: int, cpo: str, received_at: datetime) -> SpoolRecord:
    batch = ObservationBatch.of(
        [Observation(cpo, f"E{index % 7}", "AVAILABLE", received_at - timedelta(seconds=1))],
        cpo=cpo,
        source="rest_push" if cpo == "ACME" else "ws_push",
        sender="t",
        received_at=received_at,
        raw=f"message {index}",
    )
    return SpoolRecord(index, batch, received_at.timestamp())


def test_one_blob_per_cpo_per_hour_however_many_drains(tmp_path: Path, store: BlobStore) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    upgrade(url)
    ingest = Ingest(FEEDS, make_engine(url), store, None, 15)
    # 100 messages of ACME spread over 10:00-10:58, each its own drain (one blob each before);
    # BETA twice in that hour and once just after it.
    records = [_record(n, "ACME", T0 + timedelta(seconds=35 * n)) for n in range(100)]
    records += [
        _record(100, "BETA", T0 + timedelta(minutes=5)),
        _record(101, "BETA", T0 + timedelta(minutes=59, seconds=59)),
        _record(102, "BETA", T0 + timedelta(hours=1, seconds=1)),
    ]
    for record in records:
        ingest.store_records([record])
    names = [blob.name for blob in store.list("raw/")]
    assert names == [
        "raw/ACME/2026/11/20/10.jsonl.gz",
        "raw/BETA/2026/11/20/10.jsonl.gz",
        "raw/BETA/2026/11/20/11.jsonl.gz",
    ]
    acme = read_archive(store, "raw/ACME/2026/11/20/10.jsonl.gz")
    assert [line["payload"] for line in acme] == [f"message {n}" for n in range(100)]
    assert [line["spool_id"] for line in acme] == list(range(100))
    assert [line["payload"] for line in read_archive(store, names[1])] == [
        "message 100",
        "message 101",
    ]
    assert [line["payload"] for line in read_archive(store, names[2])] == ["message 102"]
    with ingest.engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(ingest_batch)).scalar() == 103
    if isinstance(store, AzureBlobStore):
        properties = store.container.get_blob_client(names[0]).get_blob_properties()
        assert properties.blob_type == "AppendBlob"


def test_each_payload_is_archived_once_across_retries(tmp_path: Path) -> None:
    """Drains that fail while the database is away archive nothing twice: each payload is in the
    archive once when the records are finally stored."""
    url = f"sqlite:///{tmp_path / 'later.db'}"  # no schema yet: writes fail like an outage
    engine = make_engine(url)
    rest = feed("ACME", "rest_push", "s")
    store = LocalBlobStore(tmp_path / "blobs")
    ingest = Ingest([rest], engine, store, Spool(tmp_path / "spool.db"), 15)
    ingest.migrate = False  # the schema arrives by hand below, as from a deployment

    def accept(status: str, minute: int, raw: str) -> None:
        obs = Observation("ACME", "E1", status, T0 + timedelta(minutes=minute))
        asyncio.run(ingest.accept(rest, [obs], raw=raw, sender="t"))

    accept("AVAILABLE", 0, "payload-one")
    with pytest.raises(Exception):  # noqa: B017 - the database is not there yet
        ingest.drain_once()
    accept("CHARGING", 1, "payload-two")
    with pytest.raises(Exception):  # noqa: B017
        ingest.drain_once()
    upgrade(url)  # the database is back
    assert ingest.drain_once() == 2
    payloads = [
        json.loads(line)["payload"]
        for info in store.list("raw/ACME/")
        for line in gzip.decompress(store.get(info.name)).decode().splitlines()
    ]
    assert sorted(payloads) == ["payload-one", "payload-two"]


@pytest.mark.azurite
@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.skipif(
    not os.environ.get("CAL_TEST_APPEND_LIMIT"),
    reason="fills an append blob with 50,000 blocks on Azurite (5 to 12 minutes on this busy"
    " machine); set CAL_TEST_APPEND_LIMIT=1 to run it",
)
def test_a_full_hour_continues_in_its_next_part(
    tmp_path: Path, azure_blobstore: AzureBlobStore
) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    upgrade(url)
    ingest = Ingest(FEEDS, make_engine(url), azure_blobstore, None, 15)
    ingest.store_records([_record(0, "ACME", T0)])
    name = "raw/ACME/2026/11/20/10.jsonl.gz"
    blob = azure_blobstore.container.get_blob_client(name)
    empty = gzip.compress(b"")  # an empty gzip member keeps the blob readable
    with ThreadPoolExecutor(8) as pool:  # the rest of the hour's 50,000 appends
        list(pool.map(lambda _: blob.append_block(empty), range(MAX_APPEND_BLOCKS - 1)))
    ingest.store_records([_record(1, "ACME", T0 + timedelta(minutes=30))])
    ingest.store_records([_record(2, "ACME", T0 + timedelta(minutes=31))])
    assert [b.name for b in azure_blobstore.list("raw/")] == [
        "raw/ACME/2026/11/20/10.1.jsonl.gz",
        name,
    ]
    next_part = read_archive(azure_blobstore, "raw/ACME/2026/11/20/10.1.jsonl.gz")
    assert [line["payload"] for line in next_part] == ["message 1", "message 2"]
