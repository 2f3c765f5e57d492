//! The bytes of a calendar's record and of keys, which the log's records hold; and the fixed
//! records (the header page, two copies of each record) of format versions 1 and 2, read to
//! migrate them.
//!
//! `docs/format.md` is the specification; this module is its one implementation. Everything
//! here is pure (bytes in, values or errors out), so it can be tested without a file. Every
//! decoder treats its input as hostile: lengths are checked before slicing, reserved bytes must
//! be zero, and text must satisfy the same rules the API enforces on the way in.

use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use super::checked::{
    check_id, check_zone_name, KeyHash, KeyScope, MAX_ID, MAX_KEYS, MAX_KEY_HASH, MAX_KEY_ID,
    MAX_KEY_LABEL, MAX_ZONE,
};
use crate::week::Week;

mod cursor;
pub(crate) mod types;

pub(crate) use self::cursor::Cursor;

/// The size of the header and of every record copy. Copies are page-aligned so that a commit
/// writes and flushes exactly one page.
pub(crate) const PAGE: usize = 4096;

/// The first eight bytes of every store file. Like PNG's signature, the high byte catches
/// 7-bit transfers and the CR LF / SUB / LF tail catches newline conversion.
pub(crate) const MAGIC: [u8; 8] = [0x89, b'A', b'V', b'L', b'\r', b'\n', 0x1a, b'\n'];

/// The format version this build writes and reads: the log (docs/format.md).
pub(crate) const FORMAT_VERSION: u32 = 9;
/// Earlier versions of the log (docs/format.md, section 9), each a subset of this one: 3
/// before a booking's remembered answer held the booking, 4 before booking types, 5 before
/// group types and group bookings, 6 before calendars created in one batch, 7 before
/// webhooks, 8 before the pattern history. Read as they are, and rewritten as
/// [`FORMAT_VERSION`] by a compaction on open.
pub(crate) const OLDER_LOGS: [u32; 6] = [3, 4, 5, 6, 7, 8];
/// The version of fixed records, two page copies each, that this build reads to migrate it
/// (docs/format.md, section 9); its calendar and key payloads are the log's.
pub(crate) const PAGED_VERSION: u32 = 2;
/// The oldest version, which this build reads to migrate it as well.
pub(crate) const MIGRATES_FROM: u32 = 1;

/// The format version of a store file, from its first twelve bytes, if this build reads it
/// ([`FORMAT_VERSION`] and [`OLDER_LOGS`], or [`PAGED_VERSION`] and [`MIGRATES_FROM`] to
/// migrate them); the error says what the bytes are instead. Read before any checksum, so that a file of a
/// newer version is refused by its number.
pub(crate) fn sniff_version(bytes: &[u8]) -> Result<u32, String> {
    if bytes.len() < PAGE {
        return Err(format!(
            "the file is {} bytes, shorter than its {PAGE}-byte header",
            bytes.len()
        ));
    }
    if bytes.get(..8) != Some(&MAGIC[..]) {
        return Err(String::from(
            "the header has the wrong magic bytes: this is not an availability store file",
        ));
    }
    let version = u32_at(bytes, 8).unwrap_or_default();
    if version != FORMAT_VERSION
        && !OLDER_LOGS.contains(&version)
        && ![PAGED_VERSION, MIGRATES_FROM].contains(&version)
    {
        let which = if version > FORMAT_VERSION {
            "newer than"
        } else {
            "not"
        };
        return Err(format!(
            "the header says format version {version}, which is {which} the version this \
             build reads ({FORMAT_VERSION}); use a build that reads version {version}"
        ));
    }
    Ok(version)
}

/// Bytes of a copy before its payload.
pub(crate) const COPY_HEADER: usize = 24;
/// The largest payload a copy can hold.
pub(crate) const MAX_PAYLOAD: usize = PAGE - COPY_HEADER;

/// Pages before the first calendar slot: the header and the meta record's two copies.
pub(crate) const FIRST_SLOT_PAGE: usize = 3;

/// The most calendar slots a file may have (a 512 MiB file). A meta record that claims more
/// is corrupt; a store that needs more refuses to grow.
pub(crate) const MAX_SLOTS: u32 = 1 << 16;

pub(crate) const CALENDAR_FIXED: usize = 112;
const META_FIXED: usize = 5;
const KEY_FIXED: usize = 12;
const KEY_MAX_BYTES: usize = KEY_FIXED + MAX_KEY_ID + MAX_KEY_HASH + MAX_KEY_LABEL;

