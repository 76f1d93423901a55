//! The batch itself: table, chains and rules as `nftables` schema
//! objects. Each rule is a list of statements; the comment above each
//! builder shows the rule in `nft` syntax.

use std::borrow::Cow;
use std::collections::HashSet;
use std::net::IpAddr;

use ipnetwork::IpNetwork;
use nftables::batch::Batch;
use nftables::expr::{
    CT, Expression, Fib, FibFlag, FibResult, Meta, MetaKey, NamedExpression, Payload, PayloadField,
    Prefix, SetItem,
};
use nftables::schema::{Chain, NfListObject, Nftables, Rule, Table};
use nftables::stmt::{Match, NAT, NATFamily, Operator, Statement};
use nftables::types::{NfChainPolicy, NfChainType, NfFamily, NfHook};

use super::{NetworkRules, PublishedPort};

/// A base chain: name, type, hook and priority.
struct BaseChain {
    name: &'static str,
    kind: NfChainType,
    hook: NfHook,
    priority: i32,
}

const PREROUTING: BaseChain = BaseChain {
    name: "prerouting",
    kind: NfChainType::NAT,
    hook: NfHook::Prerouting,
    priority: -100, // dstnat
};
const OUTPUT: BaseChain = BaseChain {
    name: "output",
    kind: NfChainType::NAT,
    hook: NfHook::Output,
    priority: -100,
};
const POSTROUTING: BaseChain = BaseChain {
    name: "postrouting",
    kind: NfChainType::NAT,
    hook: NfHook::Postrouting,
    priority: 100, // srcnat
};
const FORWARD: BaseChain = BaseChain {
    name: "forward",
    kind: NfChainType::Filter,
    hook: NfHook::Forward,
    priority: 0, // filter
};

type Statements = Vec<Statement<'static>>;

/// The whole replacing batch for table `table`.
pub(super) fn batch(
    table: &str,
    networks: &[NetworkRules],
    ports: &[&PublishedPort],
) -> Nftables<'static> {
    let mut batch = Batch::new();
    replace_table(&mut batch, table);
    let chains = [
        (PREROUTING, ports.iter().map(|p| dnat(p)).collect()),
        (OUTPUT, ports.iter().map(|p| dnat(p)).collect()),
        (POSTROUTING, networks.iter().flat_map(masquerades).collect()),
        (FORWARD, forward(networks, ports)),
    ];
    for (chain, rules) in chains {
        batch.add(base_chain(table, &chain));
        for statements in rules {
            batch.add(rule(table, chain.name, statements));
        }
    }
    batch.to_nftables()
}

/// `add table`, `delete table`: removes the table if it exists.
pub(super) fn removal(table: &str) -> Nftables<'static> {
    let mut batch = Batch::new();
    batch.add(NfListObject::Table(inet_table(table)));
    batch.delete(NfListObject::Table(inet_table(table)));
    batch.to_nftables()
}

/// `add table`, `delete table`, `add table`: an empty table, whether or
/// not it existed.
fn replace_table(batch: &mut Batch<'static>, table: &str) {
    batch.add(NfListObject::Table(inet_table(table)));
    batch.delete(NfListObject::Table(inet_table(table)));
    batch.add(NfListObject::Table(inet_table(table)));
}

fn inet_table(name: &str) -> Table<'static> {
    Table {
        family: NfFamily::INet,
        name: owned(name),
        handle: None,
    }
}

fn base_chain(table: &str, chain: &BaseChain) -> NfListObject<'static> {
    NfListObject::Chain(Chain {
        family: NfFamily::INet,
        table: owned(table),
        name: Cow::Borrowed(chain.name),
        _type: Some(chain.kind),
        hook: Some(chain.hook),
        prio: Some(chain.priority),
        policy: Some(NfChainPolicy::Accept),
        ..Chain::default()
    })
}

