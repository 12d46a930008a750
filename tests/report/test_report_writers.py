"""Report writers on hand-built cells: every format is written, says the same thing, and the HTML page escapes
every piece of model-supplied text."""

from __future__ import annotations

import csv
import json
from html.parser import HTMLParser
from pathlib import Path

import pytest

from advisor.policy.spec import load_policy
from advisor.ranking import rank
from advisor.reporting import Report, report_writers, write_reports
from advisor.errors import UserError

EVIL = '<script>alert(1)</script>"><img src=x onerror=alert(2)>|**bold**'


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


@pytest.fixture
def report(tmp_path, cells):
    policy_file = tmp_path / "p.yaml"
    policy_file.write_text("name: evil-test\ndescription: 'desc <b>not bold</b>'\nlicenses:\n  commercial_use: true\n",
                           encoding="utf-8")
    entries = [cells.entry(EVIL), cells.entry("plain", dim=256, matryoshka=(128,)),
               cells.entry("nolicence", license="unknown")]
    results = []
    for model, q in ((EVIL, 0.6), ("plain", 0.5), ("nolicence", 0.7)):
        for dim in (None, 128):
            for vp in ("float32", "int8", "binary"):
                factor = (1 if dim is None else 0.93) * {"float32": 1, "int8": 0.99, "binary": 0.88}[vp]
                results.append(cells.quality(model, cells.scores(q * factor, seed=len(model)), dim=dim, vp=vp))
        results.append(cells.cost(model, p95=10 * q, docs=1000 * q, mem=100, samples=[5 * q, 6 * q, 7 * q, 9 * q]))
    rec = rank(results, entries, load_policy(policy_file))
    return Report(rec, store="results.sqlite", command=f"advisor report --out {EVIL}",
                  skipped=[{"model": EVIL, "variant": "dim=512", "reason": f"too large for {EVIL}"}])


def test_builtin_writers_are_registered():
    assert {"markdown", "html", "json", "csv"} <= set(report_writers())


def test_html_escapes_model_supplied_text(tmp_path, report):
    paths = write_reports(report, tmp_path / "out", ["html"])
    page = paths["html"].read_text(encoding="utf-8")
    parser = Tags()
    parser.feed(page)
    names = [t for t, _ in parser.tags]
    assert "script" not in names
    for tag, attrs in parser.tags:
        assert not any(a.startswith("on") for a in attrs), (tag, attrs)
        if tag == "img":
            assert attrs["src"].startswith("data:image/png;base64,")
    assert "b" not in [t for t, a in parser.tags if not a] or "not bold" not in "".join(
        d for d in parser.text if d == "not bold")
    text = "".join(parser.text)
    assert EVIL in text and "desc <b>not bold</b>" in text  # shown as text, exactly
    assert "&lt;script&gt;" in page and "<script>" not in page
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    # self-contained: no link to any other file or host
    assert not any(t in ("link", "script", "iframe") for t in names)
    assert all(a.get("src", "data:").startswith("data:") for _, a in parser.tags)
    assert names.count("img") == 4  # Pareto, dims, retained, latency


def test_every_format_says_the_same(tmp_path, report):
    paths = write_reports(report, tmp_path / "out")
    assert set(paths) >= {"markdown", "html", "json", "csv"}
    rec = report.recommendation
    best = rec.recommended
    data = json.loads(paths["json"].read_text(encoding="utf-8"))
    assert data["recommended"]["label"] == best.label and data["policy"]["name"] == "evil-test"
    rows = list(csv.DictReader(paths["csv"].open(encoding="utf-8")))
    assert len(rows) == len(rec.candidates())
    top = next(r for r in rows if r["status"] == "recommended")
    assert top["model"] == best.model and float(top["quality_mean"]) == pytest.approx(best.quality_mean)
    assert float(top["bytes_per_vector"]) == best.bytes_per_vector
    md = paths["markdown"].read_text(encoding="utf-8")
    assert best.why.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;") in md
    assert "\\|" in md and "<script>" not in md  # pipes cannot break the table, no raw HTML
    assert (paths["markdown"].parent / "plots" / "pareto.png").read_bytes()[:4] == b"\x89PNG"
    # the rejected model and its reason reach every format
    reason = "rejected by rule licenses.commercial_use: licence unknown"
    assert reason in md and reason in paths["html"].read_text(encoding="utf-8")
    assert any(reason in m["why"] for m in data["models"] if m["name"] == "nolicence")
    assert all(r["why"] for r in rows)


def test_unknown_format_and_unwritable_folder(tmp_path, report):
    with pytest.raises(UserError, match="unknown report format"):
        write_reports(report, tmp_path, ["pdf"])
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(UserError, match="cannot create the report folder"):
        write_reports(report, blocker / "sub", ["json"])
