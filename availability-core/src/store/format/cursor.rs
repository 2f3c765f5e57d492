//! Reading a payload: every read checks the length first.

use alloc::format;
use alloc::string::String;

use super::super::checked::check_id;
use super::{u32_at, u64_at};

/// A cursor over a payload that never reads past its end (the store file's payloads and the
/// journal's records share it).
pub(crate) struct Cursor<'a> {
    bytes: &'a [u8],
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Cursor<'a> {
        Cursor { bytes }
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if n > self.bytes.len() {
            return Err(String::from("the payload ends early"));
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        Ok(head)
    }

    pub(crate) fn byte(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?.first().copied().unwrap_or_default())
    }

    pub(crate) fn u16(&mut self) -> Result<u16, String> {
        let bytes = self.take(2)?;
        Ok(u16::from_le_bytes([bytes[0], bytes[1]]))
    }

    pub(crate) fn u32(&mut self) -> Result<u32, String> {
        Ok(u32_at(self.take(4)?, 0).unwrap_or_default())
    }

    pub(crate) fn u64(&mut self) -> Result<u64, String> {
        Ok(u64_at(self.take(8)?, 0).unwrap_or_default())
    }

    pub(crate) fn i64(&mut self) -> Result<i64, String> {
        Ok(self.u64()? as i64)
    }

    pub(crate) fn text(&mut self, n: usize, what: &str) -> Result<String, String> {
        self.str(n, what).map(String::from)
    }

    /// The next `n` bytes as text, borrowed from the payload.
    pub(crate) fn str(&mut self, n: usize, what: &str) -> Result<&'a str, String> {
        let bytes = self.take(n)?;
        core::str::from_utf8(bytes).map_err(|_| format!("the {what} is not UTF-8"))
    }

    /// An id (a calendar's or a group's): its length byte, then `[a-z0-9][a-z0-9-]{0,62}`.
    pub(crate) fn id(&mut self, what: &str) -> Result<String, String> {
        let len = self.byte()? as usize;
        let id = self.text(len, what)?;
        check_id(&id).map_err(|e| alloc::string::ToString::to_string(&e))?;
        Ok(id)
    }

    /// How many bytes are left.
    pub(crate) fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether every byte was read.
    pub(crate) fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    pub(crate) fn finish(&self) -> Result<(), String> {
        if self.bytes.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "{} unexpected bytes after the payload",
                self.bytes.len()
            ))
        }
    }
}
