//! Entity tags: every tag this server writes, and the preconditions that read them back.
//!
//! Tags name the calendar's state first: its version and which creation of its id it is (a
//! calendar deleted and created again starts at version 1 again, and its old tags must not
//! match it). So a write's `If-Match` can compare any tag of a calendar with its state:
//!
//! - `"v12.1000000002"`: what a write answers, version 12 of incarnation `0x1000000002`;
//! - `"v12.1000000002-0123456789abcdef"`: a view or a document of that state, with a hash of
//!   everything else its body depends on; a compressed form adds its coding (`"...-br"`);
//! - `"g-0123456789abcdef"`: a group's answer, by a hash of every member's version and the
//!   rest of what it depends on;
//! - `"h-0123456789abcdef"`: a document of no calendar, by the hash of its bytes.

use std::hash::{Hash, Hasher};

use http::header::{HeaderName, HeaderValue, IF_MATCH, IF_NONE_MATCH};
use http::request::Parts;

use super::{Problem, Result};

/// A calendar's state: its incarnation and its version.
pub type State = (u64, u64);

/// A tag, as text with its quotes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag(String);

impl Tag {
    /// `"v<version>.<incarnation>"`.
    pub fn state((incarnation, version): State) -> Tag {
        Tag(format!("\"v{version}.{incarnation:x}\""))
    }

    /// `"v<version>.<incarnation>-<hash>"`: a body of this calendar state, `hash` covering the
    /// rest.
    pub fn of_state((incarnation, version): State, hash: u64) -> Tag {
        Tag(format!("\"v{version}.{incarnation:x}-{hash:016x}\""))
    }

    /// `"g-<hash>"`: a group's answer, `hash` covering every member's version and the rest.
    pub fn of_group(hash: u64) -> Tag {
        Tag(format!("\"g-{hash:016x}\""))
    }

    /// The tag of a group's members as they are now (a group's event stream and page carry
    /// it): a hash of every member's id and state, so it changes with every member's write.
    pub fn of_members<'a>(members: impl IntoIterator<Item = (&'a str, State)>) -> Tag {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        for member in members {
            member.hash(&mut hasher);
        }
        Tag::of_group(hasher.finish())
    }

    /// `"h-<hash>"` of the body's bytes, for a document of no calendar; or
    /// `"v<version>.<incarnation>-<hash>"` when it is one calendar's.
    pub fn of_bytes(state: Option<State>, body: &[u8]) -> Tag {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        body.hash(&mut hasher);
        match state {
            Some(state) => Tag::of_state(state, hasher.finish()),
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

    /// The calendar state a tag of ours names: `"v12.1f-..."` or `"v12.1f"` -> (0x1f, 12).
    fn state_of(tag: &str) -> Option<State> {
        let inner = tag.strip_prefix("\"v")?.strip_suffix('"')?;
        let (version, incarnation) = inner.split('-').next()?.split_once('.')?;
        Some((
            u64::from_str_radix(incarnation, 16).ok()?,
            version.parse().ok()?,
        ))
    }
}

impl From<Tag> for HeaderValue {
    fn from(tag: Tag) -> HeaderValue {
        // Digits, letters and dashes in quotes: always a valid header value.
        HeaderValue::from_str(&tag.0).unwrap_or(HeaderValue::from_static("\"\""))
    }
}

/// The entity tags of a conditional header (`If-Match`, `If-None-Match`), weak markers dropped
/// (`If-None-Match` compares weakly); `None` when the header is absent.
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

/// The version a write to `calendar` must expect, from `If-Match`: `None` without the header
/// (or with `*`, which only asks that the calendar exist).
///
/// `If-Match` compares strongly (RFC 9110, 13.1.1): a weak tag (`W/"..."`) never matches, and
/// a tag matches only when it names the calendar's current version of its current creation;
/// a tag of a calendar deleted since, whose id was given to a new one, does not.
///
/// # Errors
///
/// 412 when no tag names the current state.
pub fn expected_version(parts: &Parts, calendar: &crate::store::Calendar) -> Result<Option<u64>> {
    let values: Vec<&HeaderValue> = parts.headers.get_all(IF_MATCH).iter().collect();
    if values.is_empty() {
        return Ok(None);
    }
    let tags: Vec<&str> = values
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect();
    if tags.contains(&"*") {
        return Ok(None);
    }
    let current = calendar.state();
    if tags
        .iter()
        .filter_map(|t| Tag::state_of(t))
        .any(|s| s == current)
    {
        Ok(Some(current.1))
    } else {
        Err(Problem::precondition_failed(format!(
            "If-Match does not name the calendar's current state (version {}, {}): it changed \
             since you read it, or was deleted and created again; read it again and retry \
             (and send strong tags, as the server gave them)",
            current.1,
            Tag::state(current).as_str()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_name_their_state() {
        assert_eq!(Tag::state((0x1f, 3)).as_str(), "\"v3.1f\"");
        let viewed = Tag::of_state((0x1f, 12), 0xff);
        assert_eq!(viewed.as_str(), "\"v12.1f-00000000000000ff\"");
        assert_eq!(
            viewed.coded("br").as_str(),
            "\"v12.1f-00000000000000ff-br\""
        );
        for tag in [viewed.clone(), viewed.coded("gzip"), Tag::state((0x1f, 12))] {
            assert_eq!(Tag::state_of(tag.as_str()), Some((0x1f, 12)), "{tag:?}");
        }
        let doc = Tag::of_bytes(None, b"{}");
        assert!(doc.as_str().starts_with("\"h-"));
        assert_eq!(Tag::state_of(doc.as_str()), None);
        for bad in ["\"x3\"", "v3.1", "\"v3\"", "\"v3.zz\"", "W/\"v3.1f\""] {
            assert_eq!(Tag::state_of(bad), None, "{bad}");
        }
    }
}
