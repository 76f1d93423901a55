//! The names containers on user-defined networks resolve through their
//! embedded DNS server: container names, short IDs and network aliases,
//! each visible only from the networks the asking container shares with it
//! (as in Docker). `NAME.NETWORK` picks the network; a reverse lookup
//! answers `NAME.NETWORK` too.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use hoist_netplugin::dns::Names;

/// Every name known on the daemon's user-defined networks.
#[derive(Debug, Default)]
pub struct NameTable {
    table: RwLock<Table>,
}

#[derive(Debug, Default)]
struct Table {
    /// Network ID → its names.
    networks: HashMap<String, NetworkNames>,
    /// Container ID → the IDs of the networks with names it is on.
    members: HashMap<String, Vec<String>>,
    /// Container ID → its link aliases (lower-case) and the names they
    /// stand for: seen by that container only.
    links: HashMap<String, HashMap<String, String>>,
}

#[derive(Debug, Default)]
struct NetworkNames {
    /// The network's name, for `NAME.NETWORK`.
    name: String,
    /// Lower-case name → the containers answering to it and their
    /// addresses (several containers may share an alias).
    by_name: HashMap<String, Vec<(String, Ipv4Addr)>>,
    /// Address → the container's name.
    by_address: HashMap<Ipv4Addr, String>,
}

/// One container's entry on one network.
#[derive(Debug, Clone, Copy)]
pub struct Registration<'a> {
    /// The container's ID (its short form is one of its names).
    pub container_id: &'a str,
    /// The container's name.
    pub container_name: &'a str,
    /// The network's ID.
    pub network_id: &'a str,
    /// The network's name.
    pub network_name: &'a str,
    /// Its aliases on the network.
    pub aliases: &'a [String],
    /// Its address there.
    pub address: Ipv4Addr,
}

impl NameTable {
    fn read(&self) -> RwLockReadGuard<'_, Table> {
        self.table.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Table> {
        self.table.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds a container's names on a network.
    pub fn register(&self, entry: Registration<'_>) {
        let mut table = self.write();
        let network = table
            .networks
            .entry(entry.network_id.to_string())
            .or_default();
        network.name = entry.network_name.to_string();
        let short_id = &entry.container_id[..12.min(entry.container_id.len())];
        let mut names: Vec<String> = [entry.container_name, short_id]
            .into_iter()
            .chain(entry.aliases.iter().map(String::as_str))
            .map(str::to_ascii_lowercase)
            .collect();
        names.sort();
        names.dedup();
        for name in names {
            network
                .by_name
                .entry(name)
                .or_default()
                .push((entry.container_id.to_string(), entry.address));
        }
        network
            .by_address
            .insert(entry.address, entry.container_name.to_string());
        let memberships = table
            .members
            .entry(entry.container_id.to_string())
            .or_default();
        if !memberships.iter().any(|n| n == entry.network_id) {
            memberships.push(entry.network_id.to_string());
        }
    }

    /// Sets the `NAME[:ALIAS]` links of a container: its queries for ALIAS
    /// are answered as for NAME.
    pub fn set_links(&self, container_id: &str, links: &[String]) {
        let aliases: HashMap<String, String> = links
            .iter()
            .filter_map(|link| {
                let (name, alias) = hoist_api::spec::link_parts(link);
                (alias != name).then(|| (alias.to_ascii_lowercase(), name.to_ascii_lowercase()))
            })
            .collect();
        let mut table = self.write();
        if aliases.is_empty() {
            table.links.remove(container_id);
        } else {
            table.links.insert(container_id.to_string(), aliases);
        }
    }

    /// Removes every name of a container.
    pub fn unregister(&self, container_id: &str) {
        let mut table = self.write();
        table.links.remove(container_id);
        let Some(networks) = table.members.remove(container_id) else {
            return;
        };
        for network_id in networks {
            let Some(network) = table.networks.get_mut(&network_id) else {
                continue;
            };
            let mut gone = Vec::new();
            network.by_name.retain(|_, holders| {
                holders.retain(|(id, address)| {
                    let theirs = id == container_id;
                    if theirs {
                        gone.push(*address);
                    }
                    !theirs
                });
                !holders.is_empty()
            });
            for address in gone {
                network.by_address.remove(&address);
            }
            if network.by_name.is_empty() {
                table.networks.remove(&network_id);
            }
        }
    }
}

impl Names for NameTable {
    fn lookup(&self, asker: &str, name: &str) -> Option<Vec<IpAddr>> {
        let table = self.read();
        let name = table
            .links
            .get(asker)
            .and_then(|aliases| aliases.get(name))
            .map_or(name, String::as_str);
        let mut found: Vec<IpAddr> = Vec::new();
        for network in table.members.get(asker)?.iter() {
            let Some(names) = table.networks.get(network) else {
                continue;
            };
            let key = name
                .strip_suffix(names.name.as_str())
                .and_then(|n| n.strip_suffix('.'))
                .unwrap_or(name);
            for (_, address) in names.by_name.get(key).into_iter().flatten() {
                let address = IpAddr::V4(*address);
                if !found.contains(&address) {
                    found.push(address);
                }
            }
        }
        (!found.is_empty()).then_some(found)
    }

