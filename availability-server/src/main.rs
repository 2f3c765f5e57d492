//! The `availability-server` binary: parse the configuration, then serve or run an operator
//! command.

use std::process::ExitCode;

use std::sync::Arc;

use availability_server::config::{AdminKeysAction, Cli, Command, Config, LogFormat};
use availability_server::starting::Starting;
use availability_server::{auth, server, startup};
use clap::Parser;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        None | Some(Command::Serve) => serve(&cli),
        Some(Command::GenerateKey) => generate_key(&cli),
        Some(Command::HashKey { key }) => hash_key(&cli, key),
        Some(Command::AdminKeys { action }) => admin_keys(&cli, action),
        Some(Command::Migrate { from, to }) => migrate(&cli, from, to),
        Some(Command::Backup { to, server }) => Config::load(&cli).and_then(|config| {
            availability_server::backup::backup(
                &config,
                to,
                server.as_deref(),
                &mut std::io::stdout().lock(),
            )
        }),
        Some(Command::Restore { from }) => Config::load(&cli).and_then(|config| {
            availability_server::backup::restore(&config, from, &mut std::io::stdout().lock())
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("availability-server: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Prints a new key and the line that configures it as an admin key.
#[allow(clippy::print_stdout)] // The key is this command's output.
fn generate_key(cli: &Cli) -> Result<(), String> {
    let config = Config::load(cli)?;
    let key = auth::generate().map_err(|e| format!("the random number generator: {e}"))?;
    let hash = auth::hash_blocking(&key.token, config.bcrypt_cost).map_err(|e| e.to_string())?;
    println!("key:        {}", key.token);
    println!("admin_keys: {}:{hash}", key.id);
    Ok(())
}

/// Lists, creates or revokes the admin keys in the data directory's store, or in the database.
fn admin_keys(cli: &Cli, action: &AdminKeysAction) -> Result<(), String> {
    let config = Config::load(cli)?;
    availability_server::admin_keys::run(&config, action, &mut std::io::stdout().lock())
}

/// Copies the calendars from one place to the other and checks the copy.
fn migrate(cli: &Cli, from: &str, to: &str) -> Result<(), String> {
    let config = Config::load(cli)?;
    let ca_file = cli
        .database_ca
        .clone()
        .or_else(|| config.database.and_then(|d| d.ca_file));
    availability_server::migrate::run(from, to, ca_file, &mut std::io::stdout().lock())
}

/// Prints the `<id>:<hash>` line of a key.
#[allow(clippy::print_stdout)] // The hash is this command's output.
fn hash_key(cli: &Cli, key: &str) -> Result<(), String> {
    let config = Config::load(cli)?;
    let id = auth::key_id(key.trim()).ok_or(
        "that is not a key (or it is mistyped): keys look like avk_<12 hex digits>_<48 hex digits>",
    )?;
    let hash = auth::hash_blocking(key.trim(), config.bcrypt_cost).map_err(|e| e.to_string())?;
    println!("{id}:{hash}");
    Ok(())
}

#[allow(clippy::print_stdout)] // The first admin key is printed once, for the operator.
fn serve(cli: &Cli) -> Result<(), String> {
    // Before the runtime starts its threads.
    availability_server::memory::bound_arenas();
    let config = Config::load(cli)?;
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log)
        .map_err(|e| format!("the log filter {:?}: {e}", config.log))?;
    // Logs go to standard error, so standard output carries only the first-run key.
    let logs = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter);
    match config.log_format {
        // Colour codes only for a terminal: a log file or pipe gets plain `key=value` fields.
        LogFormat::Text => logs
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        LogFormat::Json => logs.json().init(),
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("starting the runtime: {e}"))?;
    runtime.block_on(async {
        // The port first, answered at once: while the store (or the database) loads, which
        // takes seconds for a million calendars, every request gets 503 and the reason, and
        // `/healthz` says the process is alive.
        let (tls, new_certificate) = startup::tls(&config)?;
        if let Some(path) = &new_certificate {
            tracing::info!(
                path = %path.display(),
                "no certificate configured: made a self-signed one for localhost"
            );
        }
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|e| format!("listening on {}: {e}", config.listen))?;
        let address = listener
            .local_addr()
            .map_err(|e| format!("listening on {}: {e}", config.listen))?;
        let starting = Arc::new(Starting::new(match config.database {
            None => "opening the store",
            Some(_) => "loading from the database",
        }));
        let (loaded, until_loaded) = tokio::sync::oneshot::channel::<()>();
        // The answers meanwhile come from the runtime's workers: this thread loads.
        let listener = Arc::new(listener);
        let meanwhile = tokio::spawn({
            let (listener, tls, starting) = (
                Arc::clone(&listener),
                Arc::clone(&tls),
                Arc::clone(&starting),
            );
            let connections = config.connections;
            async move {
                let until = async {
                    let _ = until_loaded.await;
                };
                server::serve_until(&listener, tls, starting, connections, until).await
            }
        });
        tracing::info!(listen = %address, "loading; answering 503 until ready");
        let prepared = load(&config, &starting).await;
        if let Ok(prepared) = &prepared {
            starting.hand_over(Arc::clone(&prepared.app));
        }
        let _ = loaded.send(());
        let early = meanwhile
            .await
            .map_err(|e| format!("answering while loading: {e}"))?;
        let prepared = prepared?;
        let listener = Arc::try_unwrap(listener)
            .map_err(|_| String::from("the listener is still in use after loading"))?;
        let shutdown = shutdown_signal()?;
        match &config.database {
            None => tracing::info!(%address, data = %config.data_dir.display(), "serving https"),
            Some(_) => tracing::info!(%address, data = "postgresql", "serving https"),
        }
        if let Some(key) = &prepared.new_admin_key {
            println!(
                "\nAdmin key (shown once; only its hash is kept):\n\n    {key}\n\n\
                 Send it as: Authorization: Bearer {key}\n"
            );
        }
        server::run(
            listener,
            tls,
            prepared.app,
            config.connections,
            shutdown,
            config.shutdown_grace,
        )
        .await;
        // The connections accepted while loading, which the API answered since.
        server::drain(early, config.shutdown_grace).await;
        Ok(())
    })
}

