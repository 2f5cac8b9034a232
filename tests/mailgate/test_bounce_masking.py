"""A failure report quotes the remote server's words to the author with every address in them
hidden: the recipient's redirect address reads as their universal address whatever its
spelling, and any other address (where the recipient's provider forwarded the message on)
as « (adresse masquée) ». Redirect addresses are private (SPEC §4)."""
from __future__ import annotations

from mailgate import bounces, worker
from mailgate.models import EntryState
from mailgate.settings import current

from .test_bounces import (
    CLAIRE_REDIRECT,
    JOSEPH,
    failure_notice,
    forwarded_entry,
    state_of,
    text_of,
)


def test_a_bounce_naming_an_onward_address_shows_no_address_of_the_recipient(smtp, sink):
    entry = forwarded_entry(smtp, "Transfert plus loin")
    sink.reset()
    notice = failure_notice(f"550 5.1.1 <claire.privee@autre-fournisseur.example>: boîte "
                            f"inconnue (transférée par {CLAIRE_REDIRECT.upper()}).")
    assert smtp.sendmail("<>", [bounces.envelope_sender(entry.id, current())], notice) == {}
    assert state_of(entry.id) == EntryState.BOUNCED
    worker.drain()
    (report,) = sink.to(JOSEPH)
    text = text_of(report.data)
    assert ("« 550 5.1.1 <(adresse masquée)>: boîte inconnue (transférée par "
            "claire.bernard@ent.test). »") in text
    assert "autre-fournisseur" not in text and "claire.privee" not in text
    assert CLAIRE_REDIRECT not in text.lower()


def test_the_recipients_address_in_punycode_reads_as_their_universal_address():
    said = bounces.masked('550 <claire@xn--exmple-cua.fr>: "claire b"@ailleurs.example.',
                          "claire@exämple.fr", "claire.bernard@ent.test")
    assert said == "550 <claire.bernard@ent.test>: (adresse masquée)."
    assert bounces.masked("550 <claire@example.net>", "", None) == "550 <(adresse masquée)>"
