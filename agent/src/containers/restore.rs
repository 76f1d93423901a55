//! Live restore: at daemon start, load every container record, re-adopt
//! the containers whose shims still run, record the exits that happened
//! while the daemon was away, and sweep what a crash left half-made.

use std::fs;
use std::sync::Arc;

use hoist_runtime::bundle::SOCKET_FILE;
use hoist_runtime::fsutil::{read_json, remove_all};
use hoist_runtime::shim::client::ShimClient;
use tracing::{info, warn};

use super::Container;
use super::record::{ContainerRecord, RECORD_FILE, Status as RunStatus};
use crate::daemon::Daemon;

impl Daemon {
    /// Loads and re-adopts containers. Returns how many were loaded.
    pub async fn restore(self: &Arc<Self>) -> usize {
        let mut loaded = Vec::new();
        let dir = self.config.root.join("containers");
        for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            // A directory not named by its record's ID was being deleted
            // (removal renames it away first).
            match read_json::<ContainerRecord>(&path.join(RECORD_FILE))
                .ok()
                .filter(|r| *r.id == *entry.file_name())
            {
                Some(record) => {
                    let identity = record.identity();
                    self.networks.adopt(identity, &record.networks).await;
                    self.networks.adopt_ports(
                        &record.id,
                        &record.name,
                        &record.ports,
                        &record.networks,
                    );
                    if let Err(e) = self.containers.reserve_name(&record.name, &record.id) {
                        warn!(id = %record.id, error = %e.message(), "container name clash; keeping the first");
                    }
                    let container = Container::new(record);
                    self.containers.insert(container.clone());
                    loaded.push(container);
                }
                None => {
                    // No (whole) record: a create or remove was cut short.
                    info!(path = %path.display(), "removing leftover of an unfinished container");
                    let _ = remove_all(&path);
                }
            }
        }
        self.sweep_run_dirs();
        super::rootfs::sweep_mounts(&self.config.root);
        super::rootfs::sweep_build_dirs(&self.config.builds_dir());
        for container in &loaded {
            self.readopt(container).await;
        }
        // Docker starts `always` (and not manually stopped `unless-stopped`)
        // containers when the daemon starts.
        for container in &loaded {
            let wanted = {
                let record = container.record.lock().await;
                !record.state.status.is_alive()
                    && record.state.status != RunStatus::Removing
                    && match record.spec.restart_policy.name.as_str() {
                        "always" => true,
                        "unless-stopped" => !record.state.manually_stopped,
                        _ => false,
                    }
            };
            if wanted && let Err(e) = self.start_container(container, None).await {
                warn!(id = %container.id, error = %e.message(), "cannot restart container at daemon start");
            }
        }
        loaded.len()
    }

    /// Runtime directories whose container has no record.
    fn sweep_run_dirs(&self) {
        let dir = self.config.exec_root.join("containers");
        for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
            let id = entry.file_name().to_string_lossy().to_string();
            if self
                .containers
                .find(&id)
                .map(|c| c.id != id)
                .unwrap_or(true)
            {
                if let Err(e) = super::files::unmount(&entry.path()) {
                    warn!(error = %e.message(), "cannot remove the files of a container gone");
                }
                let _ = remove_all(&entry.path());
            }
        }
    }

    async fn readopt(self: &Arc<Self>, container: &Arc<Container>) {
        let (status, id, auto_remove) = {
            let record = container.record.lock().await;
            (
                record.state.status,
                record.id.clone(),
                record.spec.auto_remove,
            )
        };
        let run_dir = self.config.container_run_dir(&id);
        // A crash between a start and the save of its state leaves a live
        // shim behind a record that says created or exited.
        let has_shim = run_dir.join(SOCKET_FILE).exists();
        match status {
            RunStatus::Running | RunStatus::Paused | RunStatus::Restarting => {}
            RunStatus::Removing => {
                let _ = self.remove_container(container, true, false).await;
                return;
            }
            _ if has_shim => {}
            // A `--rm` container that exited while its removal was cut short.
            RunStatus::Exited | RunStatus::Dead if auto_remove => {
                let _ = self.remove_container(container, true, false).await;
                return;
            }
            _ => return,
        }
        let client = ShimClient::new(&run_dir);
        match client.watch().await {
            Ok(watch) if watch.exit.is_none() && !watch.started => {
                // Prepared but never started: end it; its exit is recorded
                // when its watch reports it.
                let _ = client.kill(libc::SIGKILL, true).await;
                let exit = match watch.exited().await {
                    Some(exit) => exit,
                    None => self.exit_of_lost_shim(container).await,
                };
                self.handle_exit(container, exit).await;
            }
            Ok(watch) if watch.exit.is_none() => {
                if !status.is_alive() {
                    let mut record = container.record.lock().await;
                    record.state.status = RunStatus::Running;
                    record.state.pid = watch.pid;
                    let _ = record.save_state(&self.config.container_dir(&id));
                    container.announce(&record, false);
                }
                info!(id = %id, pid = watch.pid, "re-adopted running container");
                self.monitor_health(container.clone(), false);
                self.monitor(container.clone(), watch);
            }
            Ok(watch) => {
                let exit = match watch.exit {
                    Some(exit) => exit,
                    None => self.exit_of_lost_shim(container).await,
                };
                self.handle_exit(container, exit).await;
            }
            Err(_) => {
                let exit = self.exit_of_lost_shim(container).await;
                self.handle_exit(container, exit).await;
            }
        }
    }
}
