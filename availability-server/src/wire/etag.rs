//! Entity tags: every tag this server writes, and the preconditions that read them back.
//!
//! Tags name the calendar version first, so that a write's `If-Match` can compare any tag of
//! a calendar with its current version:
//!
//! - `"v12"`: what a write answers, the version alone;
//! - `"v12-0123456789abcdef"`: a view or a document of version 12, with a hash of everything
//!   else its body depends on; a compressed form adds its coding (`"v12-...-br"`);
//! - `"g-0123456789abcdef"`: a group's answer, by a hash of every member's version and the
//!   rest of what it depends on;
//! - `"h-0123456789abcdef"`: a document of no calendar, by the hash of its bytes.

use std::hash::{Hash, Hasher};

use http::header::{HeaderName, HeaderValue, IF_MATCH, IF_NONE_MATCH};
use http::request::Parts;

use super::{Problem, Result};

/// The tag of a write's answer: the version alone.
pub fn version(version: u64) -> HeaderValue {
    HeaderValue::from(Tag::version(version))
}

/// A tag, as text with its quotes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag(String);

impl Tag {
    /// `"v<version>"`.
    pub fn version(version: u64) -> Tag {
        Tag(format!("\"v{version}\""))
    }

    /// `"v<version>-<hash>"`: a body of this calendar version, `hash` covering the rest.
    pub fn of_version(version: u64, hash: u64) -> Tag {
        Tag(format!("\"v{version}-{hash:016x}\""))
    }

    /// `"g-<hash>"`: a group's answer, `hash` covering every member's version and the rest.
    pub fn of_group(hash: u64) -> Tag {
        Tag(format!("\"g-{hash:016x}\""))
    }

    /// `"h-<hash>"` of the body's bytes, for a document of no calendar; or
    /// `"v<version>-<hash>"` when it is one calendar's.
    pub fn of_bytes(version: Option<u64>, body: &[u8]) -> Tag {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        body.hash(&mut hasher);
        match version {
            Some(v) => Tag::of_version(v, hasher.finish()),
            None => Tag(format!("\"h-{:016x}\"", hasher.finish())),
        }
    }

    /// The tag of another representation of the same body: `"...-<coding>"`.
    pub fn coded(&self, coding: &str) -> Tag {
        Tag(format!("{}-{coding}\"", self.0.trim_end_matches('"')))
    }

    /// The tag as text, quotes included.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The calendar version a tag of ours names: `"v12-..."` or `"v12"` -> 12.
    fn version_of(tag: &str) -> Option<u64> {
        let inner = tag.strip_prefix("\"v")?.strip_suffix('"')?;
        let digits = inner.split('-').next()?;
        digits.parse().ok()
    }
}

impl From<Tag> for HeaderValue {
    fn from(tag: Tag) -> HeaderValue {
        // Digits, letters and dashes in quotes: always a valid header value.
        HeaderValue::from_str(&tag.0).unwrap_or(HeaderValue::from_static("\"\""))
    }
}

/// The entity tags of a conditional header (`If-Match`, `If-None-Match`), weak markers dropped;
/// `None` when the header is absent.
fn listed(parts: &Parts, name: HeaderName) -> Option<Vec<String>> {
    let values: Vec<&HeaderValue> = parts.headers.get_all(name).iter().collect();
    if values.is_empty() {
        return None;
    }
    Some(
        values
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|t| t.trim().trim_start_matches("W/").to_owned())
            .filter(|t| !t.is_empty())
            .collect(),
    )
}

/// Whether `If-None-Match` names any of `current` (or `*`): then the answer is 304.
pub fn not_modified(parts: &Parts, current: &[&[u8]]) -> bool {
    if !parts.headers.contains_key(IF_NONE_MATCH) {
        return false;
    }
    listed(parts, IF_NONE_MATCH).is_some_and(|tags| {
        tags.iter()
            .any(|t| t == "*" || current.contains(&t.as_bytes()))
    })
}

/// The version a write must expect, from `If-Match`: `None` without the header (or with `*`,
/// which only asks that the calendar exist).
///
/// # Errors
///
/// 412 when no tag names the current version.
pub fn expected_version(parts: &Parts, current: u64) -> Result<Option<u64>> {
    let Some(tags) = listed(parts, IF_MATCH) else {
        return Ok(None);
    };
    if tags.iter().any(|t| t == "*") {
        return Ok(None);
    }
    if tags
        .iter()
        .filter_map(|t| Tag::version_of(t))
        .any(|v| v == current)
    {
        Ok(Some(current))
    } else {
        Err(Problem::precondition_failed(format!(
            "If-Match does not name the current version ({current}): the calendar changed \
             since you read it; read it again and retry"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_name_their_version() {
        assert_eq!(Tag::version(3).as_str(), "\"v3\"");
        let viewed = Tag::of_version(12, 0xff);
        assert_eq!(viewed.as_str(), "\"v12-00000000000000ff\"");
        assert_eq!(viewed.coded("br").as_str(), "\"v12-00000000000000ff-br\"");
        for tag in [viewed.clone(), viewed.coded("gzip"), Tag::version(12)] {
            assert_eq!(Tag::version_of(tag.as_str()), Some(12), "{tag:?}");
        }
        let doc = Tag::of_bytes(None, b"{}");
        assert!(doc.as_str().starts_with("\"h-"));
        assert_eq!(Tag::version_of(doc.as_str()), None);
        assert_eq!(Tag::version_of("\"x3\""), None);
        assert_eq!(Tag::version_of("v3"), None);
    }
}
