"""HTML from outside mail, and the rubrics' articles, made safe to show.

Three layers, so that one mistake is not enough for a script to run:
1. nh3 keeps a list of harmless tags and attributes, filters `style` down to presentational
   properties, drops `javascript:` and other schemes, and adds `rel="noopener noreferrer"` to
   links (which open in a new tab, except a link to a place in the message itself);
2. the sanitised HTML is served as its own small document, shown in an `<iframe sandbox>`
   without `allow-scripts` — so even markup that slipped through cannot run;
3. that document carries its own Content-Security-Policy: the same sandbox (so the document
   opened on its own, in a tab, is no page of the portal either), no script at all, inline
   styles only, and images only from `data:` URLs until the reader asks to "Afficher les
   images" — which is how remote images (tracking pixels) stay blocked: the browser never
   fetches them.

The pictures a mail client sends inside the message (`multipart/related`, shown with
`<img src="cid:…">`: signatures, pasted screenshots) are put in place as `data:` URLs. A URL of
the portal would not do: the sandboxed frame has no origin of its own, so the browser sends no
session cookie (SameSite=Lax) with what it loads, and the image would meet the login page.
"""
from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Mapping
from functools import partial
from html import unescape
from typing import NamedTuple
from urllib.parse import unquote

import nh3

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "center", "cite", "code", "col",
    "colgroup", "dd", "del", "div", "dl", "dt", "em", "font", "h1", "h2", "h3", "h4", "h5", "h6",
    "hr", "i", "img", "ins", "kbd", "li", "ol", "p", "pre", "q", "s", "small", "span", "strike",
    "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "tt", "u", "ul",
}
# `id` too: a newsletter's table of contents leads to its sections by their id.
COMMON_ATTRIBUTES = {"style", "title", "align", "dir", "lang", "id"}
ALLOWED_ATTRIBUTES = {
    "*": COMMON_ATTRIBUTES,
    "a": {"href", "name"},
    "img": {"src", "alt", "width", "height"},
    "font": {"color", "face", "size"},
    "table": {"border", "cellpadding", "cellspacing", "width", "bgcolor"},
    "td": {"colspan", "rowspan", "width", "valign", "bgcolor"},
    "th": {"colspan", "rowspan", "width", "valign", "bgcolor"},
    "col": {"span", "width"},
    "ol": {"start", "type"},
}
# Presentational properties only: nothing that positions, overlays or loads anything.
STYLE_PROPERTIES = {
    "background-color", "border", "border-bottom", "border-collapse", "border-color",
    "border-left", "border-right", "border-style", "border-top", "border-width", "color",
    "font", "font-family", "font-size", "font-style", "font-weight", "height", "line-height",
    "list-style-type", "margin", "margin-bottom", "margin-left", "margin-right", "margin-top",
    "max-width", "padding", "padding-bottom", "padding-left", "padding-right", "padding-top",
    "text-align", "text-decoration", "text-indent", "vertical-align", "white-space", "width",
}
URL_SCHEMES = {"http", "https", "mailto", "data", "cid"}
_DATA_URL = re.compile(r"^data:image/(png|gif|jpeg|webp);base64,", re.IGNORECASE)
# The pictures of a message shown in its text (`cid:`): raster types only, and no more than
# this much of them, since each comes inside the frame's document — once per reference.
INLINE_IMAGE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}
# Names some mailers and phone apps give a JPEG: shown as one.
IMAGE_TYPE_ALIASES = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg"}
INLINE_IMAGES_BUDGET = 5 * 1024 * 1024
# A style value may use colours (rgb(…)) but never url(…), expression(…) or escapes.
_SAFE_STYLE_VALUE = re.compile(r"^[#\w\s.,%'\"/+-]*(\((?:[\d\s.,%]*)\)[#\w\s.,%'\"/+-]*)*$")


def _safe_style(value: str) -> str | None:
    kept = []
    for declaration in value.split(";"):
        name, _, setting = declaration.partition(":")
        name, setting = name.strip().lower(), setting.strip()
        if name in STYLE_PROPERTIES and setting and _SAFE_STYLE_VALUE.match(setting):
            kept.append(f"{name}:{setting}")
    return ";".join(kept) or None


