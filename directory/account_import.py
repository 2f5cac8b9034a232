"""Importing a school's accounts from a CSV file (SPEC §8): plan, then apply in batches.

`plan_import` reads the file and the database and says, row by row, what applying would do
(create, update, unchanged, error with its reason, and the login each new account gets)
without writing anything. `apply_batch` applies one slice of the rows, in one transaction,
planning that slice again against the database as it is then: the browser applies a file
one request per batch, the command line loops over the same function, and a batch that ran
twice finds its rows unchanged. Re-importing a file therefore writes nothing.

A file kept between its preview and its application (import_models.AccountImport) records
its progress in each batch's own transaction: accounts and counts are committed together or
not at all, and a batch counts only if the kept file still stands where the batch started.

Planning (matching rows to accounts, reasons, logins) is `import_plan`; writing (bulk
statements) is `import_write`. Passwords are only set at creation (comparing them would cost
an argon2 verification per row); a new account without an email gets no password at all
until its printable sheet is made (`account_admin`). Parents are applied after everyone
else, so the children they name exist by then.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError, OperationalError

from .account_file import AccountFile, FileRow, read_account_file
from .clock import utcnow
from .db import db, is_deadlock, write_lock
from .import_models import AccountImport
from .import_plan import Fate, FileFacts, ImportPlan, RowPlan, file_facts, plan_rows
from .import_write import CreatedAccount, GroupGone, hashes_of, passwords_for, write
from .models import Account, School

__all__ = ["Application", "BatchResult", "CreatedAccount", "Fate", "ImportPlan", "RowPlan",
           "application_order", "apply_batch", "apply_import", "plan_import", "prepared"]

BATCH = 500
COLLISION_ATTEMPTS = 3


@dataclass
class BatchResult:
    done: int                      # rows of the application order handled so far
    total: int
    created: list[CreatedAccount]
    updated: int
    error_lines: list[int]         # the file's lines of this batch left out, each with its reason
    #: False: the kept file had moved past this batch's start (another tab or administrator
    #: applied it meanwhile); this batch wrote and counted nothing
    counted: bool = True

    @property
    def errors(self) -> int:
        return len(self.error_lines)

    @property
    def finished(self) -> bool:
        return self.done >= self.total


def application_order(rows: Sequence[FileRow]) -> list[FileRow]:
    """The rows naming children last (their children must exist by then: a teacher who is
    a parent too as well as a parent), otherwise the file's order; the plan decides them last
    too (import_plan.plan_rows)."""
    return sorted(rows, key=lambda row: (bool(row.parent_of), row.line))


@dataclass(frozen=True)
class Application:
    """A file as its batches read it: its rows in the application order and what planning
    needs of the whole file, worked out once. (Worked out again for each batch, applying a
    file cost the square of its size: 250 batches of a 50,000-row file, each reading it all.)"""

    file: AccountFile
    order: list[FileRow]
    facts: FileFacts


def prepared(file: AccountFile | Application) -> Application:
    if isinstance(file, Application):
        return file
    return Application(file, application_order(file.rows), file_facts(file))


def plan_import(school: School, data: bytes | AccountFile, *,
                create_classes: bool = False, importer: Account | None = None) -> ImportPlan:
    """What applying the file would do, row by row; writes nothing. FileRefused when the file
    cannot be read at all. `importer`: the administrator whose reach bounds it (None: the
    operator's command line, the whole region; import_plan.py)."""
    file = data if isinstance(data, AccountFile) else read_account_file(data)
    plans = plan_rows(school, file, file.rows, create_classes, importer)
    return ImportPlan(school=school, file=file, rows=plans)


def apply_batch(school: School, file: AccountFile | Application, start: int, *,
                create_classes: bool = False,
                size: int = BATCH,
                before_commit: Callable[[list[CreatedAccount]], None] | None = None,
                importer: Account | None = None, upload_id: int | None = None) -> BatchResult:
    """Apply rows [start, start + size) of the application order, in one transaction that
    this function commits. Passwords are hashed between the read and the write, with no
    transaction open. `before_commit` runs inside the transaction (to queue the mail that
    sends the new passwords).

    `upload_id`: the kept file (AccountImport) this batch is part of. Its progress and counts
    are recorded first thing in the write transaction, by one conditional UPDATE relative to
    what is there (`_record`). If the file no longer stands at `start` (the same batch
    applied from two tabs at once, or by two administrators), the batch writes and counts
    nothing (`counted` False): the one that recorded first is the one that wrote. On
    PostgreSQL the second waits for the first's commit on that row, then finds it moved on.

    Between the plan and the write, someone else (another import, an administrator creating
    an account by hand) may take a login or an external id the plan gave: the write then
    breaks a unique constraint, nothing of the batch is kept, and the batch is planned and
    written again against the database as it is then, up to COLLISION_ATTEMPTS times. The
    same when PostgreSQL aborts the batch to break a deadlock (with the worker suspending
    ended accounts, say, whose rows the batch also writes), and when a class or group the
    plan found was deleted meanwhile (planned again, the row names an unknown class).

    `file`: an `Application` (`prepared`) when the caller applies it batch after batch."""
    application = prepared(file)
    attempt = 1
    while True:
        try:
            return _apply_batch_once(school, application, start, create_classes=create_classes,
                                     size=size, before_commit=before_commit,
                                     importer=importer, upload_id=upload_id)
        except (IntegrityError, OperationalError, GroupGone) as error:
            if isinstance(error, OperationalError) and not is_deadlock(error):
                raise
            db.session.rollback()
            if attempt == COLLISION_ATTEMPTS:
                raise
            attempt += 1


def _apply_batch_once(school: School, application: Application, start: int, *,
                      create_classes: bool, size: int, before_commit,
                      importer: Account | None, upload_id: int | None) -> BatchResult:
    order = application.order
    rows = order[start:start + size]
    planned = plan_rows(school, application.file, rows, create_classes, importer,
                        facts=application.facts)
    plans = [plan for plan in planned if plan.fate in (Fate.CREATE, Fate.UPDATE)]
    db.session.commit()                                    # end the read transaction
    creates = [plan for plan in plans if plan.fate == Fate.CREATE]
    passwords = passwords_for(creates)
    password_hashes = hashes_of(creates, passwords)
    result = BatchResult(done=min(start + size, len(order)), total=len(order), created=[],
                         updated=sum(plan.fate == Fate.UPDATE for plan in plans),
                         error_lines=[plan.row.line for plan in planned
                                      if plan.fate == Fate.ERROR])
    write_lock()        # on SQLite, the writer from the first write: a collision is refused
    if upload_id is not None and not _record(upload_id, start, result, len(creates),
                                             awaiting_sheet=passwords.count(None)):
        db.session.rollback()
        return BatchResult(done=start, total=len(order), created=[], updated=0,
                           error_lines=[], counted=False)
    result.created = write(school, plans, passwords, password_hashes, importer=importer)
    if before_commit is not None:
        before_commit(result.created)
    db.session.commit()
    return result


def _record(upload_id: int, start: int, result: BatchResult, created: int, *,
            awaiting_sheet: int) -> bool:
    """Count the batch in the kept file if it still stands at `start`; whether it did. The
    applied file is erased with its last batch: it may hold passwords."""
    values = {"rows_done": result.done,
              "created_count": AccountImport.created_count + created,
              "updated_count": AccountImport.updated_count + result.updated,
              "awaiting_sheet_count": AccountImport.awaiting_sheet_count + awaiting_sheet}
    if result.error_lines:
        values["error_lines"] = AccountImport.error_lines + "".join(
            f"{line} " for line in result.error_lines)
    if result.finished:
        values.update(finished_at=utcnow(), content=b"")
    recorded = db.session.execute(
        update(AccountImport)
        .where(AccountImport.id == upload_id, AccountImport.rows_done == start)
        .values(values).execution_options(synchronize_session=False))
    return recorded.rowcount == 1


def apply_import(school: School, file: AccountFile, *, create_classes: bool = False,
                 size: int = BATCH, before_commit=None,
                 progress: Callable[[BatchResult], None] | None = None,
                 importer: Account | None = None) -> tuple[int, int]:
    """Apply the whole file batch after batch; (created, updated)."""
    application = prepared(file)
    created = updated = start = 0
    while True:
        result = apply_batch(school, application, start, create_classes=create_classes, size=size,
                             before_commit=before_commit, importer=importer)
        created, updated = created + len(result.created), updated + result.updated
        if progress is not None:
            progress(result)
        if result.finished:
            return created, updated
        start = result.done


