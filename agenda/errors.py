"""What can go wrong in the agenda, as reason codes with parameters: the portal (web pages,
`preau import-ics`) and the gateway's reply turn them into words, in the reader's language."""
from __future__ import annotations

import enum

from directory.errors import PreauError


class Problem(enum.StrEnum):
    TITLE_MISSING = "title_missing"
    TITLE_TOO_LONG = "title_too_long"                # max
    TEXT_TOO_LONG = "text_too_long"                  # field, max
    ENDS_BEFORE_START = "ends_before_start"
    TOO_LONG = "too_long"                            # days
    NO_SUCH_TIME = "no_such_time"                    # when (a DST gap)
    TWICE_SUCH_TIME = "twice_such_time"              # when (a DST fold)
    BAD_RECURRENCE = "bad_recurrence"
    RECURRENCE_TOO_LONG = "recurrence_too_long"      # max
    NOT_AN_OCCURRENCE = "not_an_occurrence"
    UNKNOWN_RESOURCE = "unknown_resource"
    RESOURCE_ARCHIVED = "resource_archived"          # resource: kept, not at new dates
    RESOURCE_TAKEN = "resource_taken"                # resource, title, starts, ends
    # the same, by an event the writer may not read: its title is not told
    RESOURCE_TAKEN_ELSEWHERE = "resource_taken_elsewhere"   # resource, starts, ends
    RESOURCE_NAME_TAKEN = "resource_name_taken"      # name
    RESOURCE_NAME_MISSING = "resource_name_missing"
    NOT_ASKED = "not_asked"                          # the event asks no confirmation
    EVENT_CANCELLED = "event_cancelled"              # it takes no answer any more
    CANCELLED_MEANWHILE = "cancelled_meanwhile"      # cancelled (a draft deleted) during an edit
    COMMENT_CANCELLED = "comment_cancelled"          # a cancelled event takes no comment
    NOT_INVITED = "not_invited"
    FOLLOW_UP_OFF = "follow_up_off"
    COMMENT_EMPTY = "comment_empty"
    COMMENTS_WAITING = "comments_waiting"            # max: the author's awaiting moderation
    COMMENTS_DAILY = "comments_daily"                # max: the author's in 24 hours
    # iCalendar files
    ICS_UNREADABLE = "ics_unreadable"                # line, reason
    ICS_NOT_A_CALENDAR = "ics_not_a_calendar"
    ICS_NO_EVENT = "ics_no_event"
    ICS_TOO_LARGE = "ics_too_large"                  # max_mb
    ICS_BAD_EVENT = "ics_bad_event"                  # uid, reason
    ICS_TOO_MANY_EVENTS = "ics_too_many_events"      # max
    ICS_TOO_NESTED = "ics_too_nested"                # components nested too deep to read
    # iTIP answers by mail
    REPLY_UNREADABLE = "reply_unreadable"
    REPLY_NOT_FOR_EVENT = "reply_not_for_event"
    REPLY_WRONG_ATTENDEE = "reply_wrong_attendee"
    REPLY_SHARED_ADDRESS = "reply_shared_address"    # several invited share the sender's address
    REPLY_ONE_OCCURRENCE = "reply_one_occurrence"    # RECURRENCE-ID: one date of a series
    REPLY_PARTSTAT = "reply_partstat"                # partstat
    REPLY_COUNTER = "reply_counter"                  # another time proposed (METHOD:COUNTER)
    REPLY_REFRESH = "reply_refresh"                  # the invitation asked again (REFRESH)
    REPLY_OUTDATED = "reply_outdated"                # written, answered: a later answer is kept


class AgendaError(PreauError):
    """A refusal the user can act on: `problem` and its parameters, never words."""

    def __init__(self, problem: Problem, **params):
        super().__init__(problem.value)
        self.problem = problem
        self.params = params
