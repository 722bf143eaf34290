//! The addresses the gateway listens on, settled before Pingora binds them.
//!
//! A listener on port 0 gets its port here: the gateway binds a socket to
//! `ip:0` itself (bound, not listening, with `SO_REUSEADDR`), reads the port
//! the kernel chose, and keeps that socket open for the life of the process,
//! so no other program can be given the port; Pingora then binds and listens
//! on `ip:port` beside it (a bound socket that does not listen does not
//! conflict with a reusable one that does). The port is logged as
//! `listening on ip:port`, which is how a test harness or a script learns it.
//!
//! A fixed port that another process already listens on is reported here,
//! at once, instead of Pingora's retry loop. Not on `-u`: then the old
//! process listens there, and its sockets are handed over.

use super::StartError;
use std::net::SocketAddr;
use tokio::net::TcpSocket;

/// Settled addresses.
pub struct Listeners {
    pub api: Vec<SocketAddr>,
    pub admin: Option<SocketAddr>,
}

impl Listeners {
    /// Settle `api` and `admin`; `upgrading`: the sockets come from the old
    /// process, so nothing is checked or held.
    pub fn settle(
        api: &[SocketAddr],
        admin: Option<SocketAddr>,
        upgrading: bool,
    ) -> Result<Self, StartError> {
        let settle = |addr: SocketAddr| -> Result<SocketAddr, StartError> {
            if upgrading {
                return Ok(addr);
            }
            let (socket, bound) = reserve(addr).map_err(|e| StartError::Listen {
                addr,
                why: in_use_message(&e),
            })?;
            if addr.port() == 0 {
                // Held for the life of the process (see the module doc).
                std::mem::forget(socket);
            }
            Ok(bound)
        };
        let api = api
            .iter()
            .map(|&a| settle(a))
            .collect::<Result<Vec<_>, _>>()?;
        let admin = admin.map(settle).transpose()?;
        Ok(Self { api, admin })
    }

    /// Every address, API listeners first.
    pub fn all(&self) -> Vec<SocketAddr> {
        self.api.iter().chain(&self.admin).copied().collect()
    }
}

/// Bind (without listening) a reusable socket to `addr`.
fn reserve(addr: SocketAddr) -> std::io::Result<(TcpSocket, SocketAddr)> {
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    let bound = socket.local_addr()?;
    Ok((socket, bound))
}

fn in_use_message(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::AddrInUse => {
            "the address is already in use (is another modelgate or server running?)".into()
        }
        std::io::ErrorKind::AddrNotAvailable => "no interface has this address".into(),
        _ => format!("cannot bind: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn port_zero_gets_a_port_that_stays_taken() {
        let l = Listeners::settle(&["127.0.0.1:0".parse().unwrap()], None, false).unwrap();
        let addr = l.api[0];
        assert_ne!(addr.port(), 0);
        // Pingora's bind (reusable, then listening) succeeds beside it...
        let pingora = reserve(addr).unwrap().0.listen(16).unwrap();
        // ...and, once it listens, a third bind fails: the port is taken.
        assert!(reserve(addr).is_err());
        drop(pingora);
    }

    #[test]
    fn a_port_someone_listens_on_is_an_error_unless_upgrading() {
        let other = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = other.local_addr().unwrap();
        let e = Listeners::settle(&[addr], None, false).err().unwrap();
        assert!(e.to_string().contains("already in use"), "{e}");
        let l = Listeners::settle(&[addr], None, true).unwrap();
        assert_eq!(l.api, vec![addr]);
    }
}
