//! Reads a process's memory from `/proc/<pid>/status` (Linux), for the soak's
//! RSS before / during / after. Parsing is a pure function.

/// A `kB` field of `/proc/<pid>/status`, e.g. `VmRSS` or `VmHWM`.
pub fn status_kb(pid: u32, field: &str) -> Result<u64, String> {
    let path = format!("/proc/{pid}/status");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {path}: {e}"))?;
    parse_status_kb(&text, field).ok_or_else(|| format!("no {field} in {path}"))
}

fn parse_status_kb(text: &str, field: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        rest.trim().strip_suffix("kB")?.trim().parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_kb_fields() {
        let text = "Name:\tmodelgate\nVmHWM:\t   20480 kB\nVmRSS:\t   15360 kB\nThreads:\t3\n";
        assert_eq!(parse_status_kb(text, "VmRSS"), Some(15360));
        assert_eq!(parse_status_kb(text, "VmHWM"), Some(20480));
        assert_eq!(parse_status_kb(text, "VmSwap"), None);
        assert_eq!(parse_status_kb(text, "Threads"), None);
    }

    #[test]
    fn reads_its_own_rss() {
        assert!(status_kb(std::process::id(), "VmRSS").unwrap() > 0);
    }
}
