"""`chargeatlarge demo --prepare-only`: the demo's sites get their LGAs as `sites load` gives
them, so its monthly results have LGA rows."""

from __future__ import annotations

import io
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from chargeatlarge.cli import main
from shared.blobstore import LocalBlobStore
from shared.sites import read_static_sites

FIXTURE = Path(__file__).parent.parent / "fixtures" / "sites_small.csv"


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from shared.settings import get_settings

    for name in ("CAL_DATABASE_URL", "CAL_BLOB_DIR", "CAL_BLOB_CONNECTION_STRING"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CAL_DATA_DIR", str(tmp_path / "var"))  # the monthly child reads it too
    get_settings.cache_clear()
    yield tmp_path / "var"
    get_settings.cache_clear()


def test_demo_derives_lgas_and_its_month_has_lga_rows(data_dir: Path) -> None:
    result = CliRunner().invoke(
        main, ["demo", "--prepare-only", "--months", "1", "--sites", str(FIXTURE)]
    )
    assert result.exit_code == 0, result.output
    # Of the fixture's three sites only S2 (Ballarat, VIC) lies in the shipped ABS subset.
    assert "LGA: 0 given, 1 derived from coordinates, 2 none" in result.output
    store = LocalBlobStore(data_dir / "blobs")
    sites = read_static_sites(store).connectors
    by_site = sites.drop_duplicates("site_id").set_index("site_id")
    assert by_site.loc["S2", ["lga_code", "lga_name"]].tolist() == ["20570", "Ballarat"]
    assert by_site["lga_code"].isna().sum() == 2
    months = {b.name.split("/")[2] for b in store.list("processed/monthly/")}
    assert len(months) == 1
    lga = pq.read_table(io.BytesIO(store.get(f"processed/monthly/{months.pop()}/lga.parquet")))
    assert "20570" in lga.column("lga_code").to_pylist()