// The largest calendar and the largest meta record must fit one copy.
const _: () = assert!(CALENDAR_FIXED + MAX_ID + MAX_ZONE + MAX_KEYS * KEY_MAX_BYTES <= MAX_PAYLOAD);
// The largest calendar with the most booking types fits one record of the log.
const _: () = assert!(
    CALENDAR_FIXED
        + MAX_ID
        + MAX_ZONE
        + MAX_KEYS * KEY_MAX_BYTES
        + 1
        + crate::slots::MAX_TYPES * types::TYPE_MAX_BYTES
        <= super::journal_format::MAX_PAYLOAD
);
const _: () = assert!(META_FIXED + MAX_KEYS * KEY_MAX_BYTES <= MAX_PAYLOAD);
const _: () = assert!(MAX_PAYLOAD <= u16::MAX as usize);
const _: () = assert!(CALENDAR_FIXED == 28 + Week::BYTES);

/// The record number of the meta record; calendar slot `k` is record `k + 1`.
pub(crate) const META_RECORD: u32 = 0;

/// What a copy's payload is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PayloadKind {
    /// The meta record: slot count and admin keys.
    Meta = 1,
    /// A calendar slot that holds no calendar.
    Free = 2,
    /// A calendar slot that holds a calendar.
    Calendar = 3,
}

impl PayloadKind {
    fn from_byte(byte: u8) -> Option<PayloadKind> {
        match byte {
            1 => Some(PayloadKind::Meta),
            2 => Some(PayloadKind::Free),
            3 => Some(PayloadKind::Calendar),
            _ => None,
        }
    }
}

/// The byte offset of copy `copy` (0 or 1) of record `record`.
pub(crate) fn copy_offset(record: u32, copy: usize) -> usize {
    (1 + 2 * record as usize + copy) * PAGE
}

/// The file length that a store with `slots` calendar slots needs.
pub(crate) fn file_len(slots: u32) -> usize {
    (FIRST_SLOT_PAGE + 2 * slots as usize) * PAGE
}

/// A human name for a record, for error messages.
pub(crate) fn record_name(record: u32) -> String {
    if record == META_RECORD {
        String::from("record 0 (meta)")
    } else {
        format!("record {record} (calendar slot {})", record - 1)
    }
}

/// The CRC-32 (IEEE) of a page, skipping the four bytes at `crc_at`.
pub(crate) fn page_crc(page: &[u8], crc_at: usize) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(page.get(..crc_at).unwrap_or_default());
    hasher.update(page.get(crc_at + 4..).unwrap_or_default());
    hasher.finalize()
}

pub(crate) fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at + 4)?;
    Some(u32::from_le_bytes(b.try_into().ok()?))
}

pub(crate) fn u64_at(bytes: &[u8], at: usize) -> Option<u64> {
    let b = bytes.get(at..at + 8)?;
    Some(u64::from_le_bytes(b.try_into().ok()?))
}

#[cfg(test)]
fn put(page: &mut [u8], at: usize, bytes: &[u8]) {
    if let Some(dst) = page.get_mut(at..at + bytes.len()) {
        dst.copy_from_slice(bytes);
    }
}

/// Checks the header page of a file of fixed records and returns its format version,
/// [`PAGED_VERSION`] or [`MIGRATES_FROM`]; the error text says what failed (the caller adds
/// the file name).
pub(crate) fn check_header(page: &[u8]) -> Result<u32, String> {
    if page.len() < PAGE {
        return Err(format!(
            "the file is {} bytes, shorter than its {PAGE}-byte header",
            page.len()
        ));
    }
    if page.get(..8) != Some(&MAGIC[..]) {
        return Err(String::from(
            "the header has the wrong magic bytes: this is not an availability store file",
        ));
    }
    let version = u32_at(page, 8).unwrap_or_default();
    if version != PAGED_VERSION && version != MIGRATES_FROM {
        return Err(format!(
            "the header says format version {version}, not one of fixed records"
        ));
    }
    let stored = u32_at(page, 12).unwrap_or_default();
    let actual = page_crc(page.get(..PAGE).unwrap_or_default(), 12);
    if stored != actual {
        return Err(format!(
            "the header's CRC-32 does not match (stored {stored:#010x}, computed {actual:#010x})"
        ));
    }
    let page_size = u32_at(page, 16).unwrap_or_default();
    if page_size as usize != PAGE {
        return Err(format!(
            "the header says the page size is {page_size} bytes; this format uses {PAGE}"
        ));
    }
    if page
        .get(20..PAGE)
        .is_some_and(|rest| rest.iter().any(|&b| b != 0))
    {
        return Err(String::from("the header's reserved bytes are not zero"));
    }
    Ok(version)
}

