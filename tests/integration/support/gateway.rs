//! Runs the real `modelgate` binary like a user would: a temp dir with `gateway.yaml`
//! (listening on port 0: the gateway binds it and logs the port it got) and
//! `pingora.yaml`, the child's output captured into a shared log, the ports read from
//! that log, readiness by polling `GET /health`, and the child killed on drop (its logs
//! printed if the test is failing). Also small config-writing helpers.

use super::client::{http_client, post_json};
use super::process::{self, Capture, Listening};
use serde_json::Value;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

/// How long the gateway may take to log its ports and answer `/health` after spawning.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// What every listener of a test gateway is configured with: the gateway picks the port
/// and logs it (see [`Listening`]), so no port is ever picked, let go and raced for.
const ANY_PORT: &str = "127.0.0.1:0";

/// A base URL nothing listens on (connection refused), for connect-error tests.
/// The port stays bound, without a listener, for the rest of the test run: a
/// port merely let go can be handed to a mock of a test running alongside,
/// which would then answer.
pub fn closed_base_url() -> String {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind("127.0.0.1:0".parse().expect("addr"))
        .expect("bind a port to keep closed");
    let port = socket.local_addr().expect("local addr").port();
    std::mem::forget(socket);
    format!("http://127.0.0.1:{port}/v1")
}

/// Writes `dir/name` and returns its path.
pub fn write_file(dir: &Path, name: &str, contents: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    path
}

/// One `providers:` list entry for an OpenAI-compatible upstream, in block style so
/// `${KEY}` stays a plain YAML scalar. `key_env: None` leaves out `api_key`.
pub fn provider_yaml(id: &str, base_url: &str, key_env: Option<&str>, models: &[&str]) -> String {
    typed_provider_yaml(id, "openai-compatible", base_url, key_env, models)
}

/// [`provider_yaml`] for any provider `type` that takes a `base_url`: `anthropic-compatible`
/// (a mock's `/v1`: the gateway calls `{base}/messages`), `gemini` (a mock's `/v1beta`:
/// `{base}/models/{m}:generateContent`), `openai-compatible`, ...
pub fn typed_provider_yaml(
    id: &str,
    provider_type: &str,
    base_url: &str,
    key_env: Option<&str>,
    models: &[&str],
) -> String {
    let mut entry = format!("  - id: {id}\n    type: {provider_type}\n    base_url: {base_url}\n");
    if let Some(var) = key_env {
        entry.push_str(&format!("    api_key: ${{{var}}}\n"));
    }
    entry.push_str(&format!("    models: [{}]\n", models.join(", ")));
    entry
}

/// gateway.yaml for instances `p1`, `p2`, ... at `bases`, each serving `models`, with
/// keys `${KEY_1}`, `${KEY_2}`, ... (set by [`GatewayBuilder::instance_keys`]); `routing`
/// is the indented body of a `routing:` block ("" for none). It ends inside the
/// `providers:` list, so more entries, then more top-level blocks, can follow.
pub fn instances_yaml(routing: &str, bases: &[String], models: &[&str]) -> String {
    let mut yaml = String::new();
    if !routing.is_empty() {
        yaml.push_str("routing:\n");
        yaml.push_str(routing);
    }
    yaml.push_str("providers:\n");
    for (i, base) in bases.iter().enumerate() {
        let (id, var) = (format!("p{}", i + 1), format!("KEY_{}", i + 1));
        yaml.push_str(&provider_yaml(&id, base, Some(&var), models));
    }
    yaml
}

/// A YAML string literal (JSON strings are YAML), for paths.
fn yaml_str(path: &Path) -> String {
    serde_json::to_string(&path.display().to_string()).expect("quote path")
}

/// Options for one gateway process; finish with [`GatewayBuilder::start`].
pub struct GatewayBuilder {
    gateway_yaml: String,
    env: Vec<(String, String)>,
    pingora_extra: String,
    ca_file: Option<PathBuf>,
    args: Vec<String>,
    admin: bool,
    fd_limit: Option<u64>,
    listen: Option<String>,
}

