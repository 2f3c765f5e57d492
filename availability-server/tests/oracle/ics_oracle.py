"""The independent iCalendar reader of tests/ics.rs: the `icalendar` package parses what the
server wrote, and dateutil expands its rules as RFC 5545 says (an instance lasts the exact
duration of the first one; a wall time in a gap takes the offset before it, one in a fold its
first occurrence), and the offsets the VTIMEZONE defines are compared with zoneinfo's.
Reads one JSON request on stdin, writes one JSON answer on stdout.

{"mode": "pattern", "ics": ..., "zone": "America/New_York", "mondays": ["2026-03-02", ...]}
    -> {"weeks": [{"available": [slot, ...], "maybe": [slot, ...]}, ...],
        "vtimezone": {"checked": n, "wrong": n, "observances": n}}
    slots are owner wall half hours of that owner ISO week (day * 48 + half hour) that some
    real instant of an AVAILABLE (or X-AVAILABILITY-MAYBE) instance falls in.
{"mode": "freebusy", "ics": ..., "zone": "Europe/Paris"}
    -> {"start": unix, "end": unix, "periods": [[unix, unix, FBTYPE], ...],
        "slots": {"2026-11-23 09:00": ["FREE"], ...}}
    slots maps each viewer wall half hour to the FBTYPEs of the instants in it.
{"mode": "exact", "ics": ..., "viewer": zone, "monday": date,
 "owners": [{"zone": zone, "pattern": [API ranges], "bookings": [[unix, unix], ...]}]}
    -> {"checked": quarter hours, "wrong": [[instant, [FBTYPEs said], FBTYPE due], ...]}
    every quarter hour of the viewer's week against the owners' real times (a group: the
    busiest owner at each instant).
{"mode": "roundtrip", "ics": ...} -> {"ics": the document as icalendar writes it again}
"""

import datetime as dt
import json
import sys
from zoneinfo import ZoneInfo

import icalendar
from dateutil.rrule import rrulestr

UTC = dt.timezone.utc
STEP = dt.timedelta(minutes=15)


def unix(t):
    return int(t.astimezone(UTC).timestamp())


def wall_slot(instant, zone, monday):
    """The owner half hour of `monday`'s week that `instant` falls in, or None."""
    local = instant.astimezone(zone)
    day = (local.date() - monday).days
    if not 0 <= day < 7:
        return None
    return day * 48 + local.hour * 2 + local.minute // 30


def expand(component, zone, monday):
    start = component.decoded("DTSTART")
    end = component.decoded("DTEND")
    duration = end.astimezone(UTC) - start.astimezone(UTC)
    rule = rrulestr(component["RRULE"].to_ical().decode(), dtstart=start)
    lo = dt.datetime.combine(monday - dt.timedelta(days=8), dt.time(), tzinfo=zone)
    hi = dt.datetime.combine(monday + dt.timedelta(days=8), dt.time(), tzinfo=zone)
    slots = set()
    for occurrence in rule.between(lo, hi, inc=True):
        t = occurrence.astimezone(UTC)
        stop = t + duration
        while t < stop:
            slot = wall_slot(t, zone, monday)
            if slot is not None:
                slots.add(slot)
            t += STEP
    return slots


def pattern(req):
    cal = icalendar.Calendar.from_ical(req["ics"])
    zone = ZoneInfo(req["zone"])
    availabilities = [c for c in cal.walk() if c.name == "VAVAILABILITY"]
    assert len(availabilities) == 1, "one VAVAILABILITY"
    assert str(availabilities[0]["BUSYTYPE"]) == "BUSY-UNAVAILABLE"
    weeks = []
    for text in req["mondays"]:
        monday = dt.date.fromisoformat(text)
        found = {"AVAILABLE": set(), "X-AVAILABILITY-MAYBE": set()}
        for c in availabilities[0].subcomponents:
            if c.name in found:
                found[c.name] |= expand(c, zone, monday)
        weeks.append(
            {
                "available": sorted(found["AVAILABLE"]),
                "maybe": sorted(found["X-AVAILABILITY-MAYBE"]),
            }
        )
    return {"weeks": weeks, "vtimezone": vtimezone(cal, req["zone"])}


def vtimezone(cal, name):
    """How many half hours of the span the VTIMEZONE covers get another offset from it than
    from zoneinfo, and how many were compared. The observances are read by icalendar and
    applied as RFC 5545 section 3.6.5 defines them: each begins at its DTSTART, a local time
    in its TZOFFSETFROM, and from then on TZOFFSETTO holds. (icalendar's own to_tz() places
    the onset of Lord Howe's half-hour fall-back half an hour early, so it is not used.)"""
    [component] = [c for c in cal.walk() if c.name == "VTIMEZONE"]
    assert str(component["TZID"]) == name
    onsets = []
    for observance in component.subcomponents:
        assert observance.name in ("STANDARD", "DAYLIGHT")
        local = observance.decoded("DTSTART")
        before = observance.decoded("TZOFFSETFROM")
        after = observance.decoded("TZOFFSETTO")
        onsets.append((local.replace(tzinfo=UTC) - before, after))
    onsets.sort()
    zone = ZoneInfo(name)
    t = onsets[0][0]
    end = onsets[-1][0] + dt.timedelta(days=30)
    checked = wrong = 0
    while t < end:
        offset = [after for onset, after in onsets if onset <= t][-1]
        if offset != t.astimezone(zone).utcoffset():
            wrong += 1
        checked += 1
        t += dt.timedelta(minutes=30)
    return {"checked": checked, "wrong": wrong, "observances": len(onsets)}


