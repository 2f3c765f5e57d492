//! Bearer tokens on arbitrary bytes: the key parser never panics, accepts only tokens of the
//! documented shape whose checksum matches, and accepts every token it assembles itself.
#![no_main]

use availability_server::auth;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Some(id) = auth::key_id(text) {
            assert_eq!(text.len(), auth::KEY_LEN);
            assert!(text.starts_with(auth::PREFIX));
            assert_eq!(id.len(), 12);
        }
    }
    if data.len() >= 26 {
        let id: String = data[..6].iter().map(|b| format!("{b:02x}")).collect();
        let mut secret = [0u8; 20];
        secret.copy_from_slice(&data[6..26]);
        let token = auth::assemble(&id, &secret);
        assert_eq!(auth::key_id(&token), Some(id.as_str()));
    }
});
