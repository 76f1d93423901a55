//! The cluster control plane on the multi-host test bed: managers and
//! workers join with tokens over mutual TLS, agree on the node list, keep
//! writing through a leader failover, refuse what they must refuse, and
//! keep their state across daemon restarts. Root only.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use hoist_e2e::{Host, TestBed};
use serde_json::Value;
use support::HOIST;
use support::cluster::{form, join, leader, nodes};

/// How long the cluster may take to settle after a change.
const SETTLE: Duration = Duration::from_secs(20);

/// A summary of `node ls` that every manager must agree on:
/// (hostname, role, status, manager status) sorted.
fn summary(host: &Host) -> Vec<(String, String, String, String)> {
    let mut rows: Vec<_> = nodes(host)
        .iter()
        .map(|n| {
            (
                n["Hostname"].as_str().unwrap_or_default().to_string(),
                n["Role"].as_str().unwrap_or_default().to_string(),
                n["Status"].as_str().unwrap_or_default().to_string(),
                n["ManagerStatus"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    rows.sort();
    rows
}

fn eventually(bed: &TestBed, what: &str, check: impl FnMut() -> bool) {
    bed.eventually(SETTLE, what, check);
}

/// The CLI run on `from` against the cluster port of `manager`
/// (`--host tcp://…`), trusting `ca`, presenting `identity` (certificate
/// and key) when given.
fn remote(
    from: &Host,
    manager: &Host,
    ca: &Path,
    identity: Option<(&Path, &Path)>,
    args: &[&str],
) -> hoist_e2e::Run {
    let mut command = from.host_command(HOIST);
    command
        .arg("--host")
        .arg(format!("tcp://{}:2377", manager.addr()))
        .arg("--tlscacert")
        .arg(ca);
    if let Some((cert, key)) = identity {
        command.arg("--tlscert").arg(cert).arg("--tlskey").arg(key);
    }
    let output = command
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run hoist");
    hoist_e2e::Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Builds a cluster: h0 inits, h1 and h2 join as managers, the rest as
/// workers.
fn cluster(hosts: usize) -> TestBed {
    cluster_of(hosts, hosts)
}

/// A bed of `hosts` of which the first `members` form a cluster as
/// [`cluster`] does; the others stay out.
fn cluster_of(hosts: usize, members: usize) -> TestBed {
    form(hosts, 3, members)
}

/// The expected agreed summary when every node is up: one leader.
fn healthy(bed: &TestBed, summary: &[(String, String, String, String)]) -> bool {
    healthy_members(bed.hosts().len(), summary)
}

/// [`healthy`] for a cluster of `members` nodes.
fn healthy_members(members: usize, summary: &[(String, String, String, String)]) -> bool {
    let managers = summary.iter().filter(|r| r.1 == "manager").count();
    summary.len() == members
        && summary.iter().all(|r| r.2 == "ready")
        && summary.iter().filter(|r| r.3 == "Leader").count() == 1
        && summary.iter().filter(|r| r.3 == "Reachable").count() == managers - 1
}

#[test]
fn managers_and_workers_join_and_agree() {
    let bed = cluster(5);
    let mut last = Vec::new();
    eventually(&bed, "every node ready with one leader", || {
        last = summary(bed.host(0));
        healthy(&bed, &last)
    });
    let reference = summary(bed.host(0));
    let managers = reference.iter().filter(|r| r.1 == "manager").count();
    assert_eq!(managers, 3, "{reference:?}");
    for i in 1..3 {
        eventually(&bed, "managers agree on node ls", || {
            summary(bed.host(i)) == reference
        });
    }
    // Workers cannot see or change cluster state.
    let refused = bed.host(3).hoist(&["node", "ls"]);
    assert_ne!(refused.code, 0);
    assert!(
        refused.stderr.contains("not a cluster manager"),
        "{refused}"
    );
    // `-q` prints IDs only; self is marked in the table.
    let ids = bed.host(0).ok(&["node", "ls", "-q"]);
    assert_eq!(ids.lines().count(), 5, "{ids}");
    let table = bed.host(1).ok(&["node", "ls"]);
    assert!(table.starts_with("ID "), "{table}");
    assert_eq!(table.matches(" * ").count(), 1, "{table}");
    // Labels and availability go through Raft and show on every manager.
    let worker = bed.host(4).name().to_string();
    bed.host(1).ok(&[
        "node",
        "update",
        "--availability",
        "drain",
        "--label-add",
        "zone=a",
        &worker,
    ]);
    eventually(&bed, "the update on another manager", || {
        let doc = bed.host(2).ok(&["node", "inspect", &worker]);
        let doc: Value = serde_json::from_str(&doc).unwrap();
        doc[0]["Availability"] == "drain" && doc[0]["Labels"]["zone"] == "a"
    });
}

/// The labels of node `name` as `node inspect` on `asker` shows them.
fn labels(bed: &TestBed, asker: usize, name: &str) -> Value {
    let doc: Value = serde_json::from_str(&bed.host(asker).ok(&["node", "inspect", name])).unwrap();
    doc[0]["Labels"].clone()
}

#[test]
fn writes_continue_after_the_leader_dies_and_state_survives_restarts() {
    let mut bed = cluster(4);
    eventually(&bed, "a healthy cluster", || {
        healthy(&bed, &summary(bed.host(0)))
    });
    let worker = bed.host(3).name().to_string();
    let old = leader(&bed, 0).expect("a leader");
    bed.host_mut(old).kill_daemon();
    let survivor = (0..3).find(|i| *i != old).unwrap();
    // The first write may wait out the election; it must not fail.
    let started = Instant::now();
    bed.host(survivor)
        .ok(&["node", "update", "--label-add", "after=failover", &worker]);
    println!(
        "write committed {:?} after the leader was killed",
        started.elapsed()
    );
    eventually(&bed, "a new leader", || {
        leader(&bed, survivor).is_some_and(|new| new != old)
    });
    let dead = bed.host(old).name().to_string();
    eventually(&bed, "the dead leader shown unreachable", || {
        summary(bed.host(survivor))
            .iter()
            .any(|r| r.0 == dead && r.3 == "Unreachable")
    });
    let other = (0..3).find(|i| *i != old && *i != survivor).unwrap();
    eventually(&bed, "the write on the other survivor", || {
        labels(&bed, other, &worker)["after"] == "failover"
    });
    // The old leader comes back as a follower and catches up.
    bed.host_mut(old).start_daemon();
    eventually(&bed, "the old leader caught up", || {
        labels(&bed, old, &worker)["after"] == "failover"
    });
    eventually(&bed, "every node ready again", || {
        healthy(&bed, &summary(bed.host(old)))
    });

    // Every daemon restarts: the state is intact and a leader returns.
    for i in 0..4 {
        bed.host_mut(i).stop_daemon();
    }
    for i in 0..4 {
        bed.host_mut(i).start_daemon();
    }
    eventually(&bed, "the cluster back after a full restart", || {
        bed.host(1).hoist(&["node", "ls"]).code == 0 && healthy(&bed, &summary(bed.host(1)))
    });
    assert_eq!(labels(&bed, 2, &worker)["after"], "failover");
    bed.host(0)
        .ok(&["node", "update", "--label-add", "after=restart", &worker]);
    assert_eq!(labels(&bed, 1, &worker)["after"], "restart");
}

#[test]
fn a_partitioned_manager_cannot_commit_and_catches_up_after_healing() {
    let bed = cluster(4);
    eventually(&bed, "a healthy cluster", || {
        healthy(&bed, &summary(bed.host(0)))
    });
    let leader = leader(&bed, 0).expect("a leader");
    let cut = (0..3).find(|i| *i != leader).unwrap();
    let worker = bed.host(3).name().to_string();
    bed.host(cut).cut_off(hoist_e2e::Cut::Firewall);
    let refused = bed
        .host(cut)
        .hoist(&["node", "update", "--label-add", "side=minority", &worker]);
    assert_ne!(refused.code, 0, "a minority committed: {refused}");
    assert!(refused.stderr.contains("quorum"), "{refused}");
    // Reads of the last known state still work there, marked stale.
    let stale = bed.host(cut).hoist(&["node", "ls"]);
    assert_eq!(stale.code, 0, "{stale}");
    assert!(stale.stderr.contains("Warning"), "{stale}");
    // The majority goes on.
    bed.host(leader)
        .ok(&["node", "update", "--label-add", "side=majority", &worker]);
    bed.host(cut).heal();
    eventually(&bed, "the healed manager caught up", || {
        labels(&bed, cut, &worker)["side"] == "majority"
    });
}

#[test]
fn losing_quorum_stops_writes_with_a_clear_error_and_regaining_it_resumes() {
    let mut bed = cluster(3);
    eventually(&bed, "a healthy cluster", || {
        healthy(&bed, &summary(bed.host(0)))
    });
    let name = bed.host(0).name().to_string();
    bed.host_mut(1).kill_daemon();
    bed.host_mut(2).kill_daemon();
    let refused = bed
        .host(0)
        .hoist(&["node", "update", "--label-add", "q=lost", &name]);
    assert_ne!(refused.code, 0, "{refused}");
    assert!(
        refused.stderr.contains("lost quorum") && refused.stderr.contains("of 3 managers"),
        "{refused}"
    );
    let stale = bed.host(0).hoist(&["node", "ls"]);
    assert_eq!(stale.code, 0, "{stale}");
    assert!(stale.stdout.contains(&name), "{stale}");
    bed.host_mut(1).start_daemon();
    eventually(&bed, "writes resume with a majority back", || {
        bed.host(0)
            .hoist(&["node", "update", "--label-add", "q=back", &name])
            .code
            == 0
    });
}

#[test]
fn a_dead_node_is_marked_down_within_seconds() {
    let mut bed = cluster(4);
    eventually(&bed, "a healthy cluster", || {
        healthy(&bed, &summary(bed.host(0)))
    });
    let worker = bed.host(3).name().to_string();
    bed.host_mut(3).kill_daemon();
    let started = Instant::now();
    eventually(&bed, "the worker marked down", || {
        nodes(bed.host(0))
            .iter()
            .any(|n| n["Hostname"] == worker.as_str() && n["Status"] == "down")
    });
    println!("down {:?} after its daemon died", started.elapsed());
    bed.host_mut(3).start_daemon();
    eventually(&bed, "the worker ready again", || {
        nodes(bed.host(0))
            .iter()
            .any(|n| n["Hostname"] == worker.as_str() && n["Status"] == "ready")
    });
}

#[test]
fn wrong_tokens_missing_certificates_and_removed_nodes_are_refused() {
    let bed = TestBed::new(Path::new(HOIST), 4);
    let (a, b) = (bed.host(0), bed.host(1));
    a.ok(&["cluster", "init", "--advertise-addr", &a.addr().to_string()]);
    b.ok(&["cluster", "init", "--advertise-addr", &b.addr().to_string()]);
    let a_token = a
        .ok(&["cluster", "join-token", "-q", "worker"])
        .trim()
        .to_string();
    let b_token = b
        .ok(&["cluster", "join-token", "-q", "worker"])
        .trim()
        .to_string();
    let joiner = bed.host(2);
    let join = |token: &str| join(joiner, token, a);
    // A token of another cluster: the manager's CA does not match it.
    let other = join(&b_token);
    assert_ne!(other.code, 0, "{other}");
    assert!(other.stderr.contains("does not match"), "{other}");
    // The right CA, a wrong secret.
    let (prefix, _) = a_token.rsplit_once('-').unwrap();
    let wrong = join(&format!("{prefix}-{}", "0".repeat(32)));
    assert_ne!(wrong.code, 0, "{wrong}");
    assert!(wrong.stderr.contains("invalid join token"), "{wrong}");
    // Rotation: the old token stops working for new joins.
    a.ok(&["cluster", "join-token", "--rotate", "worker"]);
    let rotated = join(&a_token);
    assert!(rotated.stderr.contains("invalid join token"), "{rotated}");
    assert!(
        joiner
            .hoist(&["node", "ls"])
            .stderr
            .contains("not part of a cluster")
    );
    let current = a
        .ok(&["cluster", "join-token", "-q", "worker"])
        .trim()
        .to_string();
    let joined = join(&current);
    assert_eq!(joined.code, 0, "{joined}");

    // Remote control from a fourth host: the manager's certificate works,
    // no certificate, another cluster's, or a worker's does not.
    let tls = |host: &Host, file: &str| host.dir().join("root/cluster/tls").join(file);
    let ca = tls(a, "ca.pem");
    let client = bed.host(3);
    let as_client = |cert: Option<(&Host, &str)>| {
        let files = cert.map(|(host, _)| (tls(host, "node.pem"), tls(host, "node-key.pem")));
        let identity = files.as_ref().map(|(c, k)| (c.as_path(), k.as_path()));
        remote(client, a, &ca, identity, &["node", "ls"])
    };
    let listed = as_client(Some((a, "manager")));
    assert_eq!(listed.code, 0, "{listed}");
    assert!(listed.stdout.contains(joiner.name()), "{listed}");
    let anonymous = as_client(None);
    assert!(
        anonymous
            .stderr
            .contains("certificate of this cluster is required"),
        "{anonymous}"
    );
    let foreign = as_client(Some((b, "manager")));
    assert_ne!(foreign.code, 0, "{foreign}");
    let worker = as_client(Some((joiner, "worker")));
    assert!(worker.stderr.contains("not a manager"), "{worker}");

    // The last manager cannot be demoted.
    let last = a.hoist(&["node", "demote", a.name()]);
    assert!(last.stderr.contains("last manager"), "{last}");

    // A removed node's certificate stops working at once.
    a.ok(&["node", "rm", "--force", joiner.name()]);
    let removed = as_client(Some((joiner, "worker")));
    assert!(removed.stderr.contains("was removed"), "{removed}");
}

/// The node certificate `host` holds now.
fn node_cert(host: &Host) -> String {
    std::fs::read_to_string(host.dir().join("root/cluster/tls/node.pem")).unwrap_or_default()
}

#[test]
fn promotion_and_demotion_change_the_raft_group_and_what_a_node_may_do() {
    let bed = cluster(4);
    eventually(&bed, "a healthy cluster", || {
        healthy(&bed, &summary(bed.host(0)))
    });
    let (promoted, demoted) = (bed.host(3), bed.host(2));
    let old_cert_dir = bed.dir().join("demoted-tls");
    std::fs::create_dir_all(&old_cert_dir).unwrap();
    for file in ["ca.pem", "node.pem", "node-key.pem"] {
        std::fs::copy(
            demoted.dir().join("root/cluster/tls").join(file),
            old_cert_dir.join(file),
        )
        .unwrap();
    }
    let out = bed.host(0).ok(&["node", "promote", promoted.name()]);
    assert!(out.contains("promoted to a manager"), "{out}");
    eventually(
        &bed,
        "the promoted node reachable in the raft group",
        || {
            summary(bed.host(0)).iter().any(|r| {
                r.0 == promoted.name()
                    && r.1 == "manager"
                    && (r.3 == "Reachable" || r.3 == "Leader")
            })
        },
    );
    eventually(&bed, "the promoted node answering cluster commands", || {
        promoted.hoist(&["node", "ls"]).code == 0
    });
    let out = bed.host(0).ok(&["node", "demote", demoted.name()]);
    assert!(out.contains("demoted"), "{out}");
    eventually(&bed, "the demoted node a worker again", || {
        summary(bed.host(0))
            .iter()
            .any(|r| r.0 == demoted.name() && r.1 == "worker" && r.3.is_empty())
            && demoted
                .hoist(&["node", "ls"])
                .stderr
                .contains("not a cluster manager")
    });
    // Its old manager certificate no longer gives control.
    let refused = remote(
        bed.host(1),
        bed.host(0),
        &old_cert_dir.join("ca.pem"),
        Some((
            &old_cert_dir.join("node.pem"),
            &old_cert_dir.join("node-key.pem"),
        )),
        &["node", "ls"],
    );
    assert!(
        refused.code != 0 && refused.stderr.contains("not a manager"),
        "{refused}"
    );
    // Three managers again (h0, h1, h3): writes commit, every node ready.
    bed.host(3).ok(&[
        "node",
        "update",
        "--label-add",
        "after=roles",
        demoted.name(),
    ]);
    eventually(&bed, "a healthy cluster after the role changes", || {
        healthy(&bed, &summary(bed.host(1)))
    });
}

#[test]
fn certificates_are_renewed_before_they_expire() {
    let bed = TestBed::new(Path::new(HOIST), 3);
    let first = bed.host(0);
    first.ok(&[
        "cluster",
        "init",
        "--advertise-addr",
        &first.addr().to_string(),
    ]);
    let refused = first.hoist(&["cluster", "update", "--cert-expiry", "5s"]);
    assert!(refused.stderr.contains("at least"), "{refused}");
    first.ok(&["cluster", "update", "--cert-expiry", "20s"]);
    for (i, role) in [(1, "manager"), (2, "worker")] {
        let token = first.ok(&["cluster", "join-token", "-q", role]);
        let joined = join(bed.host(i), &token, first);
        assert_eq!(joined.code, 0, "{joined}");
    }
    let issued: Vec<String> = (1..3).map(|i| node_cert(bed.host(i))).collect();
    // Past the first certificates' expiry both nodes are still in the
    // cluster (the manager still in the Raft group), on newer ones.
    std::thread::sleep(Duration::from_secs(25));
    for (i, first_cert) in (1..3).zip(&issued) {
        let now = node_cert(bed.host(i));
        assert_ne!(&now, first_cert, "{} was not renewed", bed.host(i).name());
        let (_, before) = hoist_api::tls::validity(first_cert).unwrap();
        let (_, after) = hoist_api::tls::validity(&now).unwrap();
        assert!(after > before);
    }
    eventually(&bed, "both nodes ready on renewed certificates", || {
        healthy(&bed, &summary(first))
    });
    first.ok(&[
        "node",
        "update",
        "--label-add",
        "renewed=yes",
        bed.host(2).name(),
    ]);
}

#[test]
fn force_new_cluster_recovers_a_single_surviving_manager() {
    let mut bed = cluster(4);
    eventually(&bed, "a healthy cluster", || {
        healthy(&bed, &summary(bed.host(0)))
    });
    let worker = bed.host(3).name().to_string();
    bed.host(0)
        .ok(&["node", "update", "--label-add", "kept=yes", &worker]);
    bed.host_mut(1).kill_daemon();
    bed.host_mut(2).kill_daemon();
    let lost = bed
        .host(0)
        .hoist(&["node", "update", "--label-add", "x=y", &worker]);
    assert!(lost.stderr.contains("lost quorum"), "{lost}");
    let out = bed.host(0).ok(&["cluster", "init", "--force-new-cluster"]);
    assert!(out.contains("recovered"), "{out}");
    // The state is kept, writes commit, the worker stays in the cluster.
    assert_eq!(labels(&bed, 0, &worker)["kept"], "yes");
    bed.host(0)
        .ok(&["node", "update", "--label-add", "after=recovery", &worker]);
    let rows = summary(bed.host(0));
    let managers: Vec<_> = rows.iter().filter(|r| r.1 == "manager").collect();
    assert_eq!(managers.len(), 1, "{rows:?}");
    assert_eq!(managers[0].3, "Leader", "{rows:?}");
    eventually(&bed, "the worker's session with the new leader", || {
        summary(bed.host(0))
            .iter()
            .any(|r| r.0 == worker && r.2 == "ready")
    });
    // An old manager that comes back follows as a worker.
    bed.host_mut(1).start_daemon();
    let back = bed.host(1).name().to_string();
    eventually(&bed, "the old manager back as a ready worker", || {
        summary(bed.host(0))
            .iter()
            .any(|r| r.0 == back && r.1 == "worker" && r.2 == "ready")
            && bed
                .host(1)
                .hoist(&["node", "ls"])
                .stderr
                .contains("not a cluster manager")
    });
    bed.host(0)
        .ok(&["node", "update", "--label-add", "still=writable", &worker]);
}

/// `cluster inspect` on `host`.
fn cluster_view(host: &Host) -> Value {
    let out = host.ok(&["cluster", "inspect"]);
    let docs: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    docs[0].clone()
}

#[test]
fn the_root_ca_rotates_and_every_node_follows() {
    let bed = cluster_of(5, 4);
    eventually(&bed, "a healthy cluster", || {
        healthy_members(4, &summary(bed.host(0)))
    });
    let before = cluster_view(bed.host(0))["CaFingerprint"].clone();
    let old_token = bed.host(0).ok(&["cluster", "join-token", "-q", "worker"]);
    let pem = bed.host(1).ok(&["cluster", "ca", "--rotate"]);
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
    let view = cluster_view(bed.host(2));
    assert_ne!(view["CaFingerprint"], before);
    assert_eq!(view["CaRotationInProgress"], false);
    // Every node trusts the new root only and holds a certificate of it.
    let fingerprint = view["CaFingerprint"].as_str().unwrap().to_string();
    for i in 0..4 {
        let host = bed.host(i);
        eventually(&bed, "the node to drop the previous root", || {
            let ca = std::fs::read_to_string(host.dir().join("root/cluster/tls/ca.pem"))
                .unwrap_or_default();
            let certs = hoist_api::tls::certificates(&ca, "ca").unwrap_or_default();
            certs.len() == 1 && hoist_api::tls::fingerprint(&certs[0]) == fingerprint
        });
    }
    eventually(&bed, "a healthy cluster on the new root", || {
        healthy_members(4, &summary(bed.host(0)))
    });
    bed.host(3).hoist(&["node", "ls"]);
    bed.host(2).ok(&[
        "node",
        "update",
        "--label-add",
        "ca=rotated",
        bed.host(3).name(),
    ]);
    // Tokens pin the new root: the old one is refused, the new one works.
    let new_token = bed.host(0).ok(&["cluster", "join-token", "-q", "worker"]);
    assert_ne!(new_token, old_token);
    let joiner = bed.host(4);
    let join = |token: &str| join(joiner, token, bed.host(0));
    let refused = join(&old_token);
    assert!(refused.stderr.contains("does not match"), "{refused}");
    let joined = join(&new_token);
    assert_eq!(joined.code, 0, "{joined}");
}

#[test]
fn a_node_leaves_and_rejoins_and_a_manager_needs_force() {
    let bed = form(3, 1, 3);
    eventually(&bed, "a healthy cluster", || {
        healthy(&bed, &summary(bed.host(0)))
    });
    let (manager, leaver) = (bed.host(0), bed.host(2));
    let out = leaver.ok(&["cluster", "leave"]);
    assert!(out.contains("left the cluster"), "{out}");
    let gone = leaver.hoist(&["node", "ls"]);
    assert!(gone.stderr.contains("not part of a cluster"), "{gone}");
    eventually(&bed, "the leaver marked down", || {
        summary(manager)
            .iter()
            .any(|r| r.0 == leaver.name() && r.2 == "down")
    });
    // Down, so it goes without --force.
    manager.ok(&["node", "rm", leaver.name()]);
    let refused = manager.hoist(&["cluster", "leave"]);
    assert!(refused.stderr.contains("--force"), "{refused}");
    let token = manager.ok(&["cluster", "join-token", "-q", "worker"]);
    let back = join(leaver, &token, manager);
    assert_eq!(back.code, 0, "{back}");
    eventually(&bed, "the node back as a new member", || {
        healthy(&bed, &summary(manager))
    });
}

#[test]
fn a_client_certificate_drives_the_cluster_from_elsewhere_and_cannot_make_more() {
    let bed = form(3, 1, 2);
    let (manager, worker, ci) = (bed.host(0), bed.host(1), bed.host(2));
    let dir = manager.dir().join("ci-cert");
    let made = manager.ok(&[
        "cluster",
        "client-cert",
        "--expiry",
        "1h",
        "-o",
        &dir.to_string_lossy(),
    ]);
    assert!(made.contains("Client certificate client-"), "{made}");
    let key_mode = std::fs::metadata(dir.join("key.pem"))
        .unwrap()
        .permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&key_mode) & 0o777,
        0o600
    );
    let again = manager.hoist(&["cluster", "client-cert", "-o", &dir.to_string_lossy()]);
    assert!(
        again.stderr.contains("exists"),
        "no file is replaced: {again}"
    );

    // From a host outside the cluster, as a CI job would.
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let as_ci = |args: &[&str]| remote(ci, manager, &dir.join("ca.pem"), Some((&cert, &key)), args);
    let listed = as_ci(&["node", "ls"]);
    assert_eq!(listed.code, 0, "{listed}");
    assert!(listed.stdout.contains(worker.name()), "{listed}");
    let labelled = as_ci(&["node", "update", "--label-add", "ci=yes", worker.name()]);
    assert_eq!(labelled.code, 0, "{labelled}");
    assert_eq!(labels(&bed, 0, worker.name())["ci"], "yes");
    let more = as_ci(&["cluster", "client-cert", "-o", "/nonexistent/more"]);
    assert!(
        more.stderr
            .contains("a client certificate cannot issue others"),
        "{more}"
    );
}
