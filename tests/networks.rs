//! Bridge networks with real containers: addresses, reachability,
//! isolation, outbound NAT, bad input, daemon restarts, and nothing left
//! behind. Each test's daemon runs in its own network namespace (the test's
//! "host").

mod support;

use std::process::Command;

use support::Daemon;

/// Starts `name` on `network` (with `extra` run flags) as a busybox web
/// server answering `body` on port 80, waits until it answers, and returns
/// its address.
fn start_web(daemon: &Daemon, name: &str, network: &str, extra: &[&str], body: &str) -> String {
    let script =
        format!("mkdir -p /www && echo {body} > /www/index.html && exec httpd -f -p 80 -h /www");
    let mut args = vec!["run", "-d", "--name", name, "--network", network];
    args.extend(extra);
    args.extend(["busybox", "sh", "-c", &script]);
    daemon.ok(&args);
    let ip = container_ip(daemon, name, network);
    daemon.eventually(std::time::Duration::from_secs(10), name, || {
        fetch(daemon, network, &ip, 80).stdout.contains(body)
    });
    ip
}

/// A shell command making an HTTP GET to `host:port` with busybox's nc
/// (Debian's static busybox wget crashes in getaddrinfo).
fn http_get(host: &str, port: u16) -> String {
    format!("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | busybox nc -w 3 {host} {port}")
}

/// An HTTP GET from a new container on `network`.
fn fetch(daemon: &Daemon, network: &str, host: &str, port: u16) -> support::Run {
    let script = http_get(host, port);
    daemon.hoist(&[
        "run",
        "--rm",
        "--network",
        network,
        "busybox",
        "sh",
        "-c",
        &script,
    ])
}

/// An HTTP GET to `host:port` from the network namespace `netns` (the
/// test's host or its outside).
fn fetch_in(netns: &str, host: &str, port: u16) -> support::Run {
    let script = http_get(host, port);
    Command::new("nsenter")
        .arg(format!("--net=/run/netns/{netns}"))
        .args(["sh", "-c", &script])
        .output()
        .expect("run nsenter")
        .into()
}

/// Sends `ping` over UDP to `host:port` from `netns` and returns the answer
/// (empty when none comes within two seconds).
fn udp_ask(netns: &str, host: &str, port: u16) -> String {
    let script = format!("echo ping | socat -T 2 - UDP:{host}:{port}");
    let run: support::Run = Command::new("nsenter")
        .arg(format!("--net=/run/netns/{netns}"))
        .args(["sh", "-c", &script])
        .output()
        .expect("run nsenter")
        .into();
    run.stdout
}

fn container_ip(daemon: &Daemon, name: &str, network: &str) -> String {
    let doc = daemon.inspect(name);
    doc["NetworkSettings"]["Networks"][network]["IPAddress"]
        .as_str()
        .unwrap_or_else(|| panic!("no address of {name} on {network}: {doc:#}"))
        .to_string()
}

#[test]
fn containers_on_a_network_reach_each_other_by_address_and_leave_nothing_behind() {
    let daemon = Daemon::with_busybox();
    daemon.ok(&[
        "network",
        "create",
        "--subnet",
        "10.30.0.0/24",
        "--gateway",
        "10.30.0.1",
        "appnet",
    ]);
    let bridge = daemon.ok(&[
        "network",
        "inspect",
        "-f",
        "{{index .Options \"com.docker.network.bridge.name\"}}",
        "appnet",
    ]);
    let bridge = bridge.trim().to_string();
    assert!(bridge.starts_with("hs-"), "{bridge}");
    assert_eq!(daemon.host_links(&bridge), std::slice::from_ref(&bridge));

    start_web(&daemon, "db", "appnet", &["--ip", "10.30.0.10"], "hello-db");
    assert_eq!(container_ip(&daemon, "db", "appnet"), "10.30.0.10");
    // A restart takes its fixed address again at once, though the old
    // endpoint is given back in the background.
    daemon.ok(&["restart", "-t", "0", "db"]);
    assert_eq!(container_ip(&daemon, "db", "appnet"), "10.30.0.10");
    let members = daemon.ok(&["network", "inspect", "-f", "{{json .Containers}}", "appnet"]);
    assert!(
        members.contains("\"db\"") && members.contains("10.30.0.10/24"),
        "{members}"
    );
    let route = daemon.ok(&[
        "run",
        "--rm",
        "--network",
        "appnet",
        "busybox",
        "ip",
        "route",
    ]);
    assert!(route.contains("default via 10.30.0.1 dev eth0"), "{route}");
    let hosts = daemon.ok(&["exec", "db", "cat", "/etc/hosts"]);
    assert!(
        hosts.contains("10.30.0.10\t"),
        "own address not in /etc/hosts: {hosts}"
    );

    let busy = daemon.hoist(&["network", "rm", "appnet"]);
    assert_eq!(busy.code, 1, "{busy:?}");
    assert!(
        busy.stderr.contains("active endpoints") && busy.stderr.contains("db"),
        "{}",
        busy.stderr
    );

    daemon.ok(&["rm", "-f", "db"]);
    daemon.assert_no_container_leftovers();
    daemon.ok(&["network", "rm", "appnet"]);
    assert!(daemon.host_links(&bridge).is_empty(), "bridge left behind");
    let table = daemon
        .on_host("nft", &["list", "table", "inet", "hoist"])
        .stdout;
    assert!(
        !table.contains("10.30.0.0") && !table.contains(&bridge),
        "rules left behind:\n{table}"
    );
}

