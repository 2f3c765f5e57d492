//! A calendar's id as the key of an ordered map: its first eight bytes as one number, compared
//! before the id itself.
//!
//! Opening a store looks every record's calendar up in two ordered maps (the state it builds,
//! and the log's index of what is live). Compared as text, each of the forty-odd comparisons
//! of a lookup read the other id from its own allocation: at a million calendars those reads
//! missed the cache, and the comparisons were a sixth of the open. The number sits in the
//! map's node, and tells most ids apart without reading them.

use alloc::sync::Arc;

/// An id, ordered as the id is (bytes, a prefix first).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) struct IdKey {
    /// The id's first eight bytes, big-endian, zeros after a shorter id. Ordered as the id's
    /// start is: a shorter id is a prefix of any longer one that agrees with it, and zeros
    /// sort first. Equal numbers leave the order to `id`.
    prefix: u64,
    id: Arc<str>,
}

impl IdKey {
    pub(super) fn new(id: Arc<str>) -> IdKey {
        let mut prefix = [0u8; 8];
        for (to, from) in prefix.iter_mut().zip(id.bytes()) {
            *to = from;
        }
        IdKey {
            prefix: u64::from_be_bytes(prefix),
            id,
        }
    }

    pub(super) fn of(id: &Arc<str>) -> IdKey {
        IdKey::new(Arc::clone(id))
    }

    pub(super) fn id(&self) -> &Arc<str> {
        &self.id
    }

    pub(super) fn into_id(self) -> Arc<str> {
        self.id
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;
    use proptest::prelude::*;

    /// Short ids over a few bytes (a NUL, a byte above ASCII, letters), so that prefixes,
    /// ties in the first eight bytes and every length up to past eight meet.
    fn id() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![Just('\0'), Just('a'), Just('b'), Just('é')],
            0..12,
        )
        .prop_map(|chars| chars.into_iter().collect())
    }

    proptest! {
        #[test]
        fn keys_order_as_their_ids(a in id(), b in id()) {
            let (ka, kb) = (IdKey::new(Arc::from(a.as_str())), IdKey::new(Arc::from(b.as_str())));
            prop_assert_eq!(ka.cmp(&kb), a.cmp(&b));
            prop_assert_eq!(ka == kb, a == b);
        }
    }

    #[test]
    fn edges() {
        let key = |id: &str| IdKey::new(Arc::from(id));
        assert!(key("") < key("\0"));
        assert!(key("abcdefgh") < key("abcdefgh\0"));
        assert!(key("abcdefgh-2") < key("abcdefgh-b"));
        assert!(key("c0000009") < key("c0000010"));
        assert!(key("z") > key("abcdefghij"));
    }
}
