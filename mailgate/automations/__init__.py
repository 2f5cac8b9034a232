"""Messages to many written once and sent later, or again and again (SPEC §9): "Écrire à
plusieurs" and the automated communications of a school or a group. A communication is a
text with merge fields, an audience (directory/audience.py), a schedule (schedule.py) and
maybe a trigger; the scheduler (scheduler.py, run by the worker) turns each due occurrence
into one background fan-out (mailgate/fanout.py), whose rows are the history."""
