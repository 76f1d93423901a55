//! cgroup v2: one directory in the unified tree, with controllers enabled
//! from the root down through `cgroup.subtree_control`.

use std::fs;
use std::io;
use std::path::Path;
use std::thread;
use std::time::Duration;

use super::v1::{cpu_quota, swap_limit};
use super::{Resources, write_file};

/// Controllers hoist enables for its containers, when the host offers them.
const CONTROLLERS: &[&str] = &["cpu", "cpuset", "memory", "pids", "io"];

/// Makes the directory and every missing parent, enabling the controllers
/// each level's children need (a v2 cgroup only has the files of the
/// controllers its parent enabled).
pub fn create(dir: &Path) -> io::Result<()> {
    let mut missing = Vec::new();
    let mut cursor = dir;
    while !cursor.exists() {
        missing.push(cursor.to_path_buf());
        cursor = cursor
            .parent()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "cgroup root does not exist"))?;
    }
    enable_controllers(cursor)?;
    for level in missing.iter().rev() {
        match fs::create_dir(level) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        if level != dir {
            enable_controllers(level)?;
        }
    }
    Ok(())
}

/// Writes `+controller` for each controller the directory has to offer.
fn enable_controllers(dir: &Path) -> io::Result<()> {
    let available = fs::read_to_string(dir.join("cgroup.controllers")).unwrap_or_default();
    let enabled = fs::read_to_string(dir.join("cgroup.subtree_control")).unwrap_or_default();
    let wanted: Vec<String> = CONTROLLERS
        .iter()
        .filter(|c| available.split_whitespace().any(|a| a == **c))
        .filter(|c| !enabled.split_whitespace().any(|e| e == **c))
        .map(|c| format!("+{c}"))
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    write_file(dir, "cgroup.subtree_control", &wanted.join(" "))
}

/// Docker's cpu.shares (2–262144, default 1024) as a v2 weight (1–10000,
/// default 100), with the formula runc and crun use.
pub fn shares_to_weight(shares: i64) -> i64 {
    if shares <= 0 {
        return 0;
    }
    1 + ((shares.clamp(2, 262_144) - 2) * 9999) / 262_142
}

/// Writes the limits in v2's file names and formats.
pub fn apply(dir: &Path, r: &Resources) -> io::Result<()> {
    if r.memory > 0 {
        write_file(dir, "memory.max", &r.memory.to_string())?;
        let swap = swap_limit(r);
        let swap_value = if swap < 0 {
            "max".to_string()
        } else {
            (swap - r.memory).max(0).to_string()
        };
        if dir.join("memory.swap.max").exists() {
            write_file(dir, "memory.swap.max", &swap_value)?;
        }
    }
    if r.memory_reservation > 0 {
        write_file(dir, "memory.low", &r.memory_reservation.to_string())?;
    }
    if r.oom_kill_disable {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "--oom-kill-disable needs cgroup v1; cgroup v2 has no such switch",
        ));
    }
    let (quota, period) = cpu_quota(r);
    if quota != 0 || period > 0 {
        let quota = if quota <= 0 {
            "max".to_string()
        } else {
            quota.to_string()
        };
        let period = if period > 0 { period } else { 100_000 };
        write_file(dir, "cpu.max", &format!("{quota} {period}"))?;
    }
    let weight = shares_to_weight(r.cpu_shares);
    if weight > 0 {
        write_file(dir, "cpu.weight", &weight.to_string())?;
    }
    if !r.cpuset_cpus.is_empty() {
        write_file(dir, "cpuset.cpus", &r.cpuset_cpus)?;
    }
    if !r.cpuset_mems.is_empty() {
        write_file(dir, "cpuset.mems", &r.cpuset_mems)?;
    }
    let pids = match r.pids_limit {
        Some(n) if n > 0 => n.to_string(),
        _ => "max".to_string(),
    };
    write_file(dir, "pids.max", &pids)?;
    super::blkio::apply_v2(dir, r)
}

