//! Services across the multi-host test bed, with real containers: 3
//! managers and 2 workers; placement and spread, constraints, global
//! services, drain, a dead node's tasks moving and its surplus shut down
//! when it returns, a leader failover mid-deployment, agents re-adopting
//! their containers, secrets and configs reaching only their tasks'
//! containers and no disk, cluster networks (a stack's and `network create
//! -d overlay`) carried on the nodes that run their tasks, with names
//! resolving between tasks, and `service rm` / `stack rm` leaving every
//! node clean.
//! Root only.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use base64::Engine;
use hoist_e2e::{Host, TestBed};
use serde_json::Value;
use support::cluster::{form, form_on, leader};
use support::registry::{Auth, Registry};
use support::{files_on_disk_containing, mount_points};

/// How long a cluster may take to converge after a change (image present
/// on every host, containers start in well under a second each).
const CONVERGE: Duration = Duration::from_secs(40);

/// 3 managers and 2 workers, busybox on every host.
fn cluster() -> TestBed {
    let bed = form(5, 3, 5);
    bed.import_busybox();
    bed
}

/// `service ps --format json` of `service`, asked of `host`.
fn tasks(host: &Host, service: &str) -> Vec<Value> {
    support::json_lines(&host.ok(&["service", "ps", "--format", "json", service]))
}

/// [`tasks`], or nothing while the managers cannot answer (an election).
fn tasks_if_answered(host: &Host, service: &str) -> Vec<Value> {
    let run = host.hoist(&["service", "ps", "--format", "json", service]);
    if run.code != 0 {
        return Vec::new();
    }
    support::json_lines(&run.stdout)
}

/// Tasks of `service` that should run and do, by node hostname (none while
/// the managers cannot answer).
fn running_by_node(host: &Host, service: &str) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for task in tasks_if_answered(host, service) {
        if task["DesiredState"] == "Running" && task["CurrentState"] == "Running" {
            *counts
                .entry(task["Node"].as_str().unwrap_or_default().to_string())
                .or_default() += 1;
        }
    }
    counts
}

fn total(counts: &BTreeMap<String, usize>) -> usize {
    counts.values().sum()
}

/// The running containers of `service` on `host` itself (its own daemon).
fn containers(host: &Host, service: &str) -> BTreeSet<String> {
    host.ok(&[
        "ps",
        "-q",
        "--no-trunc",
        "--filter",
        &format!("label=hoist.service.name={service}"),
    ])
    .lines()
    .map(str::to_string)
    .collect()
}

/// Every container (any state) with a task label on `host`.
fn task_containers(host: &Host) -> Vec<String> {
    host.ok(&["ps", "-a", "-q", "--filter", "label=hoist.task.id"])
        .lines()
        .map(str::to_string)
        .collect()
}

fn create(host: &Host, args: &[&str]) -> String {
    let mut full = vec!["service", "create", "-d"];
    full.extend_from_slice(args);
    host.ok(&full).trim().to_string()
}

fn converged(bed: &TestBed, asker: usize, service: &str, want: usize) -> BTreeMap<String, usize> {
    let mut last = BTreeMap::new();
    bed.eventually(
        CONVERGE,
        &format!("{want} running tasks of {service}"),
        || {
            last = running_by_node(bed.host(asker), service);
            total(&last) == want
        },
    );
    last
}

#[test]
fn a_replicated_service_spreads_and_its_tasks_leave_a_dead_node_and_its_surplus_stops_on_return() {
    let mut bed = cluster();
    let id = create(
        bed.host(0),
        &[
            "--name",
            "web",
            "--replicas",
            "6",
            "busybox",
            "httpd",
            "-f",
            "-p",
            "80",
        ],
    );
    assert_eq!(id.len(), 25, "service create prints the ID: {id}");
    let spread = converged(&bed, 0, "web", 6);
    assert_eq!(
        spread.len(),
        5,
        "6 tasks on 5 nodes use every node: {spread:?}"
    );
    assert!(spread.values().all(|n| (1..=2).contains(n)), "{spread:?}");
    // The tasks really run: each node's daemon has as many containers.
    for host in bed.hosts() {
        assert_eq!(
            containers(host, "web").len(),
            spread[host.name()],
            "containers of web on {}",
            host.name()
        );
    }
    let ls = bed.host(1).ok(&["service", "ls"]);
    assert!(ls.contains("web") && ls.contains("6/6"), "{ls}");

    // A worker dies: its tasks come back on the other nodes.
    let worker = bed.host(4).name().to_string();
    let lost = spread[&worker];
    let before = containers(bed.host(4), "web");
    bed.host_mut(4).kill_daemon();
    bed.eventually(
        CONVERGE,
        "web back to 6 running tasks without the dead worker",
        || {
            let now = running_by_node(bed.host(0), "web");
            total(&now) == 6 && !now.contains_key(&worker)
        },
    );
    let moved = tasks(bed.host(0), "web")
        .iter()
        .filter(|t| t["Node"] == worker && t["DesiredState"] == "Shutdown")
        .count();
    assert_eq!(moved, lost, "the dead node's tasks are shut down, not lost");

    // It returns: the containers of the tasks that moved away are stopped.
    bed.host_mut(4).start_daemon();
    bed.eventually(
        CONVERGE,
        "the returned worker stops its surplus containers",
        || containers(bed.host(4), "web").is_empty(),
    );
    assert!(!before.is_empty());
    assert_eq!(total(&running_by_node(bed.host(0), "web")), 6);

    // Scale down then remove: every node ends clean.
    bed.host(2).ok(&["service", "scale", "-d", "web=2"]);
    converged(&bed, 2, "web", 2);
    bed.host(0).ok(&["service", "rm", "web"]);
    bed.eventually(CONVERGE, "no task container left on any node", || {
        bed.hosts().iter().all(|h| task_containers(h).is_empty())
    });
    assert_eq!(bed.host(0).ok(&["service", "ls", "-q"]).trim(), "");
}

