"""Sanitising HTML mail: the XSS corpus loses everything that could run, honest markup stays."""
from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from portal.mail_html import frame_csp, has_remote_images, sanitize

CORPUS = (Path(__file__).parent.parent / "data" / "xss_corpus.html").read_text().splitlines()
DANGEROUS_TAGS = {"script", "iframe", "object", "embed", "svg", "math", "style", "link", "meta",
                  "form", "input", "button", "base", "body", "details", "marquee", "video",
                  "source", "noscript"}


class Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.found: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, dict(attrs)))


def parsed(html: str) -> list[tuple[str, dict]]:
    parser = Tags()
    parser.feed(html)
    return parser.found


def test_corpus_has_at_least_thirty_payloads():
    assert len([line for line in CORPUS if "xss-" in line]) >= 30


@pytest.mark.parametrize("payload", CORPUS)
def test_nothing_that_can_run_survives(payload):
    clean = sanitize(payload)
    for tag, attributes in parsed(clean):
        assert tag not in DANGEROUS_TAGS, clean
        for name, value in attributes.items():
            assert not name.startswith("on"), clean
            lowered = re.sub(r"\s", "", (value or "").lower())
            assert "javascript:" not in lowered and "expression(" not in lowered, clean
            assert not lowered.startswith("data:text"), clean
            if name == "style":
                assert "position" not in lowered and "url(" not in lowered, clean


def test_links_open_apart_without_referrer():
    clean = sanitize('<a href="https://example.org/ok">lien</a>')
    (tag, attributes), = parsed(clean)
    assert attributes["href"] == "https://example.org/ok"
    assert attributes["rel"] == "noopener noreferrer"
    assert attributes["target"] == "_blank"


def test_presentation_is_kept():
    clean = sanitize('<p style="color: red; position: absolute">Bonjour <b>à tous</b></p>'
                     '<table><tr><td colspan="2">case</td></tr></table>')
    assert '<p style="color:red">' in clean
    assert "<b>à tous</b>" in clean and 'colspan="2"' in clean


def test_inline_raster_images_stay_but_not_data_html():
    pixel = "data:image/png;base64,iVBORw0KGgo="
    assert pixel in sanitize(f'<img src="{pixel}" alt="logo">')
    assert "data:" not in sanitize('<img src="data:image/svg+xml;base64,PHN2Zz4=">')


def test_remote_images_are_detected_and_blocked_by_the_frame_policy():
    clean = sanitize('<img src="https://tracker.example/pixel.gif">')
    assert has_remote_images(clean)
    assert not has_remote_images(sanitize('<img src="data:image/png;base64,iVBORw0KGgo=">'))
    blocked, shown = frame_csp(False), frame_csp(True)
    assert "img-src data:;" in blocked and "https:" not in blocked
    assert "https:" in shown.split("img-src")[1].split(";")[0]
    for policy in (blocked, shown):
        assert "script-src" not in policy and "default-src 'none'" in policy
