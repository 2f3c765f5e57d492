//! The index of key owners while it is built.

use super::*;
use crate::limit::{Limits, Rates};
use crate::store::Authority;
use crate::wire::client::Proxy;
use http::header::AUTHORIZATION;

/// A store with calendar `room` holding one key (bcrypt cost 4), and that key's token.
fn store_with_key(dir: &std::path::Path) -> (Arc<Store>, String, String) {
    let store = Arc::new(Store::open(dir.join("availability.store")).expect("open"));
    let key = generate().expect("a key");
    let hash = hash_blocking(&key.token, 4).expect("hash");
    let stored = KeyHash::new(key.id.clone(), hash).expect("key hash");
    store
        .create("room", "UTC", vec![stored], &Authority::Unchecked)
        .expect("create");
    (store, key.token, key.id)
}

fn bearer(token: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        AUTHORIZATION,
        format!("Bearer {token}").parse().expect("header"),
    );
    headers
}

fn auth() -> Auth {
    Auth::new(AuthSettings {
        cost: 4,
        ..AuthSettings::default()
    })
    .expect("auth")
}

/// A calendar's key where an admin key is needed is a 403 naming its calendar, also when
/// the request comes before the index is complete: it waits for the index, not a 401.
#[tokio::test]
async fn a_check_before_the_index_is_complete_waits_for_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, token, _) = store_with_key(dir.path());
    let auth = Arc::new(auth());
    let limits = Arc::new(Limits::new(
        Rates::default(),
        Proxy {
            header: None,
            trusted: Vec::new(),
        },
    ));
    assert!(!auth.is_indexed());
    let check = tokio::spawn({
        let (auth, store, limits) = (Arc::clone(&auth), Arc::clone(&store), Arc::clone(&limits));
        async move {
            let client = IpAddr::from([127, 0, 0, 1]);
            auth.check(&store, &limits, client, &bearer(&token), Need::Admin)
                .await
        }
    });
    // Long enough for the bcrypt-free part of the check to have run and found nothing.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!check.is_finished(), "the check did not wait for the index");
    auth.index_all_in_background(Arc::clone(&store));
    let problem = tokio::time::timeout(Duration::from_secs(10), check)
        .await
        .expect("the check ended once the index was complete")
        .expect("the check ran")
        .expect_err("a calendar key is not an admin key");
    assert_eq!(problem.status(), http::StatusCode::FORBIDDEN, "{problem:?}");
    assert!(auth.is_indexed());
}

/// What changes index while the index is built stays; the calendars the build read are
/// all there.
#[test]
fn changes_while_building_win_over_the_build() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, _, key_id) = store_with_key(dir.path());
    let mut owners = Owners::default();
    // Read before the change below: the key is still the room's.
    let built = Owners::of(&store);
    // Meanwhile the key moved to another calendar (as a revoke and a new key with the same
    // id would make it), and that was indexed into the partial index.
    owners
        .by_key
        .insert(Box::from(key_id.as_str()), Arc::from("hall"));
    owners
        .by_key
        .insert(Box::from("another"), Arc::from("room"));
    owners.complete(built);
    assert!(owners.complete);
    assert_eq!(
        owners.by_key.get(key_id.as_str()).map(|c| &**c),
        Some("hall")
    );
    assert_eq!(owners.by_key.get("another").map(|c| &**c), Some("room"));
    assert_eq!(owners.by_key.len(), 2);
}
