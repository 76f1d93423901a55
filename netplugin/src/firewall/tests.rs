use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::*;

fn network(bridge: &str, subnets: &[&str]) -> NetworkRules {
    NetworkRules {
        bridge: bridge.into(),
        subnets: subnets.iter().map(|s| s.parse().unwrap()).collect(),
        internal: false,
        masquerade: true,
        icc: true,
    }
}

fn port(
    protocol: Protocol,
    host: Option<&str>,
    host_port: u16,
    to: &str,
    bridge: &str,
) -> PublishedPort {
    PublishedPort {
        protocol,
        host_ip: host.map(|h| h.parse().unwrap()),
        host_port,
        container_ip: to.parse().unwrap(),
        container_port: 80,
        bridge: bridge.into(),
    }
}

fn ruleset(networks: Vec<NetworkRules>, ports: Vec<PublishedPort>) -> Ruleset {
    Ruleset {
        table: "hoist".into(),
        networks,
        ports,
    }
}

/// The batch as JSON commands, e.g. `{"add": {"rule": {...}}}`.
fn commands(rules: &Ruleset) -> Vec<Value> {
    let batch = serde_json::to_value(render(rules).unwrap()).unwrap();
    batch["nftables"].as_array().unwrap().clone()
}

/// The statements of each rule added to `chain`, in order.
fn rules_of(rules: &Ruleset, chain: &str) -> Vec<Vec<Value>> {
    commands(rules)
        .iter()
        .filter_map(|c| c["add"].get("rule"))
        .filter(|r| r["chain"] == chain)
        .map(|r| r["expr"].as_array().unwrap().clone())
        .collect()
}

fn matches(left: Value, op: &str, right: Value) -> Value {
    json!({"match": {"op": op, "left": left, "right": right}})
}

fn meta(key: &str) -> Value {
    json!({"meta": {"key": key}})
}

fn fib(flag: &str) -> Value {
    json!({"fib": {"result": "type", "flags": [flag]}})
}

fn payload(protocol: &str, field: &str) -> Value {
    json!({"payload": {"protocol": protocol, "field": field}})
}

fn prefix(addr: &str, len: u32) -> Value {
    json!({"prefix": {"addr": addr, "len": len}})
}

fn dnat(family: &str, addr: &str, port: u16) -> Value {
    json!({"dnat": {"family": family, "addr": addr, "port": port}})
}

fn masquerade() -> Value {
    json!({"masquerade": null})
}

fn drop_verdict() -> Value {
    json!({"drop": null})
}

fn two_networks() -> Ruleset {
    let mut internal = network("hs-1a2b3c4d5e6f", &["10.89.1.0/24"]);
    internal.internal = true;
    ruleset(
        vec![network("hs0", &["10.89.0.0/24", "fd00:89::/64"]), internal],
        vec![port(Protocol::Tcp, None, 8080, "10.89.0.2", "hs0")],
    )
}

#[test]
fn the_batch_replaces_the_table_and_touches_nothing_else() {
    let commands = commands(&two_networks());
    let table = json!({"table": {"family": "inet", "name": "hoist"}});
    assert_eq!(commands[0], json!({"add": table}));
    assert_eq!(commands[1], json!({"delete": table}));
    assert_eq!(commands[2], json!({"add": table}));
    for command in &commands[3..] {
        let verb = command.as_object().unwrap();
        assert_eq!(verb.keys().collect::<Vec<_>>(), ["add"], "{command}");
        let object = verb["add"].as_object().unwrap().values().next().unwrap();
        assert_eq!(object["family"], "inet", "{command}");
        assert_eq!(object["table"], "hoist", "{command}");
    }
}

#[test]
fn the_table_name_is_the_rulesets() {
    let mut rules = two_networks();
    rules.table = "hoist_test".into();
    let commands = commands(&rules);
    assert_eq!(commands[0]["add"]["table"]["name"], "hoist_test");
    assert!(commands[3..].iter().all(|c| {
        c["add"]
            .as_object()
            .unwrap()
            .values()
            .all(|o| o["table"] == "hoist_test")
    }));
}

