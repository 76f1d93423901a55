//! The multi-host test bed itself (hoist-e2e): hosts come up with their
//! own daemons and networks, reach each other over the underlay, can be
//! cut off, partitioned and healed, lose and regain their daemons with
//! containers running on, and leave nothing behind — even when a test
//! panics. Root only, as the other integration tests.

use std::net::Ipv4Addr;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use hoist_e2e::{Cut, Footprint, Host, TestBed};

/// The hoist binary under test (`hoist-shim` sits beside it).
const HOIST: &str = env!("CARGO_BIN_EXE_hoist");

/// How long a connection that should fail is given.
const UNREACHABLE: Duration = Duration::from_millis(800);

fn bed(hosts: usize) -> TestBed {
    TestBed::new(Path::new(HOIST), hosts)
}

/// `matrix[from][to]`: true unless `blocked(from, to)` (a host always
/// reaches itself).
fn expected(hosts: usize, blocked: impl Fn(usize, usize) -> bool) -> Vec<Vec<bool>> {
    (0..hosts)
        .map(|from| {
            (0..hosts)
                .map(|to| from == to || !blocked(from, to))
                .collect()
        })
        .collect()
}

/// Waits until the bed's reachability is `want`.
fn assert_reachability(bed: &TestBed, want: &[Vec<bool>], what: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let got = bed.reachability(UNREACHABLE);
        if got == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: reachability [from][to] is {got:?}, want {want:?}\n{}",
            bed.log_tails()
        );
    }
}

/// Names of the links on `host`.
fn links(host: &Host) -> Vec<String> {
    let run = host.on_host("ip", &["-o", "link", "show"]);
    assert!(run.success(), "ip link on {}: {run}", host.name());
    link_names(&run.stdout)
}

/// Link names in `ip -o link show` output (`N: name@peer: <…>`).
fn link_names(output: &str) -> Vec<String> {
    output
        .lines()
        .filter_map(|line| line.split(':').nth(1))
        .map(|name| name.trim().split('@').next().unwrap_or("").to_string())
        .collect()
}

/// nftables tables on `host` (`family name` each).
fn nft_tables(host: &Host) -> Vec<String> {
    let run = host.on_host("nft", &["list", "tables"]);
    assert!(run.success(), "nft list tables on {}: {run}", host.name());
    run.stdout
        .lines()
        .filter_map(|line| line.strip_prefix("table "))
        .map(str::to_string)
        .collect()
}

/// Asserts nothing of a dropped bed is left on the machine.
fn assert_gone(footprint: &Footprint) {
    let leftovers = footprint.leftovers();
    assert!(
        leftovers.is_empty(),
        "bed {} left behind:\n{}",
        footprint.id(),
        leftovers.join("\n")
    );
}

