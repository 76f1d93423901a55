//! Networks: the daemon's bridge networks (the predefined `bridge` and
//! user-defined ones), their addresses, and the plugging of containers'
//! sandboxes into them. The kernel work is `hoist-netplugin`'s; this module
//! keeps the state and decides.

mod connect;
mod endpoints;
mod names;
mod options;
mod ports;
mod releases;
mod resolver;
mod rules;

pub mod record;

pub use ports::check_ports;
pub use resolver::{Identity, RESOLVER_ADDRESS};

use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::Context;
use hoist_netplugin::bridge;
use hoist_netplugin::dns::DnsServer;
use hoist_netplugin::ipam::{self, Addresses, Pool};
use hoist_netplugin::link::Netlink;
use hoist_runtime::fsutil::new_id;
use ipnetwork::{IpNetwork, Ipv4Network};
use tonic::Status;
use tracing::{info, warn};

use crate::error::{conflict, internal, invalid, not_found};
use hoist_api::spec::ContainerSpec;
use hoist_api::subnet::{parse_gateway, parse_subnet};
use options::BridgeOptions;
use record::{BRIDGE, DEFAULT_BRIDGE, EndpointRecord, Ipam, NetworkRecord, NetworkStore};

/// How the daemon's networks are set up (daemon flags).
#[derive(Debug, Clone)]
pub struct NetworkConfig {
    /// The predefined `bridge` network's Linux bridge (`--bridge`).
    pub default_bridge: String,
    /// Its address and prefix (`--bip`); else a subnet from the pools.
    pub bip: Option<Ipv4Network>,
    /// Where networks without `--subnet` get theirs
    /// (`--default-address-pool`).
    pub pools: Vec<Pool>,
    /// What `host-gateway` in `--add-host` stands for
    /// (`--host-gateway-ip`); else the `bridge` network's gateway.
    pub host_gateway_ip: Option<Ipv4Addr>,
}

impl Default for NetworkConfig {
    fn default() -> Self {
        Self {
            default_bridge: "hs0".into(),
            bip: None,
            pools: ipam::default_pools(),
            host_gateway_ip: None,
        }
    }
}

/// What `network create` asks for.
#[derive(Debug, Clone, Default)]
pub struct NewNetwork {
    /// Unique name.
    pub name: String,
    /// Only `bridge` (the default) so far.
    pub driver: String,
    /// `--subnet`, else one from the pools.
    pub subnet: Option<String>,
    /// `--gateway`, else the subnet's first address.
    pub gateway: Option<String>,
    /// `--ip-range`.
    pub ip_range: Option<String>,
    /// `--internal`.
    pub internal: bool,
    /// `--attachable`.
    pub attachable: bool,
    /// `--label`.
    pub labels: BTreeMap<String, String>,
    /// `-o`.
    pub options: BTreeMap<String, String>,
}

/// A network and the addresses taken in it.
#[derive(Debug)]
struct Network {
    record: NetworkRecord,
    addresses: Option<Addresses>,
    options: BridgeOptions,
}

impl Network {
    fn new(record: NetworkRecord) -> Self {
        let addresses = record
            .ipam
            .map(|i| Addresses::new(i.subnet, i.ip_range, &[i.gateway]));
        // Checked at creation; a record edited by hand since falls back to
        // the defaults.
        let options = BridgeOptions::parse(&record.options).unwrap_or_else(|e| {
            warn!(network = %record.name, error = %e.message(), "ignoring the network's options");
            BridgeOptions::default()
        });
        Self {
            record,
            addresses,
            options,
        }
    }
}

