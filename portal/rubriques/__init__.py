"""Rubriques: school and class blogs (SPEC §6). Who reads and who manages a rubric is decided
in directory/rubrics.py; articles, their files, comments and private feeds live here; the
population mailing is a background fan-out of mailgate/fanout.py."""
