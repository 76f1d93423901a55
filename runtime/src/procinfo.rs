//! Reading /proc for `top` (a `ps -ef` table of a container's processes)
//! and `stats` (network counters, host CPU time).

use std::fs;

/// Columns of `ps -ef`, which `docker top` shows by default.
pub const PS_TITLES: &[&str] = &["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"];

/// Clock ticks per second (for /proc times).
fn ticks_per_second() -> u64 {
    // SAFETY: sysconf only reads a system constant.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 { ticks as u64 } else { 100 }
}

/// The fields of /proc/<pid>/stat after the command name.
fn stat_fields(pid: i32) -> Option<Vec<String>> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces and parentheses: split after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    Some(rest.split_whitespace().map(str::to_string).collect())
}

fn boot_time() -> Option<i64> {
    fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("btime ")?.trim().parse().ok())
}

fn uptime_seconds() -> Option<f64> {
    fs::read_to_string("/proc/uptime")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// A host user name for a UID (from /etc/passwd), or the number.
fn user_name(uid: u32) -> String {
    fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|text| {
            text.lines().find_map(|line| {
                let mut fields = line.split(':');
                let name = fields.next()?;
                (fields.nth(1)?.parse::<u32>().ok()? == uid).then(|| name.to_string())
            })
        })
        .unwrap_or_else(|| uid.to_string())
}

fn tty_name(tty_nr: u64) -> String {
    if tty_nr == 0 {
        return "?".into();
    }
    let major = (tty_nr >> 8) & 0xfff;
    let minor = (tty_nr & 0xff) | ((tty_nr >> 12) & 0xfff00);
    match major {
        136..=143 => format!("pts/{}", minor + (major - 136) * 256),
        4 => format!("tty{minor}"),
        _ => "?".into(),
    }
}

fn format_cpu_time(seconds: u64) -> String {
    let (days, rest) = (seconds / 86400, seconds % 86400);
    let clock = format!(
        "{:02}:{:02}:{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    );
    if days > 0 {
        format!("{days}-{clock}")
    } else {
        clock
    }
}

/// One `ps -ef` row for a process; `None` if it is gone.
pub fn ps_row(pid: i32) -> Option<Vec<String>> {
    let fields = stat_fields(pid)?;
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // Indices after the name: 0 state, 1 ppid, 4 tty_nr, 11 utime, 12 stime, 19 starttime.
    let ppid = field(1);
    let tty = tty_name(field(4));
    let hz = ticks_per_second();
    let cpu_ticks = field(11) + field(12);
    let start_ticks = field(19);
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let uid = status
        .lines()
        .find_map(|l| {
            l.strip_prefix("Uid:")?
                .split_whitespace()
                .next()?
                .parse::<u32>()
                .ok()
        })
        .unwrap_or(0);
    let elapsed = uptime_seconds().unwrap_or(0.0) - start_ticks as f64 / hz as f64;
    let c = if elapsed > 0.0 {
        ((cpu_ticks as f64 / hz as f64) / elapsed * 100.0) as u64
    } else {
        0
    };
    let started = boot_time().unwrap_or(0) + (start_ticks / hz) as i64;
    let stime = chrono::DateTime::from_timestamp(started, 0)
        .map(|t| {
            let local = t.with_timezone(&chrono::Local);
            if local.date_naive() == chrono::Local::now().date_naive() {
                local.format("%H:%M").to_string()
            } else {
                local.format("%b%d").to_string()
            }
        })
        .unwrap_or_default();
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let cmd = if cmdline.is_empty() {
        let comm = fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        format!("[{}]", comm.trim())
    } else {
        String::from_utf8_lossy(&cmdline)
            .trim_end_matches('\0')
            .replace('\0', " ")
    };
    Some(vec![
        user_name(uid),
        pid.to_string(),
        ppid.to_string(),
        c.to_string(),
        stime,
        tty,
        format_cpu_time(cpu_ticks / hz),
        cmd,
    ])
}

/// Bytes received and sent on every interface but loopback of the network
/// namespace `pid` is in.
pub fn network_bytes(pid: i32) -> (u64, u64) {
    let text = fs::read_to_string(format!("/proc/{pid}/net/dev")).unwrap_or_default();
    let mut totals = (0, 0);
    for line in text.lines().skip(2) {
        let Some((name, counters)) = line.split_once(':') else {
            continue;
        };
        if name.trim() == "lo" {
            continue;
        }
        let values: Vec<u64> = counters
            .split_whitespace()
            .filter_map(|v| v.parse().ok())
            .collect();
        if values.len() >= 9 {
            totals.0 += values[0];
            totals.1 += values[8];
        }
    }
    totals
}

/// Total CPU time of the host in nanoseconds (all CPUs), as Docker's
/// `system_cpu_usage`.
pub fn host_cpu_nanos() -> u64 {
    let text = fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: u64 = text
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("cpu "))
        .map(|rest| {
            rest.split_whitespace()
                .take(7)
                .filter_map(|v| v.parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0);
    ticks.saturating_mul(1_000_000_000) / ticks_per_second()
}

/// The host's memory in bytes (the limit `stats` shows for unlimited
/// containers, as Docker does).
pub fn host_memory() -> u64 {
    fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines().find_map(|l| {
                l.strip_prefix("MemTotal:")?
                    .trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
        })
        .map_or(0, |kb| kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_our_own_process() {
        let row = ps_row(std::process::id() as i32).unwrap();
        assert_eq!(row.len(), PS_TITLES.len());
        assert_eq!(row[1], std::process::id().to_string());
        assert!(row[7].contains("procinfo") || !row[7].is_empty());
        assert!(ps_row(i32::MAX).is_none());
    }

    #[test]
    fn formats_like_ps() {
        assert_eq!(format_cpu_time(3661), "01:01:01");
        assert_eq!(format_cpu_time(90061), "1-01:01:01");
        assert_eq!(tty_name(0), "?");
        assert_eq!(tty_name((136 << 8) | 3), "pts/3");
    }

    #[test]
    fn host_counters_are_plausible() {
        assert!(host_cpu_nanos() > 0);
        assert!(host_memory() > 0);
    }
}
