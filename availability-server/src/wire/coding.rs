//! Content codings: which one a client accepts (`Accept-Encoding`), and making it.

use std::io::Write;

use bytes::Bytes;

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

    /// Picks the coding from the lines of a request's `Accept-Encoding` header: brotli if
    /// accepted (it is smaller), else gzip, else none. `q=0` (or `Q=0`) excludes a coding; `*`
    /// stands for either. Several header lines count as one list, as RFC 9110 has it.
    pub fn negotiate<'a>(lines: impl IntoIterator<Item = &'a str>) -> Encoding {
        let mut br = None;
        let mut gzip = None;
        let mut star = None;
        for item in lines.into_iter().flat_map(|line| line.split(',')) {
            let mut parts = item.split(';');
            let name = parts.next().unwrap_or("").trim();
            let q = parts
                .filter_map(|p| {
                    let p = p.trim();
                    let (key, value) = p.split_once('=')?;
                    key.trim().eq_ignore_ascii_case("q").then_some(value)
                })
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            let accepted = q > 0.0;
            if name.eq_ignore_ascii_case("br") {
                br = Some(accepted);
            } else if name.eq_ignore_ascii_case("gzip") || name.eq_ignore_ascii_case("x-gzip") {
                gzip = Some(accepted);
            } else if name == "*" {
                star = Some(accepted);
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

/// Bodies shorter than this are always sent as they are: compressing a few hundred bytes
/// saves less than the `Content-Encoding` header costs, and costs the client a decoder.
pub const COMPRESS_FROM: usize = 256;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation() {
        assert_eq!(Encoding::negotiate(None), Encoding::Identity);
        assert_eq!(
            Encoding::negotiate(Some("gzip, deflate, br")),
            Encoding::Brotli
        );
        assert_eq!(Encoding::negotiate(Some("gzip")), Encoding::Gzip);
        assert_eq!(Encoding::negotiate(Some("GZip")), Encoding::Gzip);
        assert_eq!(
            Encoding::negotiate(Some("br;q=0, gzip;q=0.5")),
            Encoding::Gzip
        );
        assert_eq!(Encoding::negotiate(Some("*")), Encoding::Brotli);
        assert_eq!(Encoding::negotiate(Some("identity")), Encoding::Identity);
        assert_eq!(Encoding::negotiate(Some("*;q=0")), Encoding::Identity);
        // The weight's name in any case, and every line of the header.
        assert_eq!(Encoding::negotiate(Some("br;Q=0, gzip")), Encoding::Gzip);
        assert_eq!(
            Encoding::negotiate(["identity", "br;q=0.5"]),
            Encoding::Brotli
        );
        assert_eq!(Encoding::negotiate([]), Encoding::Identity);
    }
}
