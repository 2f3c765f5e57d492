//! The cache of rendered bodies.
//!
//! A read renders its body once per (calendar, version, owner zone and week, viewer zone,
//! ISO week, format), keeps it as shared [`Bytes`], and serves every later request for the
//! same key by cloning the handle: no copy and no re-rendering until the calendar changes.
//! The key holds the stored week and zone themselves, not just the version, so a calendar that
//! is deleted and created again under the same id can never be served a body of the old one.
//!
//! Compressed forms are made on first demand, once per body, and kept beside it.
//!
//! The cache is bounded: when it holds `capacity` bodies, the older half (by insertion) goes.
//! That is cruder than LRU, but it costs nothing on hits (no list to reorder under a lock),
//! and what is evicted is only re-rendered.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use availability_core::Week;
use bytes::Bytes;

/// The three body formats of a week.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// 336 slots as JSON.
    Json,
    /// Exact intervals as JSON.
    Intervals,
    /// RFC 4180 CSV.
    Csv,
}

impl Format {
    /// The `Content-Type` of the body.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json | Format::Intervals => "application/json",
            Format::Csv => "text/csv; charset=utf-8; header=present",
        }
    }

    /// The name in `?format=` and in ETags.
    pub fn name(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Intervals => "intervals",
            Format::Csv => "csv",
        }
    }
}

/// Everything a rendered body depends on.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    /// The calendar id.
    pub calendar: String,
    /// The calendar's version.
    pub version: u64,
    /// The owner's zone.
    pub owner_zone: String,
    /// The stored week.
    pub stored: Week,
    /// The viewer's zone.
    pub viewer_zone: String,
    /// The ISO week label, `2026-W48`.
    pub week: String,
    /// The format.
    pub format: Format,
}

impl Key {
    /// The entity tag of the body: the version (so that `If-Match` can compare it with the
    /// calendar's current version) and a hash of the whole key (so that it changes with the
    /// zone, the week and the format). Quoted, as a header wants it.
    pub fn etag(&self) -> String {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        self.hash(&mut hasher);
        format!("\"v{}-{:016x}\"", self.version, hasher.finish())
    }
}

/// A content coding the client accepts and the server can produce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// As rendered.
    Identity,
    /// gzip.
    Gzip,
    /// Brotli.
    Brotli,
}

impl Encoding {
    /// The `Content-Encoding` value, if any.
    pub fn header(self) -> Option<&'static str> {
        match self {
            Encoding::Identity => None,
            Encoding::Gzip => Some("gzip"),
            Encoding::Brotli => Some("br"),
        }
    }

    /// Picks the coding from an `Accept-Encoding` header: brotli if accepted (it is smaller),
    /// else gzip, else none. `q=0` excludes a coding; `*` stands for either.
    pub fn negotiate(accept: Option<&str>) -> Encoding {
        let Some(accept) = accept else {
            return Encoding::Identity;
        };
        let mut br = None;
        let mut gzip = None;
        let mut star = None;
        for item in accept.split(',') {
            let mut parts = item.split(';');
            let name = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            let accepted = q > 0.0;
            match name.as_str() {
                "br" => br = Some(accepted),
                "gzip" | "x-gzip" => gzip = Some(accepted),
                "*" => star = Some(accepted),
                _ => {}
            }
        }
        if br.or(star).unwrap_or(false) {
            Encoding::Brotli
        } else if gzip.or(star).unwrap_or(false) {
            Encoding::Gzip
        } else {
            Encoding::Identity
        }
    }
}

/// A rendered body and its compressed forms.
#[derive(Debug)]
pub struct Rendered {
    /// The body as rendered.
    pub body: Bytes,
    /// The entity tag of the identity form; the compressed forms append `-gzip` or `-br`.
    pub etag: String,
    /// The format, for the content type.
    pub format: Format,
    gzip: OnceLock<Bytes>,
    brotli: OnceLock<Bytes>,
}

impl Rendered {
    /// A body with no compressed forms yet.
    pub fn new(body: Vec<u8>, etag: String, format: Format) -> Rendered {
        Rendered {
            body: Bytes::from(body),
            etag,
            format,
            gzip: OnceLock::new(),
            brotli: OnceLock::new(),
        }
    }

    /// The body in `encoding`, compressing it on first use. Falls back to the identity form if
    /// compression fails (it writes to memory, so it should not).
    pub fn encoded(&self, encoding: Encoding) -> (Bytes, Encoding) {
        let made = match encoding {
            Encoding::Identity => return (self.body.clone(), Encoding::Identity),
            Encoding::Gzip => self.gzip.get_or_init(|| gzip(&self.body)),
            Encoding::Brotli => self.brotli.get_or_init(|| brotli(&self.body)),
        };
        if made.is_empty() {
            (self.body.clone(), Encoding::Identity)
        } else {
            (made.clone(), encoding)
        }
    }

    /// The entity tag of the body in `encoding`: a different representation has its own tag.
    pub fn etag_for(&self, encoding: Encoding) -> String {
        match encoding.header() {
            None => self.etag.clone(),
            Some(suffix) => {
                let bare = self.etag.trim_end_matches('"');
                format!("{bare}-{suffix}\"")
            }
        }
    }
}

