//! IP address management: subnets for new networks from address pools
//! (never overlapping the host's routes or another network), and addresses
//! for endpoints within a subnet.

use std::collections::BTreeSet;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::str::FromStr;

use ipnetwork::{IpNetwork, Ipv4Network};
use serde::{Deserialize, Serialize};

/// Why an address or subnet cannot be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IpamError {
    /// The subnet overlaps something already there.
    #[error("subnet {subnet} overlaps {other} ({what}): choose another subnet")]
    Overlap {
        /// The subnet asked for.
        subnet: IpNetwork,
        /// What it overlaps.
        other: IpNetwork,
        /// Whose that is.
        what: String,
    },
    /// Every pool is used up.
    #[error(
        "all predefined address pools are used up: remove unused networks (hoist network prune) or give --subnet"
    )]
    PoolsExhausted,
    /// An address outside its subnet (or range).
    #[error("address {ip} is not in {within}")]
    NotInSubnet {
        /// The address.
        ip: IpAddr,
        /// Where it should be.
        within: IpNetwork,
    },
    /// An address someone already has.
    #[error("address {0} is already in use")]
    InUse(IpAddr),
    /// No address left in a subnet.
    #[error("no address left in {0}")]
    Exhausted(IpNetwork),
    /// A malformed pool description.
    #[error(
        "invalid address pool {0:?}: use base=CIDR,size=PREFIX (e.g. base=10.10.0.0/16,size=24)"
    )]
    BadPool(String),
}

/// A range new networks take their subnets from: Docker's
/// `--default-address-pool base=172.30.0.0/16,size=24`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pool {
    /// The whole range.
    pub base: Ipv4Network,
    /// Prefix length of each subnet cut from it.
    pub size: u8,
}

impl FromStr for Pool {
    type Err = IpamError;

    fn from_str(s: &str) -> Result<Self, IpamError> {
        let bad = || IpamError::BadPool(s.to_string());
        let (mut base, mut size) = (None, None);
        for part in s.split(',') {
            match part.split_once('=') {
                Some(("base", v)) => base = Some(v.parse::<Ipv4Network>().map_err(|_| bad())?),
                Some(("size", v)) => size = Some(v.parse::<u8>().map_err(|_| bad())?),
                _ => return Err(bad()),
            }
        }
        let (base, size) = base.zip(size).ok_or_else(bad)?;
        if size < base.prefix() || size > 30 || base.network() != base.ip() {
            return Err(bad());
        }
        Ok(Pool { base, size })
    }
}

impl fmt::Display for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "base={},size={}", self.base, self.size)
    }
}

/// Docker's default pools: 172.17–31.0.0/16 whole, then 192.168.0.0/16 in
/// /20s.
pub fn default_pools() -> Vec<Pool> {
    let mut pools: Vec<Pool> = (17..=31)
        .filter_map(|b| Ipv4Network::new(Ipv4Addr::new(172, b, 0, 0), 16).ok())
        .map(|base| Pool { base, size: 16 })
        .collect();
    if let Ok(base) = Ipv4Network::new(Ipv4Addr::new(192, 168, 0, 0), 16) {
        pools.push(Pool { base, size: 20 });
    }
    pools
}

/// Whether two subnets share any address.
pub fn overlaps(a: &IpNetwork, b: &IpNetwork) -> bool {
    a.contains(b.network()) || b.contains(a.network())
}

/// Refuses `subnet` if it overlaps one of `taken` (each with whose it is).
pub fn check_free(subnet: IpNetwork, taken: &[(IpNetwork, String)]) -> Result<(), IpamError> {
    match taken.iter().find(|(other, _)| overlaps(&subnet, other)) {
        Some((other, what)) => Err(IpamError::Overlap {
            subnet,
            other: *other,
            what: what.clone(),
        }),
        None => Ok(()),
    }
}

