"""Why a forward failed for good, as a reason code and the remote server's own words: the
worker and the bounce handler (mailgate/bounces.py) say what happened, the report
(mailgate/reports.py) puts it into words for the author."""
from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import timedelta


class FailureKind(enum.StrEnum):
    REFUSED = "refused"             # the relay answered 5xx: it will never take the message
    BOUNCED = "bounced"             # a failure notice came back from the destination
    UNREACHABLE = "unreachable"     # the relay could not be reached for the queue lifetime
    DEFERRED = "deferred"           # the relay answered 4xx for the whole queue lifetime


@dataclass(frozen=True)
class Failure:
    kind: FailureKind
    remote: str = ""                    # what the remote server said, in its own words
    lasted: timedelta | None = None     # UNREACHABLE, DEFERRED: how long Préau kept trying

    @property
    def log_text(self) -> str:
        """For the queue entry's last_error, which operators read."""
        text = self.kind.value
        if self.lasted is not None:
            text += f" for {self.lasted}"
        if self.remote:
            text += f": {self.remote}"
        return text.replace("\x00", "")
