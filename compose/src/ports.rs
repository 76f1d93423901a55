//! Service `ports:` in their long form. The short syntax
//! `[HOST_IP:][PUBLISHED[-END]:]TARGET[-END][/PROTOCOL]` (IPv6 host
//! addresses in brackets) and bare numbers become
//! `{target, published, host_ip, protocol, mode}` mappings, a range of
//! targets one entry per port, as Docker Compose does; every number is
//! checked to be a port.

use crate::error::{LoadError, ModelPath};
use crate::node::{Key, Map, Node, Origin, Value};

/// The long-form entries one `ports:` item stands for.
pub fn parse_ports(item: &Node, path: &ModelPath) -> Result<Vec<Node>, LoadError> {
    let fail = |message: String| LoadError::at(item.origin.clone(), Some(path), message);
    match &item.value {
        Value::Int(target) => {
            let target = port(&target.to_string()).map_err(fail)?;
            Ok(vec![long(&item.origin, None, None, target, "tcp", None)])
        }
        Value::String(spec) => short(spec).map_err(fail).map(|entries| {
            entries
                .into_iter()
                .map(|e| {
                    long(
                        &item.origin,
                        e.host_ip.as_deref(),
                        e.published.as_deref(),
                        e.target,
                        &e.protocol,
                        None,
                    )
                })
                .collect()
        }),
        Value::Map(map) => {
            let target = map
                .get("target")
                .and_then(Node::scalar_text)
                .ok_or_else(|| fail("a port mapping needs `target`".into()))
                .and_then(|t| port(&t).map_err(fail))?;
            let published = map.get("published").and_then(Node::scalar_text);
            if let Some(published) = &published {
                range(published).map_err(fail)?;
            }
            let protocol = map.get("protocol").and_then(Node::as_str).unwrap_or("tcp");
            protocol_checked(protocol).map_err(fail)?;
            let mut node = long(
                &item.origin,
                map.get("host_ip").and_then(Node::as_str),
                published.as_deref(),
                target,
                protocol,
                map.get("mode").and_then(Node::as_str),
            );
            if let (Some(app_protocol), Some(out)) = (map.get("app_protocol"), node.as_map_mut()) {
                out.insert(key("app_protocol", &item.origin), app_protocol.clone());
            }
            if let (Some(name), Some(out)) = (map.get("name"), node.as_map_mut()) {
                out.insert(key("name", &item.origin), name.clone());
            }
            Ok(vec![node])
        }
        _ => Err(fail(format!(
            "expected a port number, a \"HOST:CONTAINER\" string or a mapping, got {}",
            item.kind()
        ))),
    }
}

/// One parsed short-syntax entry.
struct Short {
    host_ip: Option<String>,
    published: Option<String>,
    target: u16,
    protocol: String,
}

/// Parses the short syntax; a target range gives one entry per port.
fn short(spec: &str) -> Result<Vec<Short>, String> {
    let (rest, protocol) = match spec.rsplit_once('/') {
        Some((rest, protocol)) => (rest, protocol),
        None => (spec, "tcp"),
    };
    protocol_checked(protocol)?;
    let (host_ip, rest) = split_host_ip(rest)?;
    let (published, target) = match rest.rsplit_once(':') {
        Some((published, target)) => (Some(published), target),
        None => (None, rest),
    };
    let published = published.filter(|p| !p.is_empty());
    let (first, last) = range(target).map_err(|e| format!("{spec:?}: {e}"))?;
    let published_range = published
        .map(range)
        .transpose()
        .map_err(|e| format!("{spec:?}: {e}"))?;
    let count = usize::from(last - first) + 1;
    let published_for = |i: usize| -> Result<Option<String>, String> {
        match (published, published_range) {
            (Some(_), Some((a, b))) if count > 1 => {
                if usize::from(b - a) + 1 != count {
                    return Err(format!(
                        "{spec:?}: the published range and the container range differ in length"
                    ));
                }
                Ok(Some((a + i as u16).to_string()))
            }
            (published, _) => Ok(published.map(str::to_string)),
        }
    };
    (0..count)
        .map(|i| {
            Ok(Short {
                host_ip: host_ip.map(str::to_string),
                published: published_for(i)?,
                target: first + i as u16,
                protocol: protocol.to_string(),
            })
        })
        .collect()
}