/// The first subnet of the pools that overlaps none of `taken`.
pub fn pick_subnet(pools: &[Pool], taken: &[IpNetwork]) -> Result<IpNetwork, IpamError> {
    for pool in pools {
        let step = 1u64 << (32 - u32::from(pool.size));
        let start = u64::from(u32::from(pool.base.network()));
        let end = start + (1u64 << (32 - u32::from(pool.base.prefix())));
        let mut at = start;
        while at < end {
            let candidate = u32::try_from(at)
                .ok()
                .and_then(|a| Ipv4Network::new(Ipv4Addr::from(a), pool.size).ok())
                .map(IpNetwork::V4);
            if let Some(candidate) = candidate
                && !taken.iter().any(|t| overlaps(&candidate, t))
            {
                return Ok(candidate);
            }
            at += step;
        }
    }
    Err(IpamError::PoolsExhausted)
}

/// The gateway Docker gives a subnet: its first address.
pub fn first_host(subnet: Ipv4Network) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(subnet.network()) + 1)
}

/// The addresses of one IPv4 subnet that endpoints may have, and which are
/// taken. New addresses come round-robin after the last one given, so an
/// address just released is not handed out again at once.
#[derive(Debug, Clone)]
pub struct Addresses {
    subnet: Ipv4Network,
    range: Ipv4Network,
    used: BTreeSet<u32>,
    /// How many of `used` were reserved at creation (the gateway).
    reserved: usize,
    last: u32,
}

impl Addresses {
    /// The addresses of `subnet` (within `range` for automatic ones, as
    /// `--ip-range`), with `reserved` (the gateway) taken.
    pub fn new(subnet: Ipv4Network, range: Option<Ipv4Network>, reserved: &[Ipv4Addr]) -> Self {
        let range = range.unwrap_or(subnet);
        let mut addresses = Self {
            subnet,
            range,
            used: BTreeSet::new(),
            reserved: 0,
            last: u32::from(range.network()),
        };
        for ip in reserved {
            addresses.used.insert(u32::from(*ip));
        }
        addresses.reserved = addresses.used.len();
        addresses
    }

    fn usable(&self, ip: u32) -> bool {
        ip != u32::from(self.subnet.network()) && ip != u32::from(self.subnet.broadcast())
    }

    /// Takes a given address (`--ip`, or one restored from state).
    pub fn reserve(&mut self, ip: Ipv4Addr) -> Result<(), IpamError> {
        let n = u32::from(ip);
        if !self.subnet.contains(ip) || !self.usable(n) {
            return Err(IpamError::NotInSubnet {
                ip: IpAddr::V4(ip),
                within: IpNetwork::V4(self.subnet),
            });
        }
        if !self.used.insert(n) {
            return Err(IpamError::InUse(IpAddr::V4(ip)));
        }
        Ok(())
    }

    /// Hands out a free address of the range.
    pub fn allocate(&mut self) -> Result<Ipv4Addr, IpamError> {
        let first = u32::from(self.range.network());
        let size = u64::from(u32::from(self.range.broadcast()) - first) + 1;
        for step in 1..=size {
            let offset = (u64::from(self.last - first) + step) % size;
            let candidate = first + offset as u32;
            if self.usable(candidate) && !self.used.contains(&candidate) {
                self.used.insert(candidate);
                self.last = candidate;
                return Ok(Ipv4Addr::from(candidate));
            }
        }
        Err(IpamError::Exhausted(IpNetwork::V4(self.subnet)))
    }

    /// Whether an address besides the reserved ones is taken (an endpoint
    /// holds it).
    pub fn any_taken(&self) -> bool {
        self.used.len() > self.reserved
    }

