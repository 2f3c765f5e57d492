//! Bearer tokens on arbitrary bytes: the key parser never panics, accepts only tokens of the
//! documented shape (`avk_<12 hex>_<40 hex secret><8 hex CRC-32>`) whose checksum, recomputed
//! here by a separate bitwise CRC-32, matches, and accepts every token it assembles itself.

use availability_server::auth;

/// Checks one input; panics on a finding.
pub(crate) fn run(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Some(id) = auth::key_id(text) {
            assert_eq!(text.len(), auth::KEY_LEN);
            assert!(text.starts_with(auth::PREFIX));
            assert_eq!(id.len(), 12);
            let (body, check) = text.split_at(text.len() - 8);
            let hex = |s: &str| {
                s.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            };
            assert!(hex(id) && hex(check), "{text:?}");
            assert_eq!(&body[auth::PREFIX.len()..auth::PREFIX.len() + 12], id);
            let stated = u32::from_str_radix(check, 16).expect("hex");
            assert_eq!(
                stated,
                crc32(body.as_bytes()),
                "{text:?}: a wrong checksum accepted"
            );
        }
    }
    if data.len() >= 26 {
        let id: String = data[..6].iter().map(|b| format!("{b:02x}")).collect();
        let mut secret = [0u8; 20];
        secret.copy_from_slice(&data[6..26]);
        let token = auth::assemble(&id, &secret);
        assert_eq!(auth::key_id(&token), Some(id.as_str()));
    }
}

/// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), bit by bit: slow and plain, and
/// shares nothing with the server's table-driven one.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