#[cfg(test)]
/// The header page of a file of format `version` (tests make version 1 files with it).
pub(crate) fn encode_header_of(version: u32) -> [u8; PAGE] {
    let mut page = [0u8; PAGE];
    put(&mut page, 0, &MAGIC);
    put(&mut page, 8, &version.to_le_bytes());
    put(&mut page, 16, &(PAGE as u32).to_le_bytes());
    let crc = page_crc(&page, 12);
    put(&mut page, 12, &crc.to_le_bytes());
    page
}

/// A copy whose CRC and framing are valid.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RawCopy<'a> {
    pub(crate) seq: u64,
    pub(crate) kind: PayloadKind,
    pub(crate) payload: &'a [u8],
}

#[cfg(test)]
/// Encodes one copy of `record` into `page`, which must be `PAGE` bytes.
pub(crate) fn encode_copy(
    page: &mut [u8],
    record: u32,
    seq: u64,
    kind: PayloadKind,
    payload: &[u8],
) {
    page.fill(0);
    put(page, 4, &record.to_le_bytes());
    put(page, 8, &seq.to_le_bytes());
    put(page, 16, &(payload.len() as u16).to_le_bytes());
    put(page, 18, &[kind as u8]);
    put(page, COPY_HEADER, payload);
    let crc = page_crc(page, 0);
    put(page, 0, &crc.to_le_bytes());
}

/// Checks one copy of `record`: its CRC, record number, sequence, length and padding.
pub(crate) fn decode_copy(page: &[u8], record: u32) -> Result<RawCopy<'_>, String> {
    if page.len() != PAGE {
        return Err(format!("the copy is {} bytes, not {PAGE}", page.len()));
    }
    if page.iter().all(|&b| b == 0) {
        return Err(String::from("the copy was never written (all zero)"));
    }
    let stored = u32_at(page, 0).unwrap_or_default();
    let actual = page_crc(page, 0);
    if stored != actual {
        return Err(format!(
            "CRC-32 mismatch (stored {stored:#010x}, computed {actual:#010x}): \
             a torn or damaged write"
        ));
    }
    let found = u32_at(page, 4).unwrap_or_default();
    if found != record {
        return Err(format!("the copy says it belongs to record {found}"));
    }
    let seq = u64_at(page, 8).unwrap_or_default();
    if seq == 0 {
        return Err(String::from("sequence number 0 (sequences start at 1)"));
    }
    let len = page
        .get(16..18)
        .and_then(|b| b.try_into().ok())
        .map_or(0, u16::from_le_bytes) as usize;
    if len > MAX_PAYLOAD {
        return Err(format!("payload length {len} exceeds {MAX_PAYLOAD}"));
    }
    let kind_byte = page.get(18).copied().unwrap_or_default();
    let Some(kind) = PayloadKind::from_byte(kind_byte) else {
        return Err(format!("unknown payload kind {kind_byte}"));
    };
    if page
        .get(19..COPY_HEADER)
        .is_some_and(|r| r.iter().any(|&b| b != 0))
    {
        return Err(String::from("reserved header bytes are not zero"));
    }
    if page
        .get(COPY_HEADER + len..)
        .is_some_and(|r| r.iter().any(|&b| b != 0))
    {
        return Err(String::from("bytes after the payload are not zero"));
    }
    let payload = page.get(COPY_HEADER..COPY_HEADER + len).unwrap_or_default();
    Ok(RawCopy { seq, kind, payload })
}

/// A calendar as stored in a slot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CalendarRecord {
    /// Shared with the directory's and the live index's keys.
    pub(crate) id: Arc<str>,
    /// One allocation per zone name, shared by the calendars in that zone.
    pub(crate) zone: Arc<str>,
    pub(crate) week: Week,
    pub(crate) version: u64,
    pub(crate) changed_at_ms: i64,
    pub(crate) keys: Vec<KeyHash>,
    /// Which creation of a calendar with this id this is: the sequence number of the record
    /// that made it, never reused (the calendars of one batch share theirs).
    pub(crate) incarnation: u64,
    /// Whether anyone may book (otherwise a key is needed).
    pub(crate) booking_public: bool,
    /// The booking types, by name (format version 5).
    pub(crate) types: types::Types,
}

/// The meta record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct MetaRecord {
    pub(crate) slots: u32,
    pub(crate) admin_keys: Vec<KeyHash>,
}