    /// Gives an address back.
    pub fn release(&mut self, ip: Ipv4Addr) {
        self.used.remove(&u32::from(ip));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNetwork {
        s.parse().unwrap()
    }

    #[test]
    fn a_picked_subnet_avoids_routes_and_other_networks() {
        let pools = default_pools();
        assert_eq!(pick_subnet(&pools, &[]).unwrap(), net("172.17.0.0/16"));
        let taken = [net("172.17.0.0/16"), net("172.18.5.0/24")];
        assert_eq!(pick_subnet(&pools, &taken).unwrap(), net("172.19.0.0/16"));
        let pool: Pool = "base=10.10.0.0/16,size=24".parse().unwrap();
        let taken = [net("10.10.0.0/23"), net("10.0.0.0/8")];
        assert_eq!(pick_subnet(&[pool], &taken), Err(IpamError::PoolsExhausted));
        assert_eq!(
            pick_subnet(&[pool], &[net("10.10.0.0/23")]).unwrap(),
            net("10.10.2.0/24")
        );
    }

    #[test]
    fn pools_are_parsed_and_checked() {
        let pool: Pool = "base=10.10.0.0/16,size=24".parse().unwrap();
        assert_eq!(pool.to_string(), "base=10.10.0.0/16,size=24");
        for bad in [
            "base=10.10.0.0/16",
            "size=24",
            "base=10.10.0.1/16,size=24",
            "base=10.10.0.0/16,size=8",
            "x=1",
        ] {
            assert!(bad.parse::<Pool>().is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn overlaps_are_refused_naming_the_other() {
        let taken = [(net("10.30.0.0/16"), "network appnet".to_string())];
        let e = check_free(net("10.30.1.0/24"), &taken).unwrap_err();
        assert_eq!(
            e.to_string(),
            "subnet 10.30.1.0/24 overlaps 10.30.0.0/16 (network appnet): choose another subnet"
        );
        assert!(check_free(net("10.31.0.0/24"), &taken).is_ok());
    }

    #[test]
    fn addresses_go_round_robin_and_skip_gateway_network_and_broadcast() {
        let subnet: Ipv4Network = "10.0.0.0/29".parse().unwrap();
        let gateway = Ipv4Addr::new(10, 0, 0, 1);
        let mut a = Addresses::new(subnet, None, &[gateway]);
        assert!(!a.any_taken(), "the gateway is not an endpoint's");
        let got: Vec<_> = (0..5).map(|_| a.allocate().unwrap().to_string()).collect();
        assert!(a.any_taken());
        assert_eq!(
            got,
            ["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"]
        );
        assert!(matches!(a.allocate(), Err(IpamError::Exhausted(_))));
        a.release(Ipv4Addr::new(10, 0, 0, 3));
        assert_eq!(a.allocate().unwrap(), Ipv4Addr::new(10, 0, 0, 3));
        a.release(Ipv4Addr::new(10, 0, 0, 4));
        assert_eq!(a.reserve(Ipv4Addr::new(10, 0, 0, 4)), Ok(()));
        assert_eq!(
            a.reserve(Ipv4Addr::new(10, 0, 0, 4)),
            Err(IpamError::InUse(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 4))))
        );
        assert!(
            a.reserve(Ipv4Addr::new(10, 0, 0, 7)).is_err(),
            "broadcast reserved"
        );
        assert!(
            a.reserve(Ipv4Addr::new(10, 0, 1, 2)).is_err(),
            "outside the subnet"
        );
        assert!(a.reserve(gateway).is_err(), "the gateway is taken");
    }

    #[test]
    fn an_ip_range_limits_automatic_addresses_only() {
        let subnet: Ipv4Network = "10.0.0.0/24".parse().unwrap();
        let range: Ipv4Network = "10.0.0.128/30".parse().unwrap();
        let mut a = Addresses::new(subnet, Some(range), &[Ipv4Addr::new(10, 0, 0, 1)]);
        assert_eq!(a.allocate().unwrap(), Ipv4Addr::new(10, 0, 0, 129));
        assert!(a.reserve(Ipv4Addr::new(10, 0, 0, 20)).is_ok());
    }
}