#[test]
fn the_default_bridge_gives_addresses_and_reaches_the_outside_through_nat() {
    let daemon = Daemon::with_busybox();
    // An "internet" next to the test host: a namespace with a web server,
    // reachable from the host by a veth pair the test owns.
    let outside = Outside::new(&daemon);
    let addr = daemon.ok(&[
        "run", "--rm", "busybox", "ip", "-o", "-4", "addr", "show", "eth0",
    ]);
    assert!(addr.contains("inet 172.17."), "{addr}");
    let page = fetch(&daemon, "bridge", "198.51.100.2", 8000);
    assert!(
        page.stdout.contains("hello-internet"),
        "outbound failed: {page:?}\n{}",
        daemon.log()
    );
    drop(outside);
    daemon.assert_no_container_leftovers();
}

/// A namespace standing in for the internet, joined to the test host by a
/// veth pair (198.51.100.1 on the host, .2 outside), serving one page.
struct Outside {
    /// The namespace's name.
    name: String,
    server: Option<std::process::Child>,
}

impl Outside {
    fn new(daemon: &Daemon) -> Self {
        let name = format!("{}-out", daemon.netns);
        let www = daemon.dir.join("www");
        std::fs::create_dir_all(&www).unwrap();
        std::fs::write(www.join("index.html"), "hello-internet\n").unwrap();
        let ip = |args: &[&str]| {
            let status = Command::new("ip").args(args).status().unwrap();
            assert!(status.success(), "ip {args:?}");
        };
        ip(&["netns", "add", &name]);
        let mut outside = Outside {
            server: None,
            name: name.clone(),
        };
        ip(&[
            "link",
            "add",
            "hst-out",
            "netns",
            &daemon.netns,
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            &name,
        ]);
        ip(&[
            "-n",
            &daemon.netns,
            "addr",
            "add",
            "198.51.100.1/24",
            "dev",
            "hst-out",
        ]);
        ip(&["-n", &daemon.netns, "link", "set", "hst-out", "up"]);
        ip(&["-n", &name, "addr", "add", "198.51.100.2/24", "dev", "eth0"]);
        ip(&["-n", &name, "link", "set", "eth0", "up"]);
        ip(&["-n", &name, "link", "set", "lo", "up"]);
        let server = Command::new("ip")
            .args([
                "netns", "exec", &name, "busybox", "httpd", "-f", "-p", "8000", "-h",
            ])
            .arg(&www)
            .spawn()
            .unwrap();
        outside.server = Some(server);
        outside
    }
}

