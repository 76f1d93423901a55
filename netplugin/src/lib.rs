//! hoist's networks: what a container's network namespace is plugged into.
//!
//! - [`bridge`]: the bridge driver: a bridge per network, a veth pair per
//!   endpoint, configured inside the container's sandbox.
//! - [`netns`]: network namespaces kept as files, and running code in them.
//! - [`link`]: links, addresses and routes over netlink.
//! - [`ipam`]: subnets from address pools, addresses within a subnet.
//! - [`firewall`]: hoist's own nftables table (NAT, published ports,
//!   isolation between networks).
//! - [`dns`]: the embedded DNS server each container on a user-defined
//!   network asks.

pub mod bridge;
pub mod dns;
pub mod firewall;
pub mod ipam;
pub mod link;
pub mod netns;
