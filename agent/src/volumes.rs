//! Volumes as the daemon changes them: the volume store's create and
//! remove, each told as an event (`volume create`, `volume destroy`).

use std::collections::BTreeMap;

use hoist_runtime::volume::Volume;
use tonic::Status;

use crate::daemon::Daemon;
use crate::error::from_volume;

impl Daemon {
    /// Creates a volume (`name`: none for an anonymous one), or returns the
    /// existing one of that name; only a new volume is announced.
    pub fn create_volume(
        &self,
        name: Option<&str>,
        driver: &str,
        labels: BTreeMap<String, String>,
        options: BTreeMap<String, String>,
    ) -> Result<Volume, Status> {
        let existed = name.is_some_and(|n| self.volumes.get(n).is_ok());
        let volume = self
            .volumes
            .create(name, driver, labels, options)
            .map_err(from_volume)?;
        if !existed {
            self.volume_event("create", &volume.name, &[]);
        }
        Ok(volume)
    }

    /// Removes a volume; returns the bytes it held.
    pub fn remove_volume(&self, name: &str) -> Result<u64, Status> {
        let freed = self.volumes.remove(name).map_err(from_volume)?;
        self.volume_event("destroy", name, &[]);
        Ok(freed)
    }
}
