//! hoist's nftables table loaded for real, in throwaway network namespaces,
//! never in the host's own. Needs root (as CI runs it).

use std::io::Write;
use std::process::{Command, Stdio};
use std::thread;

use hoist_netplugin::firewall::{
    self, FirewallError, NetworkRules, Protocol, PublishedPort, Ruleset,
};
use nftables::expr::Expression;
use nftables::schema::{NfListObject, NfObject, Nftables};
use nftables::stmt::{NATFamily, Statement};
use nftables::types::{NfChainPolicy, NfChainType, NfHook};
use nix::sched::{CloneFlags, unshare};
use nix::unistd::Uid;

/// Runs `f` on a new thread in a new, empty network namespace. The
/// namespace is that thread's alone (and that of the `nft` it starts) and
/// the kernel frees it when the thread ends, whatever happens: nothing can
/// be left behind, even on panic, and the host's ruleset is never touched.
fn in_throwaway_netns<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    assert!(
        Uid::effective().is_root(),
        "the firewall tests load nftables rules and must run as root (as CI does)"
    );
    thread::scope(|scope| {
        scope
            .spawn(|| {
                unshare(CloneFlags::CLONE_NEWNET).expect("unshare(CLONE_NEWNET)");
                assert_ne!(
                    netns_of("/proc/thread-self"),
                    netns_of("/proc/self"),
                    "the test thread is still in the process's network namespace"
                );
                f()
            })
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

fn netns_of(proc: &str) -> std::path::PathBuf {
    std::fs::read_link(format!("{proc}/ns/net")).unwrap()
}

/// `nft ARGS`, which must succeed; its output.
fn nft(args: &[&str]) -> String {
    let output = Command::new("nft").args(args).output().unwrap();
    assert!(
        output.status.success(),
        "nft {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// `nft -f -` with `script` as input, which must succeed.
fn nft_script(script: &str) {
    let mut child = Command::new("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success(), "nft -f - <<< {script}");
}

fn table_exists(family_and_name: &str) -> bool {
    let tables = nft(&["list", "tables"]);
    tables
        .lines()
        .any(|l| l == format!("table {family_and_name}"))
}

/// The kernel's view of `table inet NAME`, as `nft -j` prints it.
fn listed(name: &str) -> Vec<NfListObject<'static>> {
    let json = nft(&["-j", "list", "table", "inet", name]);
    let listed: Nftables<'static> = serde_json::from_str(&json).unwrap();
    listed
        .objects
        .iter()
        .filter_map(|o| match o {
            NfObject::ListObject(object) => Some(object.clone()),
            NfObject::CmdObject(_) => None,
        })
        .collect()
}

/// Chains as (name, type, hook, priority, policy).
type ChainSummary = (String, NfChainType, NfHook, i32, NfChainPolicy);

fn chains(table: &[NfListObject]) -> Vec<ChainSummary> {
    table
        .iter()
        .filter_map(|o| match o {
            NfListObject::Chain(c) => {
                Some((c.name.to_string(), c._type?, c.hook?, c.prio?, c.policy?))
            }
            _ => None,
        })
        .collect()
}

/// The names of the table's sets (hoist's has none).
fn sets(table: &[NfListObject]) -> Vec<String> {
    table
        .iter()
        .filter_map(|o| match o {
            NfListObject::Set(s) => Some(s.name.to_string()),
            _ => None,
        })
        .collect()
}

/// The statements of every rule of `chain`, in order.
fn rules<'a>(table: &'a [NfListObject<'static>], chain: &str) -> Vec<&'a [Statement<'static>]> {
    table
        .iter()
        .filter_map(|o| match o {
            NfListObject::Rule(r) if r.chain == chain => Some(&*r.expr),
            _ => None,
        })
        .collect()
}

/// Every DNAT target of `chain` as "family addr:port".
fn dnat_targets(table: &[NfListObject<'static>], chain: &str) -> Vec<String> {
    rules(table, chain)
        .iter()
        .flat_map(|r| r.iter())
        .filter_map(|s| match s {
            Statement::DNAT(Some(nat)) => Some(nat),
            _ => None,
        })
        .map(|nat| {
            let family = match nat.family {
                Some(NATFamily::IP) => "ip",
                Some(NATFamily::IP6) => "ip6",
                None => "none",
            };
            let addr = match &nat.addr {
                Some(Expression::String(a)) => a.to_string(),
                other => panic!("unexpected DNAT address {other:?}"),
            };
            let port = match &nat.port {
                Some(Expression::Number(p)) => *p,
                other => panic!("unexpected DNAT port {other:?}"),
            };
            format!("{family} {addr}:{port}")
        })
        .collect()
}

/// How many rules of `chain` end with `verdict`.
fn ending_with(
    table: &[NfListObject<'static>],
    chain: &str,
    verdict: fn(&Statement) -> bool,
) -> usize {
    rules(table, chain)
        .iter()
        .filter(|r| r.last().is_some_and(verdict))
        .count()
}

fn is_masquerade(s: &Statement) -> bool {
    matches!(s, Statement::Masquerade(_))
}

fn is_drop(s: &Statement) -> bool {
    matches!(s, Statement::Drop(_))
}

/// The rule lines of `chain` in `nft list` output.
fn text_rules(listing: &str, chain: &str) -> Vec<String> {
    listing
        .split(&format!("chain {chain} {{"))
        .nth(1)
        .unwrap_or_else(|| panic!("no chain {chain} in\n{listing}"))
        .lines()
        .skip(2)
        .map(str::trim)
        .take_while(|l| *l != "}")
        .map(String::from)
        .collect()
}

fn network(bridge: &str, subnets: &[&str], internal: bool) -> NetworkRules {
    NetworkRules {
        bridge: bridge.into(),
        subnets: subnets.iter().map(|s| s.parse().unwrap()).collect(),
        internal,
        masquerade: !internal,
        icc: true,
    }
}

fn port(
    protocol: Protocol,
    host: Option<&str>,
    host_port: u16,
    to: (&str, u16),
    bridge: &str,
) -> PublishedPort {
    PublishedPort {
        protocol,
        host_ip: host.map(|h| h.parse().unwrap()),
        host_port,
        container_ip: to.0.parse().unwrap(),
        container_port: to.1,
        bridge: bridge.into(),
    }
}

fn first_ruleset() -> Ruleset {
    Ruleset {
        table: "hoist".into(),
        networks: vec![
            network("hs0", &["10.89.0.0/24", "fd00:89::/64"], false),
            network("hs-1a2b3c4d5e6f", &["10.89.1.0/24"], true),
        ],
        ports: vec![
            port(Protocol::Tcp, None, 8080, ("10.89.0.2", 80), "hs0"),
            port(
                Protocol::Udp,
                Some("127.0.0.1"),
                5353,
                ("10.89.0.3", 53),
                "hs0",
            ),
            port(Protocol::Tcp, None, 8443, ("fd00:89::2", 443), "hs0"),
        ],
    }
}

fn second_ruleset() -> Ruleset {
    Ruleset {
        table: "hoist".into(),
        networks: vec![network("hs5", &["10.90.0.0/24"], false)],
        ports: vec![port(Protocol::Sctp, None, 9090, ("10.90.0.7", 90), "hs5")],
    }
}

const OTHER_TABLE: &str = "
add table inet other
add chain inet other forward { type filter hook forward priority 0; policy accept; }
add rule inet other forward iifname \"hs0\" counter accept
add set inet other bridges { type ifname; elements = { \"hs0\" }; }
";

fn check_first(table: &[NfListObject<'static>]) {
    assert_eq!(
        chains(table),
        vec![
            (
                "prerouting".into(),
                NfChainType::NAT,
                NfHook::Prerouting,
                -100,
                NfChainPolicy::Accept
            ),
            (
                "output".into(),
                NfChainType::NAT,
                NfHook::Output,
                -100,
                NfChainPolicy::Accept
            ),
            (
                "postrouting".into(),
                NfChainType::NAT,
                NfHook::Postrouting,
                100,
                NfChainPolicy::Accept
            ),
            (
                "forward".into(),
                NfChainType::Filter,
                NfHook::Forward,
                0,
                NfChainPolicy::Accept
            ),
        ]
    );
    assert_eq!(sets(table), Vec::<String>::new());
    let dnats = ["ip 10.89.0.2:80", "ip 10.89.0.3:53", "ip6 fd00:89::2:443"];
    assert_eq!(dnat_targets(table, "prerouting"), dnats);
    assert_eq!(dnat_targets(table, "output"), dnats);
    // hs0: from the host, hairpin v4 and v6, outbound v4 and v6; the
    // internal network none.
    assert_eq!(ending_with(table, "postrouting", is_masquerade), 5);
    assert_eq!(rules(table, "postrouting").len(), 5);
    // Internal network sealed both ways, hs0 closed to what enters it.
    assert_eq!(ending_with(table, "forward", is_drop), 3);
}

fn check_first_text(listing: &str) {
    assert_eq!(
        text_rules(listing, "prerouting"),
        [
            "meta nfproto ipv4 fib daddr type local tcp dport 8080 dnat ip to 10.89.0.2:80",
            "ip daddr 127.0.0.1 udp dport 5353 dnat ip to 10.89.0.3:53",
            "meta nfproto ipv6 fib daddr type local tcp dport 8443 dnat ip6 to [fd00:89::2]:443",
        ]
    );
    assert_eq!(
        text_rules(listing, "output"),
        text_rules(listing, "prerouting")
    );
    assert_eq!(
        text_rules(listing, "postrouting"),
        [
            "oifname \"hs0\" fib saddr type local masquerade",
            "ct status dnat oifname \"hs0\" ip saddr 10.89.0.0/24 masquerade",
            "ip saddr 10.89.0.0/24 oifname != \"hs0\" masquerade",
            "ct status dnat oifname \"hs0\" ip6 saddr fd00:89::/64 masquerade",
            "ip6 saddr fd00:89::/64 oifname != \"hs0\" masquerade",
        ]
    );
    assert_eq!(
        text_rules(listing, "forward"),
        [
            "iifname \"hs-1a2b3c4d5e6f\" oifname != \"hs-1a2b3c4d5e6f\" drop",
            "oifname \"hs-1a2b3c4d5e6f\" iifname != \"hs-1a2b3c4d5e6f\" drop",
            "ct state established,related accept",
            "ct status dnat accept",
            "iifname != { \"hs0\", \"hs-1a2b3c4d5e6f\" } oifname \"hs0\" ip daddr 10.89.0.2 tcp dport 80 accept",
            "iifname != { \"hs0\", \"hs-1a2b3c4d5e6f\" } oifname \"hs0\" ip daddr 10.89.0.3 udp dport 53 accept",
            "iifname != { \"hs0\", \"hs-1a2b3c4d5e6f\" } oifname \"hs0\" ip6 daddr fd00:89::2 tcp dport 443 accept",
            "oifname \"hs0\" iifname != \"hs0\" drop",
        ]
    );
}

fn check_second(table: &[NfListObject<'static>]) {
    assert_eq!(chains(table).len(), 4);
    assert_eq!(sets(table), Vec::<String>::new());
    assert_eq!(dnat_targets(table, "prerouting"), ["ip 10.90.0.7:90"]);
    assert_eq!(dnat_targets(table, "output"), ["ip 10.90.0.7:90"]);
    assert_eq!(ending_with(table, "postrouting", is_masquerade), 3);
    assert_eq!(ending_with(table, "forward", is_drop), 1);
    let everything = format!("{table:?}");
    for gone in ["hs0", "hs-1a2b3c4d5e6f", "10.89.", "fd00:89"] {
        assert!(
            !everything.contains(gone),
            "{gone} is still in {everything}"
        );
    }
}

#[test]
fn firewall_applies_replaces_and_removes_only_its_own_table() {
    in_throwaway_netns(|| {
        nft_script(OTHER_TABLE);
        let other = nft(&["list", "table", "inet", "other"]);
        let untouched = || assert_eq!(nft(&["list", "table", "inet", "other"]), other);

        firewall::apply(&first_ruleset()).unwrap();
        check_first(&listed("hoist"));
        let listing = nft(&["list", "table", "inet", "hoist"]);
        eprintln!("{listing}");
        check_first_text(&listing);
        untouched();

        firewall::apply(&first_ruleset()).unwrap();
        assert_eq!(nft(&["list", "table", "inet", "hoist"]), listing);

        firewall::apply(&second_ruleset()).unwrap();
        check_second(&listed("hoist"));
        untouched();

        firewall::remove("hoist").unwrap();
        assert!(!table_exists("inet hoist"));
        untouched();
        firewall::remove("hoist").unwrap();
        untouched();
    });
}

#[test]
fn firewall_refused_batch_leaves_the_table_as_it_was() {
    in_throwaway_netns(|| {
        firewall::apply(&second_ruleset()).unwrap();
        let before = nft(&["list", "table", "inet", "hoist"]);
        let mut bad = first_ruleset();
        bad.networks[0].bridge = "a-bridge-name-far-too-long".into();
        bad.ports.clear();
        let err = firewall::apply(&bad).unwrap_err();
        match &err {
            FirewallError::Nft { stderr, .. } => {
                assert!(stderr.contains("exceeds maximum length"), "{err}")
            }
            other => panic!("expected nft to refuse the batch, got {other}"),
        }
        assert_eq!(nft(&["list", "table", "inet", "hoist"]), before);
    });
}

#[test]
fn firewall_tables_of_two_daemons_live_side_by_side() {
    in_throwaway_netns(|| {
        let mut a = first_ruleset();
        a.table = "hoist_a".into();
        let mut b = second_ruleset();
        b.table = "hoist_b".into();
        firewall::apply(&a).unwrap();
        firewall::apply(&b).unwrap();
        check_first(&listed("hoist_a"));
        check_second(&listed("hoist_b"));
        firewall::remove("hoist_a").unwrap();
        assert!(!table_exists("inet hoist_a"));
        check_second(&listed("hoist_b"));
    });
}

/// Named network namespaces (`ip netns add`), deleted when dropped, even
/// on panic. Each test gives its own `test` name, so that tests running
/// side by side get namespaces of their own.
struct Namespaces(Vec<String>);

impl Namespaces {
    fn new(test: &str, names: &[&str]) -> Self {
        let prefix = format!("hoist-fwtest-{}-{test}", std::process::id());
        let mut namespaces = Namespaces(Vec::new());
        for name in names {
            let full = format!("{prefix}-{name}");
            ip(&["netns", "add", &full]);
            namespaces.0.push(full);
            namespaces.ip(name, &["link", "set", "lo", "up"]);
        }
        namespaces
    }

    fn name(&self, short: &str) -> &str {
        let suffix = format!("-{short}");
        self.0.iter().find(|n| n.ends_with(&suffix)).unwrap()
    }

    /// `ip -n NAMESPACE ARGS`.
    fn ip(&self, short: &str, args: &[&str]) {
        ip(&[&["-n", self.name(short)], args].concat());
    }

    fn sysctl(&self, short: &str, key: &str) {
        let path = format!("/proc/sys/{}", key.replace('.', "/"));
        self.run_in(short, move || std::fs::write(path, "1").unwrap());
    }

    /// Runs `f` on a thread that entered namespace `short`.
    fn run_in<T: Send + 'static>(&self, short: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
        self.spawn_in(short, f)
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    }

    fn spawn_in<T: Send + 'static>(
        &self,
        short: &str,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> thread::JoinHandle<T> {
        let file = std::fs::File::open(format!("/run/netns/{}", self.name(short))).unwrap();
        thread::spawn(move || {
            nix::sched::setns(&file, CloneFlags::CLONE_NEWNET).unwrap();
            f()
        })
    }
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        for name in &self.0 {
            let _ = Command::new("ip").args(["netns", "del", name]).status();
        }
    }
}

fn ip(args: &[&str]) {
    let status = Command::new("ip").args(args).status().unwrap();
    assert!(status.success(), "ip {args:?}");
}

/// The table for [`plumb`]'s host: hs0 and hs1, internal hs2; c1's port
/// 80 published on 8080, c4's on 8081, c2's on 127.0.0.1:8082.
fn plumbed_rules() -> Ruleset {
    Ruleset {
        table: "hoist".into(),
        networks: vec![
            network("hs0", &["10.89.0.0/24"], false),
            network("hs1", &["10.89.1.0/24"], false),
            network("hs2", &["10.89.2.0/24"], true),
        ],
        ports: vec![
            port(Protocol::Tcp, None, 8080, ("10.89.0.2", 80), "hs0"),
            port(Protocol::Tcp, None, 8081, ("10.89.2.2", 80), "hs2"),
            port(
                Protocol::Tcp,
                Some("127.0.0.1"),
                8082,
                ("10.89.0.3", 80),
                "hs0",
            ),
        ],
    }
}

/// A host `h` with bridges hs0, hs1 and internal hs2 (10.89.N.1/24), an
/// outside machine `o` (10.0.0.2, no route to the bridges) on the host's
/// eth0 (10.0.0.1), containers c1, c2 on hs0 (.2, .3), c3 on hs1, c4 on hs2.
fn plumb(ns: &Namespaces) {
    ns.sysctl("h", "net.ipv4.ip_forward");
    for b in 0..3 {
        let bridge = format!("hs{b}");
        ns.ip("h", &["link", "add", &bridge, "type", "bridge"]);
        ns.ip(
            "h",
            &["addr", "add", &format!("10.89.{b}.1/24"), "dev", &bridge],
        );
        ns.ip("h", &["link", "set", &bridge, "up"]);
        ns.sysctl("h", &format!("net.ipv4.conf.{bridge}.route_localnet"));
    }
    link(ns, ("h", "eth0"), "o", "10.0.0.2/24", None);
    ns.ip("h", &["addr", "add", "10.0.0.1/24", "dev", "eth0"]);
    ns.ip("h", &["link", "set", "eth0", "up"]);
    for (c, bridge, addr) in [
        ("c1", "hs0", "10.89.0.2"),
        ("c2", "hs0", "10.89.0.3"),
        ("c3", "hs1", "10.89.1.2"),
        ("c4", "hs2", "10.89.2.2"),
    ] {
        let gateway = format!("{}.1", addr.rsplit_once('.').unwrap().0);
        link(
            ns,
            ("h", &format!("v{c}")),
            c,
            &format!("{addr}/24"),
            Some(&gateway),
        );
        ns.ip(
            "h",
            &["link", "set", &format!("v{c}"), "master", bridge, "up"],
        );
    }
}

/// A veth from `host.0` (named `host.1` there, left down) to `peer`'s eth0
/// with `addr` and maybe a default route.
fn link(ns: &Namespaces, host: (&str, &str), peer: &str, addr: &str, gateway: Option<&str>) {
    let peer_ns = ns.name(peer).to_string();
    ns.ip(
        host.0,
        &[
            "link", "add", host.1, "type", "veth", "peer", "name", "eth0", "netns", &peer_ns,
        ],
    );
    ns.ip(peer, &["addr", "add", addr, "dev", "eth0"]);
    ns.ip(peer, &["link", "set", "eth0", "up"]);
    if let Some(gateway) = gateway {
        ns.ip(peer, &["route", "add", "default", "via", gateway]);
    }
}

/// A TCP server in `short` on `port` telling each client its address as
/// seen there. It lives until the test process ends.
fn who_am_i_server(ns: &Namespaces, short: &str, port: u16) {
    let (ready, bound) = std::sync::mpsc::channel();
    ns.spawn_in(short, move || {
        let listener = std::net::TcpListener::bind(("0.0.0.0", port)).unwrap();
        ready.send(()).unwrap();
        for mut client in listener.incoming().flatten() {
            let peer = client.peer_addr().map(|a| a.ip().to_string());
            let _ = writeln!(client, "{}", peer.unwrap_or_default());
        }
    });
    bound.recv().unwrap();
}

/// What the server at `addr` sees `from` as, or why it could not be asked.
fn seen_as(ns: &Namespaces, from: &str, addr: &str) -> String {
    let addr: std::net::SocketAddr = addr.parse().unwrap();
    ns.run_in(from, move || {
        use std::io::Read;
        let timeout = std::time::Duration::from_millis(700);
        match std::net::TcpStream::connect_timeout(&addr, timeout) {
            Ok(mut stream) => {
                let mut answer = String::new();
                stream.set_read_timeout(Some(timeout)).unwrap();
                let _ = stream.read_to_string(&mut answer);
                answer.trim().to_string()
            }
            Err(e) => format!("{:?}", e.kind()),
        }
    })
}

/// Runs every (what, from, to, expected) check, and fails with every check
/// whose server did not see `from` as `expected`.
fn check_traffic(ns: &Namespaces, checks: &[(&str, &str, &str, &str)]) {
    let wrong: Vec<String> = checks
        .iter()
        .filter_map(|(what, from, to, expected)| {
            let seen = seen_as(ns, from, to);
            (seen != *expected)
                .then(|| format!("{what}: {from} -> {to}: {seen}, expected {expected}"))
        })
        .collect();
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn firewall_traffic_follows_the_rules() {
    assert!(Uid::effective().is_root(), "needs root (as CI runs it)");
    let ns = Namespaces::new("traffic", &["h", "o", "c1", "c2", "c3", "c4"]);
    plumb(&ns);
    for (short, port) in [("c1", 80), ("c2", 80), ("c4", 80), ("o", 81)] {
        who_am_i_server(&ns, short, port);
    }
    ns.run_in("h", || firewall::apply(&plumbed_rules()))
        .unwrap();

    let checks = [
        (
            "host 127.0.0.1 to a published port",
            "h",
            "127.0.0.1:8080",
            "10.89.0.1",
        ),
        (
            "host's own address to a published port",
            "h",
            "10.0.0.1:8080",
            "10.89.0.1",
        ),
        (
            "outside to a published port keeps its source",
            "o",
            "10.0.0.1:8080",
            "10.0.0.2",
        ),
        (
            "hairpin through a host address",
            "c2",
            "10.0.0.1:8080",
            "10.89.0.1",
        ),
        (
            "hairpin through the gateway",
            "c2",
            "10.89.0.1:8080",
            "10.89.0.1",
        ),
        ("outbound masquerade", "c1", "10.0.0.2:81", "10.0.0.1"),
        ("same bridge, direct", "c1", "10.89.0.3:80", "10.89.0.2"),
        (
            "another network, direct: isolated",
            "c3",
            "10.89.0.2:80",
            "TimedOut",
        ),
        (
            "another network, published port",
            "c3",
            "10.0.0.1:8080",
            "10.89.0.1",
        ),
        (
            "internal network, out: sealed",
            "c4",
            "10.0.0.2:81",
            "TimedOut",
        ),
        (
            "internal network, in: sealed",
            "c1",
            "10.89.2.2:80",
            "TimedOut",
        ),
        (
            "port on an internal network: not forwarded",
            "h",
            "127.0.0.1:8081",
            "ConnectionRefused",
        ),
        (
            "port on 127.0.0.1, from the host",
            "h",
            "127.0.0.1:8082",
            "10.89.0.1",
        ),
        (
            "port on 127.0.0.1, from outside",
            "o",
            "10.0.0.1:8082",
            "ConnectionRefused",
        ),
    ];
    check_traffic(&ns, &checks);

    ns.run_in("h", || firewall::remove("hoist")).unwrap();
    assert_eq!(
        seen_as(&ns, "c3", "10.89.0.2:80"),
        "10.89.1.2",
        "isolation came from the table"
    );
}

/// As with Docker 28: a machine with a route to a bridge's subnet through
/// the host reaches a container's published port (through the host) but
/// none of its unpublished ones; the host itself still reaches them.
#[test]
fn firewall_direct_routing_reaches_only_published_ports() {
    assert!(Uid::effective().is_root(), "needs root (as CI runs it)");
    let ns = Namespaces::new("direct", &["h", "o", "c1", "c2", "c3", "c4"]);
    plumb(&ns);
    // c1's port 80 is published on 8080, its port 90 is not.
    for (short, port) in [("c1", 80), ("c1", 90), ("o", 81)] {
        who_am_i_server(&ns, short, port);
    }
    ns.ip("o", &["route", "add", "10.89.0.0/24", "via", "10.0.0.1"]);
    ns.run_in("h", || firewall::apply(&plumbed_rules()))
        .unwrap();

    check_traffic(
        &ns,
        &[
            (
                "outside, routed to an unpublished port: dropped",
                "o",
                "10.89.0.2:90",
                "TimedOut",
            ),
            (
                "outside to the published port",
                "o",
                "10.0.0.1:8080",
                "10.0.0.2",
            ),
            (
                "outside, routed to the published container port",
                "o",
                "10.89.0.2:80",
                "10.0.0.2",
            ),
            (
                "another network, direct to the published container port: dropped",
                "c3",
                "10.89.0.2:80",
                "TimedOut",
            ),
            (
                "host, direct to the unpublished port",
                "h",
                "10.89.0.2:90",
                "10.89.0.1",
            ),
            (
                "same bridge, direct to the unpublished port",
                "c2",
                "10.89.0.2:90",
                "10.89.0.3",
            ),
            (
                "another network, direct to the unpublished port: dropped",
                "c3",
                "10.89.0.2:90",
                "TimedOut",
            ),
            ("the container out", "c1", "10.0.0.2:81", "10.0.0.1"),
        ],
    );

    ns.run_in("h", || firewall::remove("hoist")).unwrap();
    assert_eq!(
        seen_as(&ns, "o", "10.89.0.2:90"),
        "10.0.0.2",
        "the route works: the drop came from the table"
    );
}
