//! Handing over to a new process without failing a request.
//!
//! On SIGQUIT Pingora 0.9.1 sends the listening sockets to the new process,
//! keeps the old one accepting on them for 5 s, then stops it and drops
//! every connection that has no request read yet. Two kinds of client lose a
//! request at that instant: one whose idle keep-alive connection is dropped
//! as it sends, and one whose brand-new connection the old process accepted
//! a moment before. So the old process:
//! 1. from the QUIT (or TERM) on, answers every request with
//!    `Connection: close`, so clients leave it for fresh connections;
//! 2. once the new process has had time to take the sockets (`HANDOVER`
//!    after they were sent; it retries every second), stops accepting, so
//!    those fresh connections all land on the new process.
//!
//! Pingora offers no call to stop one process's accept loop, so step 2
//! points the old process's listening descriptors at a private idle socket
//! (`dup2`): its accept loop then sees nothing but `EAGAIN`, while the
//! shared socket, still open in the new process, keeps its queue there.

use crate::gateway::State;
use async_trait::async_trait;
use pingora::server::{ExecutionPhase, ShutdownWatch};
use pingora::services::background::BackgroundService;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::broadcast::{self, error::RecvError};

/// After the sockets were sent, how long both processes accept before the
/// old one stops (Pingora shuts it down 5 s after sending).
const HANDOVER: Duration = Duration::from_secs(3);

pub struct Handover {
    state: Arc<State>,
    phases: Mutex<Option<broadcast::Receiver<ExecutionPhase>>>,
    /// The listeners this process serves (API and admin).
    listeners: Vec<SocketAddr>,
}

impl Handover {
    pub fn new(
        state: Arc<State>,
        phases: broadcast::Receiver<ExecutionPhase>,
        listeners: Vec<SocketAddr>,
    ) -> Self {
        Self {
            state,
            phases: Mutex::new(Some(phases)),
            listeners,
        }
    }

    fn begin(&self, why: &str) {
        if !self.state.draining.swap(true, Ordering::Relaxed) {
            log::info!("{why}: draining, every response now closes its connection");
        }
    }
}

#[async_trait]
impl BackgroundService for Handover {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let taken = self.phases.lock().map(|mut p| p.take()).ok().flatten();
        let Some(mut phases) = taken else {
            return;
        };
        loop {
            let phase = tokio::select! {
                _ = shutdown.changed() => return self.begin("shutting down"),
                phase = phases.recv() => phase,
            };
            match phase {
                Ok(ExecutionPhase::GracefulUpgradeTransferringFds) => {
                    self.begin("graceful upgrade");
                }
                Ok(ExecutionPhase::GracefulUpgradeCloseTimeout) => {
                    tokio::select! {
                        _ = shutdown.changed() => return,
                        () = tokio::time::sleep(HANDOVER) => {}
                    }
                    let stopped = stop_accepting(&self.listeners);
                    log::info!("handed over: stopped accepting on {stopped} listener(s)");
                }
                Ok(ExecutionPhase::GracefulTerminate) => self.begin("graceful stop"),
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return,
            }
        }
    }
}

/// Points every listening socket of this process bound to one of `addrs` at
/// an idle socket of its own; returns how many it found.
fn stop_accepting(addrs: &[SocketAddr]) -> usize {
    let Ok(entries) = std::fs::read_dir("/proc/self/fd") else {
        return 0;
    };
    let fds: Vec<i32> = entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    let mut stopped = 0;
    for fd in fds {
        if !listening_on(fd, addrs) {
            continue;
        }
        let idle = match std::net::TcpListener::bind(("127.0.0.1", 0)) {
            Ok(l) if l.set_nonblocking(true).is_ok() => l,
            _ => continue,
        };
        // SAFETY: both descriptors are open; `fd` keeps its number and now
        // refers to the idle socket (the shared one stays open in the new
        // process). `idle`'s own descriptor is closed when it drops.
        if unsafe { libc::dup3(idle.as_raw_fd(), fd, libc::O_CLOEXEC) } == fd {
            stopped += 1;
        }
    }
    stopped
}

/// Whether `fd` is a listening TCP socket bound to one of `addrs`.
fn listening_on(fd: i32, addrs: &[SocketAddr]) -> bool {
    let mut accepting: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: a valid out-pointer and its length; a non-socket fd fails.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ACCEPTCONN,
            (&mut accepting as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if rc != 0 || accepting == 0 {
        return false;
    }
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: `storage` is large enough for any socket address.
    let rc = unsafe {
        libc::getsockname(
            fd,
            (&mut storage as *mut libc::sockaddr_storage).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return false;
    }
    sockaddr(&storage).is_some_and(|a| addrs.contains(&a))
}

fn sockaddr(s: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match i32::from(s.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says this storage holds a sockaddr_in.
            let a: &libc::sockaddr_in = unsafe { &*(s as *const libc::sockaddr_storage).cast() };
            let ip = std::net::Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
            Some(SocketAddr::from((ip, u16::from_be(a.sin_port))))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says this storage holds a sockaddr_in6.
            let a: &libc::sockaddr_in6 = unsafe { &*(s as *const libc::sockaddr_storage).cast() };
            let ip = std::net::Ipv6Addr::from(a.sin6_addr.s6_addr);
            Some(SocketAddr::from((ip, u16::from_be(a.sin6_port))))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stopped_listener_accepts_nothing_more() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        // A second descriptor for the same socket: the "new process" side.
        let shared = listener.try_clone().unwrap();
        assert!(listening_on(listener.as_raw_fd(), &[addr]));
        assert!(!listening_on(
            listener.as_raw_fd(),
            &["127.0.0.1:1".parse().unwrap()]
        ));
        assert_eq!(
            stop_accepting(&[addr]),
            2,
            "both descriptors of this process"
        );
        let _client = std::net::TcpStream::connect(addr);
        std::thread::sleep(Duration::from_millis(50));
        let e = listener.accept().unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock);
        drop(shared);
    }
}
