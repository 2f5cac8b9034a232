"""The worker's sending threads: PREAU_SEND_THREADS threads, each with a `Relay` of its own
whose SMTP connection to the smarthost stays open from message to message and from batch to
batch (mailgate/smarthost.py checks it with RSET after a pause).

A message's SMTP transaction is mostly waiting for the relay's answers (MAIL, RCPT, DATA,
the final 250 after the relay has queued it): with one connection the worker waits for each
in turn, with several it waits for several messages at once, as Postfix's `smtp` processes
do (up to `default_destination_concurrency_limit`, 20, per destination). The threads only
send: what they send is read from the database before (mailgate/worker.py), and what became
of it is written after, so they need neither the app nor a database session.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from .smarthost import Outcome, Relay

# An envelope left unsent because the worker was told to stop: given back to the queue as it
# was (mailgate/queue.py `release`), due at once for the next worker.
NOT_TRIED = Outcome(sent=False, error="worker arrêté avant cet envoi", reached=False)


@dataclass(frozen=True)
class Envelope:
    sender: str
    recipient: str
    data: bytes


class Senders:
    """`count` threads sending envelopes through relays made by `new_relay`."""

    def __init__(self, count: int, new_relay: Callable[[], Relay]):
        self.count = count
        self.new_relay = new_relay
        self.local = threading.local()
        self.relays: list[Relay] = []
        self.lock = threading.Lock()
        self.pool = ThreadPoolExecutor(count, thread_name_prefix="preau-send")

    def send(self, envelopes: Sequence[Envelope],
             stop: threading.Event | None = None) -> list[Outcome]:
        """Each envelope's outcome, in order; returns once all are sent or refused. One task
        per thread, each taking the next envelope until none is left (one task per envelope
        cost a sixth of the worker's CPU per message, bench/relay_cpu.py: 143 → 122 µs).
        Once the relay is found down for all (`Outcome.relay_down`: a 5xx to the session, no
        answer until a timeout), the envelopes not yet started get its outcome without
        trying: a relay dropping every packet would hold each of them for the connect
        timeout, 200 ÷ 4 threads × 60 s = 50 minutes a batch, and one silent after the data
        for its 600 s, 8 hours, while the worker does nothing else (fan-outs, ends of
        access). A thread whose new connection the relay turns away alone
        (`Outcome.no_session`: « 421 too many connections », a reset) gives its envelope
        back to the threads still sending and stops for this batch, as long as one is left:
        the relay's connection limit caps the threads, instead of each refused connection
        deferring the envelopes its thread takes (an attempt lost each, batch after batch).
        Once `stop` is set (the worker told to stop), the envelopes not yet started are
        `NOT_TRIED`: the worker gives them back untouched, rather than being killed
        mid-batch and having the whole batch sent again."""
        outcomes: list[Outcome | None] = [None] * len(envelopes)
        numbers = iter(range(len(envelopes)))
        given_back: list[int] = []
        taking = threading.Lock()
        down: list[Outcome] = []
        threads = min(self.count, len(envelopes))
        sending = threads               # the threads still taking envelopes

        def send_some() -> None:
            nonlocal sending
            relay = self._relay()
            while True:
                with taking:
                    number = given_back.pop() if given_back else next(numbers, None)
                    unreachable = down[0] if down else None
                    if number is None:
                        sending -= 1
                        return
                if stop is not None and stop.is_set():
                    outcomes[number] = NOT_TRIED
                    continue
                if unreachable is not None:
                    outcomes[number] = unreachable
                    continue
                envelope = envelopes[number]
                outcome = relay.send(envelope.sender, envelope.recipient, envelope.data)
                with taking:
                    if outcome.relay_down:
                        down.append(outcome)
                    elif outcome.no_session and sending > 1:
                        given_back.append(number)
                        sending -= 1
                        return
                outcomes[number] = outcome

        tasks = [self.pool.submit(send_some) for _ in range(threads)]
        for task in tasks:
            task.result()
        return outcomes

    def _relay(self) -> Relay:
        relay = getattr(self.local, "relay", None)
        if relay is None:
            relay = self.local.relay = self.new_relay()
            with self.lock:
                self.relays.append(relay)
        return relay

    def close(self) -> None:
        """Quit every connection and stop the threads."""
        self.pool.shutdown(wait=True)
        with self.lock:
            for relay in self.relays:
                relay.close()
            self.relays.clear()
