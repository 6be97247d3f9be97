//! Lease owners: the id an executor stamps its leases with, and telling from another owner's id
//! whether the process behind it is gone, so that its tasks resume without waiting for their
//! leases to run out.
//!
//! An id is `{host}/{machine}/{process id}/{process start}/{random}`, where `machine` names the
//! boot and the process-id namespace (Linux; containers sharing a host name do not share process
//! ids). On PostgreSQL each executor also holds a session advisory lock derived from its id for
//! as long as it runs (see `listener.rs`): when the lock is free, the owner is gone, whichever
//! host it ran on. On SQLite, whose processes share one machine, the host and process tell: a
//! process of the same machine and namespace that has ended, or whose id now belongs to a process
//! started later, is gone. A process that is merely slow keeps its lock and its process, so it
//! never loses its tasks this way.

use uuid::Uuid;

/// A new owner id for an executor of this process.
pub(crate) fn new_owner_id() -> String {
    let pid = std::process::id();
    format!("{}/{}/{pid}/{}/{}", host(), machine(), start_time(pid).unwrap_or(0), Uuid::new_v4().simple())
}

/// Whether the process behind `owner` is known to be gone: it ran on this host, machine and
/// process-id namespace, and no process has its id any more, or one that started at another
/// time (the id was reused). Unknown for owners elsewhere, and for ids of another form: `false`
/// then.
pub(crate) fn is_gone(owner: &str) -> bool {
    let mut parts = owner.rsplitn(5, '/');
    let (Some(_random), Some(start), Some(pid), Some(machine), Some(host)) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let (Ok(pid), Ok(start)) = (pid.parse::<u32>(), start.parse::<u64>()) else {
        return false;
    };
    if host != self::host() || machine == UNKNOWN_MACHINE || machine != self::machine() || pid == std::process::id() {
        return false;
    }
    if !process_exists(pid) {
        return true;
    }
    // A start time of 0 was not known when the id was made.
    start != 0 && start_time(pid).is_some_and(|now| now != start)
}

/// What `machine` is when the boot or namespace cannot be read: never taken for this machine.
const UNKNOWN_MACHINE: &str = "unknown";

/// This boot of this machine and this process-id namespace, where they can be read (Linux); on
/// other systems, where containers share no host name, `local`.
fn machine() -> String {
    if !cfg!(target_os = "linux") {
        return "local".to_owned();
    }
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok();
    let namespace = std::fs::read_link("/proc/self/ns/pid").ok();
    match (boot, namespace) {
        (Some(boot), Some(namespace)) => {
            let namespace: String = namespace.to_string_lossy().chars().filter(char::is_ascii_digit).collect();
            format!("{}.{namespace}", boot.trim())
        }
        _ => UNKNOWN_MACHINE.to_owned(),
    }
}

/// This machine's name.
fn host() -> String {
    #[cfg(unix)]
    {
        rustix::system::uname().nodename().to_string_lossy().into_owned()
    }
    #[cfg(not(unix))]
    {
        std::env::var("COMPUTERNAME").unwrap_or_else(|_| "localhost".to_owned())
    }
}

/// Whether a process with this id exists (and is not a zombie waiting to be reaped).
#[cfg(unix)]
fn process_exists(pid: u32) -> bool {
    let Some(pid) = i32::try_from(pid).ok().and_then(rustix::process::Pid::from_raw) else {
        return false;
    };
    match rustix::process::test_kill_process(pid) {
        // EPERM: it exists, owned by someone else.
        Ok(()) | Err(rustix::io::Errno::PERM) => !is_zombie(pid.as_raw_pid()),
        Err(_) => false,
    }
}

/// Elsewhere no process is known to be gone: leases run out instead.
#[cfg(not(unix))]
fn process_exists(_pid: u32) -> bool {
    true
}

/// Whether a process has ended and waits to be reaped (Linux; `false` where unknown).
#[cfg(unix)]
fn is_zombie(pid: i32) -> bool {
    stat_fields(pid as u32).is_some_and(|fields| fields.first().is_some_and(|state| state == "Z"))
}

/// When a process started, in clock ticks since boot (Linux; `None` where unknown).
fn start_time(pid: u32) -> Option<u64> {
    // The 22nd field of /proc/<pid>/stat; the fields after the command name start at the 3rd.
    stat_fields(pid)?.get(19)?.parse().ok()
}

/// The fields of `/proc/<pid>/stat` after the command name (which may hold spaces).
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, after_name) = stat.rsplit_once(')')?;
    Some(after_name.split_whitespace().map(str::to_owned).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_name_this_host_and_process() {
        let id = new_owner_id();
        let parts: Vec<&str> = id.rsplitn(5, '/').collect();
        assert_eq!(parts.len(), 5, "{id}");
        assert_eq!(parts[2], std::process::id().to_string());
        assert_eq!(parts[3], machine());
        assert_eq!(parts[4], host());
        assert!(!is_gone(&id), "this process is not gone");
        assert_ne!(new_owner_id(), id);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn an_owner_whose_process_ended_or_was_replaced_is_gone() {
        let mut child = std::process::Command::new("sleep").arg("30").spawn().unwrap();
        let pid = child.id();
        let start = start_time(pid).unwrap();
        let owner = format!("{}/{}/{pid}/{start}/abc", host(), machine());
        assert!(!is_gone(&owner));
        // The same process id with another start time: the id was reused.
        assert!(is_gone(&format!("{}/{}/{pid}/{}/abc", host(), machine(), start + 1)));
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(is_gone(&owner));
        // Another host, machine or namespace, or an id of another form, is never taken for gone.
        assert!(!is_gone(&format!("elsewhere/{}/{pid}/{start}/abc", machine())));
        assert!(!is_gone(&format!("{}/another-boot.1/{pid}/{start}/abc", host())));
        assert!(!is_gone(&format!("{}/{UNKNOWN_MACHINE}/{pid}/{start}/abc", host())));
        assert!(!is_gone("1234-5678"));
    }
}
