//! A multi-host test bed on one machine, for hoist's end-to-end tests of
//! clusters: several "hosts", each a network namespace running its own
//! `hoist daemon`, wired to one switch, which a test can partition, whose
//! daemons it can kill and restart, and which leaves nothing behind.
//!
//! # Why
//!
//! A cluster test needs machines that can lose each other: a node that
//! dies, a link that drops, a network split in two. Real machines or VMs
//! make that slow and hard to run in CI; containers need an engine. Linux
//! network namespaces give each daemon its own interfaces, addresses,
//! routes, bridges and nftables tables at the cost of a few syscalls, and
//! hoist is built so that several daemons run side by side on one machine
//! with different roots, sockets and cgroup parents (DESIGN.md, "Processes
//! and state"). A daemon is "lost" when it is killed; a partition is a link
//! set down or an nftables drop.
//!
//! # Layout of a bed
//!
//! A bed has a random id (8 hex digits); every name it gives carries
//! `hoist-e2e-<id>` so that a leak is recognisable and a cleanup never
//! touches anything else:
//!
//! ```text
//!   netns hoist-e2e-<id>-sw: bridge hsebr
//!          │ hse0              │ hse1              │ hse2 …
//!          │ (veth)            │                   │
//!   netns …-h0: eth0    netns …-h1: eth0    netns …-h2: eth0
//!   10.237.N.10/24      10.237.N.11/24      10.237.N.12/24
//!   hoist daemon        hoist daemon        hoist daemon
//! ```
//!
//! - The switch is a bridge in a namespace of its own: nothing is added to
//!   the machine's root namespace. `N` is random per bed.
//! - Host `i` is the network namespace `hoist-e2e-<id>-h<i>`; its daemon
//!   keeps its state in `/tmp/hoist-e2e-<id>/h<i>/` (`root/`, `run/`,
//!   `hoist.sock`, `daemon.log`) and puts containers under the cgroup
//!   parent `hoist-e2e-<id>-h<i>`. The bridges and nftables table the
//!   daemon makes live in the host's namespace, so each host's are its own.
//! - The daemon, the CLI and programs run "on a host" enter its network
//!   namespace with nsenter and get a UTS namespace whose hostname is the
//!   host's name. Mounts, PIDs and cgroups are the machine's.
//!
//! # Partitions
//!
//! - [`Host::cut_off`] with [`Cut::LinkDown`] sets the host's port on the
//!   switch down; with [`Cut::Firewall`] it adds `table inet hoist_e2e` in
//!   the host dropping everything in and out on `eth0`.
//! - [`TestBed::partition`] drops traffic only between two groups of hosts
//!   (rules by underlay address), leaving other pairs connected.
//! - [`Host::heal`] and [`TestBed::heal_all`] undo both.
//!
//! # Teardown
//!
//! Dropping a [`TestBed`], also while a failing test unwinds, removes
//! everything it made: containers (through each daemon still running),
//! daemons, shims, cgroup trees on every hierarchy, processes left in its
//! namespaces, mounts, namespaces (and with them their links and nftables
//! tables), and its directory. [`TestBed::footprint`] keeps what identifies
//! a bed so that a test can check with [`Footprint::leftovers`], after the
//! drop, that nothing remains.
//!
//! # Requirements
//!
//! Root, `ip` (iproute2), `nsenter` (util-linux) and `nft`; for
//! [`Host::import_busybox`], Debian's `busybox-static`. Beds share no state,
//! so tests using them run in parallel.
//!
//! # Example
//!
//! ```no_run
//! use std::path::Path;
//! use std::time::Duration;
//!
//! use hoist_e2e::{Cut, TestBed};
//!
//! let mut bed = TestBed::new(Path::new("target/debug/hoist"), 3);
//! bed.import_busybox();
//! bed.host(0).ok(&["run", "-d", "--name", "web", "busybox", "httpd", "-f"]);
//! bed.host(2).cut_off(Cut::Firewall);
//! assert!(!bed.host(0).can_reach(bed.host(2), Duration::from_secs(1)));
//! bed.host(2).heal();
//! bed.host_mut(1).kill_daemon();
//! bed.host_mut(1).start_daemon();
//! ```

#![warn(missing_docs)]

mod bed;
mod host;
mod sys;

pub use bed::{Builder, Footprint, TestBed};
pub use host::{Cut, Host, Run};
