//! The JSON shapes of the HTTP API (`docs/api.md`), with `serde`.
//!
//! - [`Status`] is `"available"`, `"maybe"` or `"unavailable"` (any case when reading).
//! - [`Day`] is `"monday"`; reading also takes any case, three-letter names and `0`..`6`.
//! - [`Time`] is `"09:00"`.
//! - [`Entry`] is `{ "day", "time", "status" }` or `{ "day", "from", "to", "status" }`.
//! - [`Batch`] is `{ "updates": [ entry, ... ] }`, at most [`Batch::MAX_ENTRIES`] entries.
//!
//! Errors name the offending entry (`updates[3]: ...`) and stop reading at the first entry past
//! the limit, so an oversized batch is refused without being collected.
//!
//! ```
//! use availability_core::{Batch, Day, Entry, Status};
//!
//! let batch: Batch = serde_json::from_str(r#"{ "updates": [
//!     { "day": "monday", "from": "09:00", "to": "17:00", "status": "available" },
//!     { "day": 0, "time": "12:00", "status": "maybe" }
//! ] }"#).expect("a valid batch");
//! assert_eq!(batch.entries()[1], Entry::slot(Day::Monday, "12:00".parse()?, Status::Maybe));
//!
//! let err = serde_json::from_str::<Batch>(
//!     r#"{ "updates": [ { "day": "mon", "time": "09:15", "status": "maybe" } ] }"#,
//! ).unwrap_err();
//! assert!(err.to_string().starts_with("updates[0]: invalid time \"09:15\""));
//! # Ok::<(), availability_core::Error>(())
//! ```

use alloc::format;
use alloc::vec::Vec;
use core::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeStruct, Serializer};

use crate::batch::{Batch, Entry};
use crate::grid::{Day, Status, Time};

impl Serialize for Status {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Status {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Status, D::Error> {
        deserializer.deserialize_str(FromStrVisitor::<Status>::new(
            "\"available\", \"maybe\" or \"unavailable\"",
        ))
    }
}

impl Serialize for Time {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Time {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Time, D::Error> {
        deserializer.deserialize_str(FromStrVisitor::<Time>::new(
            "a time \"HH:MM\" with minutes 00 or 30",
        ))
    }
}

impl Serialize for Day {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Day {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Day, D::Error> {
        struct DayVisitor;

        impl Visitor<'_> for DayVisitor {
            type Value = Day;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a day name (\"monday\") or a number from 0 (Monday) to 6 (Sunday)")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Day, E> {
                v.parse().map_err(E::custom)
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Day, E> {
                usize::try_from(v)
                    .ok()
                    .and_then(Day::from_index)
                    .ok_or_else(|| E::custom(day_number_error(v)))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Day, E> {
                match u64::try_from(v) {
                    Ok(v) => self.visit_u64(v),
                    Err(_) => Err(E::custom(day_number_error(v))),
                }
            }
        }

        deserializer.deserialize_any(DayVisitor)
    }
}

fn day_number_error(v: impl fmt::Display) -> alloc::string::String {
    format!("invalid day {v}: day numbers go from 0 (Monday) to 6 (Sunday)")
}

/// Deserializes a string through the type's `FromStr`, keeping its error message.
struct FromStrVisitor<T> {
    expecting: &'static str,
    _marker: core::marker::PhantomData<T>,
}

impl<T> FromStrVisitor<T> {
    const fn new(expecting: &'static str) -> Self {
        FromStrVisitor {
            expecting,
            _marker: core::marker::PhantomData,
        }
    }
}

impl<T> Visitor<'_> for FromStrVisitor<T>
where
    T: core::str::FromStr,
    T::Err: fmt::Display,
{
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        v.parse().map_err(E::custom)
    }
}

impl Serialize for Entry {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match *self {
            Entry::Slot { day, time, status } => {
                let mut s = serializer.serialize_struct("Entry", 3)?;
                s.serialize_field("day", &day)?;
                s.serialize_field("time", &time)?;
                s.serialize_field("status", &status)?;
                s.end()
            }
            Entry::Range {
                day,
                from,
                to,
                status,
            } => {
                let mut s = serializer.serialize_struct("Entry", 4)?;
                s.serialize_field("day", &day)?;
                s.serialize_field("from", &from)?;
                s.serialize_field("to", &to)?;
                s.serialize_field("status", &status)?;
                s.end()
            }
        }
    }
}

const ENTRY_FIELDS: &[&str] = &["day", "time", "from", "to", "status"];

impl<'de> Deserialize<'de> for Entry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Entry, D::Error> {
        struct EntryVisitor;

