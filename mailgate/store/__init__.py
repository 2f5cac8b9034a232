"""The message store: one row per message, one reference per mailbox, quota counted in SQL.
Each module has one job: `sql` (statements in the caller's transaction), `folder_ids` (the
system folders' ids), `quota`, `messages` (messages and their placement in folders),
`attachments`. The mailbox as its owner handles it (folders, moving, deleting, drafts) is
mailgate/mailbox.py, built on these.

Attachments are kept **in the database** (table mail_blob, addressed by SHA-256), not as files
under the instance folder, because:
- SPEC §10 runs N gateways, workers and web processes on several machines in front of one
  PostgreSQL: a file under one machine's instance folder is not seen by the others;
- a message, its mailbox references and its queue entries are written in one transaction, so
  "250 only after commit" covers the attachments too (the SMTP gateway stores the message
  as received; mailgate/indexer.py later detaches its attachments in one transaction with
  the rewritten source), and a crash leaves neither orphan files nor references to missing
  ones;
- removal is a DELETE in the transaction that drops the last reference (see collect_garbage),
  not a file sweep racing with deliveries. Content addressing still stores a file forwarded
  or sent twice once. The cost is database size, which backups and PostgreSQL's TOAST handle.

Every function here works in the caller's transaction and never commits.
"""
from .attachments import AttachmentContent, attachment_for, message_bytes, messages_bytes
from .folder_ids import remember_folders, system_folders
from .messages import (
    NewMessage,
    add_items,
    collect_garbage,
    delete_items,
    insert_items,
    item_of,
    item_rows,
    save_message,
    save_messages,
)
from .quota import (
    QuotaRace,
    add_usage,
    full_mailboxes,
    lock_usage,
    read_usage,
    recount_usage,
    reserve,
    settle_usage,
    usage,
)
from .sql import core

__all__ = [
    "AttachmentContent", "NewMessage", "QuotaRace", "add_items", "add_usage", "attachment_for",
    "collect_garbage", "core", "delete_items", "full_mailboxes",
    "insert_items", "item_of", "item_rows", "lock_usage", "message_bytes", "messages_bytes",
    "read_usage", "recount_usage", "remember_folders", "reserve", "save_message",
    "save_messages", "settle_usage", "system_folders", "usage",
]
