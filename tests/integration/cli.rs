//! The command line: `-t` on good and bad configs, exact messages, exit codes, the
//! shipped configs, and never a panic or a secret on the way.

use crate::support::*;

/// The smallest valid gateway.yaml: one keyless instance.
const MINIMAL: &str =
    "providers:\n  - { id: a, type: openai-compatible, base_url: \"http://127.0.0.1:9\", models: [m] }\n";

fn repo(path: &str) -> String {
    format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))
}

fn no_panic(stderr: &str) {
    assert!(!stderr.contains("panicked"), "a panic: {stderr}");
    assert!(!stderr.contains("RUST_BACKTRACE"), "a backtrace: {stderr}");
}

#[test]
fn dash_t_prints_what_would_be_served_without_keys() {
    let dir = tempfile::tempdir().expect("dir");
    let gw = write_file(
        dir.path(),
        "gateway.yaml",
        "listen: \"127.0.0.1:18080\"\nproviders:\n  - { id: g, type: groq, api_keys: [${K1}, ${K2}], models: [llama] }\n  - { id: gone, type: groq, api_key: \"${NOT_SET_ANYWHERE}\", models: [llama] }\nmodels:\n  - { name: fast, targets: [ { provider: g, model: llama } ] }\n",
    );
    let (code, out, err) = run_modelgate(
        &["-t", "-g", gw.to_str().expect("path")],
        &[("K1", "sk-live-first-key"), ("K2", "sk-live-second-key")],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("listen: 127.0.0.1:18080"), "{out}");
    assert!(
        out.contains("g#1 (groq, https://api.groq.com/openai/v1, key set): llama"),
        "{out}"
    );
    assert!(out.contains("g#2 (groq"), "{out}");
    assert!(out.contains("model fast (priority) -> g/llama"), "{out}");
    assert!(
        out.contains("warning: instance `gone` skipped: `NOT_SET_ANYWHERE` is not set"),
        "{out}"
    );
    assert!(out.ends_with("configuration OK\n"), "{out}");
    assert!(
        !format!("{out}{err}").contains("sk-live"),
        "a key was printed"
    );
}

#[test]
fn bad_gateway_yaml_exits_1_with_one_line_per_problem() {
    let dir = tempfile::tempdir().expect("dir");
    let gw = write_file(
        dir.path(),
        "gw.yaml",
        "listen: \"127.0.0.1:1\"\nrouting:\n  cooldown: soon\n  timeouts: { conect: 5s }\nproviders:\n  - id: a\n    type: groq\n    api_key: ${KEY}\n    models: [m]\n  - id: a\n    type: openai-compatible\n    base_url: localhost:11434\n    models: [m]\nmodels:\n  - name: fast\n    targets: [ { provider: nobody } ]\n",
    );
    let (code, out, err) = run_modelgate(&["-t", "-g", "gw.yaml"], &[("KEY", "sk-live-x")]);
    let _ = gw;
    assert_eq!(code, 1, "{out}{err}");
    let (code, out, err) = run_modelgate_in(
        dir.path(),
        &["-t", "-g", "gw.yaml"],
        &[("KEY", "sk-live-x")],
    );
    assert_eq!(code, 1, "{out}{err}");
    no_panic(&err);
    let expected = "\
gw.yaml:3: routing.cooldown: invalid duration `soon` (expected number at 0); use e.g. `90s`, `5m`, `1h`
gw.yaml:4: routing.timeouts.conect: unknown key `conect` (expected one of: connect, first_byte, idle)
gw.yaml:10: providers[1].id: duplicate provider id `a`
gw.yaml:12: providers[1].base_url: `localhost:11434` must start with http:// or https://
gw.yaml:16: models[0].targets[0].provider: no provider with id or type `nobody`
";
    assert_eq!(err, expected);
    assert!(!err.contains("sk-live"));
}

#[test]
fn missing_files_and_bad_pingora_yaml_are_clear_errors() {
    let (code, _, err) = run_modelgate(&["-t"], &[]);
    assert_eq!(code, 1);
    assert_eq!(
        err,
        "gateway.yaml: cannot read the file: No such file or directory (os error 2)\n"
    );
    let dir = tempfile::tempdir().expect("dir");
    write_file(dir.path(), "gateway.yaml", MINIMAL);
    write_file(dir.path(), "p.yaml", "version: 1\nthreads: many\n");
    let (code, _, err) = run_modelgate_in(dir.path(), &["-t", "-c", "p.yaml"], &[]);
    assert_eq!(code, 1);
    no_panic(&err);
    assert!(err.starts_with("p.yaml:2: threads: invalid type"), "{err}");
    write_file(
        dir.path(),
        "ca.yaml",
        "version: 1\nca_file: /nonexistent/ca.pem\n",
    );
    let (code, _, err) = run_modelgate_in(dir.path(), &["-t", "-c", "ca.yaml"], &[]);
    assert_eq!(
        (code, err.as_str()),
        (1, "ca.yaml: ca_file `/nonexistent/ca.pem`: FileReadError\n")
    );
    let (code, out, _) =
        run_modelgate_in(dir.path(), &["-t"], &[("MODELGATE_CONFIG", "gateway.yaml")]);
    assert_eq!(code, 0, "{out}");
}

