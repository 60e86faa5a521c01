"""Both blob backends behave the same: the local folder and a real Azurite."""

import threading

import pytest

from shared.blobstore import BlobNotFound, InvalidBlobName, LocalBlobStore, open_blobstore
from shared.settings import Settings


@pytest.fixture(params=["local", "azurite"])
def store(request: pytest.FixtureRequest):
    if request.param == "local":
        return request.getfixturevalue("blobstore")
    return request.getfixturevalue("azure_blobstore")


def test_put_get_list_delete(store) -> None:
    store.put("static/sites/a.csv", b"one")
    store.put("static/sites/b.csv", b"two")
    store.put("live/status.parquet", b"three")
    assert store.get("static/sites/a.csv") == b"one"
    assert [blob.name for blob in store.list("static/")] == [
        "static/sites/a.csv",
        "static/sites/b.csv",
    ]
    info = store.info("live/status.parquet")
    assert info is not None and info.size == 5
    assert store.info("missing.txt") is None
    store.put("static/sites/a.csv", b"replaced")
    assert store.get("static/sites/a.csv") == b"replaced"
    store.delete("static/sites/a.csv")
    store.delete("static/sites/a.csv")  # deleting twice is fine
    with pytest.raises(BlobNotFound):
        store.get("static/sites/a.csv")


def test_replace_prefix_swaps_the_whole_folder(store) -> None:
    store.replace_prefix(
        "processed/monthly/2026-10",
        {"evse.parquet": b"v1", "old.parquet": b"x", "manifest.json": b"{}"},
    )
    store.replace_prefix(
        "processed/monthly/2026-10", {"evse.parquet": b"v2", "manifest.json": b"{2}"}
    )
    names = [blob.name for blob in store.list("processed/monthly/2026-10/")]
    assert names == [
        "processed/monthly/2026-10/evse.parquet",
        "processed/monthly/2026-10/manifest.json",
    ]
    assert store.get("processed/monthly/2026-10/evse.parquet") == b"v2"
    store.replace_prefix("processed/monthly/2026-09", {"evse.parquet": b"sep"})
    assert store.get("processed/monthly/2026-10/evse.parquet") == b"v2"


@pytest.mark.parametrize(
    "name",
    ["../etc/passwd", "/abs/path", "a/../../b", "a\\b", "", "a/.hidden", "nul\x00byte", "x" * 2000],
)
def test_hostile_names_are_refused(store, name: str) -> None:
    with pytest.raises(InvalidBlobName):
        store.put(name, b"x")


def test_local_replace_is_atomic_for_readers(tmp_path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    store.replace_prefix("m", {"a": b"0" * 1000, "b": b"0" * 1000})
    seen: set[tuple[bytes, bytes]] = set()
    errors: list[Exception] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            try:
                root = (tmp_path / "blobs" / "m").resolve()
                seen.add(((root / "a").read_bytes()[:1], (root / "b").read_bytes()[:1]))
            except OSError as exc:
                errors.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    for version in range(1, 60):
        mark = str(version % 10).encode()
        store.replace_prefix("m", {"a": mark * 1000, "b": mark * 1000})
    stop.set()
    reader.join()
    # A reader that resolved the folder once saw one version of both files, never a mix,
    # and never lost a file under its feet.
    assert errors == []
    assert len(seen) > 1 and all(a == b for a, b in seen)


def test_local_replace_removes_old_versions_after_the_grace_period(tmp_path) -> None:
    store = LocalBlobStore(tmp_path / "blobs", grace_seconds=0)
    for version in range(3):
        store.replace_prefix("processed/monthly/2026-10", {"a": bytes([version])})
        store.replace_prefix("processed/monthly/2026-11", {"a": bytes([version])})
    assert len(list((tmp_path / "blobs" / ".versions").iterdir())) == 2
    assert store.get("processed/monthly/2026-10/a") == bytes([2])


def test_settings_choose_the_backend(tmp_path, azurite_connection_string: str) -> None:
    local = open_blobstore(Settings(_env_file=None, data_dir=tmp_path))
    assert isinstance(local, LocalBlobStore) and local.root == tmp_path / "blobs"
    azure = open_blobstore(
        Settings(
            _env_file=None,
            data_dir=tmp_path,
            blob_connection_string=azurite_connection_string,
            blob_container="settingstest",
        )
    )
    azure.put("x/y.txt", b"hello")
    assert azure.get("x/y.txt") == b"hello"
