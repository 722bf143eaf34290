//! Child processes of the real `modelgate` binary: capturing stdout and stderr on
//! background threads (so a chatty child never blocks on a full pipe, and a test can read
//! the logs at any time), and one-shot runs such as `modelgate -t`.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The product binary under test.
pub const MODELGATE: &str = env!("CARGO_BIN_EXE_modelgate");

/// How long a one-shot run (`-t`, a config error) may take before the test fails.
const RUN_TIMEOUT: Duration = Duration::from_secs(30);

type Buffer = Arc<Mutex<String>>;

fn read(buffer: &Buffer) -> String {
    buffer
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone()
}

/// The captured output of a child: each stream alone, and both interleaved by line.
pub(super) struct Capture {
    stdout: Buffer,
    stderr: Buffer,
    combined: Buffer,
    readers: Vec<JoinHandle<()>>,
}

impl Capture {
    /// Takes the child's piped stdout and stderr and starts reading them.
    pub(super) fn attach(child: &mut Child) -> Capture {
        let mut capture = Capture {
            stdout: Buffer::default(),
            stderr: Buffer::default(),
            combined: Buffer::default(),
            readers: Vec::new(),
        };
        if let Some(out) = child.stdout.take() {
            let reader = pump(
                out,
                Arc::clone(&capture.stdout),
                Arc::clone(&capture.combined),
            );
            capture.readers.push(reader);
        }
        if let Some(err) = child.stderr.take() {
            let reader = pump(
                err,
                Arc::clone(&capture.stderr),
                Arc::clone(&capture.combined),
            );
            capture.readers.push(reader);
        }
        capture
    }

    pub(super) fn stdout(&self) -> String {
        read(&self.stdout)
    }

    pub(super) fn stderr(&self) -> String {
        read(&self.stderr)
    }

    pub(super) fn combined(&self) -> String {
        read(&self.combined)
    }

    /// Waits (a bounded time) for both pipes to reach end of file; call once the child
    /// has exited. Bounded because a grandchild (daemon mode) may hold the pipes open.
    pub(super) fn finish(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.readers.iter().any(|r| !r.is_finished()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        self.readers.clear();
    }
}

/// Copies `source` line by line into its own buffer and the combined one.
fn pump(source: impl Read + Send + 'static, own: Buffer, combined: Buffer) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(source);
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let text = String::from_utf8_lossy(&line);
                    for buffer in [&own, &combined] {
                        let mut buffer = buffer.lock().unwrap_or_else(|p| p.into_inner());
                        buffer.push_str(&text);
                    }
                }
            }
        }
    })
}

/// A `modelgate` command with piped output, no stdin, and none of the caller's
/// `RUST_LOG` / `MODELGATE_CONFIG` leaking in (the test's `env` is applied after).
pub(super) fn command(dir: &Path, args: &[&str], env: &[(String, String)]) -> Command {
    limited_command(dir, args, env, None)
}

/// [`command`], run under `prlimit --nofile=N:N` when `fd_limit` is set (prlimit execs
/// modelgate: same pid, so signals and kills reach it).
pub(super) fn limited_command(
    dir: &Path,
    args: &[&str],
    env: &[(String, String)],
    fd_limit: Option<u64>,
) -> Command {
    let mut command = match fd_limit {
        Some(n) => {
            let mut c = Command::new("prlimit");
            c.arg(format!("--nofile={n}:{n}")).arg("--").arg(MODELGATE);
            c
        }
        None => Command::new(MODELGATE),
    };
    command
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("MODELGATE_CONFIG")
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// The addresses modelgate logged for its listeners. It binds a `listen` or
/// `admin_listen` of port 0 itself and logs the port it got, one line per listener
/// (env_logger's format, on stderr, before it serves):
/// `[... INFO  modelgate::server] listening on 127.0.0.1:PORT` for each API listener and
/// `[... INFO  modelgate::server] admin listening on 127.0.0.1:PORT` for the admin one.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Listening {
    /// The API listeners, in the order logged.
    pub api: Vec<SocketAddr>,
    pub admin: Option<SocketAddr>,
}

impl Listening {
    /// Reads the listener lines out of `log`; a line whose address does not parse is
    /// skipped (it is not one of these lines).
    pub fn parse(log: &str) -> Listening {
        let addr = |rest: &str| rest.split_whitespace().next()?.parse().ok();
        let mut listening = Listening::default();
        for line in log.lines() {
            // The admin line contains "listening on" too: match the whole message start.
            if let Some((_, rest)) = line.split_once("] admin listening on ") {
                if let Some(admin) = addr(rest) {
                    listening.admin = Some(admin);
                }
            } else if let Some((_, rest)) = line.split_once("] listening on ") {
                listening.api.extend(addr(rest));
            }
        }
        listening
    }
}

/// Polls the child until it exits or `timeout` passes.
pub(super) fn wait_until(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("poll modelgate") {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Runs `modelgate <args>` to completion in a fresh empty directory (so a default
/// `gateway.yaml` lookup finds nothing by accident). Returns (exit code, stdout,
/// stderr); the code is -1 if a signal ended it.
pub fn run_modelgate(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let dir = tempfile::tempdir().expect("temp dir for modelgate run");
    run_modelgate_in(dir.path(), args, env)
}

/// [`run_modelgate`] with `dir` as the working directory.
pub fn run_modelgate_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut child = command(dir, args, &env).spawn().expect("spawn modelgate");
    let mut capture = Capture::attach(&mut child);
    let Some(status) = wait_until(&mut child, RUN_TIMEOUT) else {
        let _ = child.kill();
        let _ = child.wait();
        capture.finish();
        panic!(
            "modelgate {args:?} still running after {RUN_TIMEOUT:?}; output:\n{}",
            capture.combined()
        );
    };
    capture.finish();
    (
        status.code().unwrap_or(-1),
        capture.stdout(),
        capture.stderr(),
    )
}
