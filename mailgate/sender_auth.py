"""Does mail that claims a member's redirect address really come from that address's domain?
(SPEC §4: "anyone can write as a parent" otherwise.)

The claim is the envelope sender: mailgate/identity.py recognises the author by it alone. It
holds when
- the client is in PREAU_TRUSTED_NETWORKS (as Postfix's mynetworks: this machine, the
  school's own relays), or
- SPF (RFC 7208) passes for the client's address and the envelope sender, or
- a DKIM signature (RFC 6376) verifies whose domain is aligned with the envelope sender's
  domain as DMARC (RFC 7489) defines it: the same organizational domain (the public suffix
  list, which `publicsuffixlist` ships inside the package, so nothing is downloaded), or the
  very same domain when that domain's DMARC record says `adkim=s`. SPF's identity is the
  envelope domain itself, so an SPF pass is always aligned.

Anything else does not authenticate, whatever the domain's DMARC `p=`: an address used as
an identity must prove itself (every large provider signs with DKIM), where a DMARC p=none
only asks receivers not to act on failures of ordinary mail. PREAU_SENDER_AUTH=enforce then
refuses the message (550 5.7.26), mark delivers it as `SenderCheck.UNVERIFIED` (the reading
page says "Expéditeur non vérifié", and so does the subject of every copy forwarded to a
member's own address: `subject_tag`), off checks nothing. When the answer hangs on a DNS
server that did not answer, nothing is concluded: 451 4.7.0 under enforce, so the sender
retries later. Only when it hangs on it, though: a lookup that could not change the verdict
leaves a refusal permanent (550) — a key that did not come for a signature whose domain is
not aligned (it could never vouch), a DMARC record that did not come when no valid signature
depends on its `adkim` (the only thing it decides here).

The results are written into the stored message as Authentication-Results (RFC 8601)
under our host name, methods and results only: the domain of a redirect address is private
too, and the stored header is read by other members. Checks run in a thread pool of their
own, off the event loop; DNS answers are remembered a minute (mailgate/resolver.py), so a
burst from one sender costs one set of lookups.
"""
from __future__ import annotations

import asyncio
import enum
import ipaddress
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.utils import getaddresses
from functools import cache

import dkim
import spf
from publicsuffixlist import PublicSuffixList

from .mime import unfold
from .models import SenderCheck
from .resolver import Resolver, TemporaryFailure
from .settings import SenderAuth, Settings

log = logging.getLogger("preau.mailgate")
MAX_SIGNATURES = 5          # DKIM signatures tried per message
SPF_QUERY_TIME = 20         # seconds for a whole SPF evaluation (RFC 7208 §4.6.4)
# The words of the reading page for an unverified sender (templates/messagerie/read.html),
# which forwarded copies say too (`subject_tag`): one wording, in French as Préau's mail.
UNVERIFIED_WORDS = "Expéditeur non vérifié"


class Action(enum.StrEnum):
    """What the gateway does with the message."""

    DELIVER = "deliver"
    REFUSE = "refuse"       # 550 5.7.26
    RETRY = "retry"         # 451 4.7.0: a DNS server did not answer


@dataclass(frozen=True)
class Check:
    verdict: SenderCheck
    spf: str | None = None      # RFC 8601 result words; None: not evaluated
    dkim: str | None = None
    dmarc: str | None = None
    temporary: bool = False     # not authenticated, and a lookup could not be made

    def action(self, mode: SenderAuth) -> Action:
        if self.verdict != SenderCheck.UNVERIFIED or mode != SenderAuth.ENFORCE:
            return Action.DELIVER
        return Action.RETRY if self.temporary else Action.REFUSE

    def header(self, authserv_id: str) -> str:
        """The value of our Authentication-Results field."""
        if self.verdict == SenderCheck.TRUSTED:
            return f"{authserv_id}; none (trusted network)"
        results = [f"{method}={result}" for method, result in
                   (("spf", self.spf), ("dkim", self.dkim), ("dmarc", self.dmarc)) if result]
        return "; ".join([authserv_id, *results])

    @property
    def summary(self) -> str:
        """For the refusal and the log: 'SPF softfail, DKIM none'."""
        return f"SPF {self.spf or 'none'}, DKIM {self.dkim or 'none'}"


@dataclass(frozen=True)
class Policy:
    """What of a DMARC record matters here."""

    disposition: str        # p= (or sp= for a subdomain): only reported
    strict_dkim: bool       # adkim=s