# What a browser's URL parser (WHATWG, as nh3's `url` crate) ignores in a URL: tabs and line
# breaks anywhere, C0 controls and spaces at its ends. « da\tta: » is a `data:` URL to both.
_URL_IGNORED = re.compile(r"[\t\n\r]")
_URL_ENDS = "".join(map(chr, range(0x21)))


def _url(value: str) -> str:
    """`value` as a browser reads it as a URL (see _URL_IGNORED)."""
    return _URL_IGNORED.sub("", value).strip(_URL_ENDS)


def _attribute_filter(pictures: _Pictures, tag: str, attribute: str, value: str
                      ) -> str | None:
    """`data:` URLs only as images of a raster type (never data:text/html in a link); a `cid:`
    image becomes the `data:` URL of its part, while `pictures` allows it; styles reduced to
    presentational declarations whose values load and compute nothing. A URL is judged, and
    kept, as the browser reads it (`_url`)."""
    if attribute == "style":
        return _safe_style(value)
    if attribute not in ("href", "src"):
        return value
    value = _url(value)
    if tag == "img" and attribute == "src" and value.lower().startswith("cid:"):
        value = pictures.put_in_place(value)
    if value.lower().startswith("data:"):
        return value if tag == "img" and _DATA_URL.match(value) else None
    if tag == "a" and attribute == "href" and value.lower().startswith("cid:"):
        return None
    return value


def _content_id(cid_url: str) -> str:
    """`cid:ii_lx%40mail` → `ii_lx@mail`, the Content-ID as stored (RFC 2392)."""
    return unquote(cid_url.strip()[4:]).strip().strip("<>")


class InlinePart(NamedTuple):
    id: int
    content_type: str
    size: int


class InlineImage(NamedTuple):
    """A picture sent inside the message, as the frame's document carries it."""
    url: str        # its `data:` URL
    size: int       # its bytes, what INLINE_IMAGES_BUDGET counts


class _Pictures:
    """The `cid:` references of one message put in place, INLINE_IMAGES_BUDGET charged at
    each of them, not once per picture: the document carries a copy of the picture for every
    reference, and one small picture referenced 50,000 times would make a frame of gigabytes.
    A reference past the budget keeps its `cid:`, which shows nothing."""

    def __init__(self, images: Mapping[str, InlineImage]):
        self.images = images
        self.left = INLINE_IMAGES_BUDGET

    def put_in_place(self, cid_url: str) -> str:
        image = self.images.get(_content_id(cid_url))
        if image is None or image.size > self.left:
            return cid_url
        self.left -= image.size
        return image.url


def inline_parts(parts: Iterable[InlinePart]) -> list[int]:
    """The ids of the parts (with a Content-ID, in the message's order) to show in place: the
    raster images, as long as they fit in INLINE_IMAGES_BUDGET together."""
    chosen, left = [], INLINE_IMAGES_BUDGET
    for part in parts:
        if _image_type(part.content_type) in INLINE_IMAGE_TYPES and part.size <= left:
            chosen.append(part.id)
            left -= part.size
    return chosen


def inline_image(content_type: str, data: bytes) -> InlineImage:
    return InlineImage(
        f"data:{_image_type(content_type)};base64,{base64.b64encode(data).decode('ascii')}",
        len(data))


def _image_type(content_type: str) -> str:
    kind = content_type.lower()
    return IMAGE_TYPE_ALIASES.get(kind, kind)


DROPPED_WITH_CONTENT = {"script", "style", "title", "head", "noscript", "template", "iframe",
                        "object", "embed", "svg", "math"}


def sanitize(html: str, inline_images: Mapping[str, InlineImage] | None = None) -> str:
    """The HTML of a message, with everything that could run or escape its frame removed.
    `inline_images`: Content-ID → the pictures sent with it (see `inline_parts`), put in place
    within INLINE_IMAGES_BUDGET (`_Pictures`); other `cid:` images stay unresolved."""
    clean = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        clean_content_tags=DROPPED_WITH_CONTENT,
        attributes=ALLOWED_ATTRIBUTES,
        attribute_filter=partial(_attribute_filter, _Pictures(inline_images or {})),
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer",
        filter_style_properties=STYLE_PROPERTIES,
        strip_comments=True,
    )
    return _LINK.sub(_opening_apart, clean)