impl Drop for Outside {
    fn drop(&mut self) {
        if let Some(server) = &mut self.server {
            let _ = server.kill();
            let _ = server.wait();
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

#[test]
fn networks_are_isolated_from_each_other() {
    let daemon = Daemon::with_busybox();
    daemon.ok(&["network", "create", "--subnet", "10.31.0.0/24", "red"]);
    daemon.ok(&["network", "create", "--subnet", "10.32.0.0/24", "blue"]);
    let ip = start_web(&daemon, "web", "red", &[], "red-web");
    let across = fetch(&daemon, "blue", &ip, 80);
    assert_ne!(across.code, 0, "blue reached red: {across:?}");
    assert!(!across.stdout.contains("red-web"));
    daemon.ok(&["rm", "-f", "web"]);
    let mut both: Vec<String> = daemon
        .ok(&[
            "network",
            "ls",
            "--format",
            "{{.Name}}",
            "-f",
            "name=^red$",
            "-f",
            "name=^blue$",
        ])
        .lines()
        .map(str::to_string)
        .collect();
    both.sort();
    assert_eq!(both, ["blue", "red"], "values of one key are alternatives");
    assert_eq!(daemon.inspect("red")["Name"], "red");
    assert_eq!(
        daemon
            .ok(&["inspect", "--type", "network", "-f", "{{.Driver}}", "blue"])
            .trim(),
        "bridge"
    );
    let local = daemon.ok(&[
        "network",
        "ls",
        "-q",
        "-f",
        "scope=local",
        "-f",
        "name=^red$",
    ]);
    assert_eq!(local.lines().count(), 1, "{local}");
    assert!(
        daemon
            .ok(&["network", "ls", "-q", "-f", "scope=swarm"])
            .trim()
            .is_empty()
    );
    // Networks younger than an hour are not pruned with until=1h.
    let kept = daemon.ok(&["network", "prune", "-f", "--filter", "until=1h"]);
    assert!(!kept.contains("red"), "{kept}");
    daemon.assert_fails(
        &["network", "prune", "-f", "--filter", "name=red"],
        "invalid filter 'name'",
    );
    let pruned = daemon.ok(&["network", "prune", "-f"]);
    assert!(
        pruned.contains("red") && pruned.contains("blue"),
        "{pruned}"
    );
    assert!(daemon.host_links("hs-").is_empty());
}

#[test]
fn bad_network_input_is_refused_in_one_line_and_leaves_nothing() {
    let daemon = Daemon::with_busybox();
    daemon.ok(&["network", "create", "--subnet", "10.40.0.0/16", "first"]);
    let before = daemon.host_links("hs");
    let cases: &[(&[&str], &str)] = &[
        (
            &["network", "create", "--subnet", "10.40.1.0/24", "overlap"],
            "overlaps 10.40.0.0/16 (network first)",
        ),
        (
            &["network", "create", "--subnet", "10.50.0.1/24", "hostbits"],
            "host bits are set",
        ),
        (
            &["network", "create", "--subnet", "banana", "bad"],
            "invalid subnet",
        ),
        (
            &["network", "create", "--subnet", "10.60.0.0/24", "first"],
            "already exists",
        ),
        (
            &[
                "network",
                "create",
                "--subnet",
                "10.61.0.0/24",
                "--gateway",
                "10.62.0.1",
                "gw",
            ],
            "gateway 10.62.0.1",
        ),
        (
            &["network", "create", "-d", "macvlan", "mv"],
            "driver \"macvlan\"",
        ),
        (&["network", "rm", "bridge"], "pre-defined network"),
        (&["network", "rm", "nope"], "network nope not found"),
    ];
    for (args, expected) in cases {
        let run = daemon.hoist(args);
        assert_eq!(run.code, 1, "{args:?}: {run:?}");
        assert!(run.stderr.contains(expected), "{args:?}: {}", run.stderr);
        assert_eq!(
            run.stderr.trim().lines().count(),
            1,
            "{args:?}: {}",
            run.stderr
        );
    }
    let runs: &[(&[&str], &str)] = &[
        (
            &["run", "--rm", "--network", "nope", "busybox", "true"],
            "network nope not found",
        ),
        (
            &[
                "run",
                "--rm",
                "--network",
                "first",
                "--network-alias",
                "bad alias!",
                "busybox",
                "true",
            ],
            "invalid network alias",
        ),
        (
            &["run", "--rm", "--network-alias", "db", "busybox", "true"],
            "only supported for user-defined networks",
        ),
        (
            &[
                "run",
                "--rm",
                "--network",
                "first",
                "--ip",
                "10.99.0.5",
                "busybox",
                "true",
            ],
            "not in network first's subnet",
        ),
        (
            &[
                "run",
                "--rm",
                "--network",
                "first",
                "--mac-address",
                "zz",
                "busybox",
                "true",
            ],
            "invalid MAC address",
        ),
        (
            &["run", "--rm", "-p", "70000:80", "busybox", "true"],
            "\"70000\" is not a port number",
        ),
        (
            &[
                "run",
                "--rm",
                "--network",
                "none",
                "-p",
                "80",
                "busybox",
                "true",
            ],
            "conflicting options: port publishing and --network none",
        ),
        (
            &["run", "--rm", "-p", "[::1]:8080:80", "busybox", "true"],
            "IPv6",
        ),
    ];
    for (args, expected) in runs {
        let run = daemon.hoist(args);
        assert_eq!(run.code, 125, "{args:?}: {run:?}");
        assert!(run.stderr.contains(expected), "{args:?}: {}", run.stderr);
    }
    assert_eq!(
        daemon.host_links("hs"),
        before,
        "a refused request left links"
    );
    let names = daemon.ok(&["network", "ls", "--format", "{{.Name}}"]);
    let mut names: Vec<&str> = names.lines().collect();
    names.sort();
    assert_eq!(names, ["bridge", "first", "host", "none"]);
    daemon.assert_no_container_leftovers();
}

#[test]
fn addresses_and_links_survive_a_daemon_restart() {
    let mut daemon = Daemon::with_busybox();
    daemon.ok(&["network", "create", "--subnet", "10.33.0.0/24", "keep"]);
    let ip = start_web(&daemon, "web", "keep", &["-p", "8088:80"], "still-here");
    daemon.restart_daemon();
    assert_eq!(container_ip(&daemon, "web", "keep"), ip);
    assert!(
        fetch(&daemon, "keep", &ip, 80)
            .stdout
            .contains("still-here")
    );
    // Its published port still leads to it, and is still held.
    let page = fetch_in(&daemon.netns, "127.0.0.1", 8088);
    assert!(page.stdout.contains("still-here"), "{page:?}");
    let clash = daemon.hoist(&["run", "--rm", "-p", "8088:80", "busybox", "true"]);
    assert!(
        clash.stderr.contains("in use by container web"),
        "{clash:?}"
    );
    // The restarted daemon knows the address is taken.
    daemon.ok(&[
        "run",
        "-d",
        "--name",
        "other",
        "--network",
        "keep",
        "busybox",
        "sleep",
        "60",
    ]);
    assert_ne!(container_ip(&daemon, "other", "keep"), ip);
    daemon.ok(&["rm", "-f", "web", "other"]);
    daemon.assert_no_container_leftovers();
}

#[test]
fn published_ports_reach_the_container_from_the_host_the_outside_and_itself() {
    let daemon = Daemon::with_busybox();
    let outside = Outside::new(&daemon);
    // httpd on 80 and 7000, and a UDP server on 90: socat from the host's
    // /usr, through its loader (busybox has no UDP server).
    let script = "mkdir -p /www && echo hello-published > /www/index.html \
        && httpd -p 80 -h /www && httpd -p 7000 -h /www \
        && exec /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 /usr/bin/socat \
        UDP-RECVFROM:90,fork EXEC:'echo pong'";
    daemon.ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "-p",
        "8080:80",
        "-p",
        "127.0.0.1:9090:90/udp",
        "--expose",
        "7000",
        "-P",
        "-v",
        "/usr:/usr:ro",
        "busybox",
        "sh",
        "-c",
        script,
    ]);
    let host = daemon.netns.clone();
    daemon.eventually(std::time::Duration::from_secs(10), "web on 8080", || {
        fetch_in(&host, "127.0.0.1", 8080)
            .stdout
            .contains("hello-published")
    });
    // From the host: its own address and localhost.
    let page = fetch_in(&host, "198.51.100.1", 8080);
    assert!(
        page.stdout.contains("hello-published"),
        "host address: {page:?}"
    );
    // From the outside, through the host's address.
    let page = fetch_in(&outside.name, "198.51.100.1", 8080);
    assert!(page.stdout.contains("hello-published"), "outside: {page:?}");
    // Hairpin: the container and a neighbour reach it through the host.
    let own = daemon.ok(&["exec", "web", "sh", "-c", &http_get("198.51.100.1", 8080)]);
    assert!(own.contains("hello-published"), "hairpin: {own}");
    let neighbour = fetch(&daemon, "bridge", "198.51.100.1", 8080);
    assert!(
        neighbour.stdout.contains("hello-published"),
        "{neighbour:?}"
    );

    // UDP on 127.0.0.1 only.
    daemon.eventually(std::time::Duration::from_secs(10), "udp 9090", || {
        udp_ask(&host, "127.0.0.1", 9090).contains("pong")
    });
    assert_eq!(udp_ask(&outside.name, "198.51.100.1", 9090), "");
    assert_eq!(udp_ask(&host, "198.51.100.1", 9090), "");

    // -P: the exposed port 7000 on a free port of the ephemeral range.
    let published = daemon.ok(&["port", "web", "7000"]);
    let port: u16 = published
        .trim()
        .strip_prefix("0.0.0.0:")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("{published}"));
    let range = daemon
        .on_host("cat", &["/proc/sys/net/ipv4/ip_local_port_range"])
        .stdout;
    let bounds: Vec<u16> = range
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect();
    assert!(
        (bounds[0]..=bounds[1]).contains(&port),
        "{port} not in {range}"
    );
    let page = fetch_in(&outside.name, "198.51.100.1", port);
    assert!(page.stdout.contains("hello-published"), "-P: {page:?}");

