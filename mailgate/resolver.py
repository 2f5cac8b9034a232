"""DNS lookups for sender authentication (mailgate/sender_auth.py).

One dnspython resolver per gateway, asking PREAU_DNS_SERVERS (the system's resolvers when
empty) with PREAU_DNS_TIMEOUT for a whole lookup, and remembering answers for a minute: a
burst of mail from one provider asks for its SPF, DMARC and DKIM records once. A server that
does not answer, or fails, is a `TemporaryFailure`, never an empty answer: the gateway then
answers 451 and the sender retries, instead of a 550 caused by our network's trouble.

pyspf and dkimpy each take a lookup function of their own shape: `for_spf` and `for_dkim`
give them this resolver.
"""
from __future__ import annotations

import dns.exception
import dns.name
import dns.nameserver
import dns.resolver
import spf

from directory.errors import InvalidInput

from .cache import TimedCache
from .settings import Settings

ANSWER_TTL = 60.0


class TemporaryFailure(Exception):
    """No answer could be had now; asking again later may give one."""


class Resolver:
    def __init__(self, settings: Settings):
        try:
            self.resolver = dns.resolver.Resolver(configure=not settings.dns_servers)
        except dns.resolver.NoResolverConfiguration:
            raise InvalidInput("Aucun serveur DNS n'est configuré sur cette machine : "
                               "indiquez PREAU_DNS_SERVERS, ou PREAU_SENDER_AUTH=off.") from None
        if settings.dns_servers:
            self.resolver.nameservers = [dns.nameserver.Do53Nameserver(host, port)
                                         for host, port in settings.dns_servers]
        self.resolver.lifetime = self.resolver.timeout = settings.dns_timeout
        self.answers = TimedCache(ANSWER_TTL)

    def lookup(self, name: str, kind: str) -> list:
        """The records (dnspython rdata) of that name and type; [] when there are none."""
        key = (name.lower().rstrip("."), kind)
        found = self.answers.get(key)
        if found is None:
            found = self._ask(*key)
            self.answers.put(key, found)
        return found

    def _ask(self, name: str, kind: str) -> list:
        try:
            return list(self.resolver.resolve(name, kind, search=False))
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer, dns.name.EmptyLabel,
                dns.name.LabelTooLong, dns.name.NameTooLong):       # none, or no such name
            return []
        except dns.exception.DNSException as error:     # no server answered in time, or well
            raise TemporaryFailure(f"DNS {kind} {name}: {error}") from None

    def txt(self, name: str) -> list[bytes]:
        """Each TXT record of the name, its strings joined."""
        return [b"".join(record.strings) for record in self.lookup(name, "TXT")]

    def for_spf(self, name: str, kind: str, strict: bool = True, timeout: float = 0) -> list:
        """pyspf's DNSLookup: ((name, type), value) pairs, spf.TempError on trouble."""
        try:
            records = self.lookup(name, kind)
        except TemporaryFailure as error:
            raise spf.TempError(str(error)) from None
        pairs = []
        for record in records:
            if kind in ("A", "AAAA"):
                value = record.address
            elif kind == "MX":
                value = (record.preference, record.exchange)
            elif kind == "PTR":
                value = record.target.to_text(True)
            else:
                value = record.strings
            pairs.append(((name, kind), value))
        return pairs

    def for_dkim(self, name: bytes, timeout: float = 0) -> bytes | None:
        """dkimpy's dnsfunc: the key record's text, None when there is none."""
        try:
            records = self.txt(name.decode("ascii"))
        except UnicodeDecodeError:
            return None
        return records[0] if records else None
