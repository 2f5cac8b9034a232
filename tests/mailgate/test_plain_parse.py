"""The indexer's quick reading of one-part text messages (mime.parse_plain) stores what the
full parse (mime.parse) would: same text, same fields, same body; every other message is left
to the full parse. Compared on hand-written cases and on messages Hypothesis writes."""
from __future__ import annotations

import quopri

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mailgate import mime

FRENCH = "Sortie au musée jeudi : les élèves apporteront leur goûter. Ça coûte 5 €.\r\n"
HEAD = b"From: joseph@example.org\r\nTo: zoe.le-gall@ent.test\r\nSubject: Sortie\r\n"


def _message(content: bytes, body: bytes) -> bytes:
    return HEAD + content + b"\r\n" + body


# (content fields, body, read quickly?)
CASES = [
    (b"", b"Bonjour.\r\n", True),                                         # no Content-Type
    (b"Content-Type: text/plain\r\n", b"", True),                         # empty body
    (b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
     b"Content-Transfer-Encoding: 8bit\r\n", FRENCH.encode(), True),
    (b"Content-Type: text/plain; charset=\"UTF-8\"; format=flowed\r\n"
     b"Content-Transfer-Encoding: quoted-printable\r\n",
     quopri.encodestring(FRENCH.encode() * 3), True),
    (b"Content-Type: text/plain;\r\n\tcharset=iso-8859-1\r\n"              # folded, Latin-1
     b"Content-Transfer-Encoding: Quoted-Printable\r\n",
     quopri.encodestring(FRENCH.encode("latin-1", "replace")), True),
    (b"Content-Type: text/plain; charset=windows-1252\r\n",
     FRENCH.encode("cp1252"), True),
    (b"Content-Type: text/plain; charset=us-ascii\r\n", FRENCH.encode(), True),
    (b"Content-Type: text/plain\r\n", FRENCH.encode("latin-1", "replace"), True),
    (b"Content-Type: text/plain\r\n", b"un NUL \x00 ici\r\n", True),
    (b"Content-Type: TEXT/Plain; charset=utf-8\r\nContent-Disposition: inline\r\n",
     b"Texte.\r\n", True),
    (b"Content-Transfer-Encoding: quoted-printable\r\n", b"caf=C3=A9 =\r\nsoft=ZZ\r\n", True),
    (b"Content-Type: text/plain\r\nContent-Type: text/html\r\n", b"<p>x</p>", True),
    (b"Content-Type: text/plain;\x0ccharset=latin1\r\nContent-Disposition: inline\x0b\r\n",
     "élève".encode("latin-1"), True),            # \f, \v: no line break for the email package
    # left to the full parse
    (b"Content-Type: text/html; charset=utf-8\r\n", b"<p>Bonjour</p>", False),
    (b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n",
     b"Qm9uam91ciDDqWzDqHZlcy4=\r\n", False),
    (b"Content-Type: text/plain; name=\"devoir.txt\"\r\n", b"Devoir.\r\n", False),
    (b"Content-Type: text/plain\r\nContent-Disposition: attachment\r\n", b"x\r\n", False),
    (b"Content-Type: text/plain; charset*=utf-8''%C3%A9\r\n", b"x\r\n", False),
    (b"Content-Type: text/plain; charset=koi8-r\r\n", "Привет".encode("koi8-r"), False),
    (b"Content-Type: text/plain; charset=\"utf-8\r\n", b"x\r\n", False),   # broken quotes
    (b"Content-Type: text/plain;\r\n", b"x\r\n", False),
    (b"Content-Type: multipart/mixed\r\n", b"--x\r\n\r\nsans fin\r\n", False),
    (b"Content-Type: garbage\r\n", b"x\r\n", False),
    (b"Content-Transfer-Encoding: quoted-printable \r\n", b"caf=C3=A9\r\n", False),
    (b"Content-Type: text/plain; charset=\xc3\xa9\r\n", b"x\r\n", False),
    (b"Content-Type: text/plain; charset=utf-8\rX\r\n", b"x\r\n", False),  # stray CR
]