        impl<'de> Visitor<'de> for EntryVisitor {
            type Value = Entry;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "an object { \"day\", \"time\", \"status\" } or \
                     { \"day\", \"from\", \"to\", \"status\" }",
                )
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entry, A::Error> {
                let mut day: Option<Day> = None;
                let mut time: Option<Time> = None;
                let mut from: Option<Time> = None;
                let mut to: Option<Time> = None;
                let mut status: Option<Status> = None;
                while let Some(key) = map.next_key::<FieldName>()? {
                    match key.0 {
                        Field::Day => set_once(&mut day, "day", map.next_value()?)?,
                        Field::Time => set_once(&mut time, "time", map.next_value()?)?,
                        Field::From => set_once(&mut from, "from", map.next_value()?)?,
                        Field::To => set_once(&mut to, "to", map.next_value()?)?,
                        Field::Status => set_once(&mut status, "status", map.next_value()?)?,
                    }
                }
                let day = day.ok_or_else(|| de::Error::missing_field("day"))?;
                let status = status.ok_or_else(|| de::Error::missing_field("status"))?;
                match (time, from, to) {
                    (Some(time), None, None) => Ok(Entry::Slot { day, time, status }),
                    (None, Some(from), Some(to)) => Ok(Entry::Range {
                        day,
                        from,
                        to,
                        status,
                    }),
                    (Some(_), _, _) => Err(de::Error::custom(
                        "an entry has either \"time\" (one slot) or \"from\" and \"to\" \
                         (a range), not both",
                    )),
                    (None, None, None) => Err(de::Error::custom(
                        "an entry needs \"time\" (one slot) or \"from\" and \"to\" (a range)",
                    )),
                    (None, _, _) => {
                        Err(de::Error::custom("a range needs both \"from\" and \"to\""))
                    }
                }
            }
        }

        deserializer.deserialize_struct("Entry", ENTRY_FIELDS, EntryVisitor)
    }
}

fn set_once<T, E: de::Error>(slot: &mut Option<T>, name: &'static str, value: T) -> Result<(), E> {
    if slot.replace(value).is_some() {
        return Err(E::duplicate_field(name));
    }
    Ok(())
}

enum Field {
    Day,
    Time,
    From,
    To,
    Status,
}

struct FieldName(Field);

impl<'de> Deserialize<'de> for FieldName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<FieldName, D::Error> {
        struct FieldVisitor;

        impl Visitor<'_> for FieldVisitor {
            type Value = FieldName;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<FieldName, E> {
                Ok(FieldName(match v {
                    "day" => Field::Day,
                    "time" => Field::Time,
                    "from" => Field::From,
                    "to" => Field::To,
                    "status" => Field::Status,
                    other => return Err(E::unknown_field(other, ENTRY_FIELDS)),
                }))
            }
        }

        deserializer.deserialize_identifier(FieldVisitor)
    }
}

impl Serialize for Batch {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry("updates", self.entries())?;
        map.end()
    }
}

impl<'de> Deserialize<'de> for Batch {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Batch, D::Error> {
        struct BatchVisitor;

        impl<'de> Visitor<'de> for BatchVisitor {
            type Value = Batch;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object { \"updates\": [ ... ] }")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Batch, A::Error> {
                let mut updates: Option<Batch> = None;
                while let Some(key) = map.next_key::<UpdatesKey>()? {
                    let _ = key;
                    let entries = map.next_value::<Entries>()?;
                    set_once(&mut updates, "updates", Batch::from(entries.0))?;
                }
                updates.ok_or_else(|| de::Error::missing_field("updates"))
            }
        }

        deserializer.deserialize_struct("Batch", &["updates"], BatchVisitor)
    }
}

struct UpdatesKey;

impl<'de> Deserialize<'de> for UpdatesKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<UpdatesKey, D::Error> {
        struct KeyVisitor;

        impl Visitor<'_> for KeyVisitor {
            type Value = UpdatesKey;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("\"updates\"")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<UpdatesKey, E> {
                match v {
                    "updates" => Ok(UpdatesKey),
                    other => Err(E::unknown_field(other, &["updates"])),
                }
            }
        }

        deserializer.deserialize_identifier(KeyVisitor)
    }
}

/// The `updates` array: at most [`Batch::MAX_ENTRIES`] entries, errors prefixed with the index.
struct Entries(Vec<Entry>);

impl<'de> Deserialize<'de> for Entries {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Entries, D::Error> {
        struct EntriesVisitor;

