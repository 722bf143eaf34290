//! The daemon's launcher, when `systemctl reload` (or any `-d` start with
//! `daemon_wait_for_ready`) waits for the new process to be ready.
//!
//! With `daemon_wait_for_ready`, the daemon tells the launcher it is ready
//! with SIGUSR1, but Pingora 0.9.1's launcher installs its listener only
//! after forking: a daemon that bootstraps first kills the launcher with
//! SIGUSR1's default action, and `systemctl reload` fails although the new
//! daemon is fine. So the handler is in place before the fork: in the
//! launcher, SIGUSR1 means "ready" and exits 0, as Pingora's own listener
//! would; in the daemon (which inherits it) it does nothing.

pub fn exit_launcher_on_ready_signal() -> std::io::Result<()> {
    let launcher = std::process::id();
    let on_ready = move || {
        // SAFETY (async-signal-safety): getpid and _exit only.
        if unsafe { libc::getpid() } as u32 == launcher {
            unsafe { libc::_exit(0) };
        }
    };
    // SAFETY: the action calls only async-signal-safe functions.
    unsafe { signal_hook_registry::register(libc::SIGUSR1, on_ready) }.map(|_| ())
}
