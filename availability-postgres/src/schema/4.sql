-- Version 4: the pattern history. Each version of a calendar's weekly pattern: the
-- calendar's version once the pattern was this week, when, the key that wrote it (none for
-- the version a history begins with), the week (84 bytes, as `calendars.week`) and the slots
-- it changed (six little-endian 64-bit words, bit t of word t / 64 for slot t). Kept for the
-- retention period, and the newest whatever its age; gone with the calendar.
CREATE TABLE pattern_history (
    calendar text NOT NULL REFERENCES calendars (id) ON DELETE CASCADE,
    version bigint NOT NULL CHECK (version >= 1),
    at_ms bigint NOT NULL,
    key_id text,
    week bytea NOT NULL CHECK (length(week) = 84),
    changed bytea NOT NULL CHECK (length(changed) = 48),
    PRIMARY KEY (calendar, version)
);