        impl<'de> Visitor<'de> for EntriesVisitor {
            type Value = Entries;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "an array of at most {} entries", Batch::MAX_ENTRIES)
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Entries, A::Error> {
                let capacity = seq.size_hint().unwrap_or(0).min(Batch::MAX_ENTRIES);
                let mut entries = Vec::with_capacity(capacity);
                loop {
                    let index = entries.len();
                    if index == Batch::MAX_ENTRIES {
                        // One more element is an error; `IgnoredAny` reads it without keeping it.
                        return match seq.next_element::<de::IgnoredAny>()? {
                            None => Ok(Entries(entries)),
                            Some(_) => Err(de::Error::custom(format!(
                                "a batch has at most {} entries (one per slot)",
                                Batch::MAX_ENTRIES
                            ))),
                        };
                    }
                    match seq.next_element::<Entry>() {
                        Ok(Some(entry)) => entries.push(entry),
                        Ok(None) => return Ok(Entries(entries)),
                        Err(err) => {
                            return Err(de::Error::custom(format!("updates[{index}]: {err}")))
                        }
                    }
                }
            }
        }

        deserializer.deserialize_seq(EntriesVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::{String, ToString};
    use alloc::vec;

    fn batch(json: &str) -> Result<Batch, String> {
        serde_json::from_str::<Batch>(json).map_err(|e| e.to_string())
    }

    #[test]
    fn entries_round_trip_through_json() {
        let original = Batch::from(vec![
            Entry::slot(Day::Sunday, "23:30".parse().expect("time"), Status::Maybe),
            Entry::range(
                Day::Monday,
                "09:00".parse().expect("time"),
                Time::END_OF_DAY,
                Status::Available,
            ),
        ]);
        let json = serde_json::to_string(&original).expect("serializes");
        assert_eq!(
            json,
            r#"{"updates":[{"day":"sunday","time":"23:30","status":"maybe"},{"day":"monday","from":"09:00","to":"24:00","status":"available"}]}"#
        );
        assert_eq!(batch(&json).expect("parses"), original);
    }

    #[test]
    fn day_accepts_names_and_numbers() {
        for (json, day) in [
            ("\"Monday\"", Day::Monday),
            ("6", Day::Sunday),
            ("\"fri\"", Day::Friday),
        ] {
            assert_eq!(serde_json::from_str::<Day>(json).expect(json), day);
        }
        for json in [
            "7",
            "-1",
            "1.0",
            "true",
            "null",
            "\"someday\"",
            "18446744073709551616",
        ] {
            assert!(serde_json::from_str::<Day>(json).is_err(), "{json}");
        }
    }

    #[test]
    fn malformed_entries_are_named_by_index() {
        let cases = [
            (
                r#"{"updates":[{"day":0,"time":"09:00","status":"available"},{"day":0,"status":"maybe"}]}"#,
                "updates[1]: an entry needs \"time\"",
            ),
            (
                r#"{"updates":[{"day":0,"time":"09:00","from":"09:00","to":"10:00","status":"maybe"}]}"#,
                "updates[0]: an entry has either",
            ),
            (
                r#"{"updates":[{"day":0,"from":"09:00","status":"maybe"}]}"#,
                "updates[0]: a range needs both",
            ),
            (
                r#"{"updates":[{"day":0,"time":"09:00","status":"busy"}]}"#,
                "updates[0]: invalid status \"busy\"",
            ),
            (
                r#"{"updates":[{"day":0,"time":"09:00","status":"maybe","note":"x"}]}"#,
                "updates[0]: unknown field `note`",
            ),
            (
                r#"{"updates":[{"day":0,"day":1,"time":"09:00","status":"maybe"}]}"#,
                "updates[0]: duplicate field `day`",
            ),
            (
                r#"{"updates":[{"time":"09:00","status":"maybe"}]}"#,
                "missing field `day`",
            ),
            (r#"{"edits":[]}"#, "unknown field `edits`"),
            (r#"{}"#, "missing field `updates`"),
            (r#"[]"#, "invalid type"),
            (r#"{"updates":{}}"#, "invalid type"),
        ];
        for (json, expected) in cases {
            let err = batch(json).expect_err(json);
            assert!(
                err.contains(expected),
                "{json}\n  gave: {err}\n  expected: {expected}"
            );
        }
    }

    #[test]
    fn oversized_batches_stop_at_the_limit() {
        let entry = r#"{"day":0,"time":"09:00","status":"maybe"}"#;
        let list = |n: usize| vec![entry; n].join(",");
        let full = format!(r#"{{"updates":[{}]}}"#, list(Batch::MAX_ENTRIES));
        assert_eq!(
            batch(&full).expect("at the limit").len(),
            Batch::MAX_ENTRIES
        );
        let over = format!(r#"{{"updates":[{}]}}"#, list(Batch::MAX_ENTRIES + 1));
        assert!(batch(&over)
            .expect_err("over")
            .contains("at most 336 entries"));
    }

    #[test]
    fn semantic_errors_are_left_to_validation() {
        // A backwards range parses; applying the batch names it.
        let parsed =
            batch(r#"{"updates":[{"day":0,"from":"17:00","to":"09:00","status":"maybe"}]}"#)
                .expect("parses");
        let err = parsed.validate().expect_err("backwards");
        assert_eq!(err.entry_index(), Some(0));
    }
}
