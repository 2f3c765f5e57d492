//! The header page of the log: magic, format version, generation and first sequence number,
//! under a CRC (docs/format.md, section 3).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::super::format::{page_crc, u32_at, u64_at, FORMAT_VERSION, MAGIC, OLDER_LOGS};
use super::{HEADER, JOURNAL_MAGIC, JOURNAL_VERSION};

/// The journal's header: which generation of the file this is and the sequence number of its
/// first record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    /// One more with every compaction (which writes a new file).
    pub(crate) generation: u64,
    /// The sequence number of the first record; the next ones count on by one.
    pub(crate) first_seq: u64,
}

impl Header {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut page = alloc::vec![0u8; HEADER];
        page[..8].copy_from_slice(&MAGIC);
        page[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        page[16..20].copy_from_slice(&(HEADER as u32).to_le_bytes());
        page[24..32].copy_from_slice(&self.generation.to_le_bytes());
        page[32..40].copy_from_slice(&self.first_seq.to_le_bytes());
        let crc = page_crc(&page, 12);
        page[12..16].copy_from_slice(&crc.to_le_bytes());
        page
    }

    /// Checks the header page of a store file of [`FORMAT_VERSION`] or one of [`OLDER_LOGS`]
    /// (the log); the error says what failed.
    pub(crate) fn decode(bytes: &[u8]) -> Result<Header, String> {
        let mut known = [FORMAT_VERSION; OLDER_LOGS.len() + 1];
        known[1..].copy_from_slice(&OLDER_LOGS);
        Header::decode_as(bytes, &MAGIC, &known, "the store file")
    }

    /// Checks the header page of a journal of format version 2 (to migrate it).
    pub(crate) fn decode_journal(bytes: &[u8]) -> Result<Header, String> {
        Header::decode_as(bytes, &JOURNAL_MAGIC, &[JOURNAL_VERSION], "the journal")
    }

    fn decode_as(
        bytes: &[u8],
        magic: &[u8; 8],
        reads: &[u32],
        what: &str,
    ) -> Result<Header, String> {
        let page = bytes.get(..HEADER).ok_or_else(|| {
            format!(
                "{what} is {} bytes, shorter than its {HEADER}-byte header",
                bytes.len()
            )
        })?;
        if page.get(..8) != Some(&magic[..]) {
            return Err(format!("{what}'s header has the wrong magic bytes"));
        }
        let version = u32_at(page, 8).unwrap_or_default();
        let expected = reads.first().copied().unwrap_or_default();
        if !reads.contains(&version) {
            let which = if version > expected {
                "newer than"
            } else {
                "not"
            };
            return Err(format!(
                "{what} says format version {version}, which is {which} the version \
                 this build reads ({expected}); use a build that reads version {version}"
            ));
        }
        let stored = u32_at(page, 12).unwrap_or_default();
        let actual = page_crc(page, 12);
        if stored != actual {
            return Err(format!(
                "{what}'s header CRC-32 does not match (stored {stored:#010x}, computed \
                 {actual:#010x})"
            ));
        }
        if u32_at(page, 16) != Some(HEADER as u32) {
            return Err(format!("{what}'s header says a page size other than 4096"));
        }
        let first_seq = u64_at(page, 32).unwrap_or_default();
        if first_seq == 0 {
            return Err(format!(
                "{what}'s header says the first sequence number is 0"
            ));
        }
        if page.get(20..24).is_some_and(|r| r.iter().any(|&b| b != 0))
            || page.get(40..).is_some_and(|r| r.iter().any(|&b| b != 0))
        {
            return Err(format!(
                "{what}'s header has reserved bytes that are not zero"
            ));
        }
        Ok(Header {
            generation: u64_at(page, 24).unwrap_or_default(),
            first_seq,
        })
    }
}
