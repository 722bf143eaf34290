//! Test support for teams and usage (issue 14): reading `GET /v1/usage` (once, or
//! polled until a request's record is in), the admin API's key creation, Prometheus
//! samples from the admin listener, and a second `modelgate` that takes a running
//! gateway over by graceful upgrade (`-u`).

use super::gateway::Gateway;
use super::process::{self, Capture};
use serde_json::{json, Value};
use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

/// How long a request's usage record may take to show in `/v1/usage`: it is written
/// after the response's last byte, then committed by the store's background writer.
const RECORD_TIMEOUT: Duration = Duration::from_secs(5);
const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// `GET /v1/usage?{query}` with `Authorization: Bearer <bearer>` (none if `None`):
/// (status, JSON body).
pub async fn usage_report(gw: &Gateway, query: &str, bearer: Option<&str>) -> (u16, Value) {
    let url = gw.url(&format!("/v1/usage?{query}"));
    let mut request = gw.client().get(&url);
    if let Some(key) = bearer {
        request = request.bearer_auth(key);
    }
    let response = (request.send().await).unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = response.status().as_u16();
    let body = (response.json().await).unwrap_or_else(|e| panic!("GET {url}: not JSON: {e}"));
    (status, body)
}

/// Polls `GET /v1/usage?{query}` (as `bearer`) until its total counts at least
/// `requests`, and returns that report; panics with the last one after
/// [`RECORD_TIMEOUT`]. The caller asserts the exact count: more is a double count.
pub async fn wait_for_usage(
    gw: &Gateway,
    query: &str,
    bearer: Option<&str>,
    requests: u64,
) -> Value {
    let deadline = Instant::now() + RECORD_TIMEOUT;
    loop {
        let (status, report) = usage_report(gw, query, bearer).await;
        assert_eq!(status, 200, "GET /v1/usage?{query}: {report}");
        if report["total"]["requests"].as_u64() >= Some(requests) {
            return report;
        }
        assert!(
            Instant::now() < deadline,
            "/v1/usage never counted {requests} requests within {RECORD_TIMEOUT:?}: {report}"
        );
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// `POST /admin/keys` with `body` as the admin; asserts the 201 and returns the view
/// (with the plaintext `key`, shown this once).
pub async fn create_key_as(gw: &Gateway, admin_key: &str, body: &Value) -> Value {
    let (status, view) = admin_call(gw, admin_key, "POST", "/admin/keys", Some(body)).await;
    assert_eq!(status, 201, "POST /admin/keys {body}: {view}");
    view
}

/// One admin API call (`GET`, `POST`, `PATCH`, `DELETE`) on the admin listener:
/// (status, JSON body).
pub async fn admin_call(
    gw: &Gateway,
    admin_key: &str,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> (u16, Value) {
    let url = gw.admin_url(path);
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("an HTTP method");
    let response = admin_send(&url, || {
        let request = gw.client().request(method.clone(), &url);
        let request = request.bearer_auth(admin_key);
        match body {
            Some(body) => request.json(body),
            None => request,
        }
    })
    .await;
    let status = response.status().as_u16();
    let text = (response.text().await).unwrap_or_else(|e| panic!("{url}: {e}"));
    let body = serde_json::from_str(&text).unwrap_or_else(|_| json!(text));
    (status, body)
}

/// Sends the request `build` makes to `url` on the admin listener, again while the
/// connection is refused (so nothing was sent): the harness starts a test once `/health`
/// answers on the API listener, and the admin listener's service may start listening
/// a moment later.
async fn admin_send(url: &str, build: impl Fn() -> reqwest::RequestBuilder) -> reqwest::Response {
    let deadline = Instant::now() + RECORD_TIMEOUT;
    loop {
        match build().send().await {
            Ok(response) => return response,
            Err(e) if e.is_connect() && Instant::now() < deadline => {
                tokio::time::sleep(POLL_INTERVAL).await;
            }
            Err(e) => panic!("{url}: {e}"),
        }
    }
}

/// `GET /metrics` on the admin listener, once no request is in flight: counters are
/// moved after a response is sent, and the in-flight gauge drops last. A scrape is not
/// a snapshot (each family is read in turn, in no set order), so the one that sees
/// the gauge at zero may hold counters read before that; the scrape after it is whole.
pub async fn settled_metrics(gw: &Gateway) -> String {
    let deadline = Instant::now() + RECORD_TIMEOUT;
    while super::teams::metric(&scrape(gw).await, "modelgate_requests_in_flight", &[]) != Some(0.0)
    {
        assert!(Instant::now() < deadline, "requests never finished");
        tokio::time::sleep(POLL_INTERVAL).await;
    }
    scrape(gw).await
}

/// `GET /metrics` on the admin listener: its text.
async fn scrape(gw: &Gateway) -> String {
    let url = gw.admin_url("/metrics");
    let response = admin_send(&url, || gw.client().get(&url)).await;
    assert_eq!(response.status(), 200, "{url}");
    response.text().await.expect("metrics text")
}

/// A second `modelgate` started with `-u` on a running gateway's own dir and configs,
/// to take its listening sockets over (send the old one `QUIT` next). Killed on drop.
pub struct Successor {
    child: Child,
    capture: Capture,
}

impl Successor {
    /// Rewrites `old`'s gateway.yaml to listen on the address `old` bound (a socket is
    /// handed over by address, so port 0 will not do), then spawns
    /// `modelgate -u -c pingora.yaml -g gateway.yaml` in `old`'s dir with `env`. `old`
    /// must have no admin listener (its port 0 could not be handed over either).
    pub fn start(old: &Gateway, env: &[(&str, &str)]) -> Successor {
        let dir = old.dir();
        let gateway_yaml = dir.join("gateway.yaml");
        let yaml = std::fs::read_to_string(&gateway_yaml).expect("read gateway.yaml");
        assert!(
            !yaml.contains("admin_listen"),
            "a successor takes over API listeners only"
        );
        let any_port = "listen: \"127.0.0.1:0\"\n";
        assert!(yaml.starts_with(any_port), "not a port-0 gateway: {yaml}");
        let bound = format!("listen: \"{}\"\n", old.addr());
        std::fs::write(&gateway_yaml, yaml.replacen(any_port, &bound, 1)).expect("rewrite");
        let mut vars = vec![("RUST_LOG".to_string(), "debug".to_string())];
        vars.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let (c, g) = (dir.join("pingora.yaml"), dir.join("gateway.yaml"));
        let (c, g) = (c.display().to_string(), g.display().to_string());
        let args = ["-u", "-c", c.as_str(), "-g", g.as_str()];
        let mut child = (process::command(dir, &args, &vars).spawn()).expect("spawn modelgate -u");
        let capture = Capture::attach(&mut child);
        Successor { child, capture }
    }

    /// Everything it wrote to stdout and stderr so far.
    pub fn logs(&self) -> String {
        self.capture.combined()
    }

    /// What it wrote to stdout (the JSON access log).
    pub fn stdout(&self) -> String {
        self.capture.stdout()
    }

    /// Whether it has exited (with its status).
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("poll modelgate -u")
    }
}

impl Drop for Successor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.capture.finish();
        if std::thread::panicking() {
            eprintln!(
                "----- successor modelgate logs -----\n{}----- end -----",
                self.logs()
            );
        }
    }
}