    // What ps, port and inspect say.
    let ports = daemon.ok(&["ps", "--filter", "name=web", "--format", "{{.Ports}}"]);
    for expected in [
        "0.0.0.0:8080->80/tcp",
        "127.0.0.1:9090->90/udp",
        &format!("0.0.0.0:{port}->7000/tcp"),
    ] {
        assert!(ports.contains(expected), "{expected} not in {ports}");
    }
    let listed = daemon.ok(&["port", "web"]);
    assert!(listed.contains("80/tcp -> 0.0.0.0:8080"), "{listed}");
    let doc = daemon.inspect("web");
    assert_eq!(
        doc["HostConfig"]["PortBindings"]["90/udp"][0]["HostIp"],
        "127.0.0.1"
    );
    assert_eq!(doc["HostConfig"]["PublishAllPorts"], true);
    assert_eq!(
        doc["NetworkSettings"]["Ports"]["80/tcp"][0]["HostPort"],
        "8080"
    );

    // Taken host ports: by a container, by another program.
    let links = daemon.host_links("hsv");
    let clash = daemon.hoist(&[
        "run", "-d", "--name", "clash", "-p", "8080:80", "busybox", "sleep", "60",
    ]);
    assert_eq!(clash.code, 125, "{clash:?}");
    assert!(
        clash.stderr.contains("0.0.0.0:8080") && clash.stderr.contains("in use by container web"),
        "{}",
        clash.stderr
    );
    daemon.eventually(
        std::time::Duration::from_secs(5),
        "the failed start's links to go",
        || daemon.host_links("hsv") == links,
    );
    daemon.ok(&["rm", "clash"]);
    let mut holder = Command::new("nsenter")
        .arg(format!("--net=/run/netns/{host}"))
        .args(["busybox", "nc", "-l", "-p", "8181"])
        .spawn()
        .unwrap();
    daemon.eventually(
        std::time::Duration::from_secs(5),
        "a listener on 8181",
        || {
            daemon
                .on_host("ss", &["-ltn", "sport = :8181"])
                .stdout
                .contains("8181")
        },
    );
    let taken = daemon.hoist(&["run", "--rm", "-p", "8181:80", "busybox", "true"]);
    let _ = holder.kill();
    let _ = holder.wait();
    assert!(
        taken.stderr.contains("in use by another program"),
        "{taken:?}"
    );