#[test]
fn constraints_global_services_drain_and_unsatisfiable_placements() {
    let bed = cluster();
    let h3 = bed.host(3).name().to_string();
    let h4 = bed.host(4).name().to_string();
    for host in [&h3, &h4] {
        bed.host(0)
            .ok(&["node", "update", "--label-add", "zone=a", host]);
    }
    create(
        bed.host(0),
        &[
            "--name",
            "zoned",
            "--replicas",
            "4",
            "--constraint",
            "node.labels.zone==a",
            "busybox",
            "sleep",
            "3600",
        ],
    );
    create(
        bed.host(0),
        &[
            "--name", "agent", "--mode", "global", "busybox", "sleep", "3600",
        ],
    );
    let zoned = converged(&bed, 0, "zoned", 4);
    // The listings filter as Docker's do.
    let mut labelled: Vec<String> = bed
        .host(0)
        .ok(&[
            "node",
            "ls",
            "--format",
            "{{.Hostname}}",
            "-f",
            "node.label=zone=a",
        ])
        .lines()
        .map(str::to_string)
        .collect();
    labelled.sort();
    let mut expected = vec![h3.clone(), h4.clone()];
    expected.sort();
    assert_eq!(labelled, expected);
    let managers = bed
        .host(0)
        .ok(&["node", "ls", "-q", "--filter", "role=manager"]);
    assert!(
        !managers.trim().is_empty() && managers.lines().count() < 5,
        "{managers}"
    );
    assert_eq!(
        bed.host(0)
            .ok(&[
                "service",
                "ls",
                "--format",
                "{{.Name}}",
                "-f",
                "mode=global"
            ])
            .trim(),
        "agent"
    );
    assert_eq!(
        bed.host(0)
            .ok(&["service", "ls", "--format", "{{.Name}}", "-f", "name=zon"])
            .trim(),
        "zoned"
    );
    let refused = bed.host(0).hoist(&["service", "ls", "-f", "colour=red"]);
    assert!(
        refused.code != 0 && refused.stderr.contains("invalid filter 'colour'"),
        "{}",
        refused.stderr
    );
    assert_eq!(
        zoned.keys().cloned().collect::<BTreeSet<_>>(),
        BTreeSet::from([h3.clone(), h4.clone()]),
        "only zone a nodes: {zoned:?}"
    );
    assert_eq!(zoned.values().copied().collect::<Vec<_>>(), [2, 2]);
    let global = converged(&bed, 1, "agent", 5);
    assert!(global.values().all(|n| *n == 1), "{global:?}");

    // node ps: a node's tasks, named from a manager, or this node's own.
    let on_h3 = support::json_lines(&bed.host(0).ok(&["node", "ps", "--format", "json", &h3]));
    assert!(on_h3.iter().all(|t| t["Node"] == h3.as_str()), "{on_h3:?}");
    let running = |tasks: &[Value], service: &str| {
        tasks
            .iter()
            .filter(|t| t["CurrentState"] == "Running")
            .filter(|t| t["Name"].as_str().unwrap_or_default().starts_with(service))
            .count()
    };
    assert_eq!(
        (running(&on_h3, "zoned."), running(&on_h3, "agent.")),
        (2, 1),
        "{on_h3:?}"
    );
    let h1 = bed.host(1).name().to_string();
    let own = support::json_lines(&bed.host(1).ok(&[
        "node",
        "ps",
        "-f",
        "desired-state=running",
        "--format",
        "json",
    ]));
    assert_eq!(own.len(), 1, "{own:?}");
    assert_eq!(own[0]["Node"], h1.as_str());
    assert_eq!(running(&own, "agent."), 1, "{own:?}");
    let nowhere = bed.host(0).hoist(&["node", "ps", "nowhere"]);
    assert_ne!(nowhere.code, 0);
    assert!(
        nowhere.stderr.contains("node nowhere not found"),
        "{nowhere}"
    );

    // Drain h4: its zoned tasks move to h3, its global task stops.
    bed.host(0)
        .ok(&["node", "update", "--availability", "drain", &h4]);
    bed.eventually(CONVERGE, "h4 drained", || {
        let zoned = running_by_node(bed.host(0), "zoned");
        let agent = running_by_node(bed.host(0), "agent");
        zoned.get(&h3) == Some(&4) && !zoned.contains_key(&h4) && !agent.contains_key(&h4)
    });
    bed.eventually(
        CONVERGE,
        "no container of zoned or agent left running on h4",
        || {
            containers(bed.host(4), "zoned").is_empty()
                && containers(bed.host(4), "agent").is_empty()
        },
    );

    // Constraints nobody meets and reservations nobody has: pending, with
    // Swarm's reason, and nothing runs.
    create(
        bed.host(0),
        &[
            "--name",
            "nowhere",
            "--constraint",
            "node.labels.zone==mars",
            "busybox",
            "sleep",
            "1",
        ],
    );
    create(
        bed.host(0),
        &[
            "--name",
            "huge",
            "--reserve-memory",
            "100t",
            "busybox",
            "sleep",
            "1",
        ],
    );
    for (service, reason) in [
        ("nowhere", "scheduling constraints not satisfied"),
        ("huge", "insufficient resources"),
    ] {
        bed.eventually(
            CONVERGE,
            &format!("{service} pending with a reason"),
            || {
                tasks(bed.host(0), service).iter().any(|t| {
                    t["CurrentState"] == "Pending"
                        && t["Message"]
                            .as_str()
                            .is_some_and(|m| m.contains("no suitable node") && m.contains(reason))
                })
            },
        );
        let table = bed.host(0).ok(&["service", "ps", service]);
        assert!(table.contains("no suitable node"), "{table}");
    }
}

