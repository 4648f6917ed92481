//! Worker names and dead workers: a worker is `host:pid` by default, and
//! a lease whose owner is a process of this host that no longer exists is
//! free at once (a SIGKILLed run); other hosts' leases keep their timeout.

/// This machine's name, as worker names hold it.
pub fn host() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "local".into())
}

/// `host:pid`, unique per process.
pub fn default_worker() -> String {
    format!("{}:{}", host(), std::process::id())
}

/// Whether `worker` is a default name (`host:pid`, or `host:pid/thread`)
/// of a process of this host that no longer exists (Linux: no
/// `/proc/{pid}`). Any other name, a live process's or another host's, is
/// not known to be dead.
pub fn dead_here(worker: &str, host: &str) -> bool {
    let worker = worker.split_once('/').map_or(worker, |(w, _)| w);
    let Some((h, pid)) = worker.rsplit_once(':') else {
        return false;
    };
    let Ok(pid) = pid.parse::<u32>() else {
        return false;
    };
    h == host
        && pid != std::process::id()
        && std::path::Path::new("/proc/self").exists()
        && !std::path::Path::new(&format!("/proc/{pid}")).exists()
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_this_hosts_dead_processes_are_dead() {
        let host = super::host();
        let me = std::process::id();
        // A pid above Linux's pid_max (4,194,304) never runs.
        assert!(super::dead_here(&format!("{host}:4194305"), &host));
        assert!(super::dead_here(&format!("{host}:4194305/1"), &host));
        assert!(!super::dead_here(&format!("{host}:{me}/0"), &host));
        assert!(!super::dead_here(&format!("{host}:{me}"), &host));
        assert!(
            !super::dead_here(&format!("{host}:1"), &host),
            "pid 1 lives"
        );
        assert!(!super::dead_here("another-host:4194305", &host));
        assert!(!super::dead_here("my-worker", &host));
        assert!(!super::dead_here(&format!("{host}:not-a-pid"), &host));
    }
}
