//! cgroup v1: a directory per controller hierarchy, Docker's v1 file names.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::Duration;

use super::{Cgroup, DEFAULT_DEVICE_RULES, Resources, write_file};

/// Makes every controller's directory. cpuset needs `cpuset.cpus` and
/// `cpuset.mems` filled at each level before a process may join.
pub fn create(dirs: &[(String, PathBuf)]) -> io::Result<()> {
    for (controller, dir) in dirs {
        if controller == "cpuset" {
            create_cpuset(dir)?;
        } else {
            fs::create_dir_all(dir)?;
        }
    }
    Ok(())
}

fn create_cpuset(dir: &Path) -> io::Result<()> {
    // A level that exists may have been made a moment ago by a container
    // starting beside this one, which has not filled it yet: only a
    // filled level is done.
    let filled =
        |file: &str| fs::read_to_string(dir.join(file)).is_ok_and(|own| !own.trim().is_empty());
    // Above the hierarchy's root there is no cpuset file: nothing to do.
    let outside = !dir.join("cpuset.cpus").exists();
    if dir.exists() && (outside || (filled("cpuset.cpus") && filled("cpuset.mems"))) {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        create_cpuset(parent)?;
        match fs::create_dir(dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        for file in ["cpuset.cpus", "cpuset.mems"] {
            let own = fs::read_to_string(dir.join(file)).unwrap_or_default();
            if own.trim().is_empty() {
                let inherited = fs::read_to_string(parent.join(file)).unwrap_or_default();
                if !inherited.trim().is_empty() {
                    write_file(dir, file, inherited.trim())?;
                }
            }
        }
    }
    Ok(())
}

/// Writes the limits into the controllers that exist on this host.
pub fn apply(cgroup: &Cgroup, r: &Resources) -> io::Result<()> {
    if let Some(dir) = cgroup.dir("memory") {
        if r.memory_reservation > 0 {
            write_file(
                dir,
                "memory.soft_limit_in_bytes",
                &r.memory_reservation.to_string(),
            )?;
        }
        if r.memory > 0 {
            // The swap limit must never be below the memory limit: write in
            // the order that keeps that true whichever way the values move.
            let swap = swap_limit(r);
            let has_swap_file = dir.join("memory.memsw.limit_in_bytes").exists();
            if has_swap_file {
                let _ = write_file(dir, "memory.memsw.limit_in_bytes", "-1");
            }
            write_file(dir, "memory.limit_in_bytes", &r.memory.to_string())?;
            if has_swap_file {
                write_file(dir, "memory.memsw.limit_in_bytes", &swap.to_string())?;
            }
        }
        if r.oom_kill_disable {
            write_file(dir, "memory.oom_control", "1")?;
        }
        if let Some(swappiness) = r.memory_swappiness {
            write_file(dir, "memory.swappiness", &swappiness.to_string())?;
        }
    }
    if let Some(dir) = cgroup.dir("cpu") {
        if r.cpu_shares > 0 {
            write_file(dir, "cpu.shares", &r.cpu_shares.to_string())?;
        }
        let (quota, period) = cpu_quota(r);
        if period > 0 {
            write_file(dir, "cpu.cfs_period_us", &period.to_string())?;
        }
        if quota != 0 {
            write_file(dir, "cpu.cfs_quota_us", &quota.to_string())?;
        }
    }
    if let Some(dir) = cgroup.dir("blkio") {
        super::blkio::apply_v1(dir, r)?;
    }
    if let Some(dir) = cgroup.dir("cpuset") {
        if !r.cpuset_cpus.is_empty() {
            write_file(dir, "cpuset.cpus", &r.cpuset_cpus)?;
        }
        if !r.cpuset_mems.is_empty() {
            write_file(dir, "cpuset.mems", &r.cpuset_mems)?;
        }
    }
    if let Some(dir) = cgroup.dir("pids") {
        let max = match r.pids_limit {
            Some(n) if n > 0 => n.to_string(),
            _ => "max".to_string(),
        };
        write_file(dir, "pids.max", &max)?;
    }
    Ok(())
}

/// Restricts device access to Docker's default list and the `extra`
/// `devices.allow` rules (v1 `devices`).
pub fn restrict_devices(cgroup: &Cgroup, extra: &[String]) -> io::Result<()> {
    let Some(dir) = cgroup.dir("devices") else {
        return Ok(());
    };
    write_file(dir, "devices.deny", "a")?;
    for rule in DEFAULT_DEVICE_RULES
        .iter()
        .copied()
        .chain(extra.iter().map(String::as_str))
    {
        write_file(dir, "devices.allow", rule)?;
    }
    Ok(())
}

/// Docker's meaning of `--memory-swap`: -1 unlimited, 0 (unset) twice the
/// memory limit, otherwise memory + swap.
pub fn swap_limit(r: &Resources) -> i64 {
    match r.memory_swap {
        -1 => -1,
        0 => r.memory.saturating_mul(2),
        n => n,
    }
}

/// (quota, period) in microseconds from `--cpus` or the explicit values;
/// quota 0 means "leave unset", -1 unlimited.
pub fn cpu_quota(r: &Resources) -> (i64, i64) {
    if r.nano_cpus > 0 {
        let period = 100_000;
        (r.nano_cpus * period / 1_000_000_000, period)
    } else {
        (r.cpu_quota, r.cpu_period)
    }
}

/// Freezes or thaws through `freezer.state`, waiting for the state to settle.
pub fn set_frozen(cgroup: &Cgroup, frozen: bool) -> io::Result<()> {
    let dir = cgroup.dir("freezer").ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::Unsupported,
            "the freezer controller is not mounted",
        )
    })?;
    let want = if frozen { "FROZEN" } else { "THAWED" };
    for _ in 0..1000 {
        write_file(dir, "freezer.state", want)?;
        let state = fs::read_to_string(dir.join("freezer.state"))?;
        if state.trim() == want {
            return Ok(());
        }
        thread::sleep(Duration::from_millis(1));
    }
    Err(io::Error::other(format!(
        "cgroup did not reach {want} in time"
    )))
}

