//! Reading a cgroup's counters for `hoist stats`.

use std::fs;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{Cgroup, Version};

/// What `stats` shows, from the cgroup's own counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CgroupStats {
    /// Cumulative CPU time in nanoseconds.
    pub cpu_usage_ns: u64,
    /// Memory in use, minus the inactive page cache (as Docker's CLI shows).
    pub memory_usage: u64,
    /// The hard limit, or 0 when unlimited.
    pub memory_limit: u64,
    /// Page cache counted in the usage.
    pub memory_cache: u64,
    /// Processes.
    pub pids: u64,
    /// Bytes read from block devices.
    pub block_read: u64,
    /// Bytes written to block devices.
    pub block_write: u64,
}

/// Limits at or above this are "unlimited" (v1 reports PAGE_COUNTER_MAX).
const UNLIMITED: u64 = 1 << 62;

pub(super) fn read(cgroup: &Cgroup) -> CgroupStats {
    match cgroup.version() {
        Version::V1 => read_v1(cgroup),
        Version::V2 => cgroup.dir("").map(read_v2).unwrap_or_default(),
    }
}

fn read_v1(cgroup: &Cgroup) -> CgroupStats {
    let mut stats = CgroupStats::default();
    if let Some(dir) = cgroup.dir("cpuacct") {
        stats.cpu_usage_ns = number(&dir.join("cpuacct.usage"));
    }
    if let Some(dir) = cgroup.dir("memory") {
        let usage = number(&dir.join("memory.usage_in_bytes"));
        let inactive = keyed_value(&dir.join("memory.stat"), "total_inactive_file");
        stats.memory_usage = usage.saturating_sub(inactive);
        stats.memory_cache = keyed_value(&dir.join("memory.stat"), "total_cache");
        stats.memory_limit = limit(number(&dir.join("memory.limit_in_bytes")));
    }
    if let Some(dir) = cgroup.dir("pids") {
        stats.pids = number(&dir.join("pids.current"));
    }
    if let Some(dir) = cgroup.dir("blkio") {
        let text =
            fs::read_to_string(dir.join("blkio.throttle.io_service_bytes")).unwrap_or_default();
        for line in text.lines() {
            let mut parts = line.split_whitespace();
            let (Some(_device), Some(op), Some(value)) = (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let value: u64 = value.parse().unwrap_or(0);
            match op {
                "Read" => stats.block_read += value,
                "Write" => stats.block_write += value,
                _ => {}
            }
        }
    }
    stats
}

fn read_v2(dir: &Path) -> CgroupStats {
    let mut stats = CgroupStats {
        cpu_usage_ns: keyed_value(&dir.join("cpu.stat"), "usage_usec") * 1000,
        pids: number(&dir.join("pids.current")),
        ..Default::default()
    };
    let usage = number(&dir.join("memory.current"));
    let inactive = keyed_value(&dir.join("memory.stat"), "inactive_file");
    stats.memory_usage = usage.saturating_sub(inactive);
    stats.memory_cache = keyed_value(&dir.join("memory.stat"), "file");
    let max = fs::read_to_string(dir.join("memory.max")).unwrap_or_default();
    stats.memory_limit = max.trim().parse().map(limit).unwrap_or(0);
    let io = fs::read_to_string(dir.join("io.stat")).unwrap_or_default();
    for line in io.lines() {
        for field in line.split_whitespace().skip(1) {
            if let Some(v) = field.strip_prefix("rbytes=") {
                stats.block_read += v.parse().unwrap_or(0);
            } else if let Some(v) = field.strip_prefix("wbytes=") {
                stats.block_write += v.parse().unwrap_or(0);
            }
        }
    }
    stats
}

fn limit(value: u64) -> u64 {
    if value >= UNLIMITED { 0 } else { value }
}

fn number(path: &Path) -> u64 {
    fs::read_to_string(path)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

/// The value of `key` in a flat keyed file (`key value` per line), 0 if absent.
pub(super) fn keyed_value(path: &Path, key: &str) -> u64 {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .find_map(|line| {
            let (k, v) = line.split_once(' ')?;
            (k == key).then(|| v.trim().parse().ok()).flatten()
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::super::Hierarchy;
    use super::*;

    #[test]
    fn reads_v2_counters() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("c");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("cpu.stat"), "usage_usec 1500\nuser_usec 1000\n").unwrap();
        fs::write(dir.join("memory.current"), "10000\n").unwrap();
        fs::write(
            dir.join("memory.stat"),
            "anon 6000\nfile 4000\ninactive_file 3000\n",
        )
        .unwrap();
        fs::write(dir.join("memory.max"), "max\n").unwrap();
        fs::write(dir.join("pids.current"), "3\n").unwrap();
        fs::write(
            dir.join("io.stat"),
            "8:0 rbytes=100 wbytes=50 rios=1 wios=1\n",
        )
        .unwrap();
        let s = Hierarchy::v2_at(root.path()).cgroup("c").stats();
        assert_eq!(s.cpu_usage_ns, 1_500_000);
        assert_eq!(s.memory_usage, 7000);
        assert_eq!(s.memory_cache, 4000);
        assert_eq!(s.memory_limit, 0);
        assert_eq!(s.pids, 3);
        assert_eq!((s.block_read, s.block_write), (100, 50));
    }

    #[test]
    fn reads_v1_counters_and_oom_kills() {
        let root = tempfile::tempdir().unwrap();
        let h = Hierarchy::v1_at(root.path());
        for c in ["cpuacct", "memory", "pids", "blkio"] {
            fs::create_dir_all(root.path().join(c).join("c")).unwrap();
        }
        let p = |s: &str| root.path().join(s);
        fs::write(p("cpuacct/c/cpuacct.usage"), "123\n").unwrap();
        fs::write(p("memory/c/memory.usage_in_bytes"), "5000\n").unwrap();
        fs::write(
            p("memory/c/memory.stat"),
            "cache 10\ntotal_cache 1000\ntotal_inactive_file 500\n",
        )
        .unwrap();
        fs::write(p("memory/c/memory.limit_in_bytes"), "67108864\n").unwrap();
        fs::write(
            p("memory/c/memory.oom_control"),
            "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
        )
        .unwrap();
        fs::write(p("pids/c/pids.current"), "4\n").unwrap();
        fs::write(
            p("blkio/c/blkio.throttle.io_service_bytes"),
            "8:0 Read 10\n8:0 Write 20\nTotal 30\n",
        )
        .unwrap();
        let cg = h.cgroup("c");
        let s = cg.stats();
        assert_eq!(
            (s.cpu_usage_ns, s.memory_usage, s.memory_limit, s.pids),
            (123, 4500, 67108864, 4)
        );
        assert_eq!((s.block_read, s.block_write), (10, 20));
        assert_eq!(cg.oom_kills(), 2);
    }
}
