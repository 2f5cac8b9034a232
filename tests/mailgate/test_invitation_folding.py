"""The invitation a fan-out's forwarded copies carry is made out to each recipient by the
worker (mailgate/personalise.py): placeholders that iCalendar's folding may have cut are
found whole, and the filled-in lines are folded again within 75 octets, never inside a
character."""
from __future__ import annotations

import icalendar

from mailgate.personalise import apply, fold, unfold


def test_a_long_accented_attendee_is_filled_in_and_folded_within_75_octets():
    template = icalendar.Calendar.from_ical(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nUID:x@preau\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n")
    event = template.walk("VEVENT")[0]
    guest = icalendar.vCalAddress("mailto:[[preau:destinataire]]")
    guest.params["cn"] = icalendar.vText("[[preau:nom]]")
    guest.params["role"] = icalendar.vText("REQ-PARTICIPANT")
    guest.params["partstat"] = icalendar.vText("NEEDS-ACTION")
    event.add("attendee", guest)
    folded = template.to_ical().decode()
    name = "Éléonore-Françoise de La Tour d'Auvergne-Lauraguais " * 2
    data = fold(apply(unfold(folded), {"destinataire": "eleonore.tres.longue@exemple.fr",
                                       "nom": name.strip()}))
    assert all(len(line.encode()) <= 75 for line in data.split("\r\n"))
    attendee = icalendar.Calendar.from_ical(data).walk("VEVENT")[0]["ATTENDEE"]
    assert str(attendee) == "mailto:eleonore.tres.longue@exemple.fr"
    assert str(attendee.params["CN"]) == name.strip()
