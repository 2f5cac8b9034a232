"""What the pages of a background fan-out share — a population mailing (portal/rubriques) and
an agenda's notices (portal/agenda): the state the progress bar polls, the report's context
(the people not reached, paged) and its CSV. The caller has checked the viewer may see it."""
from __future__ import annotations

from flask import abort, jsonify
from flask_babel import gettext

from directory.clock import local_time
from directory.db import db
from directory.models import Account
from mailgate import fanout
from mailgate.fanout_models import FanoutJob, RecipientState

from .directory_pages import PageOutOfRange, paginate
from .rubriques import labels
from .spreadsheet import csv_stream, in_chunks

REPORT_PAGE = 50
POLL_SECONDS = 1

CSV_CHUNK = 2_000     # recipients read per statement while a report's file is written


def state(job: FanoutJob):
    """What the progress bar polls (POLL_SECONDS): the pending recipients counted alone
    (`fanout.advance`), not every recipient's row; the figures of the report's."""
    progress = fanout.advance(job)
    return jsonify(total=progress.total, routed=progress.routed, percent=progress.percent,
                   finished=progress.finished)


def report(job: FanoutJob, page_number: int) -> dict:
    """The template's variables of _fanout_report.html (404 for a page past the end)."""
    progress = fanout.progress(job)
    page = None
    if progress.finished:
        try:
            page = paginate(fanout.recipients_query(job, state=RecipientState.REFUSED),
                            page_number, REPORT_PAGE, id_column=Account.id)
        except PageOutOfRange:
            abort(404)
    return {"job": job, "progress": progress, "page": page, "author": author_of(job),
            "reason": labels.refusal, "poll": POLL_SECONDS}


def author_of(job: FanoutJob) -> Account | None:
    return db.session.get(Account, job.author_id) if job.author_id else None


def report_csv(job: FanoutJob, filename: str):
    """Every recipient, however many (a region's population): written while read, a chunk
    at a time (`spreadsheet.in_chunks`)."""
    author = author_of(job)
    query = fanout.recipients_query(job).add_columns(Account.search_name)
    chunks = in_chunks(query, (Account.search_name, Account.id), CSV_CHUNK)
    return csv_stream([gettext("Nom"), gettext("Prénom"), gettext("Profil"),
                       gettext("Résultat"), gettext("Raison"), gettext("Lecture confirmée le")],
                      ([[row.last_name, row.first_name, gettext(row.profile.label),
                         labels.fate(row.state),
                         labels.refusal(row.refusal, author, row.first_name, row.last_name,
                                        row.profile)
                         if row.state == RecipientState.REFUSED else "",
                         local_time(row.acknowledged_at).strftime("%d/%m/%Y %H:%M")
                         if row.acknowledged_at else ""] for row in chunk]
                       for chunk in chunks), filename)