    // Removing the container removes its rules and frees its ports.
    daemon.ok(&["rm", "-f", "web"]);
    let table = daemon
        .on_host("nft", &["list", "table", "inet", "hoist"])
        .stdout;
    assert!(
        !table.contains("8080") && !table.contains("9090"),
        "rules left behind:\n{table}"
    );
    daemon.ok(&[
        "run", "-d", "--name", "again", "-p", "8080:80", "busybox", "sleep", "60",
    ]);
    daemon.ok(&["rm", "-f", "again"]);
    drop(outside);
    daemon.assert_no_container_leftovers();
}

/// `nslookup NAME` from `container` (busybox's own resolver: the static
/// busybox's libc resolver cannot be used).
fn nslookup(daemon: &Daemon, container: &str, name: &str) -> support::Run {
    daemon.hoist(&["exec", container, "nslookup", name])
}

#[test]
fn containers_find_each_other_by_name_and_alias_through_the_embedded_dns() {
    let mut daemon = Daemon::with_busybox();
    daemon.ok(&["network", "create", "--subnet", "10.34.0.0/24", "appnet"]);
    daemon.ok(&["network", "create", "--subnet", "10.35.0.0/24", "other"]);
    let db = start_web(
        &daemon,
        "db",
        "appnet",
        &["--network-alias", "database"],
        "db-page",
    );
    let db_id = daemon.ok(&["inspect", "-f", "{{.Id}}", "db"]);
    // Upstream 127.0.0.1 on the test host: nothing listens, so forwarded
    // names fail at once instead of after a timeout.
    for (name, network) in [
        ("client", "appnet"),
        ("stranger", "other"),
        ("legacy", "bridge"),
    ] {
        daemon.ok(&[
            "run",
            "-d",
            "--name",
            name,
            "--network",
            network,
            "--dns",
            "127.0.0.1",
            "busybox",
            "sleep",
            "600",
        ]);
    }
    let resolv = daemon.ok(&["exec", "client", "cat", "/etc/resolv.conf"]);
    assert!(
        resolv.starts_with("nameserver 127.0.0.11\n") && resolv.contains("ndots:0"),
        "{resolv}"
    );

    let check_names = |daemon: &Daemon| {
        for name in ["db", "database", "DB", "db.appnet", &db_id.trim()[..12]] {
            let answer = nslookup(daemon, "client", name);
            assert!(
                answer.code == 0 && answer.stdout.contains(&format!("Address: {db}")),
                "{name}: {answer:?}"
            );
        }
        let reverse = nslookup(daemon, "client", &db);
        assert!(reverse.stdout.contains("db.appnet"), "PTR: {reverse:?}");
        // By name, end to end.
        let page = daemon.hoist(&["exec", "client", "sh", "-c", &http_get("database", 80)]);
        assert!(page.stdout.contains("db-page"), "{page:?}");
    };
    // A link gives a name of its own to the container that has it only.
    daemon.ok(&[
        "run",
        "-d",
        "--name",
        "linked",
        "--network",
        "appnet",
        "--dns",
        "127.0.0.1",
        "--link",
        "db:maindb",
        "busybox",
        "sleep",
        "600",
    ]);
    let check_link = |daemon: &Daemon| {
        let linked = nslookup(daemon, "linked", "maindb");
        assert!(
            linked.code == 0 && linked.stdout.contains(&format!("Address: {db}")),
            "{linked:?}"
        );
    };
    check_link(&daemon);
    // From the default bridge, a legacy link needs its target there too.
    let bridge = daemon.hoist(&["run", "--rm", "--link", "db:maindb", "busybox", "true"]);
    assert!(
        bridge.code == 125
            && bridge
                .stderr
                .contains("Cannot link to /db, as it does not belong to the default network"),
        "{bridge:?}"
    );
    let unlinked = nslookup(&daemon, "client", "maindb");
    assert!(!unlinked.stdout.contains(&db), "{unlinked:?}");
    assert_eq!(
        daemon.inspect("linked")["HostConfig"]["Links"],
        serde_json::json!(["/db:/linked/maindb"])
    );
    check_names(&daemon);
    // Names stop at the network's edge, and the default bridge has none.
    let across = nslookup(&daemon, "stranger", "db");
    assert!(!across.stdout.contains(&db), "{across:?}");
    let legacy = daemon.ok(&["exec", "legacy", "cat", "/etc/resolv.conf"]);
    assert!(!legacy.contains("127.0.0.11"), "{legacy}");
    let unknown = nslookup(&daemon, "client", "nosuchname");
    assert_ne!(unknown.code, 0, "{unknown:?}");

    // A daemon restart keeps every name of the running containers.
    daemon.restart_daemon();
    check_names(&daemon);
    check_link(&daemon);

    // A removed container's names go with it.
    daemon.ok(&["rm", "-f", "db"]);
    let gone = nslookup(&daemon, "client", "database");
    assert!(!gone.stdout.contains(&db), "{gone:?}");
    daemon.ok(&["rm", "-f", "client", "stranger", "legacy", "linked"]);
    daemon.assert_no_container_leftovers();
}

