//! The process: the Pingora server with the gateway's listeners and its
//! background services (endpoint refresh, health checks, the hand-over
//! watcher, metrics), the `-t` summary, and the graceful hand-over to a new
//! process (`handover`, the crate's one `unsafe` corner, with `launcher`).
//!
//! Must not: know about requests (that is `gateway`).

mod admin;
mod describe;
mod error;
mod handover;
mod keys_command;
mod launcher;
mod listen;

pub use describe::describe;
pub use error::StartError;
pub use keys_command::{run as run_keys, AdminTarget, KeysCommand};

use crate::config::{self, Loaded};
use crate::gateway::{Gateway, Parts, State, Sweeper};
use crate::observe::{AccessLog, InstanceGauge, InstanceStates};
use crate::routing::Health;
use crate::store::Store;
use crate::teams::Teams;
use crate::upstream::{BadHeader, Connector, Endpoints, Prober, Upstream};
use handover::Handover;
use listen::Listeners;
use pingora::connectors::ConnectorOptions;
use pingora::listeners::tls::TlsSettings;
use pingora::listeners::{L4BufferSettings, ListenerConfig};
use pingora::server::configuration::{Opt, ServerConf};
use pingora::server::Server;
use pingora::services::background::background_service;
use pingora::services::listening::Service;
use std::net::SocketAddr;
use std::sync::Arc;

/// Where the access log goes. A daemon's stdout is closed (under systemd,
/// and after Pingora's fork), so `access_log: stdout` would lose every
/// line: a daemon writes `access.log` beside its `error_log` instead.
pub fn access_log_target(
    conf: &config::AccessLog,
    daemon: bool,
    server: &ServerConf,
) -> config::AccessLog {
    match (conf, daemon, &server.error_log) {
        (config::AccessLog::Stdout, true, Some(error_log)) => {
            let dir = std::path::Path::new(error_log)
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(std::path::Path::new("."));
            config::AccessLog::File(dir.join("access.log"))
        }
        _ => conf.clone(),
    }
}

/// Every instance's state, for the `modelgate_instance_*` gauges.
fn instance_gauges(state: &State) -> Vec<InstanceGauge> {
    state
        .reports()
        .map(|(up, r)| InstanceGauge {
            id: up.id.to_string(),
            state: r.state.name(),
            retry_in: r.retry_in,
            cooling_models: r.cooling.len(),
            in_flight: r.in_flight,
        })
        .collect()
}

/// Client connections read straight into Pingora's header and body
/// buffers. Pingora's default puts a 64 KiB read buffer (zeroed, so it is
/// resident once jemalloc reuses memory) under every client connection,
/// open streams and idle keep-alive connections included; the bytes then
/// take a second copy. Measured without it: 4.7 kB less per open stream,
/// and 12 % less CPU per request with a 30 KB prompt.
fn client_buffers() -> L4BufferSettings {
    L4BufferSettings::default().read(0)
}

/// The process's file descriptor limit, after raising the soft limit to the
/// hard one: the gateway holds one per client and one per upstream
/// connection, and Debian's soft default of 1,024 would be a ceiling that
/// one client could reach.
fn fd_limit() -> u64 {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => {
            log::info!("file descriptor limit: {n}");
            n
        }
        Err(e) => {
            log::warn!("cannot read the file descriptor limit ({e}); assuming 1024");
            1024
        }
    }
}

/// Every TLS listener's certificate and key, read now (and by `-t`): a
/// missing file, or a PEM without a certificate or a private key, stops the
/// start with one line, instead of a listener that fails every handshake.
pub fn check_tls(config: &config::Config) -> Result<(), StartError> {
    for l in &config.listen {
        if let Some(files) = &l.tls {
            tls_settings(l.addr, files)?;
        }
    }
    Ok(())
}

/// HTTP/1.1 only (no ALPN `h2`): the gateway's request path is HTTP/1.1.
fn tls_settings(addr: SocketAddr, files: &config::TlsFiles) -> Result<TlsSettings, StartError> {
    let (cert, key) = (
        files.cert.display().to_string(),
        files.key.display().to_string(),
    );
    let fail = |why: String| StartError::Tls {
        addr,
        cert: cert.clone(),
        key: key.clone(),
        why,
    };
    let (Some(cert_path), Some(key_path)) = (files.cert.to_str(), files.key.to_str()) else {
        return Err(fail("the path is not UTF-8".into()));
    };
    let (certs, key) = match pingora::tls::load_certs_and_key_files(cert_path, key_path) {
        Ok(Some(pair)) => pair,
        Ok(None) => {
            return Err(fail(
                "no certificate, or no private key, in the PEM files".into(),
            ))
        }
        Err(e) => return Err(fail(tls_why(&e))),
    };
    // What Pingora does when the listener starts, where a failure is a
    // panic: a key rustls cannot use, or one that does not match.
    pingora::tls::install_default_crypto_provider();
    let versions = [&pingora::tls::version::TLS12, &pingora::tls::version::TLS13];
    pingora::tls::ServerConfig::builder_with_protocol_versions(&versions)
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| fail(e.to_string()))?;
    TlsSettings::intermediate(cert_path, key_path).map_err(|e| fail(tls_why(&e)))
}

