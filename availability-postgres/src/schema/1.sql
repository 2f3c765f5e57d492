-- Version 1: everything the embedded store file holds, and the change log that tells the
-- other instances what changed.
CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE SEQUENCE availability_incarnations;

CREATE TABLE calendars (
    id text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    incarnation bigint NOT NULL UNIQUE,
    version bigint NOT NULL CHECK (version >= 1),
    zone text NOT NULL CHECK (length(zone) BETWEEN 1 AND 64),
    week bytea NOT NULL CHECK (length(week) = 84),
    booking_public boolean NOT NULL,
    changed_at_ms bigint NOT NULL,
    next_booking bigint NOT NULL CHECK (next_booking >= 1)
);

CREATE TABLE calendar_keys (
    calendar text NOT NULL REFERENCES calendars (id) ON DELETE CASCADE,
    position integer NOT NULL,
    key_id text NOT NULL,
    hash text NOT NULL,
    scope text NOT NULL CHECK (scope IN ('write', 'book')),
    label text,
    created_ms bigint NOT NULL,
    PRIMARY KEY (calendar, key_id)
);

CREATE TABLE admin_keys (
    key_id text PRIMARY KEY,
    position integer NOT NULL,
    hash text NOT NULL,
    label text,
    created_ms bigint NOT NULL
);

CREATE TABLE overrides (
    calendar text NOT NULL REFERENCES calendars (id) ON DELETE CASCADE,
    day date NOT NULL,
    open bigint NOT NULL,
    firm bigint NOT NULL,
    PRIMARY KEY (calendar, day)
);

-- Live bookings only: a cancelled booking's row is deleted. A claim holds whole owner half
-- hours and is decided by the server's own code under the calendar's row lock; the exclusion
-- constraint is the last line, on the exact spans.
CREATE TABLE bookings (
    calendar text NOT NULL REFERENCES calendars (id) ON DELETE CASCADE,
    id bigint NOT NULL,
    span tstzrange NOT NULL CHECK (NOT isempty(span)),
    label text,
    key_id text,
    created_ms bigint NOT NULL,
    PRIMARY KEY (calendar, id),
    EXCLUDE USING gist (calendar WITH =, span WITH &&)
);

CREATE TABLE calendar_groups (
    id text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    members text[] NOT NULL CHECK (cardinality(members) BETWEEN 1 AND 1000)
);

-- Answers kept for idempotency keys. A booking's answer names the booking as it was made.
CREATE TABLE remembered (
    principal text NOT NULL,
    key text NOT NULL,
    fingerprint bytea NOT NULL CHECK (length(fingerprint) = 32),
    expires_ms bigint NOT NULL,
    status smallint,
    body bytea,
    state_incarnation bigint,
    state_version bigint,
    calendar text,
    zone text,
    incarnation bigint,
    version bigint,
    booking bigint,
    span tstzrange,
    label text,
    key_id text,
    created_ms bigint,
    PRIMARY KEY (principal, key)
);

-- One row per committed write, in the write's own transaction. `xid` lets a reader that has
-- seen every change of transactions older than a snapshot's xmin find the ones that commit
-- late: a change is never skipped, whatever order transactions commit in.
CREATE TABLE changes (
    seq bigserial PRIMARY KEY,
    xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
    kind text NOT NULL CHECK (kind IN ('calendar', 'deleted', 'admin_keys', 'group', 'remembered')),
    id text NOT NULL,
    key text,
    incarnation bigint,
    version bigint,
    at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX changes_by_xid ON changes (xid);