#[test]
fn containers_connect_and_disconnect_at_runtime_and_share_a_sandbox() {
    let daemon = Daemon::with_busybox();
    daemon.ok(&["network", "create", "--subnet", "10.36.0.0/24", "red"]);
    daemon.ok(&["network", "create", "--subnet", "10.37.0.0/24", "blue"]);
    let web = start_web(&daemon, "web", "red", &[], "red-page");
    daemon.ok(&[
        "run",
        "-d",
        "--name",
        "client",
        "--network",
        "blue",
        "busybox",
        "sleep",
        "600",
    ]);
    let get = |host: &str| daemon.hoist(&["exec", "client", "sh", "-c", &http_get(host, 80)]);
    assert!(!get(&web).stdout.contains("red-page"), "blue reached red");
    let links = daemon.host_links("hsv").len();

    daemon.ok(&["network", "connect", "--alias", "front", "red", "client"]);
    assert_eq!(daemon.host_links("hsv").len(), links + 1);
    let client_red = container_ip(&daemon, "client", "red");
    assert!(get(&web).stdout.contains("red-page"), "not connected");
    assert!(get("web").stdout.contains("red-page"), "no name on red");
    let front = nslookup(&daemon, "web", "front");
    assert!(
        front.stdout.contains(&format!("Address: {client_red}")),
        "{front:?}"
    );
    let hosts = daemon.ok(&["exec", "client", "cat", "/etc/hosts"]);
    assert!(hosts.contains(&client_red), "{hosts}");
    let again = daemon.hoist(&["network", "connect", "red", "client"]);
    assert_eq!(again.code, 1, "{again:?}");
    assert!(
        again.stderr.contains("already connected to network red"),
        "{}",
        again.stderr
    );
    let nope = daemon.hoist(&["network", "connect", "nope", "client"]);
    assert!(
        nope.stderr.contains("network nope not found"),
        "{}",
        nope.stderr
    );

    // Leaving the network that carried the default route hands it over.
    daemon.ok(&["network", "disconnect", "blue", "client"]);
    let route = daemon.ok(&["exec", "client", "ip", "route"]);
    assert!(route.contains("default via 10.36.0.1"), "{route}");
    assert!(get("web").stdout.contains("red-page"));
    assert_eq!(daemon.host_links("hsv").len(), links);
    daemon.ok(&["network", "disconnect", "red", "client"]);
    let inside = daemon.ok(&["exec", "client", "ip", "-o", "link"]);
    assert!(!inside.contains("eth"), "{inside}");
    assert_eq!(daemon.host_links("hsv").len(), links - 1);
    let gone = nslookup(&daemon, "web", "front");
    assert!(!gone.stdout.contains(&client_red), "{gone:?}");

    // A stopped container joins at its next start.
    daemon.ok(&[
        "create",
        "--name",
        "later",
        "--network",
        "blue",
        "busybox",
        "sleep",
        "600",
    ]);
    daemon.ok(&["network", "connect", "red", "later"]);
    daemon.ok(&["start", "later"]);
    let doc = daemon.inspect("later");
    for network in ["red", "blue"] {
        let ip = doc["NetworkSettings"]["Networks"][network]["IPAddress"].as_str();
        assert!(ip.is_some_and(|ip| !ip.is_empty()), "{network}: {doc:#}");
    }

    // --network container: shares web's sandbox, and cannot be connected.
    daemon.ok(&[
        "run",
        "-d",
        "--name",
        "side",
        "--network",
        "container:web",
        "busybox",
        "sleep",
        "600",
    ]);
    let addr = daemon.ok(&["exec", "side", "ip", "-o", "-4", "addr"]);
    assert!(addr.contains(&web), "{addr}");
    let local = daemon.ok(&["exec", "side", "sh", "-c", &http_get("127.0.0.1", 80)]);
    assert!(local.contains("red-page"), "{local}");
    let refused = daemon.hoist(&["network", "connect", "blue", "side"]);
    assert!(
        refused.stderr.contains("--network container:web"),
        "{}",
        refused.stderr
    );

    daemon.ok(&["rm", "-f", "side", "client", "later", "web"]);
    daemon.ok(&["network", "rm", "red", "blue"]);
    assert!(
        daemon.host_links("hs").iter().all(|l| l == "hs0"),
        "{:?}",
        daemon.host_links("hs")
    );
    daemon.assert_no_container_leftovers();
}