#[cfg(test)]
mod tests {
    use super::super::Hierarchy;
    use super::*;

    #[test]
    fn writes_limits_in_docker_units() {
        let root = tempfile::tempdir().unwrap();
        let hierarchy = Hierarchy::v1_at(root.path());
        let cg = hierarchy.cgroup("hoist/c1");
        for (name, _) in &hierarchy.controllers {
            fs::create_dir_all(root.path().join(name).join("hoist/c1")).unwrap();
        }
        fs::write(
            root.path()
                .join("memory/hoist/c1/memory.memsw.limit_in_bytes"),
            "",
        )
        .unwrap();
        let r = Resources {
            memory: 64 << 20,
            nano_cpus: 500_000_000,
            cpu_shares: 512,
            pids_limit: Some(100),
            cpuset_cpus: "0".into(),
            ..Default::default()
        };
        apply(&cg, &r).unwrap();
        let read = |p: &str| fs::read_to_string(root.path().join(p)).unwrap();
        assert_eq!(
            read("memory/hoist/c1/memory.limit_in_bytes"),
            (64u64 << 20).to_string()
        );
        assert_eq!(
            read("memory/hoist/c1/memory.memsw.limit_in_bytes"),
            (128u64 << 20).to_string()
        );
        assert_eq!(read("cpu/hoist/c1/cpu.cfs_quota_us"), "50000");
        assert_eq!(read("cpu/hoist/c1/cpu.cfs_period_us"), "100000");
        assert_eq!(read("cpu/hoist/c1/cpu.shares"), "512");
        assert_eq!(read("pids/hoist/c1/pids.max"), "100");
        assert_eq!(read("cpuset/hoist/c1/cpuset.cpus"), "0");
    }

    #[test]
    fn a_level_another_container_made_but_did_not_fill_yet_is_filled() {
        let root = tempfile::tempdir().unwrap();
        let top = root.path().join("cpuset");
        fs::create_dir_all(top.join("hoist")).unwrap();
        fs::write(top.join("cpuset.cpus"), "0-1\n").unwrap();
        fs::write(top.join("cpuset.mems"), "0\n").unwrap();
        // What the kernel shows in a fresh cpuset level: empty files.
        fs::write(top.join("hoist/cpuset.cpus"), "").unwrap();
        fs::write(top.join("hoist/cpuset.mems"), "").unwrap();
        create_cpuset(&top.join("hoist/c2")).unwrap();
        assert_eq!(
            fs::read_to_string(top.join("hoist/cpuset.mems")).unwrap(),
            "0"
        );
        assert_eq!(
            fs::read_to_string(top.join("hoist/c2/cpuset.cpus")).unwrap(),
            "0-1"
        );
    }

    #[test]
    fn cpuset_levels_inherit_their_parents_cpus() {
        let root = tempfile::tempdir().unwrap();
        let top = root.path().join("cpuset");
        fs::create_dir_all(&top).unwrap();
        fs::write(top.join("cpuset.cpus"), "0-1\n").unwrap();
        fs::write(top.join("cpuset.mems"), "0\n").unwrap();
        create_cpuset(&top.join("hoist/c1")).unwrap();
        assert_eq!(
            fs::read_to_string(top.join("hoist/cpuset.cpus")).unwrap(),
            "0-1"
        );
        assert_eq!(
            fs::read_to_string(top.join("hoist/c1/cpuset.mems")).unwrap(),
            "0"
        );
    }
}
