//! Links, addresses and routes over netlink (rtnetlink), in the network
//! namespace the connection was opened in. Everything hoist does to links
//! goes through here, so the rtnetlink version is pinned in one place.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, BorrowedFd};

use futures_util::TryStreamExt;
use ipnetwork::IpNetwork;
use netlink_packet_route::link::{InfoData, InfoVeth};
use netlink_packet_route::route::{RouteAddress, RouteAttribute, RouteHeader, RouteType};
use rtnetlink::{
    Handle, LinkBridge, LinkBridgePort, LinkMessageBuilder, LinkUnspec, LinkVeth,
    RouteMessageBuilder,
};

/// A failed netlink request.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// The netlink socket could not be opened.
    #[error("cannot open a netlink socket: {0}")]
    Socket(#[from] std::io::Error),
    /// The kernel refused a request.
    #[error("{what}: {source}")]
    Request {
        /// What was being done, naming the link.
        what: String,
        /// The kernel's answer.
        source: rtnetlink::Error,
    },
    /// A link that must exist does not.
    #[error("link {0} does not exist")]
    Missing(String),
}

/// Wraps a request's error with what it was doing.
fn failed(what: impl Into<String>) -> impl FnOnce(rtnetlink::Error) -> LinkError {
    let what = what.into();
    move |source| LinkError::Request { what, source }
}

/// Whether a netlink error is "no such device" (the link is already gone).
fn is_missing(e: &rtnetlink::Error) -> bool {
    matches!(e, rtnetlink::Error::NetlinkError(m)
        if m.code.is_some_and(|c| c.get() == -libc::ENODEV))
}

/// Whether a netlink error is "already exists".
fn is_exists(e: &rtnetlink::Error) -> bool {
    matches!(e, rtnetlink::Error::NetlinkError(m)
        if m.code.is_some_and(|c| c.get() == -libc::EEXIST))
}

/// A netlink connection bound to the network namespace of the thread that
/// opened it.
#[derive(Debug, Clone)]
pub struct Netlink {
    handle: Handle,
}

impl Netlink {
    /// Opens a connection in the calling thread's network namespace; its
    /// driver runs on the current tokio runtime.
    pub fn connect() -> Result<Self, LinkError> {
        let (connection, handle, _) = rtnetlink::new_connection()?;
        tokio::spawn(connection);
        Ok(Self { handle })
    }