# nh3 writes every attribute as name="value" and escapes any `"` inside a value (not always
# `>`: nh3 before 0.3 leaves it as it is), so these read a start tag of its output exactly.
_ATTRIBUTE = re.compile(r'\s+([^\s"\'>/=]+)="([^"]*)"')
_ATTRIBUTES = r'(?:\s+[^\s"\'>/=]+="[^"]*")*'
_LINK = re.compile(rf"<a({_ATTRIBUTES})(\s*/?)>")
_IMAGE = re.compile(rf"<img({_ATTRIBUTES})(\s*/?)>")


def _attributes(tag: re.Match) -> dict[str, str]:
    return {name: unescape(value) for name, value in _ATTRIBUTE.findall(tag.group(1))}


def _opening_apart(tag: re.Match) -> str:
    """A link opens in a new tab, except one to a place in the message itself (`#s2`, a
    newsletter's table of contents), which scrolls the frame."""
    href = _attributes(tag).get("href")
    if href is None or href.strip().startswith("#"):
        return tag.group(0)
    return f'<a{tag.group(1)} target="_blank"{tag.group(2)}>'


# Articles of the rubrics are shown in the page itself, under the site's CSP (no inline
# style, images from the portal only): the editor's own markup and nothing else.
ARTICLE_TAGS = {"p", "br", "strong", "b", "em", "i", "u", "s", "a", "ul", "ol", "li", "h2", "h3",
                "h4", "blockquote", "pre", "code", "img"}
ARTICLE_ATTRIBUTES = {"a": {"href"}, "img": {"src", "alt"}}
ARTICLE_FILES = "/rubriques/fichiers/"
_ARTICLE_FILE = re.compile(r"^" + re.escape(ARTICLE_FILES) + r"\d+$")


def _article_filter(tag: str, attribute: str, value: str) -> str | None:
    """Images only from the portal's own article files; no `style` or `class` reaches here."""
    if tag == "img" and attribute == "src":
        return value if _ARTICLE_FILE.match(value.strip()) else None
    return value


def sanitize_article(html: str) -> str:
    """An article's body as saved and shown: headings, emphasis, lists, quotes, links (web,
    mail, the portal's own pages) and images uploaded to the portal. Everything else —
    scripts, event handlers, styles, frames, remote or `data:` images — is removed."""
    return nh3.clean(
        html,
        tags=ARTICLE_TAGS,
        clean_content_tags=DROPPED_WITH_CONTENT,
        attributes=ARTICLE_ATTRIBUTES,
        attribute_filter=_article_filter,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
        strip_comments=True,
    )


def has_remote_images(html: str) -> bool:
    """Whether the sanitised HTML has images the browser would fetch: any source but a
    `data:` URL or an unresolved `cid:` (which nothing fetches) — `https://`, `//host`, and
    also `\\\\host` or a relative path, which a browser reads as a URL too."""
    for tag in _IMAGE.finditer(html):
        source = _url(_attributes(tag).get("src", "")).lower()
        if source and not source.startswith(("data:", "cid:")):
            return True
    return False


# The frame's sandbox, in its <iframe> and in its document's own policy: popups (a link opens
# in a new tab, as a page of its own), nothing else — no script, no form, no origin.
FRAME_SANDBOX = "allow-popups allow-popups-to-escape-sandbox"


def frame_csp(show_images: bool) -> str:
    """The policy of the framed message document (see the module docstring)."""
    images = "data: https: http:" if show_images else "data:"
    return (f"sandbox {FRAME_SANDBOX}; default-src 'none'; style-src 'unsafe-inline'; "
            f"img-src {images}; font-src 'none'; form-action 'none'; base-uri 'none'; "
            "frame-ancestors 'self'")


def frame_document(sanitized_html: str) -> str:
    """A complete document around sanitised HTML, for the sandboxed frame."""
    return ("<!doctype html><html><head><meta charset=\"utf-8\"></head><body>"
            + sanitized_html + "</body></html>")