#[test]
fn four_base_chains_all_accepting_by_default() {
    let chains: Vec<Value> = commands(&two_networks())
        .iter()
        .filter_map(|c| c["add"].get("chain").cloned())
        .collect();
    let expected = [
        ("prerouting", "nat", "prerouting", -100),
        ("output", "nat", "output", -100),
        ("postrouting", "nat", "postrouting", 100),
        ("forward", "filter", "forward", 0),
    ];
    assert_eq!(chains.len(), expected.len());
    for (chain, (name, kind, hook, prio)) in chains.iter().zip(expected) {
        assert_eq!(chain["name"], name);
        assert_eq!(chain["type"], kind);
        assert_eq!(chain["hook"], hook);
        assert_eq!(chain["prio"], prio);
        assert_eq!(chain["policy"], "accept");
    }
}

#[test]
fn the_batch_adds_only_the_table_its_chains_and_their_rules() {
    let commands = commands(&two_networks());
    let kinds: BTreeSet<&str> = commands[3..]
        .iter()
        .flat_map(|c| c["add"].as_object().unwrap().keys())
        .map(String::as_str)
        .collect();
    assert_eq!(kinds, BTreeSet::from(["chain", "rule"]));
    let text = serde_json::to_string(&commands).unwrap();
    assert!(!text.contains('@'), "a rule refers to a set: {text}");
}

#[test]
fn no_networks_give_a_table_that_only_accepts() {
    let rules = ruleset(vec![], vec![]);
    let chains = commands(&rules)
        .iter()
        .filter(|c| c["add"].get("chain").is_some())
        .count();
    assert_eq!(chains, 4);
    for chain in ["prerouting", "output", "postrouting"] {
        assert!(rules_of(&rules, chain).is_empty(), "{chain}");
    }
    let forward = rules_of(&rules, "forward");
    assert_eq!(forward.len(), 2, "{forward:?}");
    assert!(
        forward
            .iter()
            .all(|r| r.last() == Some(&json!({"accept": null}))),
        "{forward:?}"
    );
}

#[test]
fn every_network_but_the_internal_ones_drops_what_enters_it_in_order() {
    let mut rules = two_networks();
    rules.networks.push(network("hs5", &["10.90.0.0/24"]));
    let entering = |bridge: &str| {
        vec![
            matches(meta("oifname"), "==", json!(bridge)),
            matches(meta("iifname"), "!=", json!(bridge)),
            drop_verdict(),
        ]
    };
    let forward = rules_of(&rules, "forward");
    assert_eq!(forward.len(), 7, "{forward:?}");
    assert_eq!(forward[5..], [entering("hs0"), entering("hs5")]);
    // The internal network's only rule of that form is its own sealing,
    // before the accepts.
    let internal = entering("hs-1a2b3c4d5e6f");
    let at: Vec<usize> = (0..forward.len())
        .filter(|&i| forward[i] == internal)
        .collect();
    assert_eq!(at, [1]);
}

#[test]
fn a_port_on_every_address_is_dnated_in_prerouting_and_output() {
    let expected = vec![
        matches(meta("nfproto"), "==", json!("ipv4")),
        matches(fib("daddr"), "==", json!("local")),
        matches(payload("tcp", "dport"), "==", json!(8080)),
        dnat("ip", "10.89.0.2", 80),
    ];
    let rules = two_networks();
    assert_eq!(rules_of(&rules, "prerouting"), vec![expected.clone()]);
    assert_eq!(rules_of(&rules, "output"), vec![expected]);
}

#[test]
fn a_port_on_one_host_address_matches_only_that_address() {
    let mut rules = two_networks();
    rules.ports = vec![port(
        Protocol::Udp,
        Some("127.0.0.1"),
        5353,
        "10.89.0.3",
        "hs0",
    )];
    let expected = vec![
        matches(payload("ip", "daddr"), "==", json!("127.0.0.1")),
        matches(payload("udp", "dport"), "==", json!(5353)),
        dnat("ip", "10.89.0.3", 80),
    ];
    assert_eq!(rules_of(&rules, "prerouting"), vec![expected.clone()]);
    assert_eq!(rules_of(&rules, "output"), vec![expected]);
}

