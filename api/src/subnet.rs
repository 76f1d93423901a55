//! A network's `--subnet` and `--gateway` as users write them, with one set
//! of rules for the daemon, which makes the bridge, and the manager, which
//! stores a cluster network: a subnet or gateway a node would refuse is
//! refused when the network is created, not when a task first needs it.

use std::net::Ipv4Addr;

use ipnetwork::{IpNetwork, Ipv4Network};

/// Why a subnet or gateway is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubnetError {
    /// Not a subnet in CIDR form.
    #[error("invalid subnet {0:?}: use CIDR form such as 10.30.0.0/24")]
    Malformed(String),
    /// Host bits set in a subnet.
    #[error("invalid subnet {given}: host bits are set; did you mean {network}?")]
    HostBits {
        /// What was given.
        given: String,
        /// The subnet it lies in.
        network: IpNetwork,
    },
    /// Too small a subnet to hold a gateway and an endpoint.
    #[error(
        "invalid subnet {0}: it must hold at least a gateway and one container (a /30 or larger)"
    )]
    TooSmall(Ipv4Network),
    /// Only IPv4 subnets so far.
    #[error("invalid subnet {0}: only IPv4 subnets are supported so far")]
    NotIpv4(IpNetwork),
    /// Not an IPv4 address.
    #[error("invalid gateway {0:?}: use an IPv4 address such as 10.30.0.1")]
    MalformedGateway(String),
    /// A gateway outside its subnet, or its network or broadcast address.
    #[error("gateway {gateway} is not a usable address of subnet {subnet}")]
    GatewayNotUsable {
        /// The gateway asked for.
        gateway: Ipv4Addr,
        /// Its subnet.
        subnet: Ipv4Network,
    },
}

/// Parses a `--subnet` (or `--ip-range`): IPv4 CIDR form, no host bits,
/// room for a gateway and a container.
pub fn parse_subnet(text: &str) -> Result<Ipv4Network, SubnetError> {
    let malformed = || SubnetError::Malformed(text.to_string());
    // ipnetwork takes a bare address for a /32; a subnet names its length.
    let trimmed = text.trim();
    if !trimmed.contains('/') {
        return Err(malformed());
    }
    let given: IpNetwork = trimmed.parse().map_err(|_| malformed())?;
    let network = IpNetwork::new(given.network(), given.prefix()).map_err(|_| malformed())?;
    if network != given {
        return Err(SubnetError::HostBits {
            given: text.to_string(),
            network,
        });
    }
    let IpNetwork::V4(network) = network else {
        return Err(SubnetError::NotIpv4(network));
    };
    if network.prefix() > 30 {
        return Err(SubnetError::TooSmall(network));
    }
    Ok(network)
}

/// Parses a `--gateway` of `subnet`: an address of it other than its
/// network and broadcast addresses.
pub fn parse_gateway(text: &str, subnet: Ipv4Network) -> Result<Ipv4Addr, SubnetError> {
    let gateway: Ipv4Addr = text
        .trim()
        .parse()
        .map_err(|_| SubnetError::MalformedGateway(text.to_string()))?;
    let usable =
        subnet.contains(gateway) && gateway != subnet.network() && gateway != subnet.broadcast();
    if !usable {
        return Err(SubnetError::GatewayNotUsable { gateway, subnet });
    }
    Ok(gateway)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Ipv4Network {
        s.parse().unwrap()
    }

    #[test]
    fn subnets_are_parsed_strictly() {
        assert_eq!(parse_subnet("10.30.0.0/24"), Ok(net("10.30.0.0/24")));
        assert_eq!(parse_subnet(" 10.0.0.0/8 "), Ok(net("10.0.0.0/8")));
        assert_eq!(
            parse_subnet("10.30.0.1/24"),
            Err(SubnetError::HostBits {
                given: "10.30.0.1/24".into(),
                network: "10.30.0.0/24".parse().unwrap(),
            })
        );
        for malformed in ["10.30.0.0/33", "banana", "10.30.0.0", ""] {
            assert_eq!(
                parse_subnet(malformed),
                Err(SubnetError::Malformed(malformed.into())),
                "{malformed}"
            );
        }
        assert_eq!(
            parse_subnet("10.0.0.0/31"),
            Err(SubnetError::TooSmall(net("10.0.0.0/31")))
        );
        assert!(matches!(
            parse_subnet("fd00::/64"),
            Err(SubnetError::NotIpv4(_))
        ));
    }

    #[test]
    fn a_gateway_is_a_usable_address_of_its_subnet() {
        let subnet = net("10.30.0.0/24");
        assert_eq!(
            parse_gateway("10.30.0.1", subnet),
            Ok(Ipv4Addr::new(10, 30, 0, 1))
        );
        assert_eq!(
            parse_gateway("10.30.0.254", subnet),
            Ok(Ipv4Addr::new(10, 30, 0, 254))
        );
        for unusable in ["10.30.0.0", "10.30.0.255", "10.31.0.1"] {
            assert!(
                matches!(
                    parse_gateway(unusable, subnet),
                    Err(SubnetError::GatewayNotUsable { .. })
                ),
                "{unusable}"
            );
        }
        assert_eq!(
            parse_gateway("10.30.0", subnet),
            Err(SubnetError::MalformedGateway("10.30.0".into()))
        );
    }
}
