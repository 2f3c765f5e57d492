//! The real binary: `availability-server` started as a process over a data directory, its
//! output captured line by line, and killed when the test ends.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

/// The server's binary, with no setting taken from this environment (`AVAILABILITY_*`): each
/// test says what it runs with.
pub fn binary() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_availability-server"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("AVAILABILITY_") {
            command.env_remove(name);
        }
    }
    command
}

/// What a running binary wrote: its standard output (where the first run prints the admin
/// key), its standard error (the log), and how many of the two have ended.
#[derive(Default)]
struct Written {
    out: String,
    log: String,
    ended: usize,
}

/// [`Written`], and a signal for each change.
#[derive(Default)]
struct Captured {
    written: Mutex<Written>,
    changed: Condvar,
}

impl Captured {
    /// Appends every line of `pipe` to the text `field` picks, to its end: the binary never
    /// blocks on a full pipe.
    fn drain(
        self: &Arc<Captured>,
        pipe: impl Read + Send + 'static,
        field: fn(&mut Written) -> &mut String,
    ) {
        let captured = Arc::clone(self);
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut written = captured.written.lock().unwrap();
                let text = field(&mut written);
                text.push_str(&line);
                text.push('\n');
                captured.changed.notify_all();
            }
            captured.written.lock().unwrap().ended += 1;
            captured.changed.notify_all();
        });
    }

    /// What `found` finds in what was written, once it finds it; fails, saying that `what`
    /// was missing, after a minute or when both pipes ended first.
    fn wait_for<T>(&self, what: &str, found: impl Fn(&Written) -> Option<T>) -> T {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        let mut written = self.written.lock().unwrap();
        loop {
            if let Some(it) = found(&written) {
                return it;
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            assert!(
                written.ended < 2 && !left.is_zero(),
                "{what}, within a minute and before the binary ended: {}",
                written.log
            );
            written = self.changed.wait_timeout(written, left).unwrap().0;
        }
    }
}

/// The real `availability-server` serving HTTPS on a free port of 127.0.0.1 over a data
/// directory, its output captured; killed when dropped, however the test ends.
pub struct Binary {
    child: Child,
    pub addr: std::net::SocketAddr,
    data: std::path::PathBuf,
    captured: Arc<Captured>,
}

impl Binary {
    /// Starts the binary over `data` (also its working directory) with bcrypt at its lowest
    /// cost, logging at `log`, with `flags` besides; returns once it logs its address, which
    /// it does once it serves the API.
    pub fn start(
        data: &Path,
        log: &str,
        flags: impl IntoIterator<Item = impl AsRef<OsStr>>,
    ) -> Binary {
        Binary::spawn(data, log, flags, "address")
    }

    /// [`Binary::start`], returning as soon as the port is open (it logs `listen`), while
    /// the store may still be loading. `log` must show the binary's info lines.
    pub fn start_early(
        data: &Path,
        log: &str,
        flags: impl IntoIterator<Item = impl AsRef<OsStr>>,
    ) -> Binary {
        Binary::spawn(data, log, flags, "listen")
    }

    fn spawn(
        data: &Path,
        log: &str,
        flags: impl IntoIterator<Item = impl AsRef<OsStr>>,
        field: &str,
    ) -> Binary {
        let mut child = binary()
            .args([
                "--listen",
                "127.0.0.1:0",
                "--bcrypt-cost",
                "4",
                "--log",
                log,
            ])
            .arg("--data-dir")
            .arg(data)
            .args(flags)
            .current_dir(data)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let captured = Arc::new(Captured::default());
        captured.drain(child.stdout.take().unwrap(), |w| &mut w.out);
        captured.drain(child.stderr.take().unwrap(), |w| &mut w.log);
        let mut binary = Binary {
            child,
            addr: ([127, 0, 0, 1], 0).into(),
            data: data.to_path_buf(),
            captured,
        };
        binary.addr = binary
            .captured
            .wait_for("the server logs its address", |w| {
                // A text line has `address=...`; a JSON one `"address":"..."`.
                w.log.lines().find_map(|line| {
                    let text = line.split(&format!("{field}=")).nth(1);
                    let json = line.split(&format!("\"{field}\":\"")).nth(1);
                    match (text, json) {
                        (Some(rest), _) => rest.split_whitespace().next()?.parse().ok(),
                        (None, Some(rest)) => rest.split('"').next()?.parse().ok(),
                        (None, None) => None,
                    }
                })
            });
        binary
    }

    /// The certificate it serves, as it stands in the data directory.
    pub fn root(&self) -> CertificateDer<'static> {
        let pem = std::fs::read(self.data.join("cert.pem")).unwrap();
        CertificateDer::from_pem_slice(&pem).unwrap()
    }

    /// The admin key a first run prints; `None` once the binary has ended without printing
    /// one.
    pub fn printed_key(&self) -> Option<String> {
        let printed = |w: &Written| {
            w.out
                .split_whitespace()
                .find(|word| word.starts_with("avk_"))
                .map(str::to_owned)
        };
        self.captured
            .wait_for("a key, or the end of its output", |w| match printed(w) {
                Some(key) => Some(Some(key)),
                None if w.ended == 2 => Some(None),
                None => None,
            })
    }

    /// Everything it logged so far (all of it, once it has ended).
    pub fn log(&self) -> String {
        self.captured.written.lock().unwrap().log.clone()
    }

    /// Everything it wrote to standard output so far.
    pub fn output(&self) -> String {
        self.captured.written.lock().unwrap().out.clone()
    }

    /// Its process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Its exit status, once it has ended.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().unwrap()
    }

    /// Whether it still runs.
    pub fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Sends it SIGTERM (by its own process id); returns its exit code once it has ended and
    /// its output is all captured.
    pub fn terminate(&mut self) -> i32 {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let code = self.child.wait().unwrap().code().unwrap_or(-1);
        self.captured
            .wait_for("the end of its output", |w| (w.ended == 2).then_some(()));
        code
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