fn rule(table: &str, chain: &'static str, statements: Statements) -> NfListObject<'static> {
    NfListObject::Rule(Rule {
        family: NfFamily::INet,
        table: owned(table),
        chain: Cow::Borrowed(chain),
        expr: statements.into(),
        ..Rule::default()
    })
}

/// `meta nfproto ipv4 fib daddr type local tcp dport 8080 dnat ip to 10.89.0.2:80`,
/// or with a host address `ip daddr 192.0.2.1 tcp dport 8080 dnat ip to ...`.
fn dnat(port: &PublishedPort) -> Statements {
    let mut rule = match port.host_ip {
        Some(host_ip) => vec![is(address(host_ip, "daddr"), ip(host_ip))],
        None => vec![
            is(meta(MetaKey::Nfproto), nfproto(port.container_ip)),
            is(fib_type(FibFlag::Daddr), string("local")),
        ],
    };
    rule.push(is(
        payload(port.protocol.name(), "dport"),
        Expression::Number(port.host_port.into()),
    ));
    rule.push(Statement::DNAT(Some(NAT {
        addr: Some(ip(port.container_ip)),
        family: Some(nat_family(port.container_ip)),
        port: Some(Expression::Number(port.container_port.into())),
        flags: None,
    })));
    rule
}

/// The postrouting rules of one network; none for an internal one.
fn masquerades(network: &NetworkRules) -> Vec<Statements> {
    if network.internal {
        return Vec::new();
    }
    let bridge = network.bridge.as_str();
    let mut rules = vec![local_source_masquerade(bridge)];
    for &subnet in &network.subnets {
        rules.push(hairpin_masquerade(bridge, subnet));
        if network.masquerade {
            rules.push(outbound_masquerade(bridge, subnet));
        }
    }
    rules
}

/// `oifname "hs0" fib saddr type local masquerade`: the host reaching a
/// container, `127.0.0.1` to a published port included.
fn local_source_masquerade(bridge: &str) -> Statements {
    vec![
        is(meta(MetaKey::Oifname), string(bridge)),
        is(fib_type(FibFlag::Saddr), string("local")),
        Statement::Masquerade(None),
    ]
}

/// `ct status dnat oifname "hs0" ip saddr 10.89.0.0/24 masquerade`: a
/// container reaching a published port of its own bridge through a host
/// address, so the reply comes back through the host.
fn hairpin_masquerade(bridge: &str, subnet: IpNetwork) -> Statements {
    vec![
        Statement::Match(Match {
            left: ct("status"),
            right: string("dnat"),
            op: Operator::IN,
        }),
        is(meta(MetaKey::Oifname), string(bridge)),
        from_subnet(subnet),
        Statement::Masquerade(None),
    ]
}

/// `ip saddr 10.89.0.0/24 oifname != "hs0" masquerade`: outbound NAT.
fn outbound_masquerade(bridge: &str, subnet: IpNetwork) -> Statements {
    vec![
        from_subnet(subnet),
        is_not(meta(MetaKey::Oifname), string(bridge)),
        Statement::Masquerade(None),
    ]
}

/// The forward chain: internal networks sealed first, then established and
/// DNATed traffic accepted, and traffic routed straight to a published
/// container port; then, for every other network, anything else
/// entering its bridge from another interface dropped (Docker 28's
/// behaviour): its unpublished ports cannot be reached from outside it,
/// neither from another hoist network nor by a machine routing its subnet
/// through the host.
fn forward(networks: &[NetworkRules], ports: &[&PublishedPort]) -> Vec<Statements> {
    let (internal, routed): (Vec<_>, Vec<_>) = networks.iter().partition(|n| n.internal);
    networks
        .iter()
        .filter(|n| !n.icc)
        .map(|n| within(&n.bridge))
        .chain(internal.iter().flat_map(|n| sealed(&n.bridge)))
        .chain([established(), dnated()])
        .chain(ports.iter().map(|p| routed_to_published(p, networks)))
        .chain(routed.iter().map(|n| entering(&n.bridge)))
        .collect()
}

/// `iifname != { "hs0", "hs1" } oifname "hs0" ip daddr 10.89.0.2 tcp dport
/// 80 accept`: as with Docker, a published port is also reachable by a
/// machine routing straight to the container, but not from another hoist
/// network (that goes through the host's port).
fn routed_to_published(port: &PublishedPort, networks: &[NetworkRules]) -> Statements {
    let bridges = networks
        .iter()
        .map(|n| SetItem::Element(string(n.bridge.as_str())))
        .collect();
    vec![
        is_not(
            meta(MetaKey::Iifname),
            Expression::Named(NamedExpression::Set(bridges)),
        ),
        is(meta(MetaKey::Oifname), string(port.bridge.as_str())),
        is(address(port.container_ip, "daddr"), ip(port.container_ip)),
        is(
            payload(port.protocol.name(), "dport"),
            Expression::Number(port.container_port.into()),
        ),
        Statement::Accept(None),
    ]
}

/// `iifname "hs1" oifname "hs1" drop`: containers of a network without
/// inter-container communication do not reach each other (bridged traffic
/// passes the forward hook through br_netfilter).
fn within(bridge: &str) -> Statements {
    vec![
        is(meta(MetaKey::Iifname), string(bridge)),
        is(meta(MetaKey::Oifname), string(bridge)),
        drop(),
    ]
}

/// `iifname "hs1" oifname != "hs1" drop` and
/// `oifname "hs1" iifname != "hs1" drop`: nothing leaves or enters an
/// internal network, not even a reply or a published port.
fn sealed(bridge: &str) -> [Statements; 2] {
    [
        vec![
            is(meta(MetaKey::Iifname), string(bridge)),
            is_not(meta(MetaKey::Oifname), string(bridge)),
            drop(),
        ],
        entering(bridge),
    ]
}

/// `oifname "hs0" iifname != "hs0" drop`: traffic routed into the bridge
/// from any other interface of the host, another hoist bridge included.
/// Not traffic within the bridge (which `br_netfilter` shows with both
/// names the bridge's), nor the host's own (output, not forward).
fn entering(bridge: &str) -> Statements {
    vec![
        is(meta(MetaKey::Oifname), string(bridge)),
        is_not(meta(MetaKey::Iifname), string(bridge)),
        drop(),
    ]
}

/// `ct state established,related accept`
fn established() -> Statements {
    let states = ["established", "related"].into_iter().map(string).collect();
    vec![
        Statement::Match(Match {
            left: ct("state"),
            right: Expression::List(states),
            op: Operator::IN,
        }),
        Statement::Accept(None),
    ]
}

/// `ct status dnat accept`: published ports, from anywhere.
fn dnated() -> Statements {
    vec![
        Statement::Match(Match {
            left: ct("status"),
            right: string("dnat"),
            op: Operator::IN,
        }),
        Statement::Accept(None),
    ]
}

/// `ip saddr 10.89.0.0/24` or `ip6 saddr fd00::/64`.
fn from_subnet(subnet: IpNetwork) -> Statement<'static> {
    let prefix = Prefix {
        addr: Box::new(ip(subnet.network())),
        len: subnet.prefix().into(),
    };
    is(
        address(subnet.ip(), "saddr"),
        Expression::Named(NamedExpression::Prefix(prefix)),
    )
}

