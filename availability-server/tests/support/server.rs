//! A server in this process: a test certificate, a fresh store in a temporary directory, and
//! the server on port 0 over it, which a test can stop, restart and ask for calendars.

use std::path::Path;
use std::sync::Arc;

use availability_server::app::App;
use availability_server::config::Config;
use availability_server::startup::Opened;
use availability_server::store::{Storage, Store};
use availability_server::{server, startup};
use http::Version;
use rustls::pki_types::CertificateDer;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::Client;

/// A test certificate for localhost, as PEM files in `dir`; returns its DER for clients.
pub fn test_certificate(
    dir: &Path,
) -> (
    std::path::PathBuf,
    std::path::PathBuf,
    CertificateDer<'static>,
) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert = dir.join("test-cert.pem");
    let key = dir.join("test-key.pem");
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.key_pair.serialize_pem()).unwrap();
    (cert, key, certified.cert.der().clone())
}

pub struct TestServer {
    pub addr: std::net::SocketAddr,
    pub app: Arc<App>,
    pub store: Arc<Store>,
    pub admin: String,
    pub root: CertificateDer<'static>,
    pub data: tempfile::TempDir,
    /// The database the server runs on, when it runs on one.
    pub database: Option<String>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

/// bcrypt at its lowest cost, and key checks limited loosely: most tests make many checks
/// from one address on purpose. The tests of the limits set their own.
pub fn test_config(data: &Path) -> Config {
    let mut config = Config {
        data_dir: data.to_path_buf(),
        bcrypt_cost: 4,
        ..Config::default()
    };
    let loose = availability_server::limit::Rate {
        per_minute: 60_000,
        burst: 1000,
    };
    config.rates.auth = loose;
    config.rates.auth_key = loose;
    config
}

impl TestServer {
    /// A server with a test certificate and a fresh store file.
    pub async fn start() -> TestServer {
        let data = tempfile::tempdir().unwrap();
        let (cert, key, root) = test_certificate(data.path());
        let mut config = test_config(data.path());
        config.tls = Some((cert, key));
        TestServer::start_with(config, root, data).await
    }

    /// A server over a fresh store file, with settings changed by `tweak`.
    pub async fn start_tweaked(tweak: impl FnOnce(&mut Config)) -> TestServer {
        let data = tempfile::tempdir().unwrap();
        let (cert, key, root) = test_certificate(data.path());
        let mut config = test_config(data.path());
        config.tls = Some((cert, key));
        tweak(&mut config);
        TestServer::start_with(config, root, data).await
    }

    /// A server with `config`, over the store in `config.data_dir`, or over a new database of
    /// the test cluster when the suite runs on PostgreSQL ([`backend`]).
    pub async fn start_with(
        mut config: Config,
        root: CertificateDer<'static>,
        data: tempfile::TempDir,
    ) -> TestServer {
        // A test on a paused clock (timeouts of the HTTP layer) keeps the store file: a
        // paused clock jumps to the next timer whenever the runtime waits, and so would fire
        // the database's timeouts while a query is on its way.
        if config.database.is_none() && on_postgres() && !clock_paused() {
            let cluster = super::postgres::Cluster::get().expect("the test cluster");
            config.database = Some(database(cluster.database().await));
        }
        let opened = open(&config).await;
        let store = Arc::clone(opened.storage.store());
        let database = config.database.as_ref().map(|d| d.url.clone());
        let (tls, _) = startup::tls(&config).unwrap();
        let prepared = startup::prepare(&config, opened).await.unwrap();
        let admin = prepared.new_admin_key.clone().unwrap_or_default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let app = Arc::clone(&prepared.app);
        let task = tokio::spawn(server::run(
            listener,
            tls,
            prepared.app,
            config.connections,
            async move {
                let _ = rx.await;
            },
            std::time::Duration::from_secs(30),
        ));
        TestServer {
            addr,
            app,
            store,
            admin,
            root,
            data,
            database,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    /// Stops the server and starts another on the same data directory (and certificate),
    /// which must make no new admin key; the new one keeps the old one's.
    pub async fn restart(mut self) -> TestServer {
        self.stop().await;
        // Dropping the rest closes the store, so the new server can lock it.
        let TestServer {
            data,
            root,
            admin,
            app,
            store,
            database: url,
            ..
        } = self;
        drop((app, store));
        let mut config = test_config(data.path());
        config.database = url.map(database);
        let (cert, key) = (
            data.path().join("test-cert.pem"),
            data.path().join("test-key.pem"),
        );
        config.tls = cert.exists().then_some((cert, key));
        let mut again = TestServer::start_with(config, root, data).await;
        assert_eq!(again.admin, "", "a restart makes no new admin key");
        again.admin = admin;
        again
    }

    pub fn client(&self, version: Version) -> Client {
        Client::new(self.addr, self.root.clone(), version)
    }

    /// Signals shutdown and waits for `run` to return.
    pub async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap();
        }
    }

    pub fn trigger_shutdown(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }

    pub async fn join(&mut self) {
        if let Some(task) = self.task.take() {
            task.await.unwrap();
        }
    }

    /// Creates a calendar with the admin key; returns its key.
    pub async fn create_calendar(&self, id: &str, zone: &str) -> String {
        self.client(Version::HTTP_11)
            .create_calendar(&self.admin, id, zone)
            .await
    }
}

/// Whether the suite runs on PostgreSQL (`AVAILABILITY_TEST_BACKEND=postgres`) rather than on
/// the store file.
pub fn on_postgres() -> bool {
    std::env::var("AVAILABILITY_TEST_BACKEND").is_ok_and(|b| b == "postgres")
}

/// Whether tokio's clock is paused (`start_paused`): it does not move while real time does.
fn clock_paused() -> bool {
    let before = tokio::time::Instant::now();
    std::thread::sleep(std::time::Duration::from_millis(2));
    tokio::time::Instant::now() == before
}

/// The settings of database `url`.
pub fn database(url: String) -> availability_server::config::Database {
    availability_server::config::Database {
        url,
        pool: 16,
        ca_file: None,
    }
}

/// Opens what `config` says: its database, or the store file in its data directory.
pub async fn open(config: &Config) -> Opened {
    match startup::open_database(config).await.unwrap() {
        Some(opened) => opened,
        None => Opened {
            storage: Storage::File(open_store(&config.data_dir).await),
            new_admin_key: None,
        },
    }
}

/// Opens the store in `dir`. A server that has just stopped may still be dropping its last
/// connection's share of the store (and so its lock) on another worker: wait a little for it.
pub async fn open_store(dir: &Path) -> Arc<Store> {
    for _ in 0..100 {
        match availability_server::store::open(dir) {
            Ok(store) => return store,
            Err(e) if e.contains("lock") => {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            Err(e) => panic!("opening the store: {e}"),
        }
    }
    panic!("the store in {} stayed locked", dir.display())
}