def freebusy(req):
    cal = icalendar.Calendar.from_ical(req["ics"])
    zone = ZoneInfo(req["zone"])
    blocks = [c for c in cal.walk() if c.name == "VFREEBUSY"]
    assert len(blocks) == 1, "one VFREEBUSY"
    fb = blocks[0]
    assert "DTSTAMP" in fb and "UID" in fb
    props = fb.get("FREEBUSY")
    props = props if isinstance(props, list) else [props]
    periods = []
    slots = {}
    for prop in props:
        kind = prop.params["FBTYPE"]
        start, end = prop.dt
        if isinstance(end, dt.timedelta):
            end = start + end
        assert start.utcoffset() == dt.timedelta(0), "periods are in UTC"
        periods.append([unix(start), unix(end), kind])
        t = start
        while t < end:
            local = t.astimezone(zone)
            key = "%s %02d:%02d" % (local.date().isoformat(), local.hour, local.minute // 30 * 30)
            slots.setdefault(key, set()).add(kind)
            t += STEP
    return {
        "start": unix(fb.decoded("DTSTART")),
        "end": unix(fb.decoded("DTEND")),
        "periods": periods,
        "slots": {k: sorted(v) for k, v in slots.items()},
    }


DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
RANK = {"FREE": 0, "BUSY-TENTATIVE": 1, "BUSY-UNAVAILABLE": 2, "BUSY": 3}
STATUS = {"available": "FREE", "maybe": "BUSY-TENTATIVE", "unavailable": "BUSY-UNAVAILABLE"}


def owner_slots(updates):
    """The FBTYPE of each of the 336 owner half hours of a weekly pattern given as the API's
    ranges ({"day", "from", "to", "status"}); the rest unavailable."""
    slots = ["BUSY-UNAVAILABLE"] * 336
    for u in updates:
        day = DAYS.index(u["day"])
        first = int(u["from"][:2]) * 2 + int(u["from"][3:]) // 30
        end = int(u["to"][:2]) * 2 + int(u["to"][3:]) // 30
        for half_hour in range(first, end):
            slots[day * 48 + half_hour] = STATUS[u["status"]]
    return slots


def owner_type(t, owner):
    """What one owner is at instant t: BUSY in a booking's span; BUSY-UNAVAILABLE in the rest
    of an owner half hour a booking touches; else its pattern's status there."""
    if any(s <= unix(t) < e for s, e in owner["bookings"]):
        return "BUSY"
    zone = ZoneInfo(owner["zone"])
    local = t.astimezone(zone)
    first = local.replace(minute=local.minute // 30 * 30, second=0, microsecond=0)
    lo = unix(first)
    if any(s < lo + 1800 and lo < e for s, e in owner["bookings"]):
        return "BUSY-UNAVAILABLE"
    return owner["slots"][local.weekday() * 48 + local.hour * 2 + local.minute // 30]


def exact(req):
    """Every quarter hour of the viewer's week, as the document says it and as the owners'
    patterns, bookings and zoneinfo say it must be: {"checked": n, "wrong": [first ones]}."""
    cal = icalendar.Calendar.from_ical(req["ics"])
    [fb] = [c for c in cal.walk() if c.name == "VFREEBUSY"]
    props = fb.get("FREEBUSY")
    props = props if isinstance(props, list) else [props]
    periods = []
    for prop in props:
        start, end = prop.dt
        if isinstance(end, dt.timedelta):
            end = start + end
        assert start.utcoffset() == dt.timedelta(0), "periods are in UTC"
        periods.append((unix(start), unix(end), prop.params["FBTYPE"]))
    owners = [dict(o, slots=owner_slots(o["pattern"])) for o in req["owners"]]
    viewer = ZoneInfo(req["viewer"])
    monday = dt.date.fromisoformat(req["monday"])
    t = dt.datetime.combine(monday, dt.time(), tzinfo=viewer).astimezone(UTC)
    end = dt.datetime.combine(monday + dt.timedelta(days=7), dt.time(), tzinfo=viewer)
    end = end.astimezone(UTC)
    checked, wrong = 0, []
    while t < end:
        said = [kind for s, e, kind in periods if s <= unix(t) < e]
        must = max((owner_type(t, o) for o in owners), key=RANK.get)
        if said != [must]:
            wrong.append([t.isoformat(), said, must])
        checked += 1
        t += STEP
    week = [unix(dt.datetime.combine(monday, dt.time(), tzinfo=viewer)), unix(end)]
    said = [periods[0][0], periods[-1][1]] if periods else None
    return {"checked": checked, "wrong": wrong[:20], "week": week, "covered": said}


def roundtrip(req):
    return {"ics": icalendar.Calendar.from_ical(req["ics"]).to_ical().decode()}


def main():
    req = json.load(sys.stdin)
    modes = {"pattern": pattern, "freebusy": freebusy, "exact": exact, "roundtrip": roundtrip}
    answer = modes[req["mode"]](req)
    json.dump(answer, sys.stdout)


if __name__ == "__main__":
    main()
