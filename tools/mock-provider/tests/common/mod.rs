//! What the mock-provider's integration tests share: the real binary started
//! on a free port of 127.0.0.1, killed when the test is done.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// A running mock-provider; killed when dropped.
pub struct Mock {
    child: Child,
    /// `127.0.0.1:PORT`, as the mock printed it.
    pub addr: String,
}

impl Mock {
    /// Starts the binary with `flags` on port 0 and reads back the port it got.
    pub fn start(flags: &[&str]) -> Mock {
        let mut child = Command::new(env!("CARGO_BIN_EXE_mock-provider"))
            .args(["--listen", "127.0.0.1:0"])
            .args(flags)
            .stdout(Stdio::piped())
            .spawn()
            .expect("mock-provider starts");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("piped stdout");
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("start line");
        let addr = line
            .trim()
            .strip_prefix("mock-provider listening on ")
            .unwrap_or_else(|| panic!("unexpected start line {line:?}"))
            .to_owned();
        Mock { child, addr }
    }

    /// `http://127.0.0.1:PORT`
    #[allow(dead_code)] // each test binary uses its part of this module
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