/// Pingora itself ignores unknown keys: a typo'd `grace_period_second` would
/// silently keep the 300 s default, longer than systemd waits.
#[test]
fn unknown_pingora_yaml_keys_are_errors_with_their_lines() {
    let dir = tempfile::tempdir().expect("dir");
    write_file(dir.path(), "gateway.yaml", MINIMAL);
    write_file(
        dir.path(),
        "p.yaml",
        "version: 1\nthreads: 2\ngrace_period_second: 10\nlisten: 0.0.0.0:80\n",
    );
    let (code, _, err) = run_modelgate_in(dir.path(), &["-t", "-c", "p.yaml"], &[]);
    assert_eq!(code, 1);
    no_panic(&err);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2, "{err}");
    assert!(lines[0].starts_with("p.yaml:3: grace_period_second: unknown key (pingora.yaml holds Pingora's server settings: "), "{err}");
    assert!(lines[0].contains("grace_period_seconds"), "{err}");
    assert!(
        lines[1].starts_with("p.yaml:4: listen: unknown key"),
        "{err}"
    );
}

/// `-d` with a log or pid directory that does not exist: one line each, no panic
/// after the fork.
#[test]
fn daemon_paths_are_checked_before_forking() {
    let dir = tempfile::tempdir().expect("dir");
    write_file(
        dir.path(),
        "gateway.yaml",
        &format!("listen: \"127.0.0.1:1\"\n{MINIMAL}"),
    );
    write_file(
        dir.path(),
        "p.yaml",
        "version: 1\nerror_log: /nonexistent/dir/error.log\npid_file: /nonexistent/run/m.pid\n",
    );
    let (code, _, err) = run_modelgate_in(dir.path(), &["-d", "-c", "p.yaml"], &[]);
    assert_eq!(code, 1);
    no_panic(&err);
    assert_eq!(
        err,
        "error_log `/nonexistent/dir/error.log`: cannot open it for appending: No such file or directory (os error 2)\n\
         pid_file `/nonexistent/run/m.pid`: directory `/nonexistent/run` does not exist\n"
    );
}

#[test]
fn shipped_configs_are_valid() {
    let env = [
        ("ALICE_KEY", "k"),
        ("GROQ_KEY_1", "k"),
        ("GROQ_KEY_2", "k"),
        ("GROQ_KEY_3", "k"),
        ("OPENAI_API_KEY", "k"),
        ("AZURE_OPENAI_KEY", "k"),
    ];
    let example = repo("gateway.yaml.example");
    let (code, out, err) =
        run_modelgate(&["-t", "-c", &repo("pingora.yaml"), "-g", &example], &env);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("instances (6)"), "{out}");
    let (code, out, err) = run_modelgate(
        &[
            "-t",
            "-c",
            &repo("conf/demo/pingora.yaml"),
            "-g",
            &repo("conf/demo/gateway.yaml"),
        ],
        &[],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("mock-a (openai-compatible, http://127.0.0.1:9901/v1, key set)"),
        "{out}"
    );
}

#[tokio::test]
async fn a_config_error_never_starts_the_server() {
    let (code, _, err) = run_modelgate(&["-g", "/nonexistent/gw.yaml"], &[]);
    assert_eq!(code, 1);
    no_panic(&err);
}

/// `systemd-analyze verify` on the shipped unit, with the binary path pointed at the
/// one under test (verify checks that `Exec*=` binaries exist). `scripts/setup.sh`
/// installs systemd-analyze.
#[test]
fn the_systemd_unit_verifies() {
    let unit = std::fs::read_to_string(repo("systemd/modelgate.service")).expect("unit");
    assert!(
        unit.contains("ExecReload=/usr/local/bin/modelgate -u -d"),
        "reload starts the new process first"
    );
    let dir = tempfile::tempdir().expect("dir");
    let unit = unit.replace("/usr/local/bin/modelgate", crate::support::MODELGATE);
    let path = write_file(dir.path(), "modelgate.service", &unit);
    let out = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .expect("systemd-analyze is missing: run scripts/setup.sh (Debian package `systemd`)");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.trim().is_empty(), "warnings: {err}");
}