/// `1.2.3.4:8080:80` → (`1.2.3.4`, `8080:80`); `[::1]:80:80` → (`::1`, …).
fn split_host_ip(rest: &str) -> Result<(Option<&str>, &str), String> {
    if let Some(v6) = rest.strip_prefix('[') {
        let (ip, after) = v6
            .split_once(']')
            .ok_or_else(|| format!("{rest:?}: an IPv6 host address needs its closing ]"))?;
        let after = after
            .strip_prefix(':')
            .ok_or_else(|| format!("{rest:?}: expected : after the host address"))?;
        return Ok((Some(ip), after));
    }
    if rest.matches(':').count() == 2 {
        let (ip, after) = rest.split_once(':').unwrap_or(("", rest));
        return Ok((Some(ip).filter(|ip| !ip.is_empty()), after));
    }
    Ok((None, rest))
}

/// `80` or `8000-8010`, each a port.
fn range(text: &str) -> Result<(u16, u16), String> {
    match text.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (port(a)?, port(b)?);
            if b < a {
                return Err(format!("port range {text:?} ends before it starts"));
            }
            Ok((a, b))
        }
        None => port(text).map(|p| (p, p)),
    }
}

/// A port number from 1 to 65535.
fn port(text: &str) -> Result<u16, String> {
    match text.trim().parse::<u32>() {
        Ok(n @ 1..=65535) => Ok(n as u16),
        Ok(n) => Err(format!(
            "port {n} is out of range: ports go from 1 to 65535"
        )),
        Err(_) => Err(format!("{text:?} is not a port number")),
    }
}

fn protocol_checked(protocol: &str) -> Result<(), String> {
    match protocol {
        "tcp" | "udp" | "sctp" => Ok(()),
        other => Err(format!("unknown protocol {other:?}: use tcp, udp or sctp")),
    }
}

/// The long form of one port.
fn long(
    origin: &Origin,
    host_ip: Option<&str>,
    published: Option<&str>,
    target: u16,
    protocol: &str,
    mode: Option<&str>,
) -> Node {
    let mut map = Map::default();
    let text = |s: &str| Node::new(Value::String(s.to_string()), origin.clone());
    map.insert(key("mode", origin), text(mode.unwrap_or("ingress")));
    if let Some(host_ip) = host_ip {
        map.insert(key("host_ip", origin), text(host_ip));
    }
    map.insert(
        key("target", origin),
        Node::new(Value::Int(i64::from(target)), origin.clone()),
    );
    if let Some(published) = published {
        map.insert(key("published", origin), text(published));
    }
    map.insert(key("protocol", origin), text(protocol));
    Node::new(Value::Map(map), origin.clone())
}

fn key(name: &str, origin: &Origin) -> Key {
    Key {
        name: name.to_string(),
        origin: origin.clone(),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn ports(yaml: &str) -> Result<Vec<serde_json::Value>, LoadError> {
        let node = Node::parse(Path::new("c.yaml"), yaml).unwrap();
        parse_ports(&node, &ModelPath::root().key("ports").index(0))
            .map(|nodes| nodes.iter().map(Node::to_json).collect())
    }

    #[test]
    fn short_and_long_forms() {
        let got = ports("\"127.0.0.1:8080:80/udp\"").unwrap();
        assert_eq!(
            got[0],
            serde_json::json!({"mode": "ingress", "host_ip": "127.0.0.1", "target": 80, "published": "8080", "protocol": "udp"})
        );
        assert_eq!(ports("80").unwrap()[0]["target"], 80);
        assert_eq!(ports("\"[::1]:53:53\"").unwrap()[0]["host_ip"], "::1");
        let range = ports("\"9000-9002:80-82\"").unwrap();
        assert_eq!(range.len(), 3);
        assert_eq!(
            (range[2]["published"].as_str(), range[2]["target"].as_i64()),
            (Some("9002"), Some(82))
        );
        assert_eq!(
            ports("{target: 80, published: 8080}").unwrap()[0]["published"],
            "8080"
        );
    }

    #[test]
    fn bad_ports_are_refused() {
        let err = ports("\"8080:99999\"").unwrap_err();
        assert!(
            err.to_string()
                .contains("ports[0]: \"8080:99999\": port 99999 is out of range"),
            "{err}"
        );
        assert!(ports("\"80/icmp\"").is_err());
        assert!(ports("\"abc\"").is_err());
        assert!(ports("\"9000-9001:80-82\"").is_err());
    }
}