#[test]
fn a_leader_failover_during_a_deployment_neither_loses_nor_duplicates_tasks() {
    let mut bed = cluster();
    let old = leader(&bed, 0).expect("a leader");
    let asker = (old + 1) % 3;
    create(
        bed.host(asker),
        &[
            "--name",
            "burst",
            "--replicas",
            "10",
            "busybox",
            "sleep",
            "3600",
        ],
    );
    bed.host_mut(old).kill_daemon();
    let asker = (0..3).find(|i| *i != old).unwrap_or(1);
    bed.eventually(
        CONVERGE,
        "10 running tasks of burst after the failover",
        || {
            let now = running_by_node(bed.host(asker), "burst");
            let on_old = now.get(bed.host(old).name()).copied().unwrap_or(0);
            total(&now) - on_old == 10
        },
    );
    // Exactly one running container per running task across the live nodes.
    let live: Vec<&Host> = bed.hosts().iter().filter(|h| h.index() != old).collect();
    let running: usize = live.iter().map(|h| containers(h, "burst").len()).sum();
    let expected = tasks(bed.host(asker), "burst")
        .iter()
        .filter(|t| {
            t["DesiredState"] == "Running"
                && t["CurrentState"] == "Running"
                && t["Node"] != bed.host(old).name()
        })
        .count();
    assert_eq!(running, expected, "no duplicate containers");
    assert_eq!(expected, 10);
}

