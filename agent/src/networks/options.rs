//! Docker's bridge driver options (`network create -o`, compose's
//! `driver_opts`) that hoist honours, checked when the network is created.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use tonic::Status;

use crate::error::invalid;

/// `-o com.docker.network.bridge.name=NAME`: the Linux bridge's name.
pub const BRIDGE_NAME: &str = "com.docker.network.bridge.name";
const MASQUERADE: &str = "com.docker.network.bridge.enable_ip_masquerade";
const ICC: &str = "com.docker.network.bridge.enable_icc";
const HOST_BINDING: &str = "com.docker.network.bridge.host_binding_ipv4";
const MTU: &str = "com.docker.network.driver.mtu";

/// What a bridge network's options ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeOptions {
    /// The Linux bridge's name, instead of `hs-<id>`.
    pub bridge_name: Option<String>,
    /// Outbound NAT (default on).
    pub masquerade: bool,
    /// The host address ports published without one are published on
    /// (default: all of the host's).
    pub host_binding: Option<Ipv4Addr>,
    /// The MTU of the bridge and its containers' interfaces.
    pub mtu: Option<u32>,
    /// Containers on the network may reach each other (default on).
    pub icc: bool,
}

impl Default for BridgeOptions {
    fn default() -> Self {
        Self {
            bridge_name: None,
            masquerade: true,
            host_binding: None,
            mtu: None,
            icc: true,
        }
    }
}

fn flag(key: &str, value: &str) -> Result<bool, Status> {
    match value {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(invalid(format!(
            "invalid value {value:?} for option {key}: use true or false"
        ))),
    }
}

impl BridgeOptions {
    /// Reads the options Docker's bridge driver knows; others are kept on
    /// the network (as Docker does) but mean nothing.
    pub fn parse(options: &BTreeMap<String, String>) -> Result<Self, Status> {
        let mut parsed = Self::default();
        for (key, value) in options {
            match key.as_str() {
                BRIDGE_NAME => {
                    let valid = !value.is_empty()
                        && value.len() <= 15
                        && value
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
                    if !valid {
                        return Err(invalid(format!(
                            "invalid bridge name {value:?} for option {key}: up to 15 letters, digits, '-', '_' or '.'"
                        )));
                    }
                    parsed.bridge_name = Some(value.clone());
                }
                MASQUERADE => parsed.masquerade = flag(key, value)?,
                ICC => parsed.icc = flag(key, value)?,
                HOST_BINDING => {
                    let ip: Ipv4Addr = value.parse().map_err(|_| {
                        invalid(format!(
                            "invalid address {value:?} for option {key}: use an IPv4 address such as 127.0.0.1"
                        ))
                    })?;
                    parsed.host_binding = (!ip.is_unspecified()).then_some(ip);
                }
                MTU => {
                    let mtu = value
                        .parse::<u32>()
                        .ok()
                        .filter(|m| (68..=65535).contains(m))
                        .ok_or_else(|| {
                            invalid(format!(
                                "invalid MTU {value:?} for option {key}: use a number from 68 to 65535"
                            ))
                        })?;
                    parsed.mtu = Some(mtu);
                }
                _ => {}
            }
        }
        Ok(parsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn dockers_bridge_options_are_read() {
        let parsed = BridgeOptions::parse(&options(&[
            (BRIDGE_NAME, "br-app"),
            (MASQUERADE, "false"),
            (ICC, "true"),
            (HOST_BINDING, "127.0.0.1"),
            (MTU, "1450"),
            ("foo", "bar"),
        ]))
        .unwrap();
        assert_eq!(
            parsed,
            BridgeOptions {
                bridge_name: Some("br-app".into()),
                masquerade: false,
                host_binding: Some(Ipv4Addr::LOCALHOST),
                mtu: Some(1450),
                icc: true,
            }
        );
        assert_eq!(
            BridgeOptions::parse(&BTreeMap::new()).unwrap(),
            BridgeOptions::default()
        );
    }

    #[test]
    fn bad_option_values_are_refused_with_the_option_named() {
        for (key, value) in [
            (BRIDGE_NAME, "a-name-far-too-long"),
            (MASQUERADE, "yes"),
            (ICC, "no"),
            (HOST_BINDING, "localhost"),
            (MTU, "9999999"),
        ] {
            let error = BridgeOptions::parse(&options(&[(key, value)])).unwrap_err();
            assert!(error.message().contains(key), "{}", error.message());
        }
    }
}