impl GatewayBuilder {
    /// Sets an environment variable for the child (after `RUST_LOG=debug`, so it can
    /// override that too).
    pub fn env(mut self, key: &str, value: &str) -> GatewayBuilder {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    /// `KEY_1=sk-test-1`, ..., `KEY_n=sk-test-n`: the keys of `n` [`instances_yaml`].
    pub fn instance_keys(mut self, n: usize) -> GatewayBuilder {
        for i in 1..=n {
            self = self.env(&format!("KEY_{i}"), &format!("sk-test-{i}"));
        }
        self
    }

    /// Appends raw lines to pingora.yaml.
    pub fn pingora_yaml_extra(mut self, yaml: &str) -> GatewayBuilder {
        self.pingora_extra.push_str(yaml);
        if !yaml.ends_with('\n') {
            self.pingora_extra.push('\n');
        }
        self
    }

    /// `ca_file:` in pingora.yaml: the roots trusted for upstream TLS.
    pub fn ca_file(mut self, path: impl AsRef<Path>) -> GatewayBuilder {
        self.ca_file = Some(path.as_ref().to_path_buf());
        self
    }

    /// An extra command-line argument after `-c ... -g ...`.
    pub fn arg(mut self, arg: &str) -> GatewayBuilder {
        self.args.push(arg.to_string());
        self
    }

    /// The `listen:` value instead of `"127.0.0.1:0"` (YAML, e.g. a list with a TLS
    /// entry); [`Gateway::addr`] is the first API listener, [`Gateway::listeners`] all.
    pub fn listen(mut self, yaml: &str) -> GatewayBuilder {
        self.listen = Some(yaml.to_string());
        self
    }

    /// Runs the gateway with this file descriptor limit (soft and hard).
    pub fn fd_limit(mut self, n: u64) -> GatewayBuilder {
        self.fd_limit = Some(n);
        self
    }

    /// Also writes `admin_listen:` on port 0 (see [`Gateway::admin_url`]).
    pub fn admin_listen(mut self) -> GatewayBuilder {
        self.admin = true;
        self
    }

    fn pingora_yaml(&self, dir: &Path) -> String {
        let mut yaml = format!(
            "---\nversion: 1\nthreads: 2\npid_file: {}\nupgrade_sock: {}\n\
             grace_period_seconds: 1\ngraceful_shutdown_timeout_seconds: 1\n",
            yaml_str(&dir.join("modelgate.pid")),
            yaml_str(&dir.join("upgrade.sock")),
        );
        if let Some(ca) = &self.ca_file {
            yaml.push_str(&format!("ca_file: {}\n", yaml_str(ca)));
        }
        yaml.push_str(&self.pingora_extra);
        yaml
    }

    /// Writes the configs, spawns `modelgate -c pingora.yaml -g gateway.yaml`, reads the
    /// ports it logs, and waits until `GET /health` answers. Panics with the logs if the
    /// child exits first, or does not log its ports or answer within `READY_TIMEOUT`.
    pub async fn start(self) -> Gateway {
        let dir = tempfile::Builder::new()
            .prefix("modelgate-it")
            .tempdir()
            .expect("gateway temp dir");
        let listen = (self.listen.clone()).unwrap_or_else(|| format!("\"{ANY_PORT}\""));
        let mut gateway_yaml = format!("listen: {listen}\n");
        if self.admin {
            gateway_yaml.push_str(&format!("admin_listen: \"{ANY_PORT}\"\n"));
        }
        gateway_yaml.push_str(&self.gateway_yaml);
        let gateway_path = write_file(dir.path(), "gateway.yaml", &gateway_yaml);
        let pingora_path = write_file(dir.path(), "pingora.yaml", &self.pingora_yaml(dir.path()));

        let mut env = vec![("RUST_LOG".to_string(), "debug".to_string())];
        env.extend(self.env.iter().cloned());
        let (c, g) = (
            pingora_path.display().to_string(),
            gateway_path.display().to_string(),
        );
        let mut args = vec!["-c", c.as_str(), "-g", g.as_str()];
        args.extend(self.args.iter().map(String::as_str));
        let deadline = Instant::now() + READY_TIMEOUT;
        let mut child = process::limited_command(dir.path(), &args, &env, self.fd_limit)
            .spawn()
            .expect("spawn modelgate");
        let capture = Capture::attach(&mut child);
        let mut gateway = Gateway {
            child,
            capture,
            // Until `wait_listening` reads the real ones.
            addr: ANY_PORT.parse().expect("127.0.0.1:0"),
            admin: None,
            dir,
            client: http_client(),
            logs_shown: false,
        };
        gateway.wait_listening(self.admin, deadline).await;
        gateway.wait_ready(deadline).await;
        gateway
    }
}

/// A running `modelgate` process. Killed (SIGKILL) on drop.
pub struct Gateway {
    child: Child,
    capture: Capture,
    addr: SocketAddr,
    admin: Option<SocketAddr>,
    dir: tempfile::TempDir,
    client: reqwest::Client,
    logs_shown: bool,
}

impl Gateway {
    /// Starts a gateway whose gateway.yaml is `listen: "127.0.0.1:0"` + `gateway_yaml`.
    pub async fn start(gateway_yaml: &str) -> Gateway {
        Gateway::builder(gateway_yaml).start().await
    }