/// The daemon's networks.
#[derive(Debug)]
pub struct Networks {
    store: NetworkStore,
    sandboxes: PathBuf,
    config: NetworkConfig,
    host: Netlink,
    /// Deletes containers' veth pairs, on a thread and socket of its own:
    /// each deletion makes its caller wait some 15 ms for the kernel.
    deletions: Netlink,
    state: Arc<Mutex<BTreeMap<String, Network>>>,
    /// Endpoints of stopped containers being given back in the background.
    releases: Arc<releases::Releases>,
    /// The host ports published by running containers.
    ports: Mutex<Vec<ports::HeldPort>>,
    /// The names the embedded DNS servers answer.
    names: Arc<names::NameTable>,
    /// Each running container's embedded DNS server, by container ID.
    resolvers: Mutex<HashMap<String, DnsServer>>,
    /// Serialises network creation and removal, and firewall updates.
    changes: tokio::sync::Mutex<()>,
}

impl Networks {
    /// Loads the networks, makes the predefined ones the first time, and
    /// (re)makes every bridge. The firewall table is left as it is until
    /// the daemon has taken back its containers' published ports and calls
    /// [`apply_rules`](Self::apply_rules): a restart must not drop the
    /// rules of running containers, not even for a moment.
    pub async fn open(
        root: &Path,
        sandboxes: PathBuf,
        config: NetworkConfig,
    ) -> anyhow::Result<Self> {
        let store = NetworkStore::open(&root.join("networks"))
            .with_context(|| format!("cannot open the network store under {}", root.display()))?;
        let host = Netlink::connect().context("cannot talk to the kernel over netlink")?;
        let deletions = Netlink::connect_on_own_thread("hoist-netlink-del")
            .context("cannot talk to the kernel over netlink")?;
        let networks = Self {
            state: Arc::default(),
            releases: Arc::default(),
            ports: Mutex::new(Vec::new()),
            names: Arc::default(),
            resolvers: Mutex::new(HashMap::new()),
            sandboxes,
            store,
            config,
            host,
            deletions,
            changes: tokio::sync::Mutex::new(()),
        };
        for record in networks
            .store
            .load()
            .context("cannot read the network store")?
        {
            networks.insert(record);
        }
        networks.make_predefined().await?;
        for record in networks.list() {
            if let Some(ipam) = record.ipam {
                let mtu = networks.lock().get(&record.id).and_then(|n| n.options.mtu);
                bridge::ensure_bridge(
                    &networks.host,
                    &record.bridge,
                    ipam.gateway,
                    ipam.subnet,
                    mtu,
                )
                .await
                .with_context(|| format!("cannot set up the bridge of network {}", record.name))?;
            }
        }
        Ok(networks)
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Network>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock_ports(&self) -> MutexGuard<'_, Vec<ports::HeldPort>> {
        self.ports.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock_resolvers(&self) -> MutexGuard<'_, HashMap<String, DnsServer>> {
        self.resolvers.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn insert(&self, record: NetworkRecord) {
        self.lock().insert(record.id.clone(), Network::new(record));
    }

    /// Makes `bridge`, `host` and `none` if the store lacks them.
    async fn make_predefined(&self) -> anyhow::Result<()> {
        for (name, driver) in [(DEFAULT_BRIDGE, BRIDGE), ("host", "host"), ("none", "null")] {
            if self.find(name).is_ok() {
                continue;
            }
            let (bridge, ipam) = if driver == BRIDGE {
                let ipam = match self.config.bip {
                    Some(bip) => Ipam {
                        subnet: Ipv4Network::new(bip.network(), bip.prefix())?,
                        gateway: bip.ip(),
                        ip_range: None,
                    },
                    None => {
                        let subnet = self
                            .free_subnet()
                            .await
                            .map_err(|e| anyhow::anyhow!("{}", e.message()))?;
                        Ipam {
                            subnet,
                            gateway: ipam::first_host(subnet),
                            ip_range: None,
                        }
                    }
                };
                (self.config.default_bridge.clone(), Some(ipam))
            } else {
                (String::new(), None)
            };
            let record = NetworkRecord {
                id: new_id(),
                name: name.into(),
                driver: driver.into(),
                bridge,
                ipam,
                internal: false,
                attachable: false,
                predefined: true,
                labels: BTreeMap::new(),
                options: BTreeMap::new(),
                created: crate::containers::lifecycle::now(),
            };
            self.store
                .save(&record)
                .with_context(|| format!("cannot save network {name}"))?;
            self.insert(record);
        }
        Ok(())
    }

    /// Every network, by name.
    pub fn list(&self) -> Vec<NetworkRecord> {
        let mut all: Vec<_> = self.lock().values().map(|n| n.record.clone()).collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }

    /// The host's address as containers reach it: what `host-gateway` in
    /// `--add-host` stands for, as in Docker (`--host-gateway-ip`, else
    /// the default bridge's gateway).
    pub fn host_gateway(&self) -> Option<Ipv4Addr> {
        self.config.host_gateway_ip.or_else(|| {
            self.find(DEFAULT_BRIDGE)
                .ok()
                .and_then(|n| n.ipam.map(|ipam| ipam.gateway))
        })
    }

    /// A network by full ID, name, or unique ID prefix (Docker's order).
    pub fn find(&self, reference: &str) -> Result<NetworkRecord, Status> {
        let state = self.lock();
        if let Some(n) = state.get(reference) {
            return Ok(n.record.clone());
        }
        if let Some(n) = state.values().find(|n| n.record.name == reference) {
            return Ok(n.record.clone());
        }
        let mut matches = state
            .values()
            .filter(|n| !reference.is_empty() && n.record.id.starts_with(reference));
        match (matches.next(), matches.next()) {
            (Some(n), None) => Ok(n.record.clone()),
            (Some(_), Some(_)) => Err(invalid(format!(
                "network {reference} is ambiguous: several networks have IDs starting with it; give more of the ID or the name"
            ))),
            _ => Err(not_found(format!("network {reference} not found"))),
        }
    }

    /// Subnets a new network must not overlap: the other networks' and the
    /// host's routes, each named.
    async fn taken_subnets(&self) -> Result<Vec<(IpNetwork, String)>, Status> {
        let mut taken: Vec<(IpNetwork, String)> = self
            .lock()
            .values()
            .filter_map(|n| {
                n.record.ipam.map(|i| {
                    (
                        IpNetwork::V4(i.subnet),
                        format!("network {}", n.record.name),
                    )
                })
            })
            .collect();
        let routes = self
            .host
            .route_destinations()
            .await
            .map_err(|e| internal(e.to_string()))?;
        taken.extend(
            routes
                .into_iter()
                .map(|r| (r, "a route of the host".to_string())),
        );
        Ok(taken)
    }

    async fn free_subnet(&self) -> Result<Ipv4Network, Status> {
        let taken: Vec<IpNetwork> = self
            .taken_subnets()
            .await?
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        match ipam::pick_subnet(&self.config.pools, &taken).map_err(|e| conflict(e.to_string()))? {
            IpNetwork::V4(subnet) => Ok(subnet),
            IpNetwork::V6(subnet) => Err(invalid(format!("pool subnet {subnet} is not IPv4"))),
        }
    }

    /// `network create`: checks everything, makes the bridge, then saves
    /// the record (a failure leaves nothing behind).
    #[tracing::instrument(level = "debug", skip_all, fields(name = %request.name))]
    pub async fn create(&self, request: NewNetwork) -> Result<NetworkRecord, Status> {
        let _changing = self.changes.lock().await;
        if !crate::containers::create::valid_name(&request.name) {
            return Err(invalid(format!(
                "invalid network name {:?}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
                request.name
            )));
        }
        if self
            .find(&request.name)
            .is_ok_and(|n| n.name == request.name)
        {
            return Err(conflict(format!(
                "network with name {} already exists",
                request.name
            )));
        }
        match request.driver.as_str() {
            "" | BRIDGE => {}
            other => {
                return Err(invalid(format!(
                    "network driver {other:?} is not available on one host: use bridge (overlay networks come with the cluster)"
                )));
            }
        }
        let options = BridgeOptions::parse(&request.options)?;
        if !options.icc {
            bridge::filter_bridged_traffic().map_err(|e| conflict(e.to_string()))?;
        }
        let id = new_id();
        let bridge = match &options.bridge_name {
            Some(name) => {
                let taken = self.lock().values().any(|n| n.record.bridge == *name)
                    || self
                        .host
                        .index_of(name)
                        .await
                        .map_err(|e| internal(e.to_string()))?
                        .is_some();
                if taken {
                    return Err(conflict(format!(
                        "cannot use {name} as the bridge of network {}: a link with that name already exists",
                        request.name
                    )));
                }
                name.clone()
            }
            None => format!("hs-{}", &id[..12]),
        };
        let ipam = self.ipam_for(&request).await?;
        let record = NetworkRecord {
            bridge,
            id,
            name: request.name,
            driver: BRIDGE.into(),
            ipam: Some(ipam),
            internal: request.internal,
            attachable: request.attachable,
            predefined: false,
            labels: request.labels,
            options: request.options,
            created: crate::containers::lifecycle::now(),
        };
        bridge::ensure_bridge(
            &self.host,
            &record.bridge,
            ipam.gateway,
            ipam.subnet,
            options.mtu,
        )
        .await
        .map_err(|e| internal(format!("cannot create network {}: {e}", record.name)))?;
        let saved = self.store.save(&record);
        let ruled = match saved {
            Ok(()) => {
                self.insert(record.clone());
                self.apply_rules().await
            }
            Err(e) => Err(internal(format!(
                "cannot save network {}: {e}",
                record.name
            ))),
        };
        if let Err(e) = ruled {
            self.lock().remove(&record.id);
            let _ = self.store.delete(&record.id);
            let _ = bridge::remove_bridge(&self.host, &record.bridge).await;
            return Err(e);
        }
        info!(id = %record.id, name = %record.name, subnet = %ipam.subnet, "network created");
        Ok(record)
    }

    /// The addresses of a new network from `--subnet`, `--gateway` and
    /// `--ip-range`.
    async fn ipam_for(&self, request: &NewNetwork) -> Result<Ipam, Status> {
        let subnet = match &request.subnet {
            Some(text) => {
                let subnet = parse_subnet(text).map_err(|e| invalid(e.to_string()))?;
                ipam::check_free(IpNetwork::V4(subnet), &self.taken_subnets().await?)
                    .map_err(|e| conflict(e.to_string()))?;
                subnet
            }
            None => {
                if request.gateway.is_some() || request.ip_range.is_some() {
                    return Err(invalid("--gateway and --ip-range need --subnet"));
                }
                self.free_subnet().await?
            }
        };
        let gateway = match &request.gateway {
            Some(text) => parse_gateway(text, subnet).map_err(|e| invalid(e.to_string()))?,
            None => ipam::first_host(subnet),
        };
        let ip_range = match &request.ip_range {
            Some(text) => {
                let range =
                    parse_subnet(text).map_err(|e| invalid(format!("invalid --ip-range: {e}")))?;
                if !subnet.contains(range.network()) || !subnet.contains(range.broadcast()) {
                    return Err(invalid(format!(
                        "ip range {range} is not within subnet {subnet}"
                    )));
                }
                Some(range)
            }
            None => None,
        };
        Ok(Ipam {
            subnet,
            gateway,
            ip_range,
        })
    }

    /// `network rm` of a network no container is plugged into (the caller
    /// checks): deletes the bridge, its rules, then its record.
    #[tracing::instrument(level = "debug", skip_all, fields(name = %record.name))]
    pub async fn remove(&self, record: &NetworkRecord) -> Result<(), Status> {
        let _changing = self.changes.lock().await;
        if record.predefined {
            return Err(conflict(format!(
                "{} is a pre-defined network and cannot be removed",
                record.name
            )));
        }
        self.releases.settle(&record.id).await;
        {
            // Checked with the removal under one lock: an endpoint being
            // plugged in takes its address under the same lock.
            let mut state = self.lock();
            if state
                .get(&record.id)
                .and_then(|n| n.addresses.as_ref())
                .is_some_and(Addresses::any_taken)
            {
                return Err(conflict(format!(
                    "network {} has active endpoints: a container is connected to it; stop or disconnect it first",
                    record.name
                )));
            }
            state.remove(&record.id);
        }
        self.apply_rules().await?;
        bridge::remove_bridge(&self.host, &record.bridge)
            .await
            .map_err(|e| internal(format!("cannot remove network {}: {e}", record.name)))?;
        self.store
            .delete(&record.id)
            .map_err(|e| internal(format!("cannot remove network {}: {e}", record.name)))?;
        info!(id = %record.id, name = %record.name, "network removed");
        Ok(())
    }
}

impl Networks {
    /// The networks a new container joins, from its `--network`,
    /// `--network-alias`, `--ip` and `--mac-address`.
    pub fn endpoints_for(&self, spec: &ContainerSpec) -> Result<Vec<EndpointRecord>, Status> {
        let mode = spec.network_mode.as_str();
        if shares_a_network_namespace(mode) {
            if !spec.network_aliases.is_empty()
                || spec.ipv4_address.is_some()
                || spec.mac_address.is_some()
            {
                return Err(invalid(format!(
                    "--network-alias, --ip and --mac-address need a bridge network, not --network {mode}"
                )));
            }
            return Ok(Vec::new());
        }
        let network = if matches!(mode, "" | "default") {
            DEFAULT_BRIDGE
        } else {
            mode
        };
        Ok(vec![self.endpoint_on(
            network,
            &spec.network_aliases,
            spec.ipv4_address.as_deref(),
            spec.mac_address.as_deref(),
        )?])
    }

