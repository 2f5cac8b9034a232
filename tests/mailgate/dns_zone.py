"""The DNS zone of the sender authentication tests (served on a loopback port by the
`dns_server` fixture): made-up domains whose SPF, DKIM and DMARC records say each case, for a
client connecting from 127.0.0.2, and one domain whose server never answers."""
from __future__ import annotations

from dnslib import QTYPE, RCODE, RR, TXT, DNSError

OUTSIDER = "127.0.0.2"          # the address tests connect from to be checked
SELECTOR = "sel"


def zone_records(dkim_key: bytes) -> dict[str, list[bytes | list[bytes]]]:
    """name → TXT records. A key record is longer than 255 bytes: sent as several strings."""
    key = [dkim_key[i:i + 200] for i in range(0, len(dkim_key), 200)]
    return {
        "spf-pass.example": [f"v=spf1 ip4:{OUTSIDER} -all".encode()],
        "_dmarc.spf-pass.example": [b"v=DMARC1; p=reject"],
        "spf-fail.example": [b"v=spf1 ip4:192.0.2.1 -all"],
        "_dmarc.spf-fail.example": [b"v=DMARC1; p=reject"],
        "spf-softfail.example": [b"v=spf1 ip4:192.0.2.1 ~all"],
        "dkim.example": [b"v=spf1 -all"],
        "_dmarc.dkim.example": [b"v=DMARC1; p=quarantine"],
        f"{SELECTOR}._domainkey.dkim.example": [key],
        "strict.example": [b"v=spf1 -all"],
        "_dmarc.strict.example": [b"v=DMARC1; p=reject; adkim=s"],
        f"{SELECTOR}._domainkey.strict.example": [key],
        f"{SELECTOR}._domainkey.other.example": [key],
    }


SILENT = "silent.example"       # its server never answers: a DNS timeout


class Zone:
    """A dnslib resolver over `zone_records`; no-record.example and the rest: NXDOMAIN."""

    def __init__(self, dkim_key: bytes):
        self.records = zone_records(dkim_key)

    def resolve(self, request, handler):
        name = str(request.q.qname).rstrip(".").lower()
        if name == SILENT or name.endswith("." + SILENT):
            raise DNSError("no answer")           # dnslib's handler then sends nothing
        reply = request.reply()
        if QTYPE[request.q.qtype] == "TXT":
            for record in self.records.get(name, []):
                strings = record if isinstance(record, list) else [record]
                reply.add_answer(RR(name, QTYPE.TXT, rdata=TXT(strings), ttl=60))
        if not any(known == name or known.endswith("." + name) for known in self.records):
            reply.header.rcode = RCODE.NXDOMAIN
        return reply


class Quiet:
    """A dnslib logger that says nothing."""

    def __getattr__(self, _name):
        return lambda *args: None
