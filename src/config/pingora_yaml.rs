//! `pingora.yaml`: Pingora's own server settings (threads, pid file, upgrade
//! socket, grace periods, CA roots). This is the one place in `config` that
//! touches a Pingora type, because the file *is* Pingora's `ServerConf`;
//! what is added here is the checking Pingora leaves out: unknown keys (a
//! typo would silently keep a default), problems with their line, and the
//! paths and trust roots Pingora would otherwise `unwrap` on.

use pingora::server::configuration::ServerConf;
use std::path::Path;

/// Why `pingora.yaml` (or what it names) cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ServerConfError {
    #[error("cannot build the default server configuration")]
    NoDefault,
    #[error("{path}: cannot read the file: {source}")]
    Unreadable {
        path: String,
        source: std::io::Error,
    },
    /// One line per problem, each with the file and line.
    #[error("{}", .0.join("\n"))]
    Problems(Vec<String>),
}

fn one(line: String) -> ServerConfError {
    ServerConfError::Problems(vec![line])
}

/// Load `pingora.yaml` ourselves: Pingora's own loader quotes the whole file
/// in its error message and unwraps on failure.
pub fn load_server_conf(path: Option<&str>) -> Result<ServerConf, ServerConfError> {
    let Some(path) = path else {
        return ServerConf::new().ok_or(ServerConfError::NoDefault);
    };
    let text = std::fs::read_to_string(path).map_err(|source| ServerConfError::Unreadable {
        path: path.to_string(),
        source,
    })?;
    unknown_server_keys(path, &text)?;
    let conf: ServerConf = serde_yaml::from_str(&text).map_err(|e| {
        one(match e.location() {
            Some(l) => format!("{path}:{}: {}", l.line(), strip_location(&e.to_string())),
            None => format!("{path}: {e}"),
        })
    })?;
    let conf = conf.validate().map_err(|e| {
        let why = e
            .context
            .map(|c| c.as_str().to_string())
            .unwrap_or_default();
        one(format!("{path}: {why}"))
    })?;
    check_trust_roots(&conf).map_err(|e| one(format!("{path}: {e}")))?;
    Ok(conf)
}

/// Pingora's `ServerConf` ignores keys it does not know, so a typo such as
/// `grace_period_second` would silently keep the 300 s default. Every
/// top-level key must be one `ServerConf` serialises; one line per stranger.
fn unknown_server_keys(path: &str, text: &str) -> Result<(), ServerConfError> {
    let known = serde_yaml::to_value(ServerConf::default())
        .ok()
        .and_then(|v| match v {
            serde_yaml::Value::Mapping(m) => Some(m),
            _ => None,
        })
        .unwrap_or_default();
    let Ok(marked_yaml::Node::Mapping(map)) = marked_yaml::parse_yaml(0, text) else {
        // Not a mapping (or not YAML): serde_yaml's own error says it better.
        return Ok(());
    };
    let mut names: Vec<&str> = known.keys().filter_map(|k| k.as_str()).collect();
    names.sort_unstable();
    let problems: Vec<String> = map
        .keys()
        .filter(|k| !known.contains_key(k.as_str()))
        .map(|k| {
            let line = k.span().start().map_or(0, |m| m.line());
            format!(
                "{path}:{line}: {}: unknown key (pingora.yaml holds Pingora's server settings: {})",
                k.as_str(),
                names.join(", ")
            )
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ServerConfError::Problems(problems))
    }
}

/// Daemonising opens `error_log` and writes `pid_file`, and Pingora
/// unwraps both: check them first so a missing directory is one clear
/// line, not a panic after the fork.
pub fn check_daemon_paths(conf: &ServerConf) -> Result<(), ServerConfError> {
    let mut problems = Vec::new();
    if let Some(log) = &conf.error_log {
        let opened = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(log);
        if let Err(e) = opened {
            problems.push(format!(
                "error_log `{log}`: cannot open it for appending: {e}"
            ));
        }
    }
    let pid_dir = Path::new(&conf.pid_file)
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !pid_dir.is_dir() {
        problems.push(format!(
            "pid_file `{}`: directory `{}` does not exist",
            conf.pid_file,
            pid_dir.display()
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ServerConfError::Problems(problems))
    }
}

/// Pingora's TLS connector unwraps its CA loading; check it here so a bad
/// `ca_file` (or a host without CA roots) is a config error, not a panic.
fn check_trust_roots(conf: &ServerConf) -> Result<(), String> {
    let mut store = pingora::tls::RootCertStore::empty();
    match &conf.ca_file {
        Some(ca) => {
            pingora::tls::load_ca_file_into_store(ca, &mut store)
                .map_err(|e| format!("ca_file `{ca}`: {}", e.etype().as_str()))?;
            if store.is_empty() {
                return Err(format!("ca_file `{ca}`: no certificate in the file"));
            }
        }
        None => {
            pingora::tls::load_platform_certs_incl_env_into_store(&mut store).map_err(|_| {
                "cannot load the system CA roots (install ca-certificates, or set ca_file)"
                    .to_string()
            })?
        }
    }
    Ok(())
}

fn strip_location(msg: &str) -> &str {
    msg.split(" at line ").next().unwrap_or(msg)
}