#[test]
fn dockers_bridge_options_name_the_bridge_set_its_mtu_default_host_address_and_nat() {
    let daemon = Daemon::with_busybox();
    daemon.ok(&[
        "network",
        "create",
        "--subnet",
        "10.38.0.0/24",
        "-o",
        "com.docker.network.bridge.name=hs-custom",
        "-o",
        "com.docker.network.driver.mtu=1400",
        "-o",
        "com.docker.network.bridge.host_binding_ipv4=127.0.0.1",
        "-o",
        "com.docker.network.bridge.enable_ip_masquerade=false",
        "opts",
    ]);
    assert_eq!(daemon.host_links("hs-custom"), ["hs-custom"]);
    start_web(&daemon, "web", "opts", &["-p", "8090:80"], "opts-page");
    let link = daemon.ok(&["exec", "web", "ip", "link", "show", "eth0"]);
    assert!(link.contains("mtu 1400"), "{link}");
    assert_eq!(daemon.ok(&["port", "web", "80"]).trim(), "127.0.0.1:8090");
    let page = fetch_in(&daemon.netns, "127.0.0.1", 8090);
    assert!(page.stdout.contains("opts-page"), "{page:?}");
    let table = daemon
        .on_host("nft", &["list", "table", "inet", "hoist"])
        .stdout;
    assert!(
        !table.contains("ip saddr 10.38.0.0/24 oifname != \"hs-custom\" masquerade"),
        "masquerade despite enable_ip_masquerade=false:\n{table}"
    );
    for (option, expected) in [
        ("com.docker.network.bridge.name=hs-custom", "already exists"),
        (
            "com.docker.network.bridge.enable_icc=maybe",
            "use true or false",
        ),
        (
            "com.docker.network.driver.mtu=abc",
            "com.docker.network.driver.mtu",
        ),
    ] {
        let refused = daemon.hoist(&["network", "create", "-o", option, "other"]);
        assert_eq!(refused.code, 1, "{option}: {refused:?}");
        assert!(
            refused.stderr.contains(expected),
            "{option}: {}",
            refused.stderr
        );
    }
    daemon.ok(&["rm", "-f", "web"]);
    daemon.ok(&["network", "rm", "opts"]);
    assert!(daemon.host_links("hs-custom").is_empty());
    daemon.assert_no_container_leftovers();
}

#[test]
fn containers_of_a_network_without_icc_cannot_reach_each_other() {
    let daemon = Daemon::with_busybox();
    let args = [
        "network",
        "create",
        "--subnet",
        "10.39.0.0/24",
        "-o",
        "com.docker.network.bridge.enable_icc=false",
        "quiet",
    ];
    if !std::path::Path::new("/proc/sys/net/bridge").exists() {
        // Without br_netfilter the kernel cannot filter bridged traffic.
        let refused = daemon.hoist(&args);
        assert!(
            refused.stderr.contains("modprobe br_netfilter"),
            "{refused:?}"
        );
        return;
    }
    daemon.ok(&args);
    daemon.ok(&["network", "create", "--subnet", "10.40.0.0/24", "chatty"]);
    // Served and reached on a network with icc, then joined to the quiet one.
    start_web(&daemon, "web", "chatty", &[], "quiet-page");
    daemon.ok(&["network", "connect", "quiet", "web"]);
    let quiet = container_ip(&daemon, "web", "quiet");
    let from_host = fetch_in(&daemon.netns, &quiet, 80);
    assert!(from_host.stdout.contains("quiet-page"), "{from_host:?}");
    let blocked = fetch(&daemon, "quiet", &quiet, 80);
    assert!(!blocked.stdout.contains("quiet-page"), "{blocked:?}");
    daemon.ok(&["rm", "-f", "web"]);
    daemon.ok(&["network", "rm", "quiet", "chatty"]);
    daemon.assert_no_container_leftovers();
}

