"""Agendas, events, confirmations and iCalendar."""
