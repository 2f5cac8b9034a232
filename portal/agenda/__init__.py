"""The agenda pages (SPEC §7): month, week and list views, "Mon agenda", the event form and
page, answers, resources, iCalendar export, import and subscription feeds."""