/// A Pingora TLS error as one readable phrase (its cause, when it has one).
fn tls_why(e: &pingora::Error) -> String {
    match &e.cause {
        Some(cause) => cause.to_string(),
        None => e
            .context
            .as_ref()
            .map_or_else(|| e.etype().as_str().to_string(), ToString::to_string),
    }
}

/// Build the server: the gateway's listeners, the endpoint refresher, the
/// health checks and the hand-over watcher. Bootstrap (taking over the old
/// process's sockets on `-u`) runs as a service after daemonising, and the
/// listeners wait for it; with `daemon_wait_for_ready`, the launcher exits
/// only then, so `systemctl reload` can QUIT the old process afterwards and
/// a new process that fails to start never costs the old one its sockets.
pub fn build(opt: Opt, conf: ServerConf, loaded: &Loaded) -> Result<Built, StartError> {
    let config = &loaded.config;
    let tls = (config.listen.iter())
        .map(|l| {
            l.tls
                .as_ref()
                .map(|files| tls_settings(l.addr, files))
                .transpose()
        })
        .collect::<Result<Vec<_>, _>>()?;
    let addrs: Vec<_> = config.listen.iter().map(|l| l.addr).collect();
    let listeners = Listeners::settle(&addrs, config.admin_listen, opt.upgrade)?;
    let access_log = access_log_target(&config.access_log, opt.daemon || conf.daemon, &conf);
    if (opt.daemon || conf.daemon) && conf.daemon_wait_for_ready {
        launcher::exit_launcher_on_ready_signal().map_err(StartError::Signal)?;
    }
    let mut server = Server::new_with_opt_and_conf(opt, conf);
    let bootstrap = server.bootstrap_as_a_service();
    let phases = server.watch_execution_phase();
    let (endpoints, of_instance) = Endpoints::new(config);
    let upstreams = (config.instances.iter().zip(&of_instance))
        .map(|(inst, &e)| match endpoints.get(e) {
            Some(pool) => Upstream::new(inst, pool.clone(), &config.routing.timeouts),
            None => Err(BadHeader(inst.id.clone())),
        })
        .collect::<Result<Arc<[Upstream]>, _>>()?;
    let connector = Arc::new(Connector::new(ConnectorOptions::from_server_conf(
        &server.configuration,
    )));
    let health = Arc::new(Health::new(config));
    let store = open_store(config)?;
    seed_tokens_today(&store, config, &health)?;
    let teams = Teams::new(config, Some(store.clone()))?;
    let parts = Parts {
        teams,
        upstreams: upstreams.clone(),
        connector: connector.clone(),
        health: health.clone(),
        access_log: AccessLog::open(&access_log)?,
        fd_limit: fd_limit(),
    };
    let state = Arc::new(State::new(config, parts)?);
    state.metrics.register()?;
    let prober = Prober::new(
        upstreams,
        connector,
        health,
        config.routing.health_check,
        config.routing.timeouts.idle,
    );
    let mut gateway = Service::new("modelgate".to_string(), Gateway::new(state.clone()));
    let admin_state = state.clone();
    for (addr, tls) in listeners.api.iter().zip(tls) {
        let listener = ListenerConfig::tcp(addr.to_string()).l4_buffer(client_buffers());
        match tls {
            Some(settings) => {
                gateway.add_listener(listener.tls(settings));
                log::info!("listening on {addr} (TLS)");
            }
            None => {
                gateway.add_listener(listener);
                log::info!("listening on {addr}");
            }
        }
    }
    server.add_service(gateway).add_dependency(&bootstrap);
    let handover = Handover::new(state.clone(), phases, listeners.all());
    server.add_service(background_service("handover", handover));
    server.add_service(background_service("endpoints", endpoints.refresher()));
    server.add_service(background_service("health checks", prober));
    let sweeper = Sweeper(state.connections.clone());
    server.add_service(background_service("idle connections", sweeper));
    if let Some(admin) = listeners.admin {
        let states = InstanceStates::new(move || instance_gauges(&state))?;
        pingora_prometheus::prometheus::register(Box::new(states))?;
        let mut admin_service = Service::new("admin".to_string(), admin::Admin::new(admin_state));
        admin_service.add_tcp(&admin.to_string());
        server.add_service(admin_service).add_dependency(&bootstrap);
        log::info!("admin listening on {admin}");
    }
    Ok(Built { server, store })
}

/// The server, and the store to flush once it has stopped.
pub struct Built {
    pub server: Server,
    pub store: Store,
}

/// The store `store:` names, opened (and migrated) now, so that a store
/// that cannot be used stops the start with one line.
fn open_store(config: &config::Config) -> Result<Store, StartError> {
    let config::Store::Sqlite(path) = &config.store;
    let store = Store::open(path)?;
    log::info!("store: {}", path.display());
    Ok(store)
}

/// Routing's tokens-today (for `least-usage`) as the store has them, so a
/// restart does not forget the day.
fn seed_tokens_today(
    store: &Store,
    config: &config::Config,
    health: &Health,
) -> Result<(), StartError> {
    let now_ms = crate::teams::now_ms();
    let now_s = (now_ms / 1000).max(0) as u64;
    let today = crate::teams::period_start_ms(config::BudgetPeriod::Daily, now_ms);
    for (instance, model, tokens) in store.tokens_by_slot(today)? {
        if let Some(i) = config.instances.iter().position(|x| x.id == instance) {
            health.seed_tokens(i, &model, tokens, now_s);
        }
    }
    Ok(())
}
