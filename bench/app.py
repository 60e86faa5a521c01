"""Dashboard benchmark in real Chromium at national scale (about 20,000 EVSEs on 6,000+ sites).

Prints: time from navigation to every site marker drawn on the live map (target < 3 s), time to
redraw the uptime page after a month switch (target < 1 s), and the server's resident memory.
The first map session starts right after the server does (cold); the first switch to a month
is the session's first visit to it. The server holds the four newest months (read before it
serves) and reads the months either side of a shown month in the background; of the five months
generated, the last switch jumps to the oldest, which it has not read, to show that cost too.
Saves docs/screenshots/live-map.png and docs/screenshots/uptime.png for the README.

    .venv/bin/python bench/app.py [--sites 6600]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import dashboard_data as generate  # noqa: E402
from shared.blobstore import LocalBlobStore  # noqa: E402
from shared.jurisdictions import parse_role  # noqa: E402

if TYPE_CHECKING:  # playwright is imported when the bench runs (dev extra)
    from playwright.sync_api import Page, WebSocket

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]  # fmt: skip
MARKERS = ".leaflet-container path.leaflet-interactive"
MONTHS = ("2026-06", "2026-07", "2026-08", "2026-09", "2026-10")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (comparable on a busy machine)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Received:
    """Bytes the pages receive over their Shiny WebSockets (what the server sends per action).

    Off unless asked for: passing every frame to this process costs the browser side time.
    """

    def __init__(self, on: bool) -> None:
        self.on = on
        self.bytes = 0

    def watch(self, page: Page) -> None:
        if not self.on:
            return

        def on_socket(socket: WebSocket) -> None:
            socket.on("framereceived", self.add)

        page.on("websocket", on_socket)

    def add(self, frame: object) -> None:
        self.bytes += len(frame if isinstance(frame, str | bytes) else str(frame))

    def since(self, mark: int) -> str:
        return f", {(self.bytes - mark) / 1e6:.2f} MB sent" if self.on else ""


# Each title in its own output's element, checked every animation frame: searching the
# whole page's text (Playwright's get_by_text) walks ~10,000 elements per poll and would
# take a fifth of the browser's time during a switch.
REDRAWN = """([month]) => [
    ['uptime-distribution_plot', `Uptime distribution, site level, ${month}`],
    ['uptime-table_title', `Site figures, ${month}`],
    ['uptime-trend_plot', `Daily trend, ${month}`],
].every(([id, text]) => (document.getElementById(id)?.textContent || '').includes(text))"""


def redrawn(page: Page, month: str, timeout: float = 60_000) -> None:
    """Wait until the distribution, the table's title and the daily trend show ``month``."""
    page.wait_for_function(REDRAWN, arg=[month], polling="raf", timeout=timeout)


