-- Version 3: group booking types, kept with their group (and gone with it), and the group
-- booking each booking (and each remembered booking answer) is a part of. A part is an
-- ordinary booking of its member calendar: it names its group and group booking, it does not
-- reference them, so a group removed leaves its members' bookings as they were.
CREATE TABLE group_types (
    group_id text NOT NULL REFERENCES calendar_groups (id) ON DELETE CASCADE,
    name text NOT NULL CHECK (name ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    duration integer NOT NULL CHECK (duration BETWEEN 5 AND 1440),
    "interval" integer NOT NULL CHECK ("interval" BETWEEN 5 AND 1440),
    buffer_before integer NOT NULL CHECK (buffer_before BETWEEN 0 AND 720),
    buffer_after integer NOT NULL CHECK (buffer_after BETWEEN 0 AND 720),
    notice integer NOT NULL CHECK (notice BETWEEN 0 AND 1051200),
    horizon integer NOT NULL CHECK (horizon BETWEEN 1 AND 730),
    per_day integer CHECK (per_day BETWEEN 1 AND 1000),
    label text,
    zone text NOT NULL CHECK (length(zone) BETWEEN 1 AND 64),
    PRIMARY KEY (group_id, name)
);

ALTER TABLE bookings
    ADD COLUMN group_id text CHECK (group_id ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    ADD COLUMN group_booking bigint CHECK (group_booking >= 1),
    ADD CONSTRAINT bookings_group_whole CHECK ((group_id IS NULL) = (group_booking IS NULL));

ALTER TABLE remembered
    ADD COLUMN group_id text CHECK (group_id ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    ADD COLUMN group_booking bigint CHECK (group_booking >= 1),
    ADD CONSTRAINT remembered_group_whole CHECK ((group_id IS NULL) = (group_booking IS NULL));

-- Group booking ids: unique in the database, never reused (a cancelled one's included).
CREATE SEQUENCE availability_group_bookings;