pub(crate) fn encode_keys(out: &mut Vec<u8>, keys: &[KeyHash]) {
    for key in keys {
        let label = key.label().unwrap_or_default();
        out.push(key.id().len() as u8);
        out.push(key.hash().len() as u8);
        out.push(key.scope() as u8);
        out.push(label.len() as u8);
        out.extend_from_slice(&key.created_unix_ms().to_le_bytes());
        out.extend_from_slice(key.id().as_bytes());
        out.extend_from_slice(key.hash().as_bytes());
        out.extend_from_slice(label.as_bytes());
    }
}

pub(crate) fn decode_keys(
    cursor: &mut Cursor<'_>,
    count: usize,
    version: u32,
) -> Result<Vec<KeyHash>, String> {
    if count > MAX_KEYS {
        return Err(format!("{count} keys (at most {MAX_KEYS})"));
    }
    let text_error = |e: crate::Error| alloc::string::ToString::to_string(&e);
    let mut keys: Vec<KeyHash> = Vec::with_capacity(count);
    for _ in 0..count {
        let id_len = cursor.byte()? as usize;
        let hash_len = cursor.byte()? as usize;
        let key = if version == MIGRATES_FROM {
            let id = cursor.text(id_len, "key id")?;
            let hash = cursor.text(hash_len, "key hash")?;
            // Version 1 kept no scope, label or time: write keys, made at an unknown time.
            KeyHash::new(id, hash).map_err(text_error)?.created_at(0)
        } else {
            let scope = KeyScope::from_byte(cursor.byte()?)
                .ok_or_else(|| String::from("an unknown key scope"))?;
            let label_len = cursor.byte()? as usize;
            let created = cursor.i64()?;
            let id = cursor.str(id_len, "key id")?;
            let hash = cursor.str(hash_len, "key hash")?;
            let label = cursor.str(label_len, "key label")?;
            let label = (label_len > 0).then_some(label);
            KeyHash::from_parts(id, hash, label, scope, created).map_err(text_error)?
        };
        if keys.iter().any(|k| k.id() == key.id()) {
            return Err(format!("key id {:?} appears twice", key.id()));
        }
        keys.push(key);
    }
    Ok(keys)
}

/// The bytes [`encode_keys`] writes for `keys`.
pub(crate) fn keys_len(keys: &[KeyHash]) -> usize {
    keys.iter()
        .map(|key| KEY_FIXED + key.id().len() + key.hash().len() + key.label().map_or(0, str::len))
        .sum()
}

impl CalendarRecord {
    #[cfg(test)]
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode_into(&mut out);
        out
    }

    /// The length of [`CalendarRecord::encode`]'s bytes, without encoding them.
    pub(crate) fn encoded_len(&self) -> usize {
        CALENDAR_FIXED
            + self.id.len()
            + self.zone.len()
            + keys_len(&self.keys)
            + types::len(&self.types)
    }

    /// Appends the calendar's payload to `out`.
    pub(crate) fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.version.to_le_bytes());
        out.extend_from_slice(&self.changed_at_ms.to_le_bytes());
        out.extend_from_slice(&self.incarnation.to_le_bytes());
        out.extend_from_slice(&self.week.to_bytes());
        out.push(self.id.len() as u8);
        out.push(self.zone.len() as u8);
        out.push(self.keys.len() as u8);
        out.push(u8::from(self.booking_public));
        out.extend_from_slice(self.id.as_bytes());
        out.extend_from_slice(self.zone.as_bytes());
        encode_keys(out, &self.keys);
        types::encode(out, &self.types);
    }

    /// Decodes a calendar payload of file format `format` (2, or 1 to migrate it; a
    /// version 1 calendar gets incarnation 0, which the migration replaces).
    pub(crate) fn decode(payload: &[u8], format: u32) -> Result<CalendarRecord, String> {
        let mut cursor = Cursor::new(payload);
        let version = u64_at(cursor.take(8)?, 0).unwrap_or_default();
        if version == 0 {
            return Err(String::from("calendar version 0 (versions start at 1)"));
        }
        let changed_at_ms = u64_at(cursor.take(8)?, 0).unwrap_or_default() as i64;
        let incarnation = if format == MIGRATES_FROM {
            0
        } else {
            u64_at(cursor.take(8)?, 0).unwrap_or_default()
        };
        let week_bytes: [u8; Week::BYTES] = cursor
            .take(Week::BYTES)?
            .try_into()
            .map_err(|_| String::from("the payload ends early"))?;
        let week =
            Week::from_bytes(&week_bytes).map_err(|e| alloc::string::ToString::to_string(&e))?;
        let id_len = cursor.byte()? as usize;
        let zone_len = cursor.byte()? as usize;
        let key_count = cursor.byte()? as usize;
        let booking_public = match cursor.byte()? {
            0 => false,
            1 if format != MIGRATES_FROM => true,
            _ => return Err(String::from("a flags byte with unknown bits")),
        };
        let id = cursor.str(id_len, "calendar id")?;
        check_id(id).map_err(|e| alloc::string::ToString::to_string(&e))?;
        let zone = cursor.str(zone_len, "time-zone name")?;
        check_zone_name(zone).map_err(|e| alloc::string::ToString::to_string(&e))?;
        let keys = decode_keys(&mut cursor, key_count, format)?;
        let types = types::decode(&mut cursor)?;
        cursor.finish()?;
        Ok(CalendarRecord {
            id: Arc::from(id),
            zone: shared_zone(zone),
            week,
            version,
            changed_at_ms,
            keys,
            incarnation,
            booking_public,
            types,
        })
    }
}

