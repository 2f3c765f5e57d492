//! A rendered body of the cache, with its compressed forms (made once, on first demand) and
//! the entity tag of each form.

use std::sync::OnceLock;

use bytes::Bytes;
use http::HeaderValue;

use super::key::{Format, GroupKey, Key, Owned, SlotsBody};
use crate::wire::coding::{self, Encoding, COMPRESS_FROM};
use crate::wire::etag::Tag;
use crate::wire::response::{Entity, Kind};

/// A rendered body, its compressed forms, and the entity tag of each.
#[derive(Debug)]
pub struct Rendered {
    pub(super) key: Owned,
    /// The body as rendered.
    pub body: Bytes,
    /// The entity tag of the identity form, for example `"v3-0123456789abcdef"`.
    pub etag: HeaderValue,
    /// The entity tags of the compressed forms: the identity tag with `-gzip` or `-br`.
    gzip_etag: HeaderValue,
    brotli_etag: HeaderValue,
    /// The format, for the content type.
    pub format: Format,
    gzip: OnceLock<Bytes>,
    brotli: OnceLock<Bytes>,
}

impl Rendered {
    /// The body rendered for `key`, with no compressed forms yet.
    pub fn new(key: &Key<'_>, body: Vec<u8>) -> Rendered {
        Rendered::with(Owned::One(key.owned()), key.etag(), key.format, body)
    }

    /// A group's answer rendered for `key`.
    pub fn for_group(key: &GroupKey<'_>, body: Vec<u8>) -> Rendered {
        Rendered::with(Owned::Group(key.owned()), key.etag(), key.format, body)
    }

    fn with(key: Owned, etag: Tag, format: Format, body: Vec<u8>) -> Rendered {
        Rendered {
            key,
            body: Bytes::from(body),
            gzip_etag: etag.coded("gzip").into(),
            brotli_etag: etag.coded("br").into(),
            etag: etag.into(),
            format,
            gzip: OnceLock::new(),
            brotli: OnceLock::new(),
        }
    }

    /// The body in `encoding`, compressing it on first use. Short bodies (see
    /// [`COMPRESS_FROM`]) stay as they are, and so does a body whose compression fails (it
    /// writes to memory, so it should not).
    pub fn encoded(&self, encoding: Encoding) -> (Bytes, Encoding) {
        if self.body.len() < COMPRESS_FROM {
            return (self.body.clone(), Encoding::Identity);
        }
        let made = match encoding {
            Encoding::Identity => return (self.body.clone(), Encoding::Identity),
            Encoding::Gzip => self.gzip.get_or_init(|| coding::gzip(&self.body)),
            Encoding::Brotli => self.brotli.get_or_init(|| coding::brotli(&self.body)),
        };
        if made.is_empty() {
            (self.body.clone(), Encoding::Identity)
        } else {
            (made.clone(), encoding)
        }
    }

    /// The bytes this body holds: as rendered, and its compressed forms made so far.
    pub fn size(&self) -> usize {
        self.body.len()
            + self.gzip.get().map_or(0, Bytes::len)
            + self.brotli.get().map_or(0, Bytes::len)
    }

    /// The entity tag of the body in `encoding`: a different representation has its own tag.
    pub fn etag_for(&self, encoding: Encoding) -> &HeaderValue {
        match encoding {
            Encoding::Identity => &self.etag,
            Encoding::Gzip => &self.gzip_etag,
            Encoding::Brotli => &self.brotli_etag,
        }
    }
}

/// A cached body is what a read answers with: `wire::response::read` negotiates its coding,
/// answers 304 and writes its fields.
impl Entity for Rendered {
    fn encoded(&self, wanted: Encoding) -> (Bytes, Encoding) {
        Rendered::encoded(self, wanted)
    }

    fn tag(&self, encoding: Encoding) -> &HeaderValue {
        self.etag_for(encoding)
    }

    fn content_type(&self) -> HeaderValue {
        self.format.content_type()
    }

    fn kind(&self) -> Kind {
        match self.format {
            Format::Page { .. }
            | Format::Slots {
                body: SlotsBody::Page,
                ..
            } => Kind::Page,
            _ => Kind::Data,
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use std::sync::Arc;

    use availability_core::store::Calendar;
    use availability_core::tz::{IsoWeek, Zone};
    use availability_core::{Day, Slot, Time};

    use super::*;
    use crate::cache::fixture::fixture;
    use crate::cache::key::tests::key;

    pub(in crate::cache) fn rendered(key: &Key<'_>, body: &str) -> Arc<Rendered> {
        Arc::new(Rendered::new(key, body.as_bytes().to_vec()))
    }

    #[test]
    fn etags_differ_by_every_part_and_name_the_version() {
        let f = fixture();
        let a = key(&f.c1);
        let slot = Slot::new(Day::Monday, Time::from_half_hours(18).expect("09:00")).expect("slot");
        let tags = [
            a,
            Key {
                format: Format::Csv,
                ..a
            },
            Key {
                format: Format::Slot(slot),
                ..a
            },
            Key {
                viewer: Zone::new("Europe/Paris").expect("zone"),
                ..a
            },
            Key {
                week: IsoWeek::new(2026, 49).expect("week"),
                ..a
            },
            key(&f.c2),
            key(&f.d1),
        ]
        .map(|k| k.etag().as_str().to_owned());
        for (i, t) in tags.iter().enumerate() {
            assert!(tags[i + 1..].iter().all(|u| u != t), "{tags:?}");
        }
        assert!(tags[0].starts_with("\"v1."));
        assert!(tags[5].starts_with("\"v2."));
        // By value: the same calendar in another allocation has the same tag.
        assert_eq!(
            key(&Arc::new(Calendar::clone(&f.c1))).etag().as_str(),
            tags[0]
        );
        assert_eq!(rendered(&a, "x").etag, tags[0].as_str());
    }

    #[test]
    fn compressed_forms_round_trip() {
        let f = fixture();
        let body = "Time,Monday\r\n".repeat(100);
        let k = Key {
            format: Format::Csv,
            ..key(&f.c1)
        };
        let r = rendered(&k, &body);
        let (gz, enc) = r.encoded(Encoding::Gzip);
        assert_eq!(enc, Encoding::Gzip);
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut out)
            .expect("gunzip");
        assert_eq!(out, body.as_bytes());
        let (br, enc) = r.encoded(Encoding::Brotli);
        assert_eq!(enc, Encoding::Brotli);
        let mut out = Vec::new();
        brotli::BrotliDecompress(&mut &br[..], &mut out).expect("unbrotli");
        assert_eq!(out, body.as_bytes());
        let plain = k.etag();
        let br_tag = r.etag_for(Encoding::Brotli).to_str().expect("ascii");
        assert_eq!(br_tag, plain.coded("br").as_str());
    }

    #[test]
    fn short_bodies_are_not_compressed() {
        let f = fixture();
        let r = rendered(&key(&f.c1), &"x".repeat(COMPRESS_FROM - 1));
        assert_eq!(r.encoded(Encoding::Brotli).1, Encoding::Identity);
        assert_eq!(r.encoded(Encoding::Gzip).1, Encoding::Identity);
    }
}
