-- Version 2: booking types, kept with their calendar as its keys are, and the type each
-- booking (and each remembered booking answer) was made by. A type's removal leaves the
-- bookings made by it: `booking_type` names a type, it does not reference one.
CREATE TABLE booking_types (
    calendar text NOT NULL REFERENCES calendars (id) ON DELETE CASCADE,
    name text NOT NULL CHECK (name ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    duration integer NOT NULL CHECK (duration BETWEEN 5 AND 1440),
    "interval" integer NOT NULL CHECK ("interval" BETWEEN 5 AND 1440),
    buffer_before integer NOT NULL CHECK (buffer_before BETWEEN 0 AND 720),
    buffer_after integer NOT NULL CHECK (buffer_after BETWEEN 0 AND 720),
    notice integer NOT NULL CHECK (notice BETWEEN 0 AND 1051200),
    horizon integer NOT NULL CHECK (horizon BETWEEN 1 AND 730),
    per_day integer CHECK (per_day BETWEEN 1 AND 1000),
    label text,
    PRIMARY KEY (calendar, name)
);

ALTER TABLE bookings
    ADD COLUMN booking_type text CHECK (booking_type ~ '^[a-z0-9][a-z0-9-]{0,62}$');

ALTER TABLE remembered
    ADD COLUMN booking_type text CHECK (booking_type ~ '^[a-z0-9][a-z0-9-]{0,62}$');