class SenderAuthenticator:
    """One per gateway: its resolver and the threads its checks run in."""

    def __init__(self, settings: Settings, threads: int = 8):
        self.settings = settings
        self.resolver = Resolver(settings)
        self.executor = ThreadPoolExecutor(threads, thread_name_prefix="preau-auth")

    async def check(self, peer: str, helo: str, sender: str, raw: bytes) -> Check:
        """A client of a trusted network is answered at once (no thread hop per message);
        the others are checked in the threads (DNS lookups, DKIM)."""
        address = client_address(peer)
        if address is not None and trusted(address, self.settings):
            return Check(SenderCheck.TRUSTED)
        return await asyncio.get_running_loop().run_in_executor(
            self.executor, self.check_now, peer, helo, sender, raw)

    async def spf_passes(self, peer: str, helo: str, sender: str) -> bool:
        """Before DATA (there is no message yet for DKIM): whether SPF passes for the client
        and the envelope sender. Its DNS answers are remembered (mailgate/resolver.py): the
        check at DATA asks for them again without a lookup."""
        address = client_address(peer)
        if address is None:
            return False
        sender = sender.strip().strip("<>")
        return await asyncio.get_running_loop().run_in_executor(
            self.executor, self._spf, str(address), sender, helo) == "pass"

    def stop(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)

    def check_now(self, peer: str, helo: str, sender: str, raw: bytes) -> Check:
        address = client_address(peer)
        if address is not None and trusted(address, self.settings):
            return Check(SenderCheck.TRUSTED)
        sender = sender.strip().strip("<>")
        domain = sender.rpartition("@")[2].lower()
        spf_result = self._spf(str(address), sender, helo)
        try:
            policy, dmarc_trouble = self._policy(domain), False
        except TemporaryFailure:
            policy, dmarc_trouble = None, True
        if spf_result == "pass":
            return Check(SenderCheck.PASS, spf="pass",
                         dmarc="temperror" if dmarc_trouble else "pass")
        strict = None if dmarc_trouble else policy is not None and policy.strict_dkim
        signatures = self._dkim(raw, sender, domain, strict)
        dkim_result = signatures.result
        if signatures.vouches:
            return Check(SenderCheck.PASS, spf=spf_result, dkim=dkim_result,
                         dmarc="temperror" if dmarc_trouble else "pass")
        temporary = spf_result == "temperror" or signatures.undecided
        dmarc = "temperror" if dmarc_trouble else "fail" if policy else "none"
        log.info("sender %s not authenticated from %s: SPF %s, DKIM %s, DMARC %s", domain,
                 address, spf_result, dkim_result, dmarc)
        return Check(SenderCheck.UNVERIFIED, spf=spf_result, dkim=dkim_result, dmarc=dmarc,
                     temporary=temporary)

    def _spf(self, address: str, sender: str, helo: str) -> str:
        _checking.resolver = self.resolver
        spf.DNSLookup = _spf_lookup
        try:
            result, _explanation = spf.check2(i=address, s=sender, h=helo or "unknown",
                                              querytime=SPF_QUERY_TIME)
        except (ValueError, UnicodeError):      # an address or name pyspf cannot read
            return "permerror"
        return result

    def _policy(self, domain: str) -> Policy | None:
        """The DMARC record of the domain, or of its organizational domain (RFC 7489 §6.6.3)."""
        tags = _dmarc_tags(self.resolver.txt(f"_dmarc.{domain}"))
        inherited = False
        organization = organizational_domain(domain)
        if tags is None and organization and organization != domain:
            tags, inherited = _dmarc_tags(self.resolver.txt(f"_dmarc.{organization}")), True
        if tags is None:
            return None
        disposition = tags.get("sp", tags.get("p", "none")) if inherited \
            else tags.get("p", "none")
        return Policy(disposition, tags.get("adkim", "r") == "s")

    def _dkim(self, raw: bytes, sender: str, domain: str, strict: bool | None) -> Signatures:
        """The message's DKIM signatures for `sender` at `domain`; `strict`: the DMARC
        record's adkim=s, None when the record could not be had."""
        try:
            verifier = dkim.DKIM(raw, timeout=self.settings.dns_timeout)
        except dkim.DKIMException:
            return Signatures("permerror")
        count = sum(1 for name, _ in verifier.headers if name.lower() == b"dkim-signature")
        if not count:
            return Signatures(None)
        results, undecided = [], False
        for index in range(min(count, MAX_SIGNATURES)):
            try:
                valid = verifier.verify(idx=index, dnsfunc=self.resolver.for_dkim)
            except TemporaryFailure:        # its key did not come: it matters if aligned
                results.append("temperror")
                signer = verifier.domain.decode("ascii", "replace").lower()
                undecided = undecided or aligned(signer, domain, bool(strict))
                continue
            except dkim.ValidationError:        # the signature does not match the message
                results.append("fail")
                continue
            except dkim.DKIMException:          # it cannot be read
                results.append("permerror")
                continue
            results.append("pass" if valid else "fail")
            signer = verifier.domain.decode("ascii", "replace").lower()
            if valid and aligned(signer, domain, bool(strict)) \
                    and _vouches_for(verifier, sender):
                if strict is not None or aligned(signer, domain, True):
                    return Signatures("pass", vouches=True)
                undecided = True    # relaxed alignment only, and adkim unknown
        best = next(r for r in ("pass", "temperror", "fail", "permerror") if r in results)
        return Signatures(best, undecided=undecided)


