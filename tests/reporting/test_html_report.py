"""The self-contained HTML report: content, embedded images, and a render in headless Chromium."""

from __future__ import annotations

import base64
import html.parser
import shutil
import subprocess
from pathlib import Path

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from test_figures import build_outputs  # noqa: E402

from aesens.reporting import (
    figures,  # noqa: E402
    html_report,  # noqa: E402
    report,  # noqa: E402
    scorecard,  # noqa: E402
)


class _Collector(html.parser.HTMLParser):
    """Image sources, link targets and element ids of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if "id" in attributes:
            self.ids.add(attributes["id"])
        if tag == "img":
            self.images.append(attributes["src"])
        if tag == "a" and "href" in attributes:
            self.links.append(attributes["href"])


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = build_outputs(tmp_path_factory.mktemp("report"))
    figures.render_all(root / "embeddings", root / "results", root / "plots", umap_files=0,
                       formats=("png",))
    report.write_summary(root / "results", root / "plots", root / "embeddings")
    scorecard.write_scorecard(scorecard.scorecard(root / "embeddings", root / "results"),
                              root / "results", root / "plots")
    return html_report.write_report(root / "results", root / "plots")


def test_markdown_to_html() -> None:
    text = ("## Title\n\nA *word* and `code` and **bold** [link](a.md).\n\n- one\n  more\n- two\n\n"
            "| a | b |\n|---|---:|\n| 1 | 2 |\n")
    out = html_report.markdown_to_html(text)
    assert "<h3>Title</h3>" in out
    assert "<em>word</em>" in out and "<code>code</code>" in out
    assert "<strong>bold</strong>" in out and '<a href="a.md">link</a>' in out
    assert "<li>one more</li><li>two</li>" in out
    assert "<th>a</th><th>b</th>" in out and "<td>1</td><td>2</td>" in out
    numbered = html_report.markdown_to_html("Lead\n1. first\n2. second\n\nAfter")
    assert numbered == "<p>Lead</p>\n<ol><li>first</li><li>second</li></ol>\n<p>After</p>"
    assert html_report.drop_section("# T\n## A\nx\n## B\ny\n", "A") == "# T\n## B\ny\n"


def test_report_is_self_contained(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    parsed = _Collector()
    parsed.feed(text)
    pngs = sorted((page.parent.parent / "plots").glob("*.png"))
    assert len(parsed.images) >= len(pngs)  # every figure, plus the heat map
    for source in parsed.images:
        assert source.startswith("data:image/png;base64,")
        assert base64.b64decode(source.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    internal = [link[1:] for link in parsed.links if link.startswith("#")]
    assert internal and set(internal) <= parsed.ids
    assert "What to notice" in text and "Shift against the noise floor" in text
    assert "Sample-wise R², published and held-out" in text
    assert "sample-wise R² held-out" in text  # the scorecard's new section


def _browser() -> str | None:
    return next((found for name in ("chromium", "chromium-browser", "google-chrome")
                 if (found := shutil.which(name))), None)


@pytest.mark.skipif(_browser() is None, reason="no Chromium installed")
def test_report_renders_in_headless_chromium(page: Path, tmp_path: Path) -> None:
    """The page renders (a screenshot with text and figures, not a blank or error page)."""
    import matplotlib.image

    shot = tmp_path / "report.png"
    done = subprocess.run([_browser(), "--headless", "--no-sandbox", "--disable-gpu",
                           "--hide-scrollbars", "--window-size=1400,2400",
                           f"--screenshot={shot}", page.resolve().as_uri()],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    pixels = matplotlib.image.imread(shot)[..., :3]
    assert pixels.shape[:2] == (2400, 1400)
    grey = pixels.mean(axis=2)
    # the fixed navigation pane is light grey (#f4f4f4), the page white, and has dark text
    assert np.median(grey[:, :150]) == pytest.approx(0xF4 / 255, abs=0.01)
    assert np.median(grey[:, 400:]) == pytest.approx(1.0, abs=0.01)
    assert np.mean(grey[:, 300:] < 0.3) > 0.005


def test_demo_writes_the_report_last() -> None:
    from aesens import demo

    label, command = demo.pipeline(("mfcc",), 4, 0)[-1]
    assert label == "html report" and command[1:] == ["-m", "aesens.html_report"]


def test_shift_tables_name_each_setting_with_its_unit(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    assert "<th>rank</th><th>setting</th><th>param</th>" in text
    assert "<td>0</td><td>−40 dB</td><td>-40.0</td>" in text  # gain's grid starts at -40 dB
    assert "<td>0</td><td>4 bits</td><td>4</td>" in text
