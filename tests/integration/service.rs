//! Runs like a service (issue 4): the exact commands of `systemd/modelgate.service`
//! (`-t`, then `-d`; reload = `-u -d`, then `kill -QUIT $(cat pid.old)`) against a
//! daemonised `modelgate`, under steady load with long SSE streams. Proves zero failed
//! requests across repeated upgrades with a changed config, that the new config serves,
//! that the old process exits, and that a bad config fails the reload and leaves the old
//! process serving.

use crate::support::{
    chat_body, chat_stream_body, http_client, run_modelgate_in, try_read_sse_events, write_file,
    Behaviour, Listening, MockUpstream, TestCa,
};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls::pki_types::ServerName;

const CHAT: &str = "/v1/chat/completions";

/// A daemonised modelgate driven like systemd drives it.
struct Daemon {
    dir: tempfile::TempDir,
    /// `127.0.0.1:0` until the first process logs the port it bound; every later
    /// gateway.yaml names that port, because `-u` takes the old process's listening
    /// socket over by address.
    addr: std::net::SocketAddr,
    /// A second, TLS listener (`cert.pem`, `key.pem` in `dir`), when asked for.
    tls_addr: Option<std::net::SocketAddr>,
    pids: Vec<u32>,
}

impl Daemon {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn args(&self, extra: &[&str]) -> Vec<String> {
        let mut args: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        for (flag, file) in [("-c", "pingora.yaml"), ("-g", "gateway.yaml")] {
            args.push(flag.into());
            args.push(self.path(file).display().to_string());
        }
        args
    }

    fn run(&self, extra: &[&str]) -> (i32, String, String) {
        let args = self.args(extra);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_modelgate_in(self.dir.path(), &args, &[("RUST_LOG", "info")])
    }

    /// `ExecStartPre` + `ExecStart`.
    async fn start(providers: &str) -> Daemon {
        Daemon::start_with(providers, None).await
    }

    /// [`Daemon::start`], with a TLS listener serving `ca`'s server certificate too.
    async fn start_with(providers: &str, tls: Option<&TestCa>) -> Daemon {
        let dir = tempfile::Builder::new()
            .prefix("modelgate-svc")
            .tempdir()
            .unwrap();
        let addr = ([127, 0, 0, 1], 0).into();
        let d = Daemon {
            dir,
            addr,
            tls_addr: tls.map(|_| addr),
            pids: Vec::new(),
        };
        if let Some(ca) = tls {
            ca.write_server_pem(d.dir.path());
        }
        let p = |name: &str| serde_json::to_string(&d.path(name).display().to_string()).unwrap();
        let pingora = format!(
            "version: 1\nthreads: 2\npid_file: {}\nupgrade_sock: {}\nerror_log: {}\n\
             daemon_wait_for_ready: true\ndaemon_ready_timeout_seconds: 20\n\
             grace_period_seconds: 3\ngraceful_shutdown_timeout_seconds: 1\n",
            p("modelgate.pid"),
            p("upgrade.sock"),
            p("error.log"),
        );
        write_file(d.dir.path(), "pingora.yaml", &pingora);
        let mut d = d;
        d.write_gateway(providers);
        let (code, out, err) = d.run(&["-t"]);
        assert_eq!(code, 0, "-t failed: {out}{err}");
        let (code, out, err) = d.run(&["-d"]);
        assert_eq!(code, 0, "start failed: {out}{err}\n{}", d.logs());
        let pid = d.pid_from("modelgate.pid");
        d.pids.push(pid);
        // Logged by the launcher before it forks, so it is in the launcher's stderr.
        let listening = Listening::parse(&err);
        (d.addr, d.tls_addr) = match (&listening.api[..], d.tls_addr) {
            (&[addr], None) => (addr, None),
            (&[addr, tls], Some(_)) => (addr, Some(tls)),
            _ => panic!(
                "expected a `listening on ADDR` line per listener: {listening:?}\n{out}{err}\n{}",
                d.logs()
            ),
        };
        d.wait_serving().await;
        d
    }

    fn write_gateway(&self, providers: &str) {
        let listen = match self.tls_addr {
            None => format!("\"{}\"", self.addr),
            Some(tls) => format!(
                "[\"{}\", {{ addr: \"{tls}\", tls: {{ cert: {}, key: {} }} }}]",
                self.addr,
                self.path("cert.pem").display(),
                self.path("key.pem").display()
            ),
        };
        let yaml = format!("listen: {listen}\nproviders:\n{providers}");
        write_file(self.dir.path(), "gateway.yaml", &yaml);
    }