@dataclass(frozen=True)
class Signatures:
    """What the DKIM signatures of a message say for its envelope sender."""

    result: str | None              # RFC 8601 result of the best; None: not signed
    vouches: bool = False           # a valid one is aligned and vouches (`_vouches_for`)
    undecided: bool = False         # one that could vouch could not be checked (DNS)


def subject_tag(check: SenderCheck | None) -> str | None:
    """What the subject of a copy forwarded to a member's own address starts with, for a
    sender that did not authenticate (None: nothing). The member reads that copy in their own
    mail program, where no page says the sender is unverified: the copy says it where every
    program shows it, as mature gateways tag their subjects (mailgate/headers.py
    `tagged_subject` puts it there once)."""
    return f"[{UNVERIFIED_WORDS}]" if check == SenderCheck.UNVERIFIED else None


def _vouches_for(verifier: dkim.DKIM, sender: str) -> bool:
    """Whether the signature just verified covers the message's one From, and that From is
    the envelope's sender. A signature vouches for its domain, not for which of the domain's
    users wrote: anyone with an address at a member's provider could have a message of their
    own signed, then send it again under the member's address (DMARC aligns with the From
    for this reason)."""
    signed = {name.strip().lower()
              for name in verifier.signature_fields.get(b"h", b"").split(b":")}
    froms = [value for name, value in verifier.headers if name.strip().lower() == b"from"]
    if b"from" not in signed or len(froms) != 1:
        return False
    written = getaddresses([unfold(froms[0])])
    return len(written) == 1 and written[0][1].lower() == sender.lower()


# pyspf takes its DNS function from a module global (made to be replaced). Ours asks the
# resolver of the check running in this thread: gateways with other DNS settings may share
# the process (tests do).
_checking = threading.local()


def _spf_lookup(name: str, kind: str, strict: bool = True, timeout: float = 0) -> list:
    return _checking.resolver.for_spf(name, kind)


def client_address(peer) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(peer[0] if isinstance(peer, tuple) else peer)
    except (ValueError, TypeError, IndexError):
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address


def trusted_peer(peer, settings: Settings) -> bool:
    """Whether the client at `peer` (aiosmtpd's session.peer) is in a trusted network."""
    address = client_address(peer)
    return address is not None and trusted(address, settings)


def trusted(address, settings: Settings) -> bool:
    return any(address in network for network in settings.trusted_networks
               if network.version == address.version)


def aligned(signer: str, domain: str, strict: bool) -> bool:
    signer, domain = signer.rstrip("."), domain.rstrip(".")
    if signer == domain:
        return True
    if strict:
        return False
    organization = organizational_domain(domain)
    return organization is not None and organization == organizational_domain(signer)


def organizational_domain(domain: str) -> str | None:
    """`mail.example.co.uk` → `example.co.uk`; None for a public suffix itself."""
    return _suffixes().privatesuffix(domain.lower().rstrip("."))


@cache
def _suffixes() -> PublicSuffixList:
    return PublicSuffixList()


def _dmarc_tags(records: list[bytes]) -> dict[str, str] | None:
    """The tags of the one DMARC record among the TXT records, None when there is not
    exactly one (RFC 7489 §6.6.3)."""
    found = [r.decode("utf-8", "replace") for r in records
             if r.replace(b" ", b"").lower().startswith(b"v=dmarc1")]
    if len(found) != 1:
        return None
    tags = {}
    for part in found[0].split(";"):
        name, _, value = part.partition("=")
        if name.strip():
            tags[name.strip().lower()] = value.strip().lower()
    return tags
