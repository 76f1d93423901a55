//! The daemon's state: its stores and its containers.

use std::fs;
use std::sync::Arc;

use anyhow::Context;
use hoist_runtime::cgroup::Hierarchy;
use hoist_runtime::image::ImageStore;
use hoist_runtime::shim::launcher::Launcher;
use hoist_runtime::volume::VolumeStore;

use crate::config::DaemonConfig;
use crate::containers::Registry;
use crate::events::EventBus;
use crate::networks::Networks;

/// One daemon: configuration, image and volume stores, containers.
#[derive(Debug)]
pub struct Daemon {
    /// Paths and names.
    pub config: DaemonConfig,
    /// Images and layers.
    pub images: Arc<ImageStore>,
    /// Volumes.
    pub volumes: VolumeStore,
    /// The host's cgroup hierarchy.
    pub hierarchy: Hierarchy,
    /// Containers.
    pub containers: Registry,
    /// Starts containers' shims.
    pub launcher: Launcher,
    /// Networks and the plugging of containers into them.
    pub networks: Networks,
    /// What happened lately, for `hoist events`.
    pub events: EventBus,
}

impl Daemon {
    /// Opens the stores under the configured roots (creating them) and sets
    /// up the networks.
    pub async fn open(config: DaemonConfig) -> anyhow::Result<Arc<Self>> {
        for dir in [
            config.root.join("containers"),
            config.exec_root.join("containers"),
        ] {
            fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        }
        crate::containers::oci::make_init_layer(&config.init_layer()).with_context(|| {
            format!(
                "cannot make the init layer {}",
                config.init_layer().display()
            )
        })?;
        let images = ImageStore::open(&config.root.join("image")).with_context(|| {
            format!(
                "cannot open the image store under {}",
                config.root.display()
            )
        })?;
        let volumes = VolumeStore::open(&config.root.join("volumes")).with_context(|| {
            format!(
                "cannot open the volume store under {}",
                config.root.display()
            )
        })?;
        let hierarchy = Hierarchy::detect().context("cannot find the host's cgroup hierarchy")?;
        let launcher = Launcher::new(&config.shim, &config.exec_root.join("containers"));
        let networks = Networks::open(&config.root, config.sandboxes_dir(), config.network.clone())
            .await
            .context("cannot set up networking")?;
        Ok(Arc::new(Self {
            networks,
            launcher,
            config,
            images: Arc::new(images),
            volumes,
            hierarchy,
            containers: Registry::default(),
            events: EventBus::default(),
        }))
    }

    /// IDs of the containers that use a volume.
    pub async fn volume_users(&self, name: &str) -> Vec<String> {
        let mut users = Vec::new();
        for container in self.containers.all() {
            let record = container.record.lock().await;
            if record.mounts.iter().any(|m| m.name == name) {
                users.push(record.id.clone());
            }
        }
        users
    }

    /// A container (by name) that uses an image, if any.
    pub async fn image_user(&self, image_id: &str) -> Option<String> {
        for container in self.containers.all() {
            let record = container.record.lock().await;
            if record.image_id == image_id {
                return Some(record.id.clone());
            }
        }
        None
    }
}