#[test]
fn an_agent_restart_re_adopts_its_tasks_without_restarting_them() {
    let mut bed = cluster();
    create(
        bed.host(0),
        &[
            "--name",
            "steady",
            "--replicas",
            "5",
            "busybox",
            "sleep",
            "3600",
        ],
    );
    converged(&bed, 0, "steady", 5);
    let ids = |bed: &TestBed| -> BTreeSet<String> {
        tasks(bed.host(0), "steady")
            .iter()
            .map(|t| t["ID"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    let task_ids = ids(&bed);
    let on_h3 = containers(bed.host(3), "steady");
    assert!(!on_h3.is_empty());
    bed.host_mut(3).restart_daemon();
    // Give the restarted agent time to reconnect and reconcile.
    bed.eventually(CONVERGE, "h3 ready again", || {
        support::cluster::nodes(bed.host(0))
            .iter()
            .any(|n| n["Hostname"] == bed.host(3).name() && n["Status"] == "ready")
    });
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(containers(bed.host(3), "steady"), on_h3, "same containers");
    assert_eq!(ids(&bed), task_ids, "no task replaced");
    assert_eq!(total(&running_by_node(bed.host(0), "steady")), 5);
}

/// The tmpfs mounts of task files (secrets, configs) under `host`'s daemon.
fn file_mounts(host: &Host) -> Vec<std::path::PathBuf> {
    mount_points()
        .into_iter()
        .filter(|(point, fstype)| {
            point.starts_with(host.dir()) && point.ends_with("secrets") && fstype == "tmpfs"
        })
        .map(|(point, _)| point)
        .collect()
}

#[test]
fn a_secret_reaches_only_its_tasks_container_never_a_disk_and_stays_while_used() {
    let bed = cluster();
    let marker = hoist_runtime::fsutil::random_hex(8);
    let secret = format!("pw-{marker}");
    let config = format!("server_name site-{marker};");
    let file = bed.dir().join("pw.txt");
    std::fs::write(&file, &secret).unwrap();
    let id = bed
        .host(1)
        .ok(&["secret", "create", "db_pw", file.to_str().unwrap()]);
    std::fs::write(&file, &config).unwrap();
    bed.host(2)
        .ok(&["config", "create", "site", file.to_str().unwrap()]);
    std::fs::remove_file(&file).unwrap();
    assert_eq!(id.trim().len(), 25, "secret create prints the ID: {id}");
    let ls = bed.host(0).ok(&["secret", "ls"]);
    assert!(ls.contains("db_pw") && ls.contains("internal"), "{ls}");
    assert_eq!(
        bed.host(0)
            .ok(&["secret", "ls", "-q", "-f", "name=db"])
            .trim(),
        id.trim()
    );
    assert!(
        bed.host(0)
            .ok(&["secret", "ls", "-q", "-f", "name=nope"])
            .trim()
            .is_empty()
    );
    assert!(
        bed.host(0)
            .ok(&["config", "ls", "-f", "name=site"])
            .contains("site")
    );
    let inspect = bed.host(2).ok(&["secret", "inspect", "db_pw"]);
    assert!(
        inspect.contains(id.trim()) && !inspect.contains(&secret),
        "{inspect}"
    );
    let shown = bed.host(0).ok(&["config", "inspect", "site"]);
    let encoded = base64::engine::general_purpose::STANDARD.encode(&config);
    assert!(shown.contains(&encoded), "a config is shown: {shown}");

    let refused = bed.host(0).hoist(&[
        "service", "create", "-d", "--name", "bad", "--secret", "nope", "busybox", "true",
    ]);
    assert!(
        refused.code != 0
            && refused
                .stderr
                .contains("secret nope not found: create it first with hoist secret create"),
        "{refused}"
    );
    assert_eq!(bed.host(0).ok(&["service", "ls", "-q"]).trim(), "");

    create(
        bed.host(0),
        &[
            "--name",
            "app",
            "--secret",
            "db_pw",
            "--secret",
            "source=db_pw,target=/etc/pw,mode=0400",
            "--config",
            "source=site,target=/etc/site.conf",
            "busybox",
            "sleep",
            "3600",
        ],
    );
    let placed = converged(&bed, 0, "app", 1);
    let node = placed.keys().next().unwrap().clone();
    let runs = bed.hosts().iter().find(|h| h.name() == node).unwrap();
    let container = containers(runs, "app").into_iter().next().unwrap();
    let read = |path: &str| runs.ok(&["exec", &container, "cat", path]);
    assert_eq!(read("/run/secrets/db_pw"), secret);
    assert_eq!(read("/etc/pw"), secret);
    assert_eq!(read("/etc/site.conf"), config);
    let modes = runs.ok(&[
        "exec",
        &container,
        "stat",
        "-c",
        "%a",
        "/run/secrets/db_pw",
        "/etc/pw",
    ]);
    assert_eq!(modes, "444\n400\n");
    for host in bed.hosts() {
        let mounts = file_mounts(host);
        let expected = usize::from(host.name() == node);
        assert_eq!(
            mounts.len(),
            expected,
            "task file mounts on {}: {mounts:?}",
            host.name()
        );
        // On disk nowhere: not in a Raft log or snapshot, a record, a log.
        for needle in [&secret, &config] {
            let found = files_on_disk_containing(host.dir(), needle.as_bytes());
            assert!(found.is_empty(), "{needle:?} on disk in {found:?}");
        }
    }

    let in_use = bed.host(1).hoist(&["secret", "rm", "db_pw"]);
    assert!(
        in_use.code != 0 && in_use.stderr.contains("in use by service app"),
        "{in_use}"
    );
    bed.host(0).ok(&["service", "rm", "app"]);
    bed.eventually(
        CONVERGE,
        "no task container or file left on any node",
        || {
            bed.hosts()
                .iter()
                .all(|h| task_containers(h).is_empty() && file_mounts(h).is_empty())
        },
    );
    bed.host(1).ok(&["secret", "rm", "db_pw"]);
    bed.host(1).ok(&["config", "rm", "site"]);
    assert_eq!(bed.host(0).ok(&["secret", "ls", "-q"]).trim(), "");
    assert_eq!(bed.host(0).ok(&["config", "ls", "-q"]).trim(), "");
}

#[test]
fn a_stack_deploys_from_compose_files_changes_only_what_differs_and_rm_removes_it_all() {
    let bed = cluster();
    let dir = bed.dir().to_path_buf();
    let base = dir.join("compose.yaml");
    std::fs::write(
        &base,
        "services:\n\
         \x20 web:\n\
         \x20   image: busybox\n\
         \x20   command: sh -c 'echo served-by-web > /tmp/index.html && exec httpd -f -p 80 -h /tmp'\n\
         \x20   secrets: [db_pw]\n\
         \x20   deploy:\n\
         \x20     replicas: 3\n\
         \x20     placement:\n\
         \x20       constraints: [node.role==worker]\n\
         \x20 agent:\n\
         \x20   image: busybox\n\
         \x20   command: sleep 3600\n\
         \x20   container_name: ignored\n\
         \x20   deploy:\n\
         \x20     mode: global\n\
         secrets:\n\
         \x20 db_pw:\n\
         \x20   file: ./pw.txt\n",
    )
    .unwrap();
    std::fs::write(dir.join("pw.txt"), "stack-secret-7d1e").unwrap();
    let override_file = dir.join("override.yaml");
    std::fs::write(
        &override_file,
        "services:\n  web:\n    deploy:\n      replicas: 4\n",
    )
    .unwrap();
    let build_only = dir.join("build.yaml");
    std::fs::write(&build_only, "services:\n  app:\n    build: .\n").unwrap();
    let base = base.to_str().unwrap();
    let h0 = bed.host(0);

    let first = h0.hoist(&["stack", "deploy", "-c", base, "app"]);
    assert_eq!(first.code, 0, "{first}");
    assert!(first.stdout.contains("Creating service app_web"), "{first}");
    assert!(
        first.stdout.contains("Creating service app_agent"),
        "{first}"
    );
    assert!(
        first.stdout.contains("Creating secret app_db_pw"),
        "{first}"
    );
    assert!(
        first.stdout.contains("Creating network app_default"),
        "{first}"
    );
    assert!(
        first.stderr.contains("container_name"),
        "unsupported fields are warned about: {first}"
    );
    let web = converged(&bed, 0, "app_web", 3);
    let workers = BTreeSet::from([
        bed.host(3).name().to_string(),
        bed.host(4).name().to_string(),
    ]);
    assert!(
        web.keys().all(|n| workers.contains(n)),
        "constraint honoured: {web:?}"
    );
    converged(&bed, 0, "app_agent", 5);
    let ids = |service: &str| -> BTreeSet<String> {
        tasks(h0, service)
            .iter()
            .map(|t| t["ID"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    let agent_tasks = ids("app_agent");
    // The stack's secret reaches the web tasks.
    let worker = bed.host(3);
    let container = containers(worker, "app_web")
        .into_iter()
        .next()
        .expect("a web task on h3");
    let secret = worker.ok(&["exec", &container, "cat", "/run/secrets/db_pw"]);
    assert_eq!(secret, "stack-secret-7d1e");
    // The stack's default network: a cluster network the managers list,
    // carried on the worker by a bridge on which the agent task reaches
    // the web tasks by the service's key and by its stack name.
    let on_manager = h0.ok(&["network", "ls", "--filter", "name=app_default"]);
    assert!(
        on_manager
            .lines()
            .any(|l| l.contains("app_default") && l.contains("overlay") && l.contains("swarm")),
        "{on_manager}"
    );
    let on_worker = worker.ok(&["network", "ls", "--filter", "name=app_default"]);
    assert!(
        on_worker
            .lines()
            .any(|l| l.contains("app_default") && l.contains("swarm")),
        "{on_worker}"
    );
    let agent = containers(worker, "app_agent")
        .into_iter()
        .next()
        .expect("the global agent task on h3");
    for name in ["web", "app_web"] {
        let page = worker.ok(&["exec", &agent, "wget", "-qO-", &format!("http://{name}/")]);
        assert_eq!(page.trim(), "served-by-web", "by {name}");
    }

    // The same file again changes nothing.
    let again = h0.ok(&["stack", "deploy", "-c", base, "app"]);
    assert!(
        !again.contains("Creating") && !again.contains("Updating"),
        "{again}"
    );
    // An override changes one service only.
    let scaled = h0.ok(&[
        "stack",
        "deploy",
        "-c",
        base,
        "-c",
        override_file.to_str().unwrap(),
        "app",
    ]);
    assert!(scaled.contains("Updating service app_web"), "{scaled}");
    assert!(!scaled.contains("app_agent"), "{scaled}");
    converged(&bed, 0, "app_web", 4);
    assert_eq!(
        ids("app_agent"),
        agent_tasks,
        "the unchanged service kept its tasks"
    );

    let ls = h0.ok(&["stack", "ls"]);
    assert!(
        ls.lines()
            .any(|l| l.starts_with("app") && l.trim_end().ends_with('2')),
        "{ls}"
    );
    let services = h0.ok(&["stack", "services", "app"]);
    assert!(
        services.contains("app_web") && services.contains("4/4"),
        "{services}"
    );
    let ps = h0.ok(&["stack", "ps", "app"]);
    assert!(
        ps.contains("app_agent.") && ps.contains("app_web.1"),
        "{ps}"
    );
    let web = h0.ok(&[
        "stack",
        "services",
        "--format",
        "{{.Name}}",
        "-f",
        "name=app_w",
        "app",
    ]);
    assert_eq!(web.trim(), "app_web");
    let running = h0.ok(&["stack", "ps", "-f", "desired-state=running", "app"]);
    assert!(
        running.contains("app_web.1") && !running.contains("Shutdown"),
        "{running}"
    );

    // A build-only service is refused before anything is deployed.
    let refused = h0.hoist(&[
        "stack",
        "deploy",
        "-c",
        build_only.to_str().unwrap(),
        "other",
    ]);
    assert_ne!(refused.code, 0);
    assert!(
        refused.stderr.contains("app") && refused.stderr.contains("image"),
        "{refused}"
    );
    assert!(!h0.ok(&["service", "ls"]).contains("other_"));

    let removed = h0.ok(&["stack", "rm", "app"]);
    assert!(removed.contains("Removing service app_web"), "{removed}");
    assert!(removed.contains("Removing secret app_db_pw"), "{removed}");
    assert!(
        removed.contains("Removing network app_default"),
        "{removed}"
    );
    assert_eq!(h0.ok(&["secret", "ls", "-q"]).trim(), "");
    bed.eventually(
        CONVERGE,
        "no task container or stack network left on any node",
        || {
            bed.hosts().iter().all(|h| {
                task_containers(h).is_empty() && !h.ok(&["network", "ls"]).contains("app_default")
            })
        },
    );
    let gone = h0.hoist(&["stack", "ps", "app"]);
    assert_ne!(gone.code, 0);
    assert!(gone.stderr.contains("nothing found in stack"), "{gone}");
}

/// `service logs` lines on stdout, by the prefix before ` | `.
fn log_prefixes(out: &str) -> BTreeSet<String> {
    out.lines()
        .filter_map(|l| l.split_once(" | "))
        .map(|(prefix, _)| prefix.trim_end().to_string())
        .collect()
}

/// Docker's log prefix of each task of `service` (`web.1.<id>@<node>`).
fn task_prefixes(host: &Host, service: &str) -> BTreeSet<String> {
    tasks(host, service)
        .iter()
        .map(|t| {
            let id = t["ID"].as_str().unwrap_or_default();
            format!(
                "{}.{}@{}",
                t["Name"].as_str().unwrap_or_default(),
                &id[..12.min(id.len())],
                t["Node"].as_str().unwrap_or_default()
            )
        })
        .collect()
}

#[test]
fn service_logs_gathers_every_tasks_lines_from_any_manager_follows_and_skips_a_dead_node() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    let mut bed = cluster();
    let leader = leader(&bed, 0).expect("a leader");
    let asker = (leader + 1) % 3;
    create(
        bed.host(0),
        &[
            "--name",
            "hello",
            "--replicas",
            "3",
            "busybox",
            "sh",
            "-c",
            "echo hello from $(hostname); sleep 3600",
        ],
    );
    create(
        bed.host(0),
        &[
            "--name",
            "counter",
            "--replicas",
            "2",
            "--constraint",
            "node.role==worker",
            "busybox",
            "sh",
            "-c",
            "i=0; while true; do echo tick $i; i=$((i+1)); sleep 1; done",
        ],
    );
    converged(&bed, 0, "hello", 3);
    converged(&bed, 0, "counter", 2);
    let h = bed.host(asker);

    // Every task's line, named by its task and node, from a follower.
    let expected = task_prefixes(h, "hello");
    let mut out = String::new();
    bed.eventually(CONVERGE, "3 hello lines from service logs", || {
        out = h.ok(&["service", "logs", "hello"]);
        out.lines().filter(|l| l.contains("| hello from")).count() == 3
    });
    assert_eq!(log_prefixes(&out), expected, "{out}");
    let raw = h.ok(&["service", "logs", "--raw", "--no-trunc", "hello"]);
    assert!(
        raw.lines().all(|l| l.starts_with("hello from")),
        "--raw has no prefix: {raw}"
    );
    let first = tasks(h, "hello")[0]["ID"].as_str().unwrap().to_string();
    let one = h.ok(&["service", "logs", "--no-trunc", &first]);
    assert_eq!(one.lines().count(), 1, "a task's own logs: {one}");
    assert!(one.contains(&format!(".{first}@")), "{one}");

    // --tail 1: one line per task.
    bed.eventually(CONVERGE, "counter ticked twice", || {
        h.ok(&["service", "logs", "counter"])
            .lines()
            .filter(|l| l.contains("| tick 1"))
            .count()
            == 2
    });
    let tail = h.ok(&["service", "logs", "--tail", "1", "-t", "counter"]);
    assert_eq!(tail.lines().count(), 2, "{tail}");
    assert!(
        tail.lines().all(|l| l.contains("Z tick ")),
        "timestamps: {tail}"
    );

    // -f: new lines keep coming until the command is stopped.
    let mut follower = h
        .command(&["service", "logs", "-f", "--tail", "1", "counter"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("service logs -f starts");
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = follower.stdout.take().expect("piped stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let mut followed = Vec::new();
    let next_line = |followed: &mut Vec<String>| match rx.recv_timeout(Duration::from_secs(20)) {
        Ok(line) => followed.push(line),
        Err(e) => panic!("service logs -f stopped giving lines ({e}): {followed:?}"),
    };
    while followed.len() < 6 {
        next_line(&mut followed);
    }
    assert!(
        followed.iter().all(|l| l.contains("| tick ")),
        "{followed:?}"
    );
    // A task that starts while following joins the stream, as in Swarm.
    let before = log_prefixes(&followed.join("\n"));
    assert_eq!(before.len(), 2, "{followed:?}");
    h.ok(&["service", "scale", "counter=3"]);
    let deadline = std::time::Instant::now() + CONVERGE;
    while log_prefixes(&followed.join("\n")).len() < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "the new task's lines never came; tasks seen: {:?}",
            log_prefixes(&followed.join("\n"))
        );
        next_line(&mut followed);
    }
    let _ = follower.kill();
    let _ = follower.wait();
    let prefixes = log_prefixes(&followed.join("\n"));
    assert_eq!(prefixes, task_prefixes(h, "counter"), "{followed:?}");

    // A worker dies: its task's logs are skipped with a warning, and the
    // command still ends.
    let dead = bed.host(4).name().to_string();
    bed.host_mut(4).kill_daemon();
    let h = bed.host(asker);
    let started = std::time::Instant::now();
    let run = h.hoist(&["service", "logs", "counter"]);
    assert_eq!(run.code, 0, "{run}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        run.stderr
            .contains(&format!("Warning: some logs are unavailable: node {dead} ")),
        "{run}"
    );
    let live = bed.host(3).name().to_string();
    assert!(
        run.stdout.lines().any(|l| l.contains(&format!("@{live}"))),
        "the live worker's task still shows: {run}"
    );
    h.ok(&["service", "rm", "hello", "counter"]);
}

#[test]
fn an_overlay_network_is_a_cluster_object_services_join_and_nodes_carry_while_used() {
    let bed = cluster();
    let h0 = bed.host(0);
    let worker = bed.host(3);
    let id = h0
        .ok(&[
            "network",
            "create",
            "-d",
            "overlay",
            "--subnet",
            "10.77.0.0/24",
            "--label",
            "team=blue",
            "front",
        ])
        .trim()
        .to_string();
    let again = h0.hoist(&["network", "create", "-d", "overlay", "front"]);
    assert_ne!(again.code, 0, "{again}");
    assert!(again.stderr.contains("front"), "{again}");
    // A subnet every node would refuse is refused when the network is made.
    let host_bits = h0.hoist(&[
        "network",
        "create",
        "-d",
        "overlay",
        "--subnet",
        "10.78.0.5/24",
        "stray",
    ]);
    assert_ne!(host_bits.code, 0, "{host_bits}");
    assert!(
        host_bits
            .stderr
            .contains("host bits are set; did you mean 10.78.0.0/24?"),
        "{host_bits}"
    );
    let on_worker = worker.hoist(&["network", "create", "-d", "overlay", "other"]);
    assert_ne!(on_worker.code, 0, "{on_worker}");
    assert!(
        on_worker.stderr.contains("not a cluster manager"),
        "{on_worker}"
    );
    let missing = h0.hoist(&[
        "service",
        "create",
        "-d",
        "--name",
        "lost",
        "--network",
        "nowhere",
        "busybox",
        "sleep",
        "60",
    ]);
    assert_ne!(missing.code, 0);
    assert!(
        missing.stderr.contains("network nowhere not found"),
        "{missing}"
    );

    create(
        h0,
        &[
            "--name",
            "pinger",
            "--replicas",
            "2",
            "--constraint",
            &format!("node.hostname=={}", worker.name()),
            "--network",
            "name=front,alias=ping",
            "busybox",
            "sleep",
            "3600",
        ],
    );
    converged(&bed, 0, "pinger", 2);
    let inspected: Value = serde_json::from_str(&h0.ok(&["network", "inspect", "front"])).unwrap();
    assert_eq!(inspected[0]["Id"], id.as_str());
    assert_eq!(inspected[0]["Scope"], "swarm");
    assert_eq!(inspected[0]["Services"], serde_json::json!(["pinger"]));
    assert_eq!(inspected[0]["Labels"]["team"], "blue");
    let in_use = h0.hoist(&["network", "rm", "front"]);
    assert_ne!(in_use.code, 0);
    assert!(
        in_use.stderr.contains("in use by service pinger"),
        "{in_use}"
    );

    // The worker carries the network with its subnet; the two tasks find
    // each other by the service's name and by the alias.
    let carrier: Value =
        serde_json::from_str(&worker.ok(&["network", "inspect", "front"])).unwrap();
    assert_eq!(carrier[0]["IPAM"]["Config"][0]["Subnet"], "10.77.0.0/24");
    assert_eq!(
        carrier[0]["Labels"]["hoist.cluster.network.id"],
        id.as_str()
    );
    let tasks: Vec<String> = containers(worker, "pinger").into_iter().collect();
    assert_eq!(tasks.len(), 2, "{tasks:?}");
    for name in ["pinger", "ping"] {
        let found = worker.ok(&["exec", &tasks[0], "nslookup", name]);
        assert!(found.contains("10.77.0."), "{name}: {found}");
    }
    assert!(
        !bed.host(4).ok(&["network", "ls"]).contains("front"),
        "a node without tasks on it does not carry the network"
    );

    // A task that cannot start there (its image cannot be pulled) leaves
    // no carrier of its network behind.
    let spare = bed.host(4);
    create(
        h0,
        &[
            "--name",
            "broken",
            "--restart-condition",
            "none",
            "--constraint",
            &format!("node.hostname=={}", spare.name()),
            "--network",
            "front",
            "127.0.0.1:9/missing:1",
        ],
    );
    bed.eventually(CONVERGE, "the broken task is rejected", || {
        self::tasks(h0, "broken")
            .iter()
            .any(|t| t["CurrentState"] == "Rejected")
    });
    assert!(
        !spare.ok(&["network", "ls"]).contains("front"),
        "the network carried for the rejected task was removed"
    );
    h0.ok(&["service", "rm", "broken"]);

    // A node that leaves the cluster stops and removes its tasks (as in
    // Swarm), and with them the network it carried.
    worker.ok(&["cluster", "leave"]);
    assert_eq!(task_containers(worker), Vec::<String>::new());
    assert!(!worker.ok(&["network", "ls"]).contains("front"));
    h0.ok(&["service", "rm", "pinger"]);
    h0.ok(&["network", "rm", "front"]);
    assert!(!h0.ok(&["network", "ls"]).contains("front"));

    // Without --name, a service gets a made-up name, as Docker gives one.
    let unnamed = create(h0, &["--replicas", "0", "busybox", "true"]);
    let inspected: Value = serde_json::from_str(&h0.ok(&["service", "inspect", &unnamed])).unwrap();
    let name = inspected[0]["Name"].as_str().unwrap_or_default();
    assert!(name.contains('_'), "{inspected}");
    h0.ok(&["service", "rm", name]);
}

#[test]
fn with_registry_auth_nodes_pull_a_private_image_with_the_deployers_credentials() {
    let bed = TestBed::builder(std::path::Path::new(support::HOIST), 2)
        .daemon_args(&["--insecure-registry", "10.237.0.0/16"])
        .start();
    let bed = form_on(bed, 1, 2);
    bed.import_busybox();
    let (h0, worker) = (bed.host(0), bed.host(1));
    // A registry on h0 that wants a password, holding a copy of busybox.
    let registry = Registry::start_at(
        h0.name(),
        h0.dir().join("registry"),
        &format!("{}:5000", h0.addr()),
        Auth::htpasswd("ci", "s3cret"),
    );
    let archive = h0.dir().join("busybox-oci.tar");
    h0.ok(&[
        "save",
        "--format",
        "oci",
        "-o",
        &archive.to_string_lossy(),
        "busybox",
    ]);
    registry.push_oci_archive(&archive, None, "private/busybox:1");
    let image = registry.image("private/busybox:1");
    // The deployer's credentials, as `docker login` leaves them.
    let config = h0.dir().join("docker-config");
    std::fs::create_dir_all(&config).unwrap();
    let auth = base64::engine::general_purpose::STANDARD.encode("ci:s3cret");
    std::fs::write(
        config.join("config.json"),
        format!(
            r#"{{"auths":{{"{}":{{"auth":"{auth}"}}}}}}"#,
            registry.addr()
        ),
    )
    .unwrap();
    let on_worker = "node.role==worker";

    // Without --with-registry-auth the worker pulls anonymously: refused.
    create(
        h0,
        &[
            "--name",
            "anon",
            "--restart-condition",
            "none",
            "--constraint",
            on_worker,
            &image,
        ],
    );
    let mut refused = Vec::new();
    bed.eventually(CONVERGE, "the anonymous pull is rejected", || {
        refused = self::tasks(h0, "anon");
        refused.iter().any(|t| t["CurrentState"] == "Rejected")
    });
    let error = refused[0]["Error"].as_str().unwrap_or_default().to_string();
    assert!(error.contains("cannot pull image"), "{refused:?}");

    // With it, the worker pulls with the deployer's credentials; nobody
    // sees them in the service.
    create(
        h0,
        &[
            "--name",
            "private",
            "--with-registry-auth",
            "--constraint",
            on_worker,
            &image,
            "sleep",
            "3600",
        ],
    );
    converged(&bed, 0, "private", 1);
    let inspected = h0.ok(&["service", "inspect", "private"]);
    assert!(
        !inspected.contains("s3cret") && !inspected.contains(&auth),
        "{inspected}"
    );

    // stack deploy --with-registry-auth, the image gone from the worker.
    h0.ok(&["service", "rm", "anon", "private"]);
    bed.eventually(CONVERGE, "the worker's tasks are gone", || {
        task_containers(worker).is_empty()
    });
    worker.ok(&["rmi", &image]);
    let compose = h0.dir().join("private.yaml");
    std::fs::write(
        &compose,
        format!("services:\n  web:\n    image: {image}\n    command: sleep 3600\n    deploy:\n      placement:\n        constraints: [\"{on_worker}\"]\n"),
    )
    .unwrap();
    h0.ok(&[
        "stack",
        "deploy",
        "--with-registry-auth",
        "-c",
        &compose.to_string_lossy(),
        "app",
    ]);
    converged(&bed, 0, "app_web", 1);
    h0.ok(&["stack", "rm", "app"]);
    drop(registry);
}