    fn pid_from(&self, file: &str) -> u32 {
        let text = std::fs::read_to_string(self.path(file))
            .unwrap_or_else(|e| panic!("{file}: {e}\n{}", self.logs()));
        text.trim().parse().unwrap()
    }

    fn logs(&self) -> String {
        std::fs::read_to_string(self.path("error.log")).unwrap_or_default()
    }

    async fn wait_serving(&self) {
        let client = http_client();
        let deadline = Instant::now() + Duration::from_secs(20);
        while client
            .get(format!("http://{}/health", self.addr))
            .send()
            .await
            .is_err()
        {
            assert!(Instant::now() < deadline, "never served:\n{}", self.logs());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// `ExecReload`: the new process first, then QUIT the old one. Returns
    /// (old pid, new pid).
    fn reload(&mut self, providers: &str) -> (u32, u32) {
        self.write_gateway(providers);
        let (code, out, err) = self.run(&["-u", "-d"]);
        assert_eq!(code, 0, "reload failed: {out}{err}\n{}", self.logs());
        let old = self.pid_from("modelgate.pid.old");
        let status = std::process::Command::new("kill")
            .args(["-QUIT", &old.to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let new = self.pid_from("modelgate.pid");
        assert_ne!(old, new);
        self.pids.push(new);
        (old, new)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        for pid in &self.pids {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .stderr(std::process::Stdio::null())
                .status();
        }
        if std::thread::panicking() {
            eprintln!("modelgate error.log:\n{}", self.logs());
        }
    }
}

/// Whether `pid` is still a live process (a zombie counts as gone).
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z'),
        Err(_) => false,
    }
}

async fn wait_gone(pid: u32, within: Duration) {
    let deadline = Instant::now() + within;
    while alive(pid) {
        assert!(Instant::now() < deadline, "old process {pid} still running");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Config `tag`: instances `<tag>-json` (model `m1`), `<tag>-sse` (model `s1`) and
/// `<tag>-long` (model `l1`, on `long` when given).
fn providers(tag: &str, json: &MockUpstream, sse: &MockUpstream) -> String {
    providers_with_long(tag, json, sse, sse)
}

fn providers_with_long(
    tag: &str,
    json: &MockUpstream,
    sse: &MockUpstream,
    long: &MockUpstream,
) -> String {
    format!(
        "  - {{ id: {tag}-json, type: openai-compatible, base_url: \"{}\", models: [m1] }}\n  \
         - {{ id: {tag}-sse, type: openai-compatible, base_url: \"{}\", models: [s1] }}\n  \
         - {{ id: {tag}-long, type: openai-compatible, base_url: \"{}\", models: [l1] }}\n",
        json.base_url(),
        sse.base_url(),
        long.base_url()
    )
}

/// A stream of about 6 s on the current process; resolves to its event count.
async fn long_stream(addr: std::net::SocketAddr) -> tokio::task::JoinHandle<usize> {
    let response = http_client()
        .post(format!("http://{addr}{CHAT}"))
        .json(&chat_stream_body("l1"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    tokio::spawn(async move {
        let (events, error) = try_read_sse_events(response).await;
        assert!(error.is_none(), "the long stream broke: {error:?}");
        assert_eq!(events.last().map(|(_, e)| e.as_str()), Some("data: [DONE]"));
        events.len()
    })
}

/// What the load saw.
#[derive(Default)]
struct Tally {
    ok: usize,
    streams: usize,
    failures: Vec<String>,
    /// (when, instance) of every served non-stream request.
    served: Vec<(Instant, String)>,
}

/// Steady load until `stop`: 6 loops of non-stream requests and 4 loops of
/// 10-chunk streams.
fn load(
    addr: std::net::SocketAddr,
    stop: Arc<AtomicBool>,
    tally: Arc<Mutex<Tally>>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let streams = std::iter::repeat_n(true, 4);
    (std::iter::repeat_n(false, 6).chain(streams))
        .map(|stream| {
            let (stop, tally) = (stop.clone(), tally.clone());
            tokio::spawn(async move {
                let client = http_client();
                while !stop.load(Ordering::Relaxed) {
                    let outcome = one_request(&client, addr, stream).await;
                    let mut t = tally.lock().unwrap();
                    match outcome {
                        Ok(Some(by)) => {
                            t.ok += 1;
                            t.served.push((Instant::now(), by));
                        }
                        Ok(None) => t.streams += 1,
                        Err(e) => t.failures.push(e),
                    }
                }
            })
        })
        .collect()
}

/// One request of the load: `Ok(Some(instance))` for a whole chat completion,
/// `Ok(None)` for a complete stream, `Err(why)` for anything else.
async fn one_request(
    client: &reqwest::Client,
    addr: std::net::SocketAddr,
    stream: bool,
) -> Result<Option<String>, String> {
    let body = if stream {
        chat_stream_body("s1")
    } else {
        chat_body("m1")
    };
    let sent = client
        .post(format!("http://{addr}{CHAT}"))
        .json(&body)
        .send()
        .await;
    let r = sent.map_err(|e| format!("request error (stream: {stream}): {e:?}"))?;
    if r.status() != 200 {
        return Err(format!("status {} (stream: {stream})", r.status()));
    }
    if stream {
        let (events, error) = try_read_sse_events(r).await;
        let done = events.last().map(|(_, e)| e.as_str()) == Some("data: [DONE]");
        // 10 chunks, finish, [DONE]: no usage-only chunk for a client that did not ask.
        return match error.is_none() && done && events.len() == 12 {
            true => Ok(None),
            false => Err(format!(
                "incomplete stream: {} events, {error:?}",
                events.len()
            )),
        };
    }
    let by = r
        .headers()
        .get("x-modelgate-provider")
        .and_then(|v| v.to_str().ok());
    let by = by.unwrap_or("-").to_string();
    match r.json::<serde_json::Value>().await {
        Ok(v) if v["object"] == "chat.completion" => Ok(Some(by)),
        other => Err(format!("bad body: {other:?}")),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_upgrades_under_load_drop_nothing_and_switch_config() {
    // Streams of about 0.6 s: Pingora keeps accepting on the old process for 5 s
    // after the QUIT, then gives its streams grace_period_seconds (3 here).
    let sse = || Behaviour::sse(10, Duration::from_millis(60));
    let (a_json, a_sse) = (
        MockUpstream::start(Behaviour::chat_ok()),
        MockUpstream::start(sse()),
    );
    let (b_json, b_sse) = (
        MockUpstream::start(Behaviour::chat_ok()),
        MockUpstream::start(sse()),
    );
    // Outlives the 5 s hand-over window; finishes within the grace period.
    let long = MockUpstream::start(Behaviour::sse(44, Duration::from_millis(140)));
    let configs = [
        providers_with_long("v1", &a_json, &a_sse, &long),
        providers_with_long("v2", &b_json, &b_sse, &long),
        providers_with_long("v3", &a_json, &a_sse, &long),
        providers_with_long("v4", &b_json, &b_sse, &long),
    ];
    let mut daemon = Daemon::start(&configs[0]).await;
    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let tasks = load(daemon.addr, stop.clone(), tally.clone());
    tokio::time::sleep(Duration::from_millis(1500)).await;

    for (round, config) in configs.iter().enumerate().skip(1) {
        let tag = format!("v{}-json", round + 1);
        // A long stream in flight on the old process when the reload starts.
        let in_flight = long_stream(daemon.addr).await;
        let (old, _new) = daemon.reload(config);
        let reloaded = Instant::now();
        // New requests are served by the new config...
        let deadline = reloaded + Duration::from_secs(10);
        loop {
            let switched = tally
                .lock()
                .unwrap()
                .served
                .iter()
                .any(|(at, by)| *at > reloaded && *by == tag);
            if switched {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "round {round}: {tag} never served"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // ...and the old process finishes its streams and exits
        // (5 s hand-over + 3 s grace + up to 1 s shutdown).
        wait_gone(old, Duration::from_secs(20)).await;
        // 44 chunks, finish, [DONE]: no usage-only chunk for a client that did not ask.
        assert_eq!(
            in_flight.await.unwrap(),
            46,
            "round {round}: the long stream is whole"
        );
        let t = tally.lock().unwrap();
        let late_old = t
            .served
            .iter()
            .filter(|(at, by)| *at > Instant::now() - Duration::from_millis(500) && *by != tag)
            .count();
        assert_eq!(
            late_old, 0,
            "round {round}: the old config still serves after its process left"
        );
    }
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.unwrap();
    }
    let t = tally.lock().unwrap();
    assert!(
        t.failures.is_empty(),
        "{} failed of {}: {:?}",
        t.failures.len(),
        t.ok + t.streams,
        &t.failures[..t.failures.len().min(5)]
    );
    assert!(t.ok > 2000, "not a steady load: {} requests", t.ok);
    let handovers = daemon
        .logs()
        .matches("stopped accepting on 1 listener")
        .count();
    assert_eq!(
        handovers, 3,
        "each old process stops accepting before it leaves"
    );
    assert!(t.streams > 40, "not enough streams: {}", t.streams);
}

#[tokio::test]
async fn a_reload_with_a_bad_config_fails_and_the_old_process_keeps_serving() {
    let json = MockUpstream::start(Behaviour::chat_ok());
    let sse = MockUpstream::start(Behaviour::sse(2, Duration::ZERO));
    let daemon = Daemon::start(&providers("v1", &json, &sse)).await;
    let old = daemon.pids[0];
    daemon.write_gateway("  - { id: broken, type: grok, models: [m1] }\n");
    let (code, _out, err) = daemon.run(&["-u", "-d"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("gateway.yaml:3: providers[0].type: unknown variant `grok`"),
        "{err}"
    );
    assert!(
        !daemon.path("modelgate.pid.old").exists(),
        "the old pid file was touched"
    );
    assert_eq!(daemon.pid_from("modelgate.pid"), old);
    let response = http_client()
        .post(format!("http://{}{CHAT}", daemon.addr))
        .json(&chat_body("m1"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-modelgate-provider"], "v1-json");
    assert!(alive(old));
}

#[tokio::test]
async fn a_daemon_with_access_log_stdout_writes_access_log_beside_its_error_log() {
    let json = MockUpstream::start(Behaviour::chat_ok());
    let sse = MockUpstream::start(Behaviour::sse(2, Duration::ZERO));
    let daemon = Daemon::start(&providers("v1", &json, &sse)).await;
    let access = daemon.path("access.log");
    let (code, out, err) = daemon.run(&["-t"]);
    assert_eq!(code, 0, "{out}{err}");
    let said = format!("access_log: stdout (daemonised: {})", access.display());
    assert!(out.contains(&said), "-t says where the lines go: {out}");
    let response = http_client()
        .post(format!("http://{}{CHAT}", daemon.addr))
        .header("x-request-id", "daemon-access-log")
        .json(&chat_body("m1"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let deadline = Instant::now() + Duration::from_secs(10);
    let line = loop {
        let text = std::fs::read_to_string(&access).unwrap_or_default();
        if let Some(line) = text.lines().find(|l| l.contains("daemon-access-log")) {
            break line.to_string();
        }
        assert!(
            Instant::now() < deadline,
            "no access-log line in {}",
            access.display()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let parsed: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(parsed["status"], 200);
    assert_eq!(parsed["instance"], "v1-json");
}

/// Whether an HTTPS `GET /health` on `addr`, trusting only `ca`, gets a 200.
async fn https_health(addr: std::net::SocketAddr, ca: &TestCa) -> bool {
    let exchange = async {
        let tcp = tokio::net::TcpStream::connect(addr).await.ok()?;
        let name = ServerName::try_from("localhost").ok()?;
        let mut tls = ca.connector().connect(name, tcp).await.ok()?;
        let request = b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
        tls.write_all(request).await.ok()?;
        let mut out = Vec::new();
        let _ = tls.read_to_end(&mut out).await;
        Some(out.starts_with(b"HTTP/1.1 200"))
    };
    let answer = tokio::time::timeout(Duration::from_secs(5), exchange).await;
    answer.ok().flatten().unwrap_or(false)
}

#[tokio::test]
async fn a_reload_serves_renewed_tls_certificates() {
    let json = MockUpstream::start(Behaviour::chat_ok());
    let sse = MockUpstream::start(Behaviour::sse(2, Duration::ZERO));
    let (old_ca, new_ca) = (TestCa::new(), TestCa::new());
    let mut daemon = Daemon::start_with(&providers("v1", &json, &sse), Some(&old_ca)).await;
    let tls = daemon.tls_addr.expect("a TLS listener");
    assert!(https_health(tls, &old_ca).await, "{}", daemon.logs());
    assert!(
        !https_health(tls, &new_ca).await,
        "not yet the renewed certificate"
    );

    // Renew the files in place, as certbot would, then reload.
    new_ca.write_server_pem(daemon.dir.path());
    let (old, _new) = daemon.reload(&providers("v2", &json, &sse));
    wait_gone(old, Duration::from_secs(20)).await;
    assert!(https_health(tls, &new_ca).await, "{}", daemon.logs());
    assert!(
        !https_health(tls, &old_ca).await,
        "the old certificate is gone"
    );
}