    /// Opens a connection in the calling thread's network namespace whose
    /// driver runs on a thread of its own, named `thread`: for requests
    /// the kernel makes the caller wait on (deleting a veth pair waits
    /// for RCU grace periods, some 15 ms), so that they hold up neither
    /// the runtime's threads nor the requests on other connections.
    pub fn connect_on_own_thread(thread: &str) -> Result<Self, LinkError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()?;
        let (connection, handle) = {
            let _inside = runtime.enter();
            let (connection, handle, _) = rtnetlink::new_connection()?;
            (connection, handle)
        };
        std::thread::Builder::new()
            .name(thread.to_string())
            .spawn(move || runtime.block_on(connection))?;
        Ok(Self { handle })
    }

    /// The index of the link called `name`, if there is one.
    pub async fn index_of(&self, name: &str) -> Result<Option<u32>, LinkError> {
        let mut links = self
            .handle
            .link()
            .get()
            .match_name(name.to_string())
            .execute();
        match links.try_next().await {
            Ok(link) => Ok(link.map(|l| l.header.index)),
            Err(e) if is_missing(&e) => Ok(None),
            Err(e) => Err(failed(format!("cannot look up link {name}"))(e)),
        }
    }

    async fn require(&self, name: &str) -> Result<u32, LinkError> {
        self.index_of(name)
            .await?
            .ok_or_else(|| LinkError::Missing(name.to_string()))
    }

    /// Makes the bridge `name` if it does not exist, gives it `addresses`
    /// (those it lacks) and brings it up; returns its index.
    pub async fn ensure_bridge(
        &self,
        name: &str,
        addresses: &[IpNetwork],
        mtu: Option<u32>,
    ) -> Result<u32, LinkError> {
        let index = match self.index_of(name).await? {
            Some(index) => index,
            None => {
                let mut bridge = LinkBridge::new(name);
                if let Some(mtu) = mtu {
                    bridge = bridge.mtu(mtu);
                }
                self.handle
                    .link()
                    .add(bridge.build())
                    .execute()
                    .await
                    .map_err(failed(format!("cannot create bridge {name}")))?;
                self.require(name).await?
            }
        };
        for address in addresses {
            self.add_address(index, *address).await?;
        }
        self.set_up(index).await?;
        Ok(index)
    }

    /// Deletes the link `name`; a link that is already gone is fine.
    pub async fn delete(&self, name: &str) -> Result<(), LinkError> {
        let Some(index) = self.index_of(name).await? else {
            return Ok(());
        };
        match self.handle.link().del(index).execute().await {
            Ok(()) => Ok(()),
            Err(e) if is_missing(&e) => Ok(()),
            Err(e) => Err(failed(format!("cannot delete link {name}"))(e)),
        }
    }

    /// Makes a veth pair: `host` here, attached to the bridge `bridge` and
    /// up; `peer` (with MAC `peer_mac`) created directly in the network
    /// namespace `peer_netns`, so its name never clashes with the host's.
    /// Both ends get `mtu` when given (else the kernel's 1500).
    pub async fn add_veth(
        &self,
        host: &str,
        bridge: u32,
        peer: &str,
        peer_netns: BorrowedFd<'_>,
        peer_mac: [u8; 6],
        mtu: Option<u32>,
    ) -> Result<(), LinkError> {
        let mut peer_message = LinkMessageBuilder::<LinkUnspec>::new()
            .name(peer.to_string())
            .address(peer_mac.to_vec())
            .setns_by_fd(peer_netns.as_raw_fd());
        let mut message = LinkVeth::new(host, peer);
        if let Some(mtu) = mtu {
            peer_message = peer_message.mtu(mtu);
            message = message.mtu(mtu);
        }
        let message = message
            .set_info_data(InfoData::Veth(InfoVeth::Peer(peer_message.build())))
            .controller(bridge)
            .up()
            .build();
        self.handle
            .link()
            .add(message)
            .execute()
            .await
            .map_err(failed(format!("cannot create veth pair {host}/{peer}")))
    }

    /// Lets the bridge port `name` send frames back out the port they came
    /// in by (`ip link set NAME type bridge_slave hairpin on`): a container
    /// reaching its own published port through a host address comes back
    /// by its own port when the bridge filters with netfilter.
    pub async fn set_hairpin(&self, name: &str) -> Result<(), LinkError> {
        let index = self.require(name).await?;
        self.handle
            .link()
            .set_port(LinkBridgePort::new(index).hairpin(true).build())
            .execute()
            .await
            .map_err(failed(format!("cannot turn hairpin mode on for {name}")))
    }

    /// Brings the link with `index` up.
    pub async fn set_up(&self, index: u32) -> Result<(), LinkError> {
        self.handle
            .link()
            .set(LinkUnspec::new_with_index(index).up().build())
            .execute()
            .await
            .map_err(failed(format!("cannot bring link {index} up")))
    }

    /// Brings the link called `name` up.
    pub async fn set_up_by_name(&self, name: &str) -> Result<(), LinkError> {
        let index = self.require(name).await?;
        self.set_up(index).await
    }

    /// Adds `address` to the link `index`; one it already has is fine.
    pub async fn add_address(&self, index: u32, address: IpNetwork) -> Result<(), LinkError> {
        match self
            .handle
            .address()
            .add(index, address.ip(), address.prefix())
            .execute()
            .await
        {
            Ok(()) => Ok(()),
            Err(e) if is_exists(&e) => Ok(()),
            Err(e) => Err(failed(format!(
                "cannot add address {address} to link {index}"
            ))(e)),
        }
    }

    /// Adds the default route through `gateway`.
    pub async fn add_default_route(&self, gateway: IpAddr) -> Result<(), LinkError> {
        let message = match gateway {
            IpAddr::V4(gw) => RouteMessageBuilder::<Ipv4Addr>::new().gateway(gw).build(),
            IpAddr::V6(gw) => RouteMessageBuilder::<Ipv6Addr>::new().gateway(gw).build(),
        };
        self.handle
            .route()
            .add(message)
            .execute()
            .await
            .map_err(failed(format!(
                "cannot add the default route via {gateway}"
            )))
    }

    /// The destinations of the main table's IPv4 unicast routes, default
    /// route excepted: the subnets a new network must not overlap.
    pub async fn route_destinations(&self) -> Result<Vec<IpNetwork>, LinkError> {
        let routes: Vec<_> = self
            .handle
            .route()
            .get(RouteMessageBuilder::<Ipv4Addr>::new().build())
            .execute()
            .try_collect()
            .await
            .map_err(failed("cannot list routes"))?;
        Ok(routes
            .iter()
            .filter(|r| {
                r.header.table == RouteHeader::RT_TABLE_MAIN
                    && r.header.kind == RouteType::Unicast
                    && r.header.destination_prefix_length > 0
            })
            .filter_map(|r| {
                r.attributes.iter().find_map(|a| match a {
                    RouteAttribute::Destination(RouteAddress::Inet(ip)) => {
                        IpNetwork::new(IpAddr::V4(*ip), r.header.destination_prefix_length).ok()
                    }
                    _ => None,
                })
            })
            .collect())
    }
}
