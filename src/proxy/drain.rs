//! Draining before a graceful upgrade or stop. Pingora keeps the old process
//! serving for 5 s after a SIGQUIT hands its sockets over, then drops every
//! idle keep-alive connection; a client that sends its next request on one
//! of those at that moment gets an error. So from the moment the QUIT (or
//! TERM) arrives, every response says `Connection: close` and clients move
//! to fresh connections, which the new process accepts.

use super::State;
use async_trait::async_trait;
use pingora::server::{ExecutionPhase, ShutdownWatch};
use pingora::services::background::BackgroundService;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast::{self, error::RecvError};

pub struct Drain {
    state: Arc<State>,
    phases: Mutex<Option<broadcast::Receiver<ExecutionPhase>>>,
}

impl Drain {
    pub fn new(state: Arc<State>, phases: broadcast::Receiver<ExecutionPhase>) -> Self {
        Self {
            state,
            phases: Mutex::new(Some(phases)),
        }
    }

    fn begin(&self, why: &str) {
        if !self.state.draining.swap(true, Ordering::Relaxed) {
            log::info!("{why}: draining, every response now closes its connection");
        }
    }
}

#[async_trait]
impl BackgroundService for Drain {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let taken = self.phases.lock().map(|mut p| p.take()).ok().flatten();
        let Some(mut phases) = taken else {
            return;
        };
        loop {
            tokio::select! {
                _ = shutdown.changed() => return self.begin("shutting down"),
                phase = phases.recv() => match phase {
                    Ok(ExecutionPhase::GracefulUpgradeTransferringFds) => {
                        self.begin("graceful upgrade");
                    }
                    Ok(ExecutionPhase::GracefulTerminate) => self.begin("graceful stop"),
                    Ok(_) | Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => return,
                },
            }
        }
    }
}