impl MetaRecord {
    #[cfg(test)]
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(META_FIXED + 64);
        out.extend_from_slice(&self.slots.to_le_bytes());
        out.push(self.admin_keys.len() as u8);
        encode_keys(&mut out, &self.admin_keys);
        out
    }

    /// Decodes a meta payload of file format `format`.
    pub(crate) fn decode(payload: &[u8], format: u32) -> Result<MetaRecord, String> {
        let mut cursor = Cursor::new(payload);
        let slots = u32_at(cursor.take(4)?, 0).unwrap_or_default();
        if slots == 0 || slots > MAX_SLOTS {
            return Err(format!(
                "the meta record counts {slots} calendar slots (1 to {MAX_SLOTS} are possible)"
            ));
        }
        let count = cursor.byte()? as usize;
        let admin_keys = decode_keys(&mut cursor, count, format)?;
        cursor.finish()?;
        Ok(MetaRecord { slots, admin_keys })
    }
}

/// One record of the file, after choosing between its copies.
#[derive(Debug)]
pub(crate) struct Chosen<T> {
    /// Which copy (0 or 1) holds the newest valid state.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) copy: usize,
    /// That copy's sequence number.
    pub(crate) seq: u64,
    /// Its decoded payload.
    pub(crate) value: T,
}

/// Picks the valid copy with the highest sequence number. `decode` checks the payload as
/// well (its kind and its contents), so a copy whose CRC holds but whose payload does not
/// decode counts as invalid. Returns both copies' complaints when neither is valid.
pub(crate) fn choose<T>(
    copies: [&[u8]; 2],
    record: u32,
    decode: impl Fn(PayloadKind, &[u8]) -> Result<T, String>,
) -> Result<Chosen<T>, String> {
    let check = |page: &[u8]| -> Result<(u64, T), String> {
        let raw = decode_copy(page, record)?;
        Ok((raw.seq, decode(raw.kind, raw.payload)?))
    };
    let chosen = |copy: usize, (seq, value): (u64, T)| Chosen { copy, seq, value };
    match (check(copies[0]), check(copies[1])) {
        (Ok(a), Ok(b)) if a.0 == b.0 => Err(format!(
            "both copies claim sequence number {}, which a commit never writes",
            a.0
        )),
        (Ok(a), Ok(b)) if a.0 > b.0 => Ok(chosen(0, a)),
        (Ok(_), Ok(b)) => Ok(chosen(1, b)),
        (Ok(a), Err(_)) => Ok(chosen(0, a)),
        (Err(_), Ok(b)) => Ok(chosen(1, b)),
        (Err(a), Err(b)) => Err(format!("no valid copy: copy A: {a}; copy B: {b}")),
    }
}

#[cfg(test)]
mod tests;

/// The one copy of zone name `zone` that records share: a store's calendars use a few hundred
/// zones at most, and a copy each would cost a million calendars 32 MB.
pub(crate) fn shared_zone(zone: &str) -> Arc<str> {
    static ZONES: std::sync::Mutex<alloc::collections::BTreeSet<Arc<str>>> =
        std::sync::Mutex::new(alloc::collections::BTreeSet::new());
    let mut zones = ZONES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(shared) = zones.get(zone) {
        return Arc::clone(shared);
    }
    let shared: Arc<str> = Arc::from(zone);
    zones.insert(Arc::clone(&shared));
    shared
}