/// gzip at the best level: done once per body, so the size matters more than the time.
/// Empty on failure.
pub fn gzip(body: &[u8]) -> Bytes {
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 8),
        flate2::Compression::best(),
    );
    match encoder.write_all(body).and_then(|()| encoder.finish()) {
        Ok(out) => Bytes::from(out),
        Err(_) => Bytes::new(),
    }
}

/// Brotli at quality 9, with the smallest window that holds the body: the window's setup,
/// not the compression, dominates for bodies of a few KiB. Empty on failure.
pub fn brotli(body: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(body.len() / 8);
    // log2 of the body's size, rounded up, within brotli's window range of 2^10 to 2^24.
    let bits = usize::BITS - body.len().max(1).saturating_sub(1).leading_zeros();
    let params = brotli::enc::BrotliEncoderParams {
        quality: 9,
        lgwin: i32::try_from(bits.clamp(10, 24)).unwrap_or(22),
        ..Default::default()
    };
    match brotli::BrotliCompress(&mut &body[..], &mut out, &params) {
        Ok(_) => Bytes::from(out),
        Err(_) => Bytes::new(),
    }
}

/// The bounded cache.
#[derive(Debug)]
pub struct Cache {
    capacity: usize,
    /// A std mutex: it is held for one hash-map operation and never across an `.await`.
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    map: HashMap<Key, (u64, Arc<Rendered>)>,
    /// Insertion counter, for evicting the older half.
    clock: u64,
}

impl Cache {
    /// A cache holding at most `capacity` bodies (at least one).
    pub fn new(capacity: usize) -> Cache {
        Cache {
            capacity: capacity.max(1),
            inner: Mutex::new(Inner::default()),
        }
    }

    /// The body for `key`, if cached.
    pub fn get(&self, key: &Key) -> Option<Arc<Rendered>> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.map.get(key).map(|(_, r)| Arc::clone(r))
    }

    /// Keeps `rendered` for `key`, evicting the older half when full.
    pub fn insert(&self, key: Key, rendered: Arc<Rendered>) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if inner.map.len() >= self.capacity && !inner.map.contains_key(&key) {
            let mut ages: Vec<u64> = inner.map.values().map(|(age, _)| *age).collect();
            let middle = ages.len() / 2;
            let (_, cut, _) = ages.select_nth_unstable(middle);
            let cut = *cut;
            inner.map.retain(|_, (age, _)| *age > cut);
        }
        inner.clock += 1;
        let age = inner.clock;
        inner.map.insert(key, (age, rendered));
    }

    /// How many bodies are cached.
    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .map
            .len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(version: u64) -> Key {
        Key {
            calendar: "c".into(),
            version,
            owner_zone: "UTC".into(),
            stored: Week::UNAVAILABLE,
            viewer_zone: "UTC".into(),
            week: "2026-W48".into(),
            format: Format::Json,
        }
    }

    #[test]
    fn bounded_and_keeps_the_newest() {
        let cache = Cache::new(4);
        for v in 0..10 {
            let k = key(v);
            cache.insert(
                k.clone(),
                Arc::new(Rendered::new(vec![], k.etag(), Format::Json)),
            );
            assert!(cache.len() <= 4);
        }
        assert!(cache.get(&key(9)).is_some());
        assert!(cache.get(&key(0)).is_none());
    }

    #[test]
    fn etags_differ_by_every_part() {
        let a = key(1);
        let mut b = a.clone();
        b.format = Format::Csv;
        assert_ne!(a.etag(), b.etag());
        let mut c = a.clone();
        c.viewer_zone = "Europe/Paris".into();
        assert_ne!(a.etag(), c.etag());
        assert!(a.etag().starts_with("\"v1-"));
    }

    #[test]
    fn negotiation() {
        assert_eq!(Encoding::negotiate(None), Encoding::Identity);
        assert_eq!(
            Encoding::negotiate(Some("gzip, deflate, br")),
            Encoding::Brotli
        );
        assert_eq!(Encoding::negotiate(Some("gzip")), Encoding::Gzip);
        assert_eq!(
            Encoding::negotiate(Some("br;q=0, gzip;q=0.5")),
            Encoding::Gzip
        );
        assert_eq!(Encoding::negotiate(Some("*")), Encoding::Brotli);
        assert_eq!(Encoding::negotiate(Some("identity")), Encoding::Identity);
        assert_eq!(Encoding::negotiate(Some("*;q=0")), Encoding::Identity);
    }

    #[test]
    fn compressed_forms_round_trip() {
        let body = b"Time,Monday\r\n".repeat(100);
        let r = Rendered::new(body.clone(), "\"v1-0\"".into(), Format::Csv);
        let (gz, enc) = r.encoded(Encoding::Gzip);
        assert_eq!(enc, Encoding::Gzip);
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut out)
            .expect("gunzip");
        assert_eq!(out, body);
        let (br, enc) = r.encoded(Encoding::Brotli);
        assert_eq!(enc, Encoding::Brotli);
        let mut out = Vec::new();
        brotli::BrotliDecompress(&mut &br[..], &mut out).expect("unbrotli");
        assert_eq!(out, body);
        assert_eq!(r.etag_for(Encoding::Brotli), "\"v1-0-br\"");
    }
}
