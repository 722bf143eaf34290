//! `modelgate`: parse the command line, load and validate both config files,
//! then build and run the Pingora server. Only wiring lives here.

use clap::Parser;
use modelgate::{config, server};
use pingora::server::configuration::Opt;
use pingora::server::RunArgs;
use std::path::PathBuf;
use std::process::ExitCode;

/// jemalloc instead of glibc malloc: Pingora gives every upstream body
/// reader a 64 KiB buffer; jemalloc keeps the untouched pages of those out
/// of RSS and hands freed memory back, where glibc's arenas kept growing
/// across rounds of thousands of streams (bench/README.md, soak).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Purge freed pages within a second, from a background thread, so RSS
/// follows the number of open streams down as well as up.
#[allow(non_upper_case_globals)]
#[export_name = "_rjem_malloc_conf"]
pub static malloc_conf: &[u8; 60] =
    b"background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0\0";

/// A self-hosted LLM gateway: one OpenAI-compatible base URL for many provider keys.
#[derive(Parser, Debug)]
#[command(name = "modelgate", version)]
struct Cli {
    /// Pingora's server config (threads, pid_file, upgrade_sock, daemon, ...).
    #[arg(short = 'c', long = "conf")]
    conf: Option<String>,
    /// The gateway config.
    #[arg(
        short = 'g',
        long = "gateway",
        env = "MODELGATE_CONFIG",
        default_value = "gateway.yaml"
    )]
    gateway: PathBuf,
    /// Take over the listening sockets of a running modelgate (graceful upgrade).
    #[arg(short = 'u', long)]
    upgrade: bool,
    /// Run in the background.
    #[arg(short = 'd', long)]
    daemon: bool,
    /// Validate both config files, print what would be served, and exit.
    #[arg(short = 't', long)]
    test: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(clap::Subcommand, Debug)]
enum Command {
    /// Team keys, through the running gateway's admin API.
    Keys {
        /// The admin listener's URL (default: `admin_listen` of gateway.yaml).
        #[arg(long, env = "MODELGATE_ADMIN_URL")]
        admin_url: Option<String>,
        /// The admin key (default: `auth.admin_key` of gateway.yaml).
        #[arg(long, env = "MODELGATE_ADMIN_KEY", hide_env_values = true)]
        admin_key: Option<String>,
        #[command(subcommand)]
        command: server::KeysCommand,
    },
}

/// `modelgate keys ...`: one admin API call, its answer printed.
fn keys(
    gateway: &std::path::Path,
    url: &Option<String>,
    key: &Option<String>,
    command: &server::KeysCommand,
) -> ExitCode {
    let loaded = match config::load_file(gateway) {
        Ok(loaded) => Some(loaded),
        // Everything needed was given: the file does not matter.
        Err(_) if url.is_some() && key.is_some() => None,
        Err(e) => {
            eprintln!("modelgate keys: the admin API's address and key come from {}, which cannot be used (or give --admin-url and --admin-key):\n{e}", gateway.display());
            return ExitCode::from(1);
        }
    };
    let done = server::AdminTarget::resolve(url.clone(), key.clone(), loaded.as_ref())
        .and_then(|target| server::run_keys(&target, command));
    match done {
        Ok(out) => {
            print!("{out}");
            ExitCode::SUCCESS
        }
        Err(why) => {
            eprintln!("modelgate keys: {why}");
            ExitCode::from(1)
        }
    }
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let cli = Cli::parse();
    if let Some(Command::Keys {
        admin_url,
        admin_key,
        command,
    }) = &cli.command
    {
        return keys(&cli.gateway, admin_url, admin_key, command);
    }
    let conf = config::load_server_conf(cli.conf.as_deref());
    let gateway = config::load_file(&cli.gateway);
    let (conf, loaded) = match (conf, gateway) {
        (Ok(c), Ok(g)) => (c, g),
        (c, g) => {
            let c = c.err().map(|e| e.to_string());
            for e in c.into_iter().chain(g.err().map(|e| e.to_string())) {
                eprintln!("{e}");
            }
            return ExitCode::from(1);
        }
    };
    if cli.test {
        if let Err(e) = server::check_tls(&loaded.config) {
            eprintln!("{e}");
            return ExitCode::from(1);
        }
        print!("{}", server::describe(&loaded, &conf));
        println!("configuration OK");
        return ExitCode::SUCCESS;
    }
    if cli.daemon || conf.daemon {
        if let Err(e) = config::check_daemon_paths(&conf) {
            eprintln!("{e}");
            return ExitCode::from(1);
        }
    }
    for w in &loaded.warnings {
        log::warn!("{w}");
    }
    let opt = Opt {
        upgrade: cli.upgrade,
        daemon: cli.daemon,
        nocapture: false,
        test: false,
        conf: None,
    };
    match server::build(opt, conf, &loaded) {
        Ok(built) => {
            built.server.run(RunArgs::default());
            // Requests are over: what they recorded reaches the disk.
            if let Err(e) = built.store.flush() {
                log::error!("store: usage records not all written at exit: {e}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(1)
        }
    }
}
