"""The dashboard in a real browser: Playwright driving Debian's Chromium against a real
``claude-force serve`` process, while other processes (the CLI) write to the project's store.

``make test`` installs Chromium (``make browser``); without it these tests skip, and fail when
CLAUDE_FORCE_REQUIRE_SERVICES=1 (CI).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from _core_helpers import minimal_project
from _embed_helpers import real_embedder

CHROMIUM = os.environ.get("CLAUDE_FORCE_CHROMIUM", "/usr/bin/chromium")


def service_unavailable(name: str, reason: str) -> None:
    """Fail when services are required (CI), else skip with the reason."""
    message = f"{name} not available: {reason}"
    if os.environ.get("CLAUDE_FORCE_REQUIRE_SERVICES") == "1":
        pytest.fail(message + " (CLAUDE_FORCE_REQUIRE_SERVICES=1)")
    pytest.skip(message)


pytestmark = pytest.mark.timeout(240)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    return subprocess.run(
        [sys.executable, "-m", "claude_force", "--config", str(config), "--simulate", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not (Path(CHROMIUM).exists() or shutil.which("chromium")):
        service_unavailable("Chromium", f"{CHROMIUM} not installed (run 'make browser' as root)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # pragma: no cover - dev extra missing
        service_unavailable("Playwright", str(exc))
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("dash")
    return minimal_project(
        root,
        provider={"latency": "instant"},
        memory={"enabled": False},
        server={"follow_seconds": 0.5, "dashboard_refresh_seconds": 1},
        cache={"backend": "sqlite", "semantic": {"enabled": True, "threshold": 0.8}},
    )


@pytest.fixture(scope="module")
def server(project: Path) -> Iterator[str]:
    # executions written before the server starts, by another process (the CLI)
    first = _cli(project, "execute", "alpha", "first task from the CLI")
    assert first.returncode == 0, first.stderr
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "claude_force", "--config", str(project), "--simulate"),
            *("serve", "--port", str(port), "--log-level", "warning"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx2.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx2.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                out = proc.stdout.read().decode() if proc.stdout else ""
                pytest.fail(f"the server did not start: {out}")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover
            proc.kill()
            proc.wait()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 820, "height": 1000})
    pg = ctx.new_page()
    problems: list[str] = []
    pg.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
    pg.on("pageerror", lambda e: problems.append(str(e)))
    pg.problems = problems
    yield pg
    ctx.close()


def _rows(pg: Any) -> list[str]:
    return [str(t) for t in pg.locator("#executions-body tr[data-id]").all_inner_texts()]


def test_page_shows_executions_of_other_processes_without_console_errors(
    server: str, page: Any, tmp_path: Path
) -> None:
    page.goto(server + "/")
    page.wait_for_selector("body[data-loaded=true]", timeout=20_000)
    rows = _rows(page)
    assert len(rows) == 1 and "alpha" in rows[0] and "(sim)" in rows[0]
    assert page.locator("#c-executions").inner_text() == "1"
    assert page.locator("#provider").inner_text() == "SIMULATED"
    # four charts drawn by the vendored library, each with axes
    assert page.locator(".uplot").count() == 4
    assert page.locator("#chart-latency .u-axis").count() >= 2
    assert "alpha" in page.locator("#cost-agents").inner_text()
    # usable at 820 px: nothing wider than the window
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 820, width
    page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
    assert page.problems == []


def test_page_updates_live_when_another_process_runs(server: str, page: Any, project: Path) -> None:
    page.goto(server + "/#range=15m")
    page.wait_for_selector("body[data-loaded=true]", timeout=20_000)
    before = len(_rows(page))
    done = _cli(project, "execute", "beta", "a second task, run meanwhile")
    assert done.returncode == 0, done.stderr
    # (no wait_for_function: the page's CSP forbids evaluating strings, as it should)
    page.locator("#executions-body tr[data-id]").nth(before).wait_for(timeout=20_000)
    assert "beta" in _rows(page)[0]  # newest first
    assert page.problems == []


def test_time_range_and_detail_view(server: str, page: Any) -> None:
    page.goto(server + "/")
    page.wait_for_selector("body[data-loaded=true]", timeout=20_000)
    with page.expect_response(lambda r: "overview?range=7d" in r.url) as answer:
        page.click("#ranges button[data-range='7d']")
    body = answer.value.json()
    assert body["range"] == "7d" and body["bucket_s"] == 3 * 3600 and len(body["series"]) == 56
    assert page.locator("#ranges button[data-range='7d']").get_attribute("aria-pressed") == "true"
    assert "range=7d" in page.url

    page.locator("#executions-body tr[data-id]").first.click()
    dialog = page.locator("#detail")
    dialog.wait_for(state="visible")
    page.wait_for_selector("#detail-body dl")
    text = dialog.inner_text()
    for part in ("queue wait", "service time", "Attempts (1)", "input", "response cache"):
        assert part in text, part
    assert "not kept" in text  # no task text unless the project opts in
    page.click("#detail-close")
    dialog.wait_for(state="hidden")
    assert page.problems == []


def test_docs_render_swagger_ui_from_local_assets(server: str, page: Any) -> None:
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(server + "/docs")
    page.wait_for_selector(".swagger-ui .opblock", timeout=20_000)
    assert "/api/v1/dashboard/overview" in page.locator(".swagger-ui").inner_text()
    assert all(u.startswith(server) for u in requests), requests
    assert page.problems == []


def test_a_semantic_hit_is_labelled_in_the_table_card_and_detail(
    server: str, page: Any, project: Path
) -> None:
    real_embedder()  # the semantic cache needs the model (CI installs it)
    for task in (
        "Write pytest tests for the invoice total calculation",
        "Add pytest unit tests for calculating invoice totals",  # a paraphrase: a semantic hit
    ):
        done = _cli(project, "execute", "alpha", task)
        assert done.returncode == 0, done.stderr
    page.goto(server + "/#range=15m")
    page.wait_for_selector("body[data-loaded=true]", timeout=20_000)
    newest = page.locator("#executions-body tr[data-id]").first
    assert "cached (semantic)" in newest.inner_text()
    assert "1 semantic" in page.locator("#c-cache-note").inner_text()
    newest.click()
    page.wait_for_selector("#detail-body dl")
    text = page.locator("#detail").inner_text()
    assert "semantic hit — saved" in text and "a paraphrase" in text
    assert page.problems == []