@pytest.mark.parametrize(("content", "body", "quick"), CASES)
def test_the_quick_reading_stores_what_the_full_parse_stores(content, body, quick):
    raw = _message(content, body)
    read = mime.parse_plain(raw)
    assert (read is not None) == quick
    if read is not None:
        assert read == mime.parse(raw)


def test_broken_header_lines_end_the_header_block_the_same_way():
    raw = HEAD + b"Content-Type: text/plain\r\nnot a field\r\nSubject: later\r\n\r\nBody.\r\n"
    assert mime.parse_plain(raw) == mime.parse(raw)
    assert "not a field" in mime.parse_plain(raw).text_body
    mbox = b"From joseph@example.org Thu Jan  1 00:00:00 2026\n" + HEAD + b"\r\nCorps.\r\n"
    assert mime.parse_plain(mbox) == mime.parse(mbox)


_TOKENS = ["text/plain", "TEXT/PLAIN", "text/html", "text/plain ", " text/plain", "multipart/mixed",
           "charset=utf-8", 'charset="utf-8"', "charset=ISO-8859-1", "charset=latin1",
           "charset=us-ascii", "charset=cp1252", "charset=koi8-r", "charset=", "charset=\"x",
           "format=flowed", "delsp=yes", "name=a.txt", "NAME=\"a b\"", "charset*=utf-8''x",
           "", " ", "\r\n ", "\r\n\t", ";", "=", '"', "\\", "(commentaire)", "\x1c", "\x0c",
           "\x0b", "\r"]
_FIELD_VALUE = st.lists(st.sampled_from(_TOKENS), max_size=6).map(
    lambda tokens: ";".join(tokens).encode()) | st.tuples(
    st.lists(st.sampled_from(_TOKENS[5:]), max_size=3),
    st.sampled_from([";", "; ", ";\r\n\t", " ;", ";\x0c", ";\r\n "])).map(
    lambda drawn: drawn[1].join(["text/plain", *drawn[0]]).encode())
_ENCODING = st.sampled_from([b"7bit", b"8bit", b"binary", b"quoted-printable", b"QUOTED-PRINTABLE",
                             b"base64", b"x-uuencode", b"", b" 8bit", b"8bit "])
_DISPOSITION = st.sampled_from([b"inline", b"INLINE ", b"attachment", b"inline; filename=a.txt",
                                b"", b"inline\x0c", b"\x0binline"])
_BODY_TEXT = st.lists(st.sampled_from(list("ab é€=\r\n\t\x00ÿ") + ["=C3=A9", "=\r\n", "=E9",
                                                                     "=Z"])).map("".join)


@st.composite
def _content_fields(draw) -> bytes:
    fields = []
    for name, values in ((b"Content-Type", _FIELD_VALUE), (b"Content-Transfer-Encoding",
                                                            _ENCODING),
                         (b"Content-Disposition", _DISPOSITION),
                         (b"Content-Type", _FIELD_VALUE)):
        if draw(st.booleans()):
            fields.append(draw(st.sampled_from([name, name.lower()])) + b":" +
                          draw(st.sampled_from([b" ", b"", b"\t", b"\r\n "])) + draw(values))
    draw(st.randoms()).shuffle(fields)
    return b"".join(f + b"\r\n" for f in fields)


@settings(max_examples=1500, deadline=None)
@given(_content_fields(), _BODY_TEXT | st.binary().map(lambda data: data.decode("latin-1")),
       st.sampled_from(["utf-8", "latin-1", "cp1252"]))
@example(b"Content-Type: text/plain; charset=latin1\r\n", "élève\r\n", "latin-1")
def test_generated_messages_read_quickly_are_read_as_the_full_parse_reads_them(
        content, text, encoding):
    raw = _message(content, text.encode(encoding, "replace"))
    read = mime.parse_plain(raw)
    if read is not None:
        assert read == mime.parse(raw)
