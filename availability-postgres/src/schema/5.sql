-- Version 5: webhooks. The endpoints; the outbox, a row per event and endpoint that still
-- waits for it, written in the transaction of the change it reports; and each endpoint's last
-- attempts. The outbox and the attempts name their endpoint without referencing it: a change
-- that read an endpoint as another transaction removed it must not fail for it (nor lock the
-- endpoint's row, which every change would then write); the rows such a change leaves are
-- never delivered (the sender reads the endpoints beside them) and are removed later.
CREATE TABLE webhooks (
    id text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    url text NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
    events text[] NOT NULL CHECK (cardinality(events) BETWEEN 1 AND 6),
    calendars text[] NOT NULL CHECK (cardinality(calendars) <= 100),
    owner_calendar text,
    owner_incarnation bigint,
    secret bytea NOT NULL CHECK (length(secret) BETWEEN 1 AND 255),
    created_ms bigint NOT NULL,
    failing_since_ms bigint,
    disabled_at_ms bigint,
    disabled_reason text CHECK (length(disabled_reason) <= 255),
    CHECK ((owner_calendar IS NULL) = (owner_incarnation IS NULL)),
    CHECK ((disabled_at_ms IS NULL) = (disabled_reason IS NULL))
);

-- The check value of the key the endpoints' secrets are sealed with (an HMAC under it, not
-- the key): every instance needs the same key file, and one with another is refused.
CREATE TABLE webhook_key (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    key_check bytea NOT NULL CHECK (length(key_check) = 16)
);

-- An event (a change of calendar `calendar`, the version `version` of its incarnation gave it)
-- waiting for endpoint `hook`: how many attempts it had, when the last started, when the next
-- is due, and until when a server that took it to deliver holds it. Per endpoint and
-- calendar only the oldest (lowest `seq`) is delivered: a calendar's changes commit one after
-- another under its row's lock, so their order is `seq`'s.
CREATE TABLE webhook_outbox (
    seq bigserial PRIMARY KEY,
    hook text NOT NULL,
    calendar text NOT NULL,
    incarnation bigint NOT NULL,
    version bigint NOT NULL,
    kind text NOT NULL,
    at_ms bigint NOT NULL,
    booking bigint,
    start_s bigint,
    end_s bigint,
    label text,
    booking_type text,
    group_id text,
    group_booking bigint,
    previous_start_s bigint,
    previous_end_s bigint,
    day bigint,
    attempts integer NOT NULL DEFAULT 0,
    last_ms bigint NOT NULL DEFAULT 0,
    due_ms bigint NOT NULL DEFAULT 0,
    held_until_ms bigint NOT NULL DEFAULT 0,
    UNIQUE (hook, incarnation, version)
);
CREATE INDEX webhook_outbox_queues ON webhook_outbox (hook, calendar, seq);

-- Each endpoint's last attempts (the newest 100 are kept).
CREATE TABLE webhook_attempts (
    seq bigserial PRIMARY KEY,
    hook text NOT NULL,
    incarnation bigint NOT NULL,
    version bigint NOT NULL,
    kind text NOT NULL,
    number integer NOT NULL,
    at_ms bigint NOT NULL,
    status integer NOT NULL,
    duration_ms bigint NOT NULL,
    error text,
    outcome text NOT NULL CHECK (outcome IN ('delivered', 'retry', 'gave-up'))
);
CREATE INDEX webhook_attempts_by_hook ON webhook_attempts (hook, seq);