    fn reverse(&self, asker: &str, ip: IpAddr) -> Option<String> {
        let IpAddr::V4(ip) = ip else {
            return None;
        };
        let table = self.read();
        table.members.get(asker)?.iter().find_map(|network| {
            let names = table.networks.get(network)?;
            names
                .by_address
                .get(&ip)
                .map(|container| format!("{container}.{}", names.name))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn register(
        table: &NameTable,
        id: &str,
        name: &str,
        network: &str,
        aliases: &[&str],
        ip: &str,
    ) {
        let aliases: Vec<String> = aliases.iter().map(|a| a.to_string()).collect();
        table.register(Registration {
            container_id: id,
            container_name: name,
            network_id: &format!("id-{network}"),
            network_name: network,
            aliases: &aliases,
            address: ip.parse().unwrap(),
        });
    }

    fn ips(text: &[&str]) -> Option<Vec<IpAddr>> {
        Some(text.iter().map(|t| t.parse().unwrap()).collect())
    }

    #[test]
    fn a_link_alias_answers_only_the_container_that_has_it() {
        let table = NameTable::default();
        register(&table, "aaaaaaaaaaaa1111", "db", "back", &[], "10.2.0.2");
        register(&table, "bbbbbbbbbbbb2222", "app", "back", &[], "10.2.0.3");
        register(&table, "cccccccccccc3333", "other", "back", &[], "10.2.0.4");
        table.set_links("bbbbbbbbbbbb2222", &["db:Database".into(), "web".into()]);
        assert_eq!(
            table.lookup("bbbbbbbbbbbb2222", "database"),
            ips(&["10.2.0.2"])
        );
        assert_eq!(table.lookup("cccccccccccc3333", "database"), None);
        // The target's own name still answers; an alias gone with the
        // container's names.
        assert_eq!(table.lookup("bbbbbbbbbbbb2222", "db"), ips(&["10.2.0.2"]));
        table.unregister("bbbbbbbbbbbb2222");
        register(&table, "bbbbbbbbbbbb2222", "app", "back", &[], "10.2.0.3");
        assert_eq!(table.lookup("bbbbbbbbbbbb2222", "database"), None);
    }

    #[test]
    fn names_are_seen_only_from_shared_networks() {
        let table = NameTable::default();
        register(
            &table,
            "aaaaaaaaaaaa1111",
            "web",
            "front",
            &["www"],
            "10.1.0.2",
        );
        register(
            &table,
            "bbbbbbbbbbbb2222",
            "db",
            "back",
            &["Database"],
            "10.2.0.2",
        );
        register(&table, "cccccccccccc3333", "api", "front", &[], "10.1.0.3");
        register(&table, "cccccccccccc3333", "api", "back", &[], "10.2.0.3");

        assert_eq!(table.lookup("cccccccccccc3333", "web"), ips(&["10.1.0.2"]));
        assert_eq!(
            table.lookup("cccccccccccc3333", "database"),
            ips(&["10.2.0.2"])
        );
        assert_eq!(
            table.lookup("cccccccccccc3333", "bbbbbbbbbbbb"),
            ips(&["10.2.0.2"])
        );
        assert_eq!(
            table.lookup("cccccccccccc3333", "web.front"),
            ips(&["10.1.0.2"])
        );
        assert_eq!(table.lookup("cccccccccccc3333", "web.back"), None);
        assert_eq!(
            table.lookup("aaaaaaaaaaaa1111", "db"),
            None,
            "db is not on front"
        );
        assert_eq!(
            table.lookup("aaaaaaaaaaaa1111", "api"),
            ips(&["10.1.0.3"]),
            "only the address on the shared network"
        );
        assert_eq!(table.lookup("stranger", "web"), None);
        assert_eq!(
            table.reverse("cccccccccccc3333", "10.2.0.2".parse().unwrap()),
            Some("db.back".into())
        );
        assert_eq!(
            table.reverse("aaaaaaaaaaaa1111", "10.2.0.2".parse().unwrap()),
            None
        );
    }

    #[test]
    fn a_shared_alias_answers_every_holder_until_each_goes() {
        let table = NameTable::default();
        register(&table, "one", "one", "net", &["pool"], "10.0.0.2");
        register(&table, "two", "two", "net", &["pool"], "10.0.0.3");
        assert_eq!(table.lookup("one", "pool"), ips(&["10.0.0.2", "10.0.0.3"]));
        table.unregister("two");
        assert_eq!(table.lookup("one", "pool"), ips(&["10.0.0.2"]));
        assert_eq!(table.lookup("one", "two"), None);
        assert_eq!(table.reverse("one", "10.0.0.3".parse().unwrap()), None);
        table.unregister("one");
        assert!(table.read().networks.is_empty() && table.read().members.is_empty());
    }
}
