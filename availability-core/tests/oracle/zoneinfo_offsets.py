"""Offsets from Python's zoneinfo, reading only the PyPI tzdata package (never the system's).

Prints the tzdata release and the package's zoneinfo directory, then answers each input line
"<zone> <unix seconds>..." with "<zone> <offset seconds>..." (or "<zone> missing").
"""
import datetime
import os
import sys
import zoneinfo

import tzdata

zoneinfo.reset_tzpath(to=[])
print(tzdata.IANA_VERSION)
print(os.path.join(os.path.dirname(tzdata.__file__), "zoneinfo"), flush=True)
for line in sys.stdin:
    name, *instants = line.split()
    try:
        zone = zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        print(name, "missing", flush=True)
        continue
    offsets = (
        int(datetime.datetime.fromtimestamp(int(t), zone).utcoffset().total_seconds())
        for t in instants
    )
    print(name, " ".join(map(str, offsets)), flush=True)
