//! Block I/O weights and rate limits, written as each cgroup version
//! wants them, with the devices' numbers looked up on the host.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use super::{Resources, write_file};
use crate::devices::block_numbers;

/// `MAJ:MIN` of a block device path.
fn numbers(path: &str) -> io::Result<String> {
    let (major, minor) = block_numbers(Path::new(path)).map_err(io::Error::other)?;
    Ok(format!("{major}:{minor}"))
}

/// The first of `files` this cgroup has: weights exist only with an I/O
/// scheduler that weighs (BFQ), and are left to the kernel without one.
fn weight_file<'a>(dir: &Path, files: &[&'a str]) -> Option<&'a str> {
    files.iter().copied().find(|f| dir.join(f).exists())
}

/// The weight files of a v1 `blkio` cgroup, CFQ's then BFQ's.
const V1_WEIGHTS: &[&str] = &["blkio.weight", "blkio.bfq.weight"];
/// The weight files of a v2 cgroup, BFQ's then iocost's.
const V2_WEIGHTS: &[&str] = &["io.bfq.weight", "io.weight"];

/// Whether block I/O weights can be set, judged by a v1 `blkio` cgroup
/// `dir` (the hierarchy's root will do).
pub fn weights_supported(dir: &Path) -> bool {
    weight_file(dir, V1_WEIGHTS).is_some()
}

/// Whether a block device under `sys_block` (`/sys/block`) has BFQ as
/// its I/O scheduler, the one that honours weights.
pub fn bfq_in_use(sys_block: &Path) -> bool {
    std::fs::read_dir(sys_block).is_ok_and(|entries| {
        entries.filter_map(Result::ok).any(|e| {
            std::fs::read_to_string(e.path().join("queue/scheduler"))
                .is_ok_and(|s| s.contains("[bfq]"))
        })
    })
}

/// cgroup v1 (`blkio`): weights, and one `throttle` line per device and
/// limit.
pub fn apply_v1(dir: &Path, r: &Resources) -> io::Result<()> {
    if let Some(file) = weight_file(dir, V1_WEIGHTS) {
        if r.blkio_weight > 0 {
            write_file(dir, file, &r.blkio_weight.to_string())?;
        }
        for d in &r.blkio_weight_device {
            let line = format!("{} {}", numbers(&d.path)?, d.weight);
            write_file(dir, &format!("{file}_device"), &line)?;
        }
    }
    for (file, limits) in [
        ("blkio.throttle.read_bps_device", &r.blkio_device_read_bps),
        ("blkio.throttle.write_bps_device", &r.blkio_device_write_bps),
        ("blkio.throttle.read_iops_device", &r.blkio_device_read_iops),
        (
            "blkio.throttle.write_iops_device",
            &r.blkio_device_write_iops,
        ),
    ] {
        for d in limits {
            write_file(dir, file, &format!("{} {}", numbers(&d.path)?, d.rate))?;
        }
    }
    Ok(())
}

/// cgroup v2 (`io`): weights, and one `io.max` line per device with all
/// of its limits.
pub fn apply_v2(dir: &Path, r: &Resources) -> io::Result<()> {
    if let Some(file) = weight_file(dir, V2_WEIGHTS) {
        if r.blkio_weight > 0 {
            write_file(dir, file, &format!("default {}", r.blkio_weight))?;
        }
        for d in &r.blkio_weight_device {
            write_file(dir, file, &format!("{} {}", numbers(&d.path)?, d.weight))?;
        }
    }
    let mut lines: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (key, limits) in [
        ("rbps", &r.blkio_device_read_bps),
        ("wbps", &r.blkio_device_write_bps),
        ("riops", &r.blkio_device_read_iops),
        ("wiops", &r.blkio_device_write_iops),
    ] {
        for d in limits {
            lines
                .entry(numbers(&d.path)?)
                .or_default()
                .push(format!("{key}={}", d.rate));
        }
    }
    for (device, limits) in lines {
        write_file(dir, "io.max", &format!("{device} {}", limits.join(" ")))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::MetadataExt;

    use hoist_api::blkio::{ThrottleDevice, WeightDevice};

    use super::*;

    /// A block device of this host and its `MAJ:MIN`.
    fn block_device() -> (String, String) {
        let path = fs::read_dir("/sys/block")
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| Path::new("/dev").join(e.file_name()))
            .find(|p| p.exists())
            .expect("a block device in /dev");
        let rdev = fs::metadata(&path).unwrap().rdev();
        let numbers = format!(
            "{}:{}",
            nix::sys::stat::major(rdev),
            nix::sys::stat::minor(rdev)
        );
        (path.display().to_string(), numbers)
    }

    fn limits(path: &str) -> Resources {
        Resources {
            blkio_weight: 300,
            blkio_weight_device: vec![WeightDevice {
                path: path.into(),
                weight: 400,
            }],
            blkio_device_read_bps: vec![ThrottleDevice {
                path: path.into(),
                rate: 1 << 20,
            }],
            blkio_device_write_iops: vec![ThrottleDevice {
                path: path.into(),
                rate: 100,
            }],
            ..Resources::default()
        }
    }

    #[test]
    fn v2_writes_one_io_max_line_per_device_and_the_weight() {
        let (path, numbers) = block_device();
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("io.bfq.weight"), "").unwrap();
        apply_v2(dir.path(), &limits(&path)).unwrap();
        assert_eq!(
            fs::read_to_string(dir.path().join("io.max")).unwrap(),
            format!("{numbers} rbps=1048576 wiops=100")
        );
        // The fake file keeps only the last write: the device's weight.
        assert_eq!(
            fs::read_to_string(dir.path().join("io.bfq.weight")).unwrap(),
            format!("{numbers} 400")
        );
    }

    #[test]
    fn without_a_weighing_scheduler_weights_are_left_alone() {
        let (path, _) = block_device();
        let dir = tempfile::tempdir().unwrap();
        assert!(!weights_supported(dir.path()));
        apply_v2(dir.path(), &limits(&path)).unwrap();
        assert!(!dir.path().join("io.weight").exists());
        assert!(dir.path().join("io.max").exists());
    }

    #[test]
    fn bfq_is_found_by_the_selected_scheduler() {
        let sys = tempfile::tempdir().unwrap();
        let queue = sys.path().join("sda/queue");
        fs::create_dir_all(&queue).unwrap();
        fs::write(queue.join("scheduler"), "[mq-deadline] kyber bfq none\n").unwrap();
        assert!(!bfq_in_use(sys.path()));
        fs::write(queue.join("scheduler"), "mq-deadline kyber [bfq] none\n").unwrap();
        assert!(bfq_in_use(sys.path()));
    }

    #[test]
    fn a_limit_on_something_else_than_a_block_device_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let error = apply_v2(dir.path(), &limits("/dev/null")).unwrap_err();
        assert!(error.to_string().contains("/dev/null"), "{error}");
    }
}