fn is(left: Expression<'static>, right: Expression<'static>) -> Statement<'static> {
    Statement::Match(Match {
        left,
        right,
        op: Operator::EQ,
    })
}

fn is_not(left: Expression<'static>, right: Expression<'static>) -> Statement<'static> {
    Statement::Match(Match {
        left,
        right,
        op: Operator::NEQ,
    })
}

fn drop() -> Statement<'static> {
    Statement::Drop(None)
}

fn meta(key: MetaKey) -> Expression<'static> {
    Expression::Named(NamedExpression::Meta(Meta { key }))
}

fn ct(key: &'static str) -> Expression<'static> {
    Expression::Named(NamedExpression::CT(CT {
        key: Cow::Borrowed(key),
        family: None,
        dir: None,
    }))
}

/// `fib saddr type` / `fib daddr type`.
fn fib_type(flag: FibFlag) -> Expression<'static> {
    Expression::Named(NamedExpression::Fib(Fib {
        result: FibResult::Type,
        flags: HashSet::from([flag]),
    }))
}

fn payload(protocol: &'static str, field: &'static str) -> Expression<'static> {
    Expression::Named(NamedExpression::Payload(Payload::PayloadField(
        PayloadField {
            protocol: Cow::Borrowed(protocol),
            field: Cow::Borrowed(field),
        },
    )))
}

/// `ip <field>` or `ip6 <field>`, by the family of `of`.
fn address(of: IpAddr, field: &'static str) -> Expression<'static> {
    payload(if of.is_ipv4() { "ip" } else { "ip6" }, field)
}

fn nfproto(of: IpAddr) -> Expression<'static> {
    string(if of.is_ipv4() { "ipv4" } else { "ipv6" })
}

fn nat_family(of: IpAddr) -> NATFamily {
    if of.is_ipv4() {
        NATFamily::IP
    } else {
        NATFamily::IP6
    }
}

fn ip(addr: IpAddr) -> Expression<'static> {
    string(addr.to_string())
}

fn string(s: impl Into<String>) -> Expression<'static> {
    Expression::String(Cow::Owned(s.into()))
}

fn owned(s: &str) -> Cow<'static, str> {
    Cow::Owned(s.to_owned())
}