/// Freezes or thaws through `cgroup.freeze`, waiting for `cgroup.events`
/// to report it.
pub fn set_frozen(dir: &Path, frozen: bool) -> io::Result<()> {
    let want = if frozen { "1" } else { "0" };
    write_file(dir, "cgroup.freeze", want)?;
    for _ in 0..1000 {
        let events = fs::read_to_string(dir.join("cgroup.events")).unwrap_or_default();
        let state = events
            .lines()
            .find_map(|l| l.strip_prefix("frozen "))
            .unwrap_or(want);
        if state.trim() == want {
            return Ok(());
        }
        thread::sleep(Duration::from_millis(1));
    }
    Err(io::Error::other(
        "cgroup did not change its frozen state in time",
    ))
}

#[cfg(test)]
mod tests {
    use super::super::{Cgroup, Hierarchy};
    use super::*;

    /// A fake unified tree: the root offers controllers; new directories get
    /// the files the kernel would give them.
    fn fake_root() -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        fs::write(
            root.path().join("cgroup.controllers"),
            "cpuset cpu io memory hugetlb pids rdma\n",
        )
        .unwrap();
        fs::write(root.path().join("cgroup.subtree_control"), "").unwrap();
        root
    }

    fn read(dir: &Path, file: &str) -> String {
        fs::read_to_string(dir.join(file)).unwrap()
    }

    #[test]
    fn create_enables_controllers_down_the_tree() {
        let root = fake_root();
        let cg: Cgroup = Hierarchy::v2_at(root.path()).cgroup("hoist/c1");
        create(cg.dir("").unwrap()).unwrap();
        assert_eq!(
            read(root.path(), "cgroup.subtree_control"),
            "+cpu +cpuset +memory +pids +io"
        );
        assert!(root.path().join("hoist/c1").is_dir());
        // The intermediate level enables what it has; a fake directory has
        // no cgroup.controllers, so nothing is written there.
        assert!(!root.path().join("hoist/c1/cgroup.subtree_control").exists());
    }

    #[test]
    fn writes_limits_in_v2_formats() {
        let root = fake_root();
        let dir = root.path().join("hoist/c1");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("memory.swap.max"), "").unwrap();
        let r = Resources {
            memory: 64 << 20,
            memory_swap: 96 << 20,
            memory_reservation: 32 << 20,
            nano_cpus: 1_500_000_000,
            cpu_shares: 1024,
            pids_limit: Some(100),
            cpuset_cpus: "0-1".into(),
            ..Default::default()
        };
        apply(&dir, &r).unwrap();
        assert_eq!(read(&dir, "memory.max"), (64u64 << 20).to_string());
        assert_eq!(read(&dir, "memory.swap.max"), (32u64 << 20).to_string());
        assert_eq!(read(&dir, "memory.low"), (32u64 << 20).to_string());
        assert_eq!(read(&dir, "cpu.max"), "150000 100000");
        assert_eq!(read(&dir, "cpu.weight"), "39");
        assert_eq!(read(&dir, "pids.max"), "100");
        assert_eq!(read(&dir, "cpuset.cpus"), "0-1");
    }

    #[test]
    fn unlimited_values_are_written_as_max() {
        let root = fake_root();
        let dir = root.path().join("c");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("memory.swap.max"), "").unwrap();
        let r = Resources {
            memory: 1 << 20,
            memory_swap: -1,
            cpu_quota: -1,
            cpu_period: 50_000,
            ..Default::default()
        };
        apply(&dir, &r).unwrap();
        assert_eq!(read(&dir, "memory.swap.max"), "max");
        assert_eq!(read(&dir, "cpu.max"), "max 50000");
        assert_eq!(read(&dir, "pids.max"), "max");
    }

    #[test]
    fn oom_kill_disable_is_refused_on_v2() {
        let root = fake_root();
        let r = Resources {
            oom_kill_disable: true,
            ..Default::default()
        };
        assert_eq!(
            apply(root.path(), &r).unwrap_err().kind(),
            io::ErrorKind::Unsupported
        );
    }

    #[test]
    fn freeze_waits_for_cgroup_events() {
        let root = fake_root();
        fs::write(root.path().join("cgroup.events"), "populated 1\nfrozen 1\n").unwrap();
        set_frozen(root.path(), true).unwrap();
        assert_eq!(read(root.path(), "cgroup.freeze"), "1");
    }

    #[test]
    fn shares_map_to_weights_like_runc() {
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert_eq!(shares_to_weight(0), 0);
    }
}
