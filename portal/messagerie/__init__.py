"""Messagerie: the student mailbox, the outbox of the other profiles, reading, compose with
the recipient picker, read receipts. Rules live in plain modules (mailbox, compose,
recipients, receipts), called by thin views; delivery is always `mailgate.routing.route`."""
