"""A plain model of booking-type slots, from Python's zoneinfo reading only the PyPI tzdata
package (never the system's), for tests/slots_oracle.rs.

It shares no idea with the crate's code: starts are found by walking each owner date's wall
times and converting them with zoneinfo (a wall time that does not come back from its instant
is in a gap; the two folds of a repeated one give two instants), and a span is judged by
walking every minute of it and looking up the owner's wall date and half hour of that minute.

Prints the tzdata release, then answers each input line (one JSON case) with one JSON line:
{"starts": [bookable starts in [from, to)], "refusals": [rule of each probe]}, a rule being
null (bookable) or [name, booking id or null].

A case: {"zone", "pattern": 336 characters ("#" available, "?" maybe, "." unavailable, Monday
00:00 first), "overrides": {"YYYY-MM-DD": 48 characters}, "bookings": [{"id", "start", "end",
"type"}], "rules": {"duration", "interval", "buffer_before", "buffer_after", "notice",
"horizon", "per_day"}, "name", "now", "from", "to", "probes": [instants]}; instants are Unix
seconds, durations minutes.
"""
import datetime
import json
import sys
import zoneinfo

import tzdata

zoneinfo.reset_tzpath(to=[])

MINUTE = 60
DAY = 86400
MAX_AHEAD = 730 * DAY


class Case:
    def __init__(self, case):
        self.zone = zoneinfo.ZoneInfo(case["zone"])
        self.pattern = case["pattern"]
        self.overrides = {
            datetime.date.fromisoformat(d): day for d, day in case["overrides"].items()
        }
        self.bookings = case["bookings"]
        self.rules = case["rules"]
        self.name = case["name"]
        self.now = case["now"]
        self.keys = {}
        self.starts_of_date = {}
        # Each owner slot a booking holds: (date, half hour) -> booking id.
        self.held = {}
        for b in self.bookings:
            for key in self.slots_of(b["start"], b["end"]):
                self.held[key] = b["id"]

    def local(self, t):
        """The owner's wall clock at instant t, without zone."""
        return datetime.datetime.fromtimestamp(t, self.zone).replace(tzinfo=None)

    def key(self, t):
        """The owner slot instant t falls in: (owner date, half hour of the day)."""
        k = self.keys.get(t)
        if k is None:
            wall = self.local(t)
            k = (wall.date(), (wall.hour * 60 + wall.minute) // 30)
            self.keys[t] = k
        return k

    def slots_of(self, start, end):
        """Every owner slot some instant of [start, end) falls in, walking minutes (instants
        within one minute share the minute's slot: offsets are whole minutes)."""
        out = []
        t = start - start % MINUTE
        while t < end:
            k = self.key(t)
            if k not in out:
                out.append(k)
            t += MINUTE
        return out

    def status(self, key):
        date, half_hour = key
        day = self.overrides.get(date)
        if day is not None:
            return day[half_hour]
        return self.pattern[date.weekday() * 48 + half_hour]

    def starts(self, date):
        """The type's starts on owner date `date`: wall times 0, interval, ... before
        midnight, each at every instant that shows it."""
        found = self.starts_of_date.get(date)
        if found is not None:
            return found
        found = set()
        minute = 0
        while minute < 1440:
            naive = datetime.datetime.combine(date, datetime.time()) + datetime.timedelta(
                minutes=minute
            )
            for fold in (0, 1):
                t = int(naive.replace(tzinfo=self.zone, fold=fold).timestamp())
                if self.local(t) == naive:
                    found.add(t)
            minute += self.rules["interval"]
        self.starts_of_date[date] = found
        return found

    def refusal(self, start):
        rules = self.rules
        if start not in self.starts(self.local(start).date()):
            return ["off_grid", None]
        end = start + rules["duration"] * MINUTE
        if start < self.now + rules["notice"] * MINUTE:
            return ["notice", None]
        if start >= self.now + rules["horizon"] * DAY or end > self.now + MAX_AHEAD:
            return ["horizon", None]
        # The earliest owner slot (in the owner's wall order) that is not free decides.
        refused = [k for k in self.slots_of(start, end) if k in self.held or self.status(k) != "#"]
        if refused:
            first = min(refused)
            if first in self.held:
                return ["taken", self.held[first]]
            return ["unavailable", None]
        before = rules["buffer_before"] * MINUTE
        after = rules["buffer_after"] * MINUTE
        if before > 0 or after > 0:
            near = [
                b
                for b in self.bookings
                if b["start"] < end + after and b["end"] > start - before
            ]
            if near:
                b = min(near, key=lambda b: (b["start"], b["id"]))
                return ["buffer", b["id"]]
        most = rules.get("per_day")
        if most is not None:
            date = self.local(start).date()
            made = sum(
                1
                for b in self.bookings
                if b["type"] == self.name and self.local(b["start"]).date() == date
            )
            if made >= most:
                return ["per_day", None]
        return None

    def bookable(self, since, until):
        out = []
        if since >= until:
            return out
        date = self.local(since).date() - datetime.timedelta(days=1)
        last = self.local(until).date() + datetime.timedelta(days=1)
        while date <= last:
            for t in self.starts(date):
                if since <= t < until and self.refusal(t) is None:
                    out.append(t)
            date += datetime.timedelta(days=1)
        return sorted(set(out))


print(tzdata.IANA_VERSION, flush=True)
for line in sys.stdin:
    if not line.strip():
        continue
    raw = json.loads(line)
    case = Case(raw)
    answer = {
        "starts": case.bookable(raw["from"], raw["to"]),
        "refusals": [case.refusal(t) for t in raw["probes"]],
    }
    print(json.dumps(answer), flush=True)