#[test]
fn host_gateway_in_add_host_names_the_host_as_containers_reach_it() {
    let daemon = Daemon::with_busybox();
    // A page served by the host: a server in the daemon's namespace.
    let www = daemon.dir.join("host-www");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(www.join("index.html"), "hello-host\n").unwrap();
    struct Server(std::process::Child);
    impl Drop for Server {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _server = Server(
        Command::new("ip")
            .args([
                "netns",
                "exec",
                &daemon.netns,
                "busybox",
                "httpd",
                "-f",
                "-p",
                "8123",
                "-h",
            ])
            .arg(&www)
            .spawn()
            .unwrap(),
    );
    let networks: serde_json::Value =
        serde_json::from_str(&daemon.ok(&["network", "inspect", "bridge"])).unwrap();
    let gateway = networks[0]["IPAM"]["Config"][0]["Gateway"]
        .as_str()
        .unwrap()
        .to_string();
    let run = daemon.hoist(&[
        "run",
        "--rm",
        "--add-host",
        "host.docker.internal:host-gateway",
        "busybox",
        "sh",
        "-c",
        "grep host.docker.internal /etc/hosts; for i in 1 2 3 4 5; do wget -qO- http://host.docker.internal:8123/ && break; sleep 0.2; done",
    ]);
    assert!(
        run.stdout
            .contains(&format!("{gateway}\thost.docker.internal")),
        "{run:?}"
    );
    assert!(run.stdout.contains("hello-host"), "{run:?}");
    daemon.assert_run_refused(&["--add-host", "db:notanip"], "notanip");
    daemon.assert_no_container_leftovers();
}

#[test]
fn legacy_links_on_the_default_bridge_give_hosts_entries_and_variables() {
    let d = Daemon::with_busybox();
    d.ok(&[
        "run",
        "-d",
        "--name",
        "db",
        "--expose",
        "5432",
        "-e",
        "DB_USER=admin",
        "busybox",
        "sleep",
        "300",
    ]);
    let db = d.inspect("db");
    let ip = db["NetworkSettings"]["Networks"]["bridge"]["IPAddress"]
        .as_str()
        .unwrap()
        .to_string();
    let hostname = db["Config"]["Hostname"].as_str().unwrap().to_string();
    let run = d.hoist(&[
        "run",
        "--rm",
        "--name",
        "web",
        "--link",
        "db:database",
        "busybox",
        "sh",
        "-c",
        "grep database /etc/hosts; env | grep ^DATABASE_ | sort; ping -c 1 -W 2 database > /dev/null && echo reached",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!run.stderr.contains("resolve nowhere"), "{}", run.stderr);
    assert_eq!(
        run.stdout,
        format!(
            "{ip}\tdatabase {hostname} db\n\
             DATABASE_ENV_DB_USER=admin\n\
             DATABASE_NAME=/web/database\n\
             DATABASE_PORT=tcp://{ip}:5432\n\
             DATABASE_PORT_5432_TCP=tcp://{ip}:5432\n\
             DATABASE_PORT_5432_TCP_ADDR={ip}\n\
             DATABASE_PORT_5432_TCP_PORT=5432\n\
             DATABASE_PORT_5432_TCP_PROTO=tcp\n\
             reached\n"
        )
    );
    // A restarted linked container's new address reaches the running
    // linking container's /etc/hosts.
    d.ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "--link",
        "db:database",
        "busybox",
        "sleep",
        "300",
    ]);
    d.ok(&["stop", "-t", "1", "db"]);
    d.ok(&["run", "-d", "--name", "filler", "busybox", "sleep", "300"]);
    d.ok(&["start", "db"]);
    let moved = d.inspect("db")["NetworkSettings"]["Networks"]["bridge"]["IPAddress"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(
        moved, ip,
        "db kept its address; the filler should have taken it"
    );
    let wanted = format!("{moved}\tdatabase {hostname} db\n");
    let mut seen = String::new();
    for _ in 0..50 {
        seen = d.ok(&["exec", "web", "grep", "database", "/etc/hosts"]);
        if seen == wanted {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(seen, wanted);
    // Connected to another network while it runs, it keeps the entry.
    d.ok(&["network", "create", "extra"]);
    d.ok(&["network", "connect", "extra", "web"]);
    assert_eq!(
        d.ok(&["exec", "web", "grep", "database", "/etc/hosts"]),
        wanted
    );
    d.ok(&["network", "disconnect", "extra", "web"]);
    d.ok(&["network", "rm", "extra"]);
    // A link to a container that does not run fails the start, as Docker's.
    d.ok(&["stop", "-t", "1", "db"]);
    let refused = d.hoist(&["run", "--rm", "--link", "db", "busybox", "true"]);
    assert_eq!(refused.code, 125, "{}", refused.stderr);
    assert!(
        refused
            .stderr
            .contains("Cannot link to a non running container: /db AS /"),
        "{}",
        refused.stderr
    );
    d.ok(&["rm", "-f", "db", "web", "filler"]);
    d.assert_no_container_leftovers();
}