#[test]
fn hosts_come_up_with_their_own_daemon_and_network_and_reach_each_other() {
    let mut bed = bed(3);
    let (subnet, prefix) = bed.subnet();
    assert_eq!((subnet.octets()[..2].to_vec(), prefix), (vec![10, 237], 24));

    // Every daemon answers, each CLI talks to its own host's daemon, and
    // everything on a host has the host's name as hostname.
    for i in 0..3 {
        let pid = bed.host_mut(i).daemon_pid().expect("daemon runs");
        let host = bed.host(i);
        assert_eq!(
            host.addr(),
            Ipv4Addr::from(u32::from(subnet) + 10 + i as u32)
        );
        let version = host.ok(&["version"]);
        let server_pid = version
            .lines()
            .filter_map(|line| line.trim().strip_prefix("PID:"))
            .map(str::trim)
            .next_back();
        assert_eq!(
            server_pid,
            Some(pid.to_string().as_str()),
            "{} answered for another daemon than its own:\n{version}",
            host.name()
        );
        assert_eq!(host.ok(&["ps", "-q"]), "");
        let hostname = host.on_host("hostname", &[]);
        assert_eq!(hostname.stdout.trim(), host.name());
        let daemon_hostname = host.on_host(
            "nsenter",
            &["--target", &pid.to_string(), "--uts", "hostname"],
        );
        assert_eq!(
            daemon_hostname.stdout.trim(),
            host.name(),
            "{daemon_hostname}"
        );
    }

    // The underlay carries TCP between any two hosts: a Rust probe for
    // every pair, and busybox nc from h0 to a listener on h1.
    assert_reachability(
        &bed,
        &expected(3, |_, _| false),
        "all hosts to reach each other",
    );
    // The listener's stdin stays open until the client is done: on its
    // EOF, nc would close its side at once, and the client may see that
    // before it sends.
    let listener = bed
        .host(1)
        .host_command("busybox")
        .args(["nc", "-l", "-p", "7000"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start busybox nc -l on h1");
    let send = format!(
        "echo hello from h0 | busybox nc {} 7000",
        bed.host(1).addr()
    );
    bed.eventually(Duration::from_secs(10), "nc from h0 to h1", || {
        bed.host(0).on_host("sh", &["-c", &send]).success()
    });
    let received = listener.wait_with_output().expect("wait for nc -l");
    assert_eq!(String::from_utf8_lossy(&received.stdout), "hello from h0\n");

    // Each host's links and nftables tables are its own: a network made on
    // h1 has its bridge on h1 only; no host sees the switch's ports.
    bed.host(1).ok(&["network", "create", "only-on-h1"]);
    let network: serde_json::Value =
        serde_json::from_str(&bed.host(1).ok(&["network", "inspect", "only-on-h1"])).unwrap();
    let id = network[0]["Id"].as_str().expect("network Id").to_string();
    let bridge = format!("hs-{}", &id[..12]);
    bed.eventually(Duration::from_secs(5), "h1's new bridge", || {
        links(bed.host(1)).contains(&bridge)
    });
    for i in [0, 2] {
        let links = links(bed.host(i));
        assert!(
            !links.contains(&bridge),
            "{bridge} of h1 shows on h{i}: {links:?}"
        );
    }
    for host in bed.hosts() {
        let links = links(host);
        assert!(
            links.contains(&"eth0".to_string()),
            "{}: {links:?}",
            host.name()
        );
        assert!(
            !links.iter().any(|l| l.starts_with("hse")),
            "switch ports show on {}: {links:?}",
            host.name()
        );
    }
    bed.host(2).cut_off(Cut::Firewall);
    assert!(nft_tables(bed.host(2)).contains(&"inet hoist_e2e".to_string()));
    assert!(!nft_tables(bed.host(0)).contains(&"inet hoist_e2e".to_string()));

    // Nothing of the bed is in the namespace the tests run in.
    let ours = std::process::Command::new("ip")
        .args(["-o", "link", "show"])
        .output()
        .expect("ip link");
    let ours = link_names(&String::from_utf8_lossy(&ours.stdout));
    assert!(
        !ours.iter().any(|l| l.starts_with("hse") || *l == bridge),
        "bed links in the tests' own namespace: {ours:?}"
    );
    let tables = std::process::Command::new("nft")
        .args(["list", "table", "inet", "hoist_e2e"])
        .output()
        .expect("nft");
    assert!(
        !tables.status.success(),
        "the bed's nftables table is in the tests' own namespace"
    );
}

#[test]
fn a_cut_off_host_is_unreachable_both_ways_until_healed() {
    let bed = bed(3);
    let all = expected(3, |_, _| false);
    assert_reachability(&bed, &all, "all hosts to reach each other");
    for cut in [Cut::LinkDown, Cut::Firewall] {
        bed.host(2).cut_off(cut);
        assert_reachability(
            &bed,
            &expected(3, |from, to| from == 2 || to == 2),
            &format!("h2 cut off by {cut:?}"),
        );
        // The cut-off host's daemon still answers locally.
        bed.host(2).ok(&["ps"]);
        bed.host(2).heal();
        assert_reachability(&bed, &all, &format!("h2 healed after {cut:?}"));
    }
}

#[test]
fn a_partition_splits_only_the_groups_it_names() {
    let bed = bed(3);
    bed.partition(&[0], &[1]);
    let split = |from: usize, to: usize| (from, to) == (0, 1) || (from, to) == (1, 0);
    assert_reachability(
        &bed,
        &expected(3, split),
        "h0 and h1 partitioned, h2 reaching both",
    );
    // A second partition adds to the first.
    bed.partition(&[2], &[0]);
    assert_reachability(
        &bed,
        &expected(3, |from, to| {
            split(from, to) || (from.min(to), from.max(to)) == (0, 2)
        }),
        "h0 alone, h1 and h2 together",
    );
    bed.heal_all();
    assert_reachability(&bed, &expected(3, |_, _| false), "the partition healed");
}

#[test]
fn a_killed_daemon_leaves_its_containers_running_until_it_is_back() {
    let mut bed = bed(2);
    let host = bed.host_mut(1);
    host.import_busybox();
    host.ok(&["run", "-d", "--name", "s", "busybox", "sleep", "300"]);
    let state = |host: &Host| -> serde_json::Value {
        let list: serde_json::Value = serde_json::from_str(&host.ok(&["inspect", "s"])).unwrap();
        list[0]["State"].clone()
    };
    let before = state(host);
    assert_eq!(before["Running"], true, "{before}");
    let pid = before["Pid"].as_i64().expect("State.Pid");

    host.kill_daemon();
    assert!(!host.daemon_running());
    assert!(
        UnixStream::connect(host.socket()).is_err(),
        "the killed daemon's socket answers"
    );
    let ps = host.hoist(&["ps"]);
    assert!(!ps.success(), "ps answered with the daemon killed: {ps}");
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    assert_eq!(
        cmdline, b"sleep\x00300\x00",
        "the container died with its daemon"
    );
    bed.host(0).ok(&["ps"]);

    let host = bed.host_mut(1);
    host.start_daemon();
    let after = state(host);
    assert_eq!(
        (&after["Running"], after["Pid"].as_i64()),
        (&serde_json::Value::Bool(true), Some(pid)),
        "{after}"
    );
    assert!(host.ok(&["ps", "-q"]).trim().len() >= 12);
    // The same daemon can be stopped and restarted gracefully too.
    host.restart_daemon();
    assert_eq!(state(host)["Pid"].as_i64(), Some(pid));
}

#[test]
fn a_bed_dropped_while_a_test_panics_leaves_nothing_behind() {
    let mut footprint = None;
    let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut bed = bed(2);
        footprint = Some(bed.footprint());
        bed.import_busybox();
        for host in bed.hosts() {
            host.ok(&["run", "-d", "busybox", "sleep", "300"]);
        }
        // One daemon gone with its container still running, one host cut
        // off, a partition, and a stray process on a host: all for the
        // teardown to clean.
        bed.host_mut(0).kill_daemon();
        bed.host(1).cut_off(Cut::Firewall);
        bed.partition(&[0], &[1]);
        let stray = bed
            .host(0)
            .host_command("sleep")
            .arg("300")
            .spawn()
            .expect("start a stray process");
        std::mem::forget(stray);
        let leftovers = bed.footprint().leftovers();
        for kind in [
            "network namespace",
            "process",
            "cgroup",
            "mount",
            "directory",
        ] {
            assert!(
                leftovers.iter().any(|l| l.starts_with(kind)),
                "a live bed's footprint has no {kind}: {leftovers:?}"
            );
        }
        panic!("a test fails with its bed up");
    }));
    assert!(unwound.is_err());
    assert_gone(&footprint.expect("the bed came up"));
}

#[test]
fn a_bed_whose_daemon_fails_to_start_leaves_nothing_behind() {
    let panic = std::panic::catch_unwind(|| {
        TestBed::builder(Path::new(HOIST), 2)
            .host_daemon_args(1, &["--no-such-flag"])
            .start()
    })
    .err()
    .expect("a daemon with an unknown flag started");
    let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(
        message.contains("exited") && message.contains("--no-such-flag"),
        "the panic should say the daemon exited, and quote its log: {message}"
    );
    let id = message
        .split("hoist-e2e-")
        .nth(1)
        .and_then(|rest| rest.get(..8))
        .unwrap_or_else(|| panic!("no bed id in: {message}"));
    assert_gone(&Footprint::of_id(id));
}

#[test]
fn five_hosts_come_up_and_go_quickly_and_leave_nothing_behind() {
    let started = Instant::now();
    let bed = bed(5);
    let up = started.elapsed();
    for host in bed.hosts() {
        host.ok(&["ps"]);
    }
    let footprint = bed.footprint();
    let started = Instant::now();
    drop(bed);
    let down = started.elapsed();
    println!("5-host test bed: up in {up:?}, torn down in {down:?}");
    assert_gone(&footprint);
}
