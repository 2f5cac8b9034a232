"""HTML from outside mail, and the rubrics' articles, made safe to show.

Three layers, so that one mistake is not enough for a script to run:
1. nh3 keeps a list of harmless tags and attributes, filters `style` down to presentational
   properties, drops `javascript:` and other schemes, and adds `rel="noopener noreferrer"` to
   links (which open in a new tab);
2. the sanitised HTML is served as its own small document, shown in an `<iframe sandbox>`
   without `allow-scripts` — so even markup that slipped through cannot run;
3. that document carries its own Content-Security-Policy: no script at all, inline styles only,
   and images only from `data:` URLs until the reader asks to "Afficher les images" — which is
   how remote images (tracking pixels) stay blocked: the browser never fetches them.
"""
from __future__ import annotations

import re

import nh3

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "center", "cite", "code", "col",
    "colgroup", "dd", "del", "div", "dl", "dt", "em", "font", "h1", "h2", "h3", "h4", "h5", "h6",
    "hr", "i", "img", "ins", "kbd", "li", "ol", "p", "pre", "q", "s", "small", "span", "strike",
    "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "tt", "u", "ul",
}
COMMON_ATTRIBUTES = {"style", "title", "align", "dir", "lang"}
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


def _attribute_filter(tag: str, attribute: str, value: str) -> str | None:
    """`data:` URLs only as images of a raster type (never data:text/html in a link); styles
    reduced to presentational declarations whose values load and compute nothing."""
    if attribute == "style":
        return _safe_style(value)
    if attribute in ("href", "src") and value.strip().lower().startswith("data:"):
        return value if tag == "img" and _DATA_URL.match(value.strip()) else None
    if tag == "a" and attribute == "href" and value.strip().lower().startswith("cid:"):
        return None
    return value


DROPPED_WITH_CONTENT = {"script", "style", "title", "head", "noscript", "template", "iframe",
                        "object", "embed", "svg", "math"}


def sanitize(html: str) -> str:
    """The HTML of a message, with everything that could run or escape its frame removed."""
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        clean_content_tags=DROPPED_WITH_CONTENT,
        attributes=ALLOWED_ATTRIBUTES,
        attribute_filter=_attribute_filter,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer",
        set_tag_attribute_values={"a": {"target": "_blank"}},
        filter_style_properties=STYLE_PROPERTIES,
        strip_comments=True,
    )


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
    """Whether the sanitised HTML refers to images the browser would fetch from elsewhere."""
    return re.search(r"<img[^>]+src=\"(https?:)?//", html, re.IGNORECASE) is not None


def frame_csp(show_images: bool) -> str:
    """The policy of the framed message document (see the module docstring)."""
    images = "data: https: http:" if show_images else "data:"
    return (f"default-src 'none'; style-src 'unsafe-inline'; img-src {images}; "
            "font-src 'none'; form-action 'none'; base-uri 'none'; frame-ancestors 'self'")


def frame_document(sanitized_html: str) -> str:
    """A complete document around sanitised HTML, for the sandboxed frame."""
    return ("<!doctype html><html><head><meta charset=\"utf-8\">"
            "<base target=\"_blank\"></head><body>" + sanitized_html + "</body></html>")
