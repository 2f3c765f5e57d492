//! Standard Webhooks (<https://www.standardwebhooks.com>): the secret's form, and the three
//! fields every delivery carries, `webhook-id`, `webhook-timestamp` and `webhook-signature`
//! (`v1,` and the base64 HMAC-SHA256 of `id.timestamp.body` under the secret's bytes), so
//! that a receiver verifies with any of the specification's libraries.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use http::{HeaderName, HeaderValue};

/// The prefix of a secret as it is shown.
const PREFIX: &str = "whsec_";
/// Random bytes in a new secret.
const SECRET_BYTES: usize = 32;

/// A new secret: its bytes, and its form as shown once (`whsec_` and base64).
///
/// # Errors
///
/// When the system has no randomness to give.
pub fn new_secret() -> Result<(Vec<u8>, String), getrandom::Error> {
    let mut key = vec![0u8; SECRET_BYTES];
    getrandom::getrandom(&mut key)?;
    let shown = format!("{PREFIX}{}", STANDARD.encode(&key));
    Ok((key, shown))
}

/// The signature of `body` sent as message `id` at `timestamp` (seconds since the epoch).
pub fn signature(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    let mut context = ring::hmac::Context::with_key(&key);
    context.update(id.as_bytes());
    context.update(b".");
    context.update(timestamp.to_string().as_bytes());
    context.update(b".");
    context.update(body);
    format!("v1,{}", STANDARD.encode(context.sign().as_ref()))
}

/// The three fields of a delivery of message `id` with `body`, signed now (`timestamp`).
pub fn headers(
    key: &[u8],
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> Vec<(HeaderName, HeaderValue)> {
    let field = |text: String| HeaderValue::try_from(text).expect("ASCII");
    vec![
        (HeaderName::from_static("webhook-id"), field(id.to_string())),
        (
            HeaderName::from_static("webhook-timestamp"),
            field(timestamp.to_string()),
        ),
        (
            HeaderName::from_static("webhook-signature"),
            field(signature(key, id, timestamp, body)),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the specification's reference libraries: secret
    /// `whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw`, message `msg_p5jXN8AQM9LWM0D4loKWxJek`,
    /// timestamp 1614265330, body `{"test": 2432232314}`.
    #[test]
    fn the_reference_signature_is_made() {
        let key = STANDARD
            .decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
            .expect("base64");
        assert_eq!(
            signature(
                &key,
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1_614_265_330,
                br#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn secrets_are_random_and_shown_whole() {
        let (a, shown) = new_secret().expect("random");
        let (b, _) = new_secret().expect("random");
        assert_ne!(a, b);
        assert_eq!(a.len(), SECRET_BYTES);
        let back = STANDARD
            .decode(shown.strip_prefix(PREFIX).expect("prefix"))
            .expect("base64");
        assert_eq!(back, a);
    }
}
