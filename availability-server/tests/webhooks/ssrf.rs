//! No way into the private network: the webhook client refuses every special-purpose address
//! unless allowed, on a literal URL, on every address a name resolves to, and after a
//! redirect (which it never follows). Names resolve through a map of the test's own, and
//! every dial goes through a dialler that records it and connects only within 127.0.0.0/8
//! and ::1: a defect shows as a recorded dial, never as a packet to another network.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use availability_server::webhooks::client::{self, Client, Failure};
use availability_server::webhooks::net::{Dial, Policy, Resolve, Target};
use bytes::Bytes;
use futures_util::future::BoxFuture;
use tokio::net::TcpStream;

use super::receiver::{Mode, Receiver};

/// Names of the test, and the addresses each resolves to.
struct Names(HashMap<&'static str, Vec<IpAddr>>);

impl Resolve for Names {
    fn resolve<'a>(&'a self, host: &'a str, _port: u16) -> BoxFuture<'a, io::Result<Vec<IpAddr>>> {
        let found = self.0.get(host).cloned();
        Box::pin(async move {
            found.ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such test name"))
        })
    }
}

/// Records every dial; connects only to loopback.
#[derive(Default)]
struct Recorder(Mutex<Vec<SocketAddr>>);

impl Dial for Recorder {
    fn dial(&self, addr: SocketAddr) -> BoxFuture<'static, io::Result<TcpStream>> {
        self.0.lock().unwrap().push(addr);
        Box::pin(async move {
            if addr.ip().is_loopback() {
                TcpStream::connect(addr).await
            } else {
                Err(io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    format!("the test dialler does not leave the machine ({addr})"),
                ))
            }
        })
    }
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn client(allow: &[&str], ca: Option<&std::path::Path>) -> (Client, Arc<Recorder>) {
    let names = Names(HashMap::from([
        ("private.test", vec![ip("10.1.2.3")]),
        ("metadata.test", vec![ip("169.254.169.254")]),
        ("mixed.test", vec![ip("1.1.1.1"), ip("192.168.0.1")]),
        ("six.test", vec![ip("fd00::1")]),
        ("public.test", vec![ip("1.1.1.1")]),
        ("receiver.test", vec![ip("127.0.0.1")]),
    ]));
    let recorder = Arc::new(Recorder::default());
    let policy = Policy {
        allow: allow.iter().map(|a| a.parse().unwrap()).collect(),
    };
    let client = Client::with(
        policy,
        client::roots(ca).unwrap(),
        Arc::new(names),
        Arc::clone(&recorder) as Arc<dyn Dial>,
    );
    (client, recorder)
}

async fn post(client: &Client, url: &str) -> Result<u16, Failure> {
    let target = Target::parse(url).unwrap();
    client
        .post(&target, &[], Bytes::from_static(b"{}"))
        .await
        .map(|a| a.status)
}

#[tokio::test]
async fn special_addresses_are_refused_before_any_dial() {
    let (client, recorder) = client(&[], None);
    for url in [
        "https://127.0.0.1/",
        "https://127.8.9.10:8443/x",
        "https://[::1]/",
        "https://10.0.0.1/",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::ffff:10.0.0.1]/",
        "https://private.test/",
        "https://metadata.test/",
        "https://mixed.test/",
        "https://six.test/",
    ] {
        match post(&client, url).await {
            Err(Failure::Refused(why)) => assert!(why.contains("may not reach"), "{url}: {why}"),
            other => panic!("{url}: {other:?}"),
        }
    }
    assert_eq!(*recorder.0.lock().unwrap(), [], "nothing was dialled");
    // A public address passes the policy and reaches the dialler (which stays home).
    match post(&client, "https://public.test/").await {
        Err(Failure::Failed(why)) => assert!(why.contains("does not leave"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        *recorder.0.lock().unwrap(),
        [SocketAddr::new(ip("1.1.1.1"), 443)]
    );
}

#[tokio::test]
async fn an_allowed_receiver_is_reached_and_its_redirect_is_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start(dir.path()).await;
    let (client, recorder) = client(&["127.0.0.0/8"], Some(&receiver.ca_file));
    let port = receiver.addr.port();
    assert_eq!(
        post(&client, &format!("https://receiver.test:{port}/in")).await,
        Ok(204)
    );
    receiver.set_mode(Mode::Redirect("https://10.0.0.1/steal"));
    assert_eq!(
        post(&client, &format!("https://127.0.0.1:{port}/in")).await,
        Ok(302),
        "a redirect is an answer, not followed"
    );
    let dialled = recorder.0.lock().unwrap().clone();
    assert!(
        dialled.iter().all(|a| *a == receiver.addr),
        "only the receiver was dialled: {dialled:?}"
    );
    assert_eq!(receiver.messages().len(), 2);
    // Still refused: private addresses the allowance does not cover.
    assert!(matches!(
        post(&client, "https://private.test/").await,
        Err(Failure::Refused(_))
    ));
    assert!(matches!(
        post(&client, "https://[::1]/").await,
        Err(Failure::Refused(_))
    ));
}

#[tokio::test]
async fn a_slow_receiver_is_cut_at_the_request_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start(dir.path()).await;
    receiver.set_mode(Mode::Slow(Duration::from_secs(30)));
    let (client, _) = client(&["127.0.0.0/8"], Some(&receiver.ca_file));
    let url = receiver.url();
    let started = std::time::Instant::now();
    match post(&client, &url).await {
        Err(Failure::Failed(why)) => assert!(why.contains("15 s"), "{why}"),
        other => panic!("{other:?}"),
    }
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(15) && took < Duration::from_secs(18),
        "{took:?}"
    );
}
