"""``LocalBlobStore.list`` walks only the folder its prefix names, with the results a walk of
the whole tree gives (the behaviour before, written out here as the reference)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from shared.blobstore import BlobInfo, LocalBlobStore


def whole_tree_list(root: Path, prefix: str) -> list[BlobInfo]:
    """Every file under ``root`` (hidden files and folders left out, links followed) whose
    name starts with ``prefix``: the definition, walking everything."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for filename in filenames:
            path = Path(dirpath) / filename
            name = path.relative_to(root).as_posix()
            if not filename.startswith(".") and name.startswith(prefix):
                stat = path.stat()
                found.append(
                    BlobInfo(name, stat.st_size, datetime.fromtimestamp(stat.st_mtime, UTC))
                )
    return sorted(found, key=lambda blob: blob.name)


NAMES = [
    "top.csv",
    "static/s",
    "static/sites/a.csv",
    "static/sites/b.csv",
    "static/sites/deeper/c.csv",
    "static/sites2.csv",
    "static/sitesX/d.csv",
    "static/si/e.csv",
    "live/status.parquet",
    "live/feeds.json",
    "reports/2026-10/NSW/report.html",
    "reports/2026-10/report.html",
    "reports/2026-1/x.html",
    "raw/cpo1/2026-12-02T06.jsonl",
]


def test_list_equals_the_whole_tree_walk_for_every_prefix(tmp_path: Path) -> None:
    root = tmp_path / "blobs"
    store = LocalBlobStore(root)
    for size, name in enumerate(NAMES):
        store.put(name, b"x" * size)
    store.append("raw/cpo1/2026-12-02T07.jsonl", b"line\n")
    # Folders swapped by replace_prefix are links into the hidden .versions folder.
    store.replace_prefix(
        "processed/monthly/2026-10", {"evse.parquet": b"1", "sub/site.parquet": b"2"}
    )
    store.replace_prefix("processed/monthly/2026-11", {"evse.parquet": b"3"})
    store.replace_prefix("processed/monthly/2026-10", {"evse.parquet": b"4", "manifest.json": b"5"})
    (root / "static" / "sites" / ".a.csv.1234.tmp").write_bytes(b"partial")  # a put under way
    (root / "static" / ".hidden").mkdir()
    (root / "static" / ".hidden" / "f.csv").write_bytes(b"hidden")

    names = [blob.name for blob in whole_tree_list(root, "")]
    assert len(names) == len(NAMES) + 1 + 3  # every name, the append, the live month folders
    prefixes = {name[:end] for name in names for end in range(len(name) + 1)}
    prefixes |= {
        "static/sites/",
        "static/nothing/",
        "nothing",
        "processed/monthly/2026-1",
        "processed/monthly/2026-10/",
        "processed/monthly/2026-10/sub/",
        # prefixes that no stored name can start with
        ".versions",
        ".versions/",
        "static/.hidden/",
        "static/sites/.a",
        "/",
        "/static/",
        "..",
        "../",
        "../blobs/static/",
        "static/../static/",
        "static//sites/",
        "./static/",
        "static/\x00/",
        "top.csv/",
    }
    for prefix in sorted(prefixes):
        assert store.list(prefix) == whole_tree_list(root, prefix), prefix


def test_list_of_a_prefix_ending_mid_name(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    for name in NAMES:
        store.put(name, b"x")
    assert [b.name for b in store.list("static/sites")] == [
        "static/sites/a.csv",
        "static/sites/b.csv",
        "static/sites/deeper/c.csv",
        "static/sites2.csv",
        "static/sitesX/d.csv",
    ]
    assert [b.name for b in store.list("reports/2026-1")] == [
        "reports/2026-1/x.html",
        "reports/2026-10/NSW/report.html",
        "reports/2026-10/report.html",
    ]
    assert [b.name for b in store.list("static/sites/")] == [
        "static/sites/a.csv",
        "static/sites/b.csv",
        "static/sites/deeper/c.csv",
    ]
    assert store.list("../") == [] and store.list("/etc/") == [] and store.list(".versions/") == []