    pub fn builder(gateway_yaml: &str) -> GatewayBuilder {
        GatewayBuilder {
            gateway_yaml: gateway_yaml.to_string(),
            env: Vec::new(),
            pingora_extra: String::new(),
            ca_file: None,
            args: Vec::new(),
            admin: false,
            fd_limit: None,
            listen: None,
        }
    }

    /// Polls the child's stderr until it has logged its API listener (and the admin
    /// one, with `admin`), and takes their addresses. The lines come before the gateway
    /// serves, so `/health` is polled afterwards.
    async fn wait_listening(&mut self, admin: bool, deadline: Instant) {
        loop {
            let listening = Listening::parse(&self.capture.stderr());
            if let Some(&api) = listening.api.first() {
                if !admin || listening.admin.is_some() {
                    self.addr = api;
                    self.admin = listening.admin;
                    return;
                }
            }
            if let Some(status) = self.child.try_wait().expect("poll modelgate") {
                self.capture.finish();
                self.fail(&format!(
                    "modelgate exited before logging its listening address ({status})"
                ));
            }
            if Instant::now() >= deadline {
                self.fail(&format!(
                    "modelgate did not log `listening on ADDR`{} within {READY_TIMEOUT:?}",
                    if admin {
                        " and `admin listening on ADDR`"
                    } else {
                        ""
                    }
                ));
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Until `GET /health` answers, and `GET /metrics` on the admin listener when
    /// there is one (Pingora starts each service's listener on its own: the API may
    /// answer before the admin listener accepts).
    async fn wait_ready(&mut self, deadline: Instant) {
        self.wait_answers(self.url("/health"), deadline).await;
        if self.admin.is_some() {
            self.wait_answers(self.admin_url("/metrics"), deadline)
                .await;
        }
    }

    async fn wait_answers(&mut self, url: String, deadline: Instant) {
        let health = url;
        loop {
            if let Some(status) = self.child.try_wait().expect("poll modelgate") {
                self.capture.finish();
                self.fail(&format!("modelgate exited before serving ({status})"));
            }
            let probe = self.client.get(&health).timeout(Duration::from_secs(2));
            if probe.send().await.is_ok() {
                return;
            }
            if Instant::now() >= deadline {
                self.fail(&format!(
                    "GET {health} did not answer within {READY_TIMEOUT:?}"
                ));
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Panics with `message` and the logs (shown once, not again by `Drop`).
    fn fail(&mut self, message: &str) -> ! {
        self.logs_shown = true;
        panic!("{message}; modelgate logs:\n{}", self.logs());
    }

    /// `http://127.0.0.1:PORT{path}` on the API listener.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// `http://127.0.0.1:PORT{path}` on the admin listener (needs `.admin_listen()`).
    pub fn admin_url(&self, path: &str) -> String {
        let admin = self.admin.expect("start the gateway with .admin_listen()");
        format!("http://{admin}{path}")
    }

    /// Every API listener's address, in config order (read from its log).
    pub fn listeners(&self) -> Vec<SocketAddr> {
        Listening::parse(&self.capture.stderr()).api
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A client without proxies, shared by the helpers below.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Everything the child wrote to stdout and stderr so far.
    pub fn logs(&self) -> String {
        self.capture.combined()
    }

    /// What the child wrote to stdout (the JSON access log, by default).
    pub fn stdout(&self) -> String {
        self.capture.stdout()
    }

    /// The temp dir holding gateway.yaml, pingora.yaml, the pid file and upgrade socket.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal by name (`TERM`, `QUIT`, `INT`, ...) with `kill -s`.
    pub fn signal(&self, name: &str) {
        let status = std::process::Command::new("kill")
            .args(["-s", name, &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -s {name} {} failed", self.pid());
    }

    /// Polls until the child exits; `None` on timeout.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("poll modelgate") {
                self.capture.finish();
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Polls the logs until they contain `needle`; false on timeout.
    pub async fn wait_for_log(&self, needle: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while !self.logs().contains(needle) {
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
        true
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        let url = self.url(path);
        self.client
            .get(&url)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}"))
    }

    /// POSTs JSON without a gateway key.
    pub async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        post_json(&self.client, &self.url(path), body, None).await
    }

    /// POSTs JSON with `Authorization: Bearer <key>`.
    pub async fn post_json_with_key(
        &self,
        path: &str,
        body: &Value,
        key: &str,
    ) -> reqwest::Response {
        post_json(&self.client, &self.url(path), body, Some(key)).await
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.capture.finish();
        if std::thread::panicking() && !self.logs_shown {
            eprintln!(
                "----- modelgate logs -----\n{}----- end of modelgate logs -----",
                self.logs()
            );
        }
    }
}
