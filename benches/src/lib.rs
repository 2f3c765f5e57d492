//! Criterion benchmarks for availability (see `benches/`), and the inputs they share.

use std::sync::Arc;
use std::time::Duration;

use availability_core::{Batch, Day, Entry, Status, Time, Week};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

/// The owner zones the load and size benchmarks give their calendars in turn: both hemispheres,
/// half- and quarter-hour offsets, DST and none.
pub const ZONES: [&str; 20] = [
    "America/Los_Angeles",
    "America/Denver",
    "America/Chicago",
    "America/New_York",
    "America/Sao_Paulo",
    "America/St_Johns",
    "Europe/London",
    "Europe/Paris",
    "Europe/Helsinki",
    "Africa/Nairobi",
    "Asia/Tehran",
    "Asia/Dubai",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Australia/Adelaide",
    "Australia/Sydney",
    "Pacific/Auckland",
    "UTC",
];

/// A TLS client configuration, HTTP/1.1 by ALPN, that trusts the certificates of the PEM file
/// `cert` (the server's self-signed one).
///
/// # Errors
///
/// A message naming the file, or what is wrong with a certificate.
pub fn tls_client(cert: &str) -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(cert).map_err(|e| format!("{cert}: {e}"))? {
        roots
            .add(c.map_err(|e| format!("the certificate: {e}"))?)
            .map_err(|e| format!("the certificate: {e}"))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tls)
}

/// The time `half_hours` half hours after midnight.
///
/// # Panics
///
/// Past 48 (24:00).
pub fn time(half_hours: usize) -> Time {
    Time::from_half_hours(half_hours).expect("at most 48 half hours")
}

/// A typical published week: weekdays 09:00-17:00 available with a maybe lunch hour, and a
/// maybe Saturday morning.
pub fn office_week() -> Week {
    office_batch().apply_replacing().expect("a valid batch")
}

/// The batch that writes [`office_week`] with `PUT` (it replaces the whole week).
pub fn office_batch() -> Batch {
    let mut batch = Batch::new();
    for day in Day::WEEKDAYS {
        batch.push(Entry::range(day, time(18), time(34), Status::Available));
        batch.push(Entry::range(day, time(24), time(26), Status::Maybe));
    }
    batch.push(Entry::range(
        Day::Saturday,
        time(20),
        time(28),
        Status::Maybe,
    ));
    batch
}

/// The `p`-th percentile (0 to 1) of sorted durations, by nearest rank: the smallest that at
/// least a `p` share of them do not exceed. Zero for none.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_by_nearest_rank() {
        let ms: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&ms, 0.50), Duration::from_millis(50));
        assert_eq!(percentile(&ms, 0.99), Duration::from_millis(99));
        assert_eq!(percentile(&ms, 1.0), Duration::from_millis(100));
        assert_eq!(percentile(&ms, 0.0), Duration::from_millis(1));
        assert_eq!(percentile(&[], 0.5), Duration::ZERO);
    }
}