def load() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sites", type=int, default=6600)
    parser.add_argument("--repeat", type=int, default=4, help="warm loads and cached switches")
    parser.add_argument("--screenshots", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument(
        "--role", default="analyst",
        help="CAL_DEV_ROLE of the sessions, e.g. government:NSW (figures over its states)",
    )  # fmt: skip
    parser.add_argument("--bytes", action="store_true",
                        help="also count the bytes each action sends to the browser")  # fmt: skip
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "var"
        started = time.perf_counter()
        network = generate.populate(LocalBlobStore(data_dir / "blobs"), args.sites, MONTHS,
                                    datetime.now(UTC))  # fmt: skip
        sites = network.evses[["cpo_id", "site_id"]].drop_duplicates().shape[0]
        scope = parse_role(args.role).scope
        shown = (
            network.evses if scope is None else network.evses[network.evses["state"].isin(scope)]
        )
        on_map = shown[["cpo_id", "site_id"]].drop_duplicates().shape[0]
        print(f"generated {len(network.evses)} EVSEs on {sites} sites, {len(MONTHS)} months "
              f"in {time.perf_counter() - started:.1f} s")  # fmt: skip
        port = free_port()
        env = {**os.environ, "CAL_DATA_DIR": str(data_dir), "CAL_DEV_ROLE": args.role,
               "CAL_BEHIND_AZURE_AUTH": "false"}  # fmt: skip
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "report_app.app:app", "--port", str(port),
             "--log-level", "warning"], cwd=ROOT, env=env,
        )  # fmt: skip
        try:
            while socket.socket().connect_ex(("127.0.0.1", port)) != 0:
                time.sleep(0.1)
            url = f"http://127.0.0.1:{port}/"
            print(f"server idle: {rss_mb(server.pid):.0f} MB resident")
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                                     args=CHROMIUM_ARGS)  # fmt: skip
                received = Received(args.bytes)
                warm: list[float] = []
                labels = ["cold (first session reads the blobs)"] + ["warm"] * args.repeat
                for number, label in enumerate(labels):
                    page = browser.new_page(viewport={"width": 1400, "height": 1000})
                    received.watch(page)
                    cpu, mark = cpu_s(server.pid), received.bytes
                    started = time.perf_counter()
                    page.goto(url)
                    page.wait_for_function(
                        f"() => document.querySelectorAll('{MARKERS}').length === {on_map}",
                        timeout=40_000, polling=50,
                    )  # fmt: skip
                    elapsed = time.perf_counter() - started
                    print(f"live map ({args.role}), {label}: all {on_map} markers drawn "
                          f"{elapsed:.2f} s after navigation (server CPU "
                          f"{cpu_s(server.pid) - cpu:.2f} s{received.since(mark)}"
                          f", load {load()})")  # fmt: skip
                    if number:
                        warm.append(elapsed)
                    if number == len(labels) - 1:
                        page.wait_for_timeout(500)
                        page.screenshot(path=args.screenshots / "live-map.png")
                    else:
                        page.close()
                print(f"live map, warm: median {statistics.median(warm):.2f} s, "
                      f"best {min(warm):.2f} s")  # fmt: skip
                print(
                    f"server after {len(labels)} map sessions: {rss_mb(server.pid):.0f} MB resident"
                )
                page.locator("a.nav-link", has_text="Uptime").click()
                redrawn(page, MONTHS[-1], timeout=120_000)
                newest, previous = MONTHS[-1], MONTHS[-2]
                switches = [(previous, "first visit")]
                switches += [((newest, previous)[i % 2], "cached") for i in range(args.repeat)]
                switches += [(MONTHS[1], "first visit, held since the start")]
                switches += [(MONTHS[0], "first visit, a month not held")]
                cached: list[float] = []
                for month, label in switches:
                    cpu, mark = cpu_s(server.pid), received.bytes
                    started = time.perf_counter()
                    page.select_option("#uptime-month", month)
                    redrawn(page, month)
                    elapsed = time.perf_counter() - started
                    print(f"month switch to {month} ({label}): distribution, table and daily "
                          f"trend redrawn in {elapsed:.2f} s (server CPU "
                          f"{cpu_s(server.pid) - cpu:.2f} s{received.since(mark)}"
                          f", load {load()})")  # fmt: skip
                    if label == "cached":
                        cached.append(elapsed)
                print(f"month switch, cached: median {statistics.median(cached):.2f} s, "
                      f"best {min(cached):.2f} s")  # fmt: skip
                # The map of sites by uptime over the LGA choropleth, in its own tab.
                last = switches[-1][0]
                cpu, mark = cpu_s(server.pid), received.bytes
                started = time.perf_counter()
                page.locator("#uptime-views a.nav-link", has_text="Map by LGA").click()
                page.locator("#uptime-map_plot").get_by_text(
                    f"Uptime by LGA and site, {last}"
                ).wait_for(timeout=60_000)
                page.wait_for_function(
                    "() => document.querySelectorAll('#uptime-map_plot .scatterlayer .trace,"
                    " #uptime-map_plot canvas').length > 0", timeout=60_000,
                )  # fmt: skip
                print(f"uptime map tab opened: LGAs and {on_map} sites drawn in "
                      f"{time.perf_counter() - started:.2f} s (server CPU "
                      f"{cpu_s(server.pid) - cpu:.2f} s{received.since(mark)})")  # fmt: skip
                map_switches: list[str] = []
                for month in (newest, previous, newest, previous):
                    cpu, mark = cpu_s(server.pid), received.bytes
                    started = time.perf_counter()
                    page.select_option("#uptime-month", month)
                    page.locator("#uptime-map_plot").get_by_text(
                        f"Uptime by LGA and site, {month}"
                    ).wait_for(timeout=60_000)
                    map_switches.append(f"{time.perf_counter() - started:.2f} s "
                                        f"(CPU {cpu_s(server.pid) - cpu:.2f} s"
                                        f"{received.since(mark)})")  # fmt: skip
                print("month switch with the map shown (months already shown): "
                      + ", ".join(map_switches))  # fmt: skip
                page.wait_for_timeout(1000)
                page.screenshot(path=args.screenshots / "uptime-map.png", full_page=True)
                page.locator("#uptime-views a.nav-link", has_text="Figures").click()
                page.wait_for_timeout(1000)
                page.screenshot(path=args.screenshots / "uptime.png", full_page=True)
                print(f"server at the end: {rss_mb(server.pid):.0f} MB resident")
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=10)
    print(f"screenshots in {args.screenshots}")


if __name__ == "__main__":
    main()