/// Opens the storage, installs the time-zone data and prepares the API, telling `starting`
/// each step. The blocking steps run on this thread, the process's main one, while the
/// runtime's workers answer: its allocations come from the allocator's main arena, which
/// grows in large steps, where a thread of its own grows its arena a page at a time, a system
/// call each (a tenth of the time a million calendars took to load).
async fn load(config: &Config, starting: &Starting) -> Result<startup::Prepared, String> {
    let began = std::time::Instant::now();
    let opened = match startup::open_database(config).await? {
        Some(opened) => opened,
        None => {
            let storage = availability_server::store::open(&config.data_dir)?;
            startup::Opened {
                storage: availability_server::store::Storage::File(storage),
                new_admin_key: None,
            }
        }
    };
    let store = Arc::clone(opened.storage.store());
    tracing::info!(
        calendars = store.len(),
        ms = began.elapsed().as_millis(),
        "loaded"
    );
    starting.stage("loading the time-zone data");
    let began = std::time::Instant::now();
    time_zones(&store, &config.tzdata)?;
    let zones_ms = began.elapsed().as_millis();
    starting.stage("preparing the API");
    let began = std::time::Instant::now();
    let prepared = startup::prepare(config, opened).await?;
    tracing::info!(zones_ms, prepare_ms = began.elapsed().as_millis(), "ready");
    Ok(prepared)
}

/// Installs the configured time-zone data, which must know every zone the stored calendars
/// use, before anything names a zone (the routes look zones up in it).
fn time_zones(
    store: &availability_server::store::Store,
    configured: &availability_server::tzdata::Source,
) -> Result<(), String> {
    // The records share one copy of each zone name: a name's address tells whether it was
    // seen, without comparing the name (a store of a million calendars has a few hundred).
    // Hashed with foldhash: SipHash made this pass take half a second at a million.
    let in_use = || {
        let mut seen: std::collections::HashSet<usize, foldhash::fast::RandomState> =
            std::collections::HashSet::default();
        let mut zones = Vec::new();
        store.for_each(|calendar| {
            let zone = calendar.zone();
            if seen.insert(zone.as_ptr() as usize) {
                zones.push(zone.to_owned());
            }
        });
        zones
    };
    let tzdata = availability_server::tzdata::install(configured, in_use)?;
    // Bookings claim the owner slots their spans fall in under the release now in use;
    // the store was opened with the bundled one, so only another needs a pass over them.
    if !std::ptr::eq(tzdata.db, availability_core::tz::Tzdb::bundled()) {
        store
            .refresh_time_zones()
            .map_err(|e| format!("applying the time-zone data to the bookings: {e}"))?;
    }
    if let Some(note) = &tzdata.note {
        tracing::info!("{note}");
    }
    tracing::info!(
        version = tzdata.db.version(),
        from = %tzdata.origin,
        zones = tzdata.db.len(),
        "time-zone data"
    );
    Ok(())
}

/// Installs the SIGINT and SIGTERM handlers at once and returns a future that completes on
/// either. Installing them before the server says it is serving matters: until a handler is
/// installed, a signal has its default effect and ends the process on the spot, with no
/// drain of the requests in flight.
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>, String> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut terminate =
            signal(SignalKind::terminate()).map_err(|e| format!("handling SIGTERM: {e}"))?;
        let mut interrupt =
            signal(SignalKind::interrupt()).map_err(|e| format!("handling SIGINT: {e}"))?;
        Ok(async move {
            tokio::select! {
                _ = terminate.recv() => {},
                _ = interrupt.recv() => {},
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}