#[test]
fn an_ipv6_container_gets_ipv6_dnat_only() {
    let mut rules = two_networks();
    rules.ports = vec![
        port(Protocol::Sctp, None, 9000, "fd00:89::2", "hs0"),
        port(Protocol::Tcp, Some("2001:db8::1"), 443, "fd00:89::2", "hs0"),
    ];
    assert_eq!(
        rules_of(&rules, "prerouting"),
        vec![
            vec![
                matches(meta("nfproto"), "==", json!("ipv6")),
                matches(fib("daddr"), "==", json!("local")),
                matches(payload("sctp", "dport"), "==", json!(9000)),
                dnat("ip6", "fd00:89::2", 80),
            ],
            vec![
                matches(payload("ip6", "daddr"), "==", json!("2001:db8::1")),
                matches(payload("tcp", "dport"), "==", json!(443)),
                dnat("ip6", "fd00:89::2", 80),
            ],
        ]
    );
}

#[test]
fn a_host_address_of_the_other_family_is_refused() {
    let mut rules = two_networks();
    rules.ports = vec![port(Protocol::Tcp, Some("::1"), 8080, "10.89.0.2", "hs0")];
    let err = render(&rules).unwrap_err();
    assert!(
        matches!(
            err,
            FirewallError::FamilyMismatch {
                host_port: 8080,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("::1"), "{err}");
}

#[test]
fn a_port_on_an_unknown_bridge_is_refused() {
    let mut rules = two_networks();
    rules.ports = vec![port(Protocol::Tcp, None, 8080, "10.99.0.2", "hs9")];
    let err = render(&rules).unwrap_err();
    assert!(
        matches!(&err, FirewallError::UnknownBridge { bridge, .. } if bridge == "hs9"),
        "{err}"
    );
}

#[test]
fn ports_on_an_internal_network_are_not_forwarded() {
    let mut rules = two_networks();
    rules.ports = vec![port(
        Protocol::Tcp,
        None,
        8081,
        "10.89.1.2",
        "hs-1a2b3c4d5e6f",
    )];
    assert!(rules_of(&rules, "prerouting").is_empty());
    assert!(rules_of(&rules, "output").is_empty());
}

#[test]
fn a_masquerading_network_gets_local_hairpin_and_outbound_masquerade() {
    let rules = ruleset(
        vec![network("hs0", &["10.89.0.0/24", "fd00:89::/64"])],
        vec![],
    );
    let oif = |op, bridge: &str| matches(meta("oifname"), op, json!(bridge));
    let dnated = matches(json!({"ct": {"key": "status"}}), "in", json!("dnat"));
    let v4 = matches(payload("ip", "saddr"), "==", prefix("10.89.0.0", 24));
    let v6 = matches(payload("ip6", "saddr"), "==", prefix("fd00:89::", 64));
    assert_eq!(
        rules_of(&rules, "postrouting"),
        vec![
            vec![
                oif("==", "hs0"),
                matches(fib("saddr"), "==", json!("local")),
                masquerade()
            ],
            vec![dnated.clone(), oif("==", "hs0"), v4.clone(), masquerade()],
            vec![v4, oif("!=", "hs0"), masquerade()],
            vec![dnated, oif("==", "hs0"), v6.clone(), masquerade()],
            vec![v6, oif("!=", "hs0"), masquerade()],
        ]
    );
}

#[test]
fn masquerade_off_drops_only_the_outbound_rule() {
    let mut rules = ruleset(vec![network("hs0", &["10.89.0.0/24"])], vec![]);
    rules.networks[0].masquerade = false;
    let postrouting = rules_of(&rules, "postrouting");
    assert_eq!(postrouting.len(), 2, "{postrouting:?}");
    let outbound = matches(meta("oifname"), "!=", json!("hs0"));
    assert!(postrouting.iter().all(|r| !r.contains(&outbound)));
}

#[test]
fn a_subnet_given_by_a_host_address_masquerades_its_network() {
    let rules = ruleset(vec![network("hs0", &["10.89.0.1/24"])], vec![]);
    let v4 = matches(payload("ip", "saddr"), "==", prefix("10.89.0.0", 24));
    assert!(
        rules_of(&rules, "postrouting")
            .iter()
            .any(|r| r.contains(&v4))
    );
}

#[test]
fn an_internal_network_gets_no_masquerade() {
    let postrouting = rules_of(&two_networks(), "postrouting");
    assert!(!postrouting.is_empty());
    let text = serde_json::to_string(&postrouting).unwrap();
    assert!(!text.contains("hs-1a2b3c4d5e6f"), "{text}");
    assert!(!text.contains("10.89.1.0"), "{text}");
}

#[test]
fn forward_seals_internal_networks_then_accepts_then_drops_what_enters_a_bridge() {
    let iif = |op, bridge: &str| matches(meta("iifname"), op, json!(bridge));
    let oif = |op, bridge: &str| matches(meta("oifname"), op, json!(bridge));
    let internal = "hs-1a2b3c4d5e6f";
    assert_eq!(
        rules_of(&two_networks(), "forward"),
        vec![
            vec![iif("==", internal), oif("!=", internal), drop_verdict()],
            vec![oif("==", internal), iif("!=", internal), drop_verdict()],
            vec![
                matches(
                    json!({"ct": {"key": "state"}}),
                    "in",
                    json!(["established", "related"])
                ),
                json!({"accept": null}),
            ],
            vec![
                matches(json!({"ct": {"key": "status"}}), "in", json!("dnat")),
                json!({"accept": null}),
            ],
            vec![
                matches(meta("iifname"), "!=", json!({"set": ["hs0", internal]})),
                oif("==", "hs0"),
                matches(payload("ip", "daddr"), "==", json!("10.89.0.2")),
                matches(payload("tcp", "dport"), "==", json!(80)),
                json!({"accept": null}),
            ],
            vec![oif("==", "hs0"), iif("!=", "hs0"), drop_verdict()],
        ]
    );
}

#[test]
fn a_quiet_network_still_drops_what_enters_it() {
    let mut rules = ruleset(vec![network("hs0", &["10.89.0.0/24"])], vec![]);
    rules.networks[0].masquerade = false;
    let forward = rules_of(&rules, "forward");
    assert_eq!(forward.len(), 3, "{forward:?}");
    assert_eq!(
        forward[2],
        [
            matches(meta("oifname"), "==", json!("hs0")),
            matches(meta("iifname"), "!=", json!("hs0")),
            drop_verdict(),
        ]
    );
}

#[test]
fn removal_adds_then_deletes_the_table_only() {
    let batch = serde_json::to_value(rules::removal("hoist")).unwrap();
    let table = json!({"table": {"family": "inet", "name": "hoist"}});
    assert_eq!(
        batch,
        json!({"nftables": [{"add": table}, {"delete": table}]})
    );
}

#[test]
fn protocols_are_named_as_nft_and_docker_name_them() {
    let names: Vec<String> = [Protocol::Tcp, Protocol::Udp, Protocol::Sctp]
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(names, ["tcp", "udp", "sctp"]);
}

#[test]
fn a_network_without_icc_drops_traffic_within_its_bridge_first() {
    let mut rules = two_networks();
    rules.networks[0].icc = false;
    let forward = rules_of(&rules, "forward");
    assert_eq!(
        forward[0],
        [
            matches(meta("iifname"), "==", json!("hs0")),
            matches(meta("oifname"), "==", json!("hs0")),
            drop_verdict(),
        ]
    );
    let with_icc = rules_of(&two_networks(), "forward");
    assert_eq!(forward[1..], with_icc[..], "only that rule is added");
}