    /// A container's endpoint on `network` (a reference), checked: aliases
    /// only on user-defined networks and DNS names, a fixed address only
    /// there and in the subnet, a well-formed MAC address.
    pub fn endpoint_on(
        &self,
        network: &str,
        aliases: &[String],
        ipv4_address: Option<&str>,
        mac_address: Option<&str>,
    ) -> Result<EndpointRecord, Status> {
        let mac_address = match mac_address {
            Some(text) => Some(
                bridge::parse_mac(text)
                    .map(|mac| bridge::format_mac(&mac))
                    .ok_or_else(|| {
                        invalid(format!(
                            "invalid MAC address {text:?}: use the form 02:42:ac:11:00:02"
                        ))
                    })?,
            ),
            None => None,
        };
        let network = self.find(network)?;
        if network.driver != BRIDGE {
            return Err(invalid(format!(
                "network {} cannot be joined: use --network {}",
                network.name, network.name
            )));
        }
        if !network.has_dns() && !aliases.is_empty() {
            return Err(invalid(
                "network-scoped aliases are only supported for user-defined networks",
            ));
        }
        for alias in aliases {
            if !valid_dns_name(alias) {
                return Err(invalid(format!(
                    "invalid network alias {alias:?}: use letters, digits, '-', '_' and '.' (a DNS name)"
                )));
            }
        }
        let ipv4_address = match ipv4_address {
            Some(_) if network.predefined => {
                return Err(invalid(
                    "user specified IP address is supported on user defined networks only",
                ));
            }
            Some(text) => {
                let ip: Ipv4Addr = text
                    .parse()
                    .map_err(|_| invalid(format!("invalid IPv4 address {text:?} for --ip")))?;
                if let Some(ipam) = network.ipam
                    && !ipam.subnet.contains(ip)
                {
                    return Err(invalid(format!(
                        "address {ip} is not in network {}'s subnet {}",
                        network.name, ipam.subnet
                    )));
                }
                Some(ip)
            }
            None => None,
        };
        Ok(EndpointRecord {
            network_id: network.id,
            network_name: network.name,
            aliases: aliases.to_vec(),
            ipv4_address,
            mac_address,
            live: None,
        })
    }
}

/// `none`, `host` and `container:…`: modes whose containers join no network
/// of their own.
pub fn shares_a_network_namespace(mode: &str) -> bool {
    matches!(mode, "none" | "host") || mode.starts_with("container:")
}

/// A DNS name: dot-separated labels of letters, digits, '-' and '_', none
/// empty or longer than 63, not starting with '-'.
fn valid_dns_name(name: &str) -> bool {
    name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && label
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
}
