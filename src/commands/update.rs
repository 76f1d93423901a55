//! `hoist update`: new resource limits and restart policy for containers,
//! as `docker update` takes them.

use clap::Args;
use hoist_api::blkio::check_weight;
use hoist_api::proto::UpdateContainerRequest;
use hoist_api::proto::containers_client::ContainersClient;
use hoist_api::spec::{ContainerUpdate, RestartPolicy};
use tonic::transport::Channel;

use super::container_flags::{bytes, nano_cpus};
use super::for_each;
use crate::exit::{CliError, CliResult};

/// Update configuration of one or more containers
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// Block IO (relative weight), between 10 and 1000, or 0 to disable
    #[arg(long = "blkio-weight")]
    pub blkio_weight: Option<u16>,
    /// Limit CPU CFS (Completely Fair Scheduler) period
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<i64>,
    /// Limit CPU CFS (Completely Fair Scheduler) quota
    #[arg(long = "cpu-quota", allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// CPU shares (relative weight)
    #[arg(short = 'c', long = "cpu-shares")]
    pub cpu_shares: Option<i64>,
    /// Number of CPUs
    #[arg(long)]
    pub cpus: Option<f64>,
    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    /// MEMs in which to allow execution (0-3, 0,1)
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    /// Memory limit
    #[arg(short = 'm', long)]
    pub memory: Option<String>,
    /// Memory soft limit
    #[arg(long = "memory-reservation")]
    pub memory_reservation: Option<String>,
    /// Swap limit equal to memory plus swap: -1 to enable unlimited swap
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Tune container pids limit (set -1 for unlimited)
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Restart policy to apply when a container exits
    #[arg(long)]
    pub restart: Option<String>,
    /// The containers
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

impl UpdateArgs {
    /// The update the flags ask for, checked before any daemon is asked.
    pub fn to_update(&self) -> Result<ContainerUpdate, CliError> {
        let size = |value: &Option<String>, flag: &str| {
            value.as_ref().map(|_| bytes(value, flag)).transpose()
        };
        if let Some(weight) = self.blkio_weight {
            check_weight(weight).map_err(CliError::usage)?;
        }
        let update = ContainerUpdate {
            memory: size(&self.memory, "--memory")?,
            memory_swap: size(&self.memory_swap, "--memory-swap")?,
            memory_reservation: size(&self.memory_reservation, "--memory-reservation")?,
            nano_cpus: nano_cpus(self.cpus)?,
            cpu_shares: self.cpu_shares,
            cpu_period: self.cpu_period,
            cpu_quota: self.cpu_quota,
            cpuset_cpus: self.cpuset_cpus.clone(),
            cpuset_mems: self.cpuset_mems.clone(),
            pids_limit: self.pids_limit,
            blkio_weight: self.blkio_weight,
            restart_policy: self
                .restart
                .as_deref()
                .map(RestartPolicy::parse)
                .transpose()
                .map_err(CliError::usage)?,
        };
        if update.is_empty() {
            return Err(CliError::usage(
                "you must provide one or more flags when using this command",
            ));
        }
        Ok(update)
    }
}

/// Updates each of `containers`; prints its name as given, as Docker does.
pub async fn update(
    channel: Channel,
    containers: &[String],
    update: &ContainerUpdate,
) -> CliResult<i32> {
    let json = serde_json::to_vec(update).map_err(|e| CliError::client(e.to_string()))?;
    let client = ContainersClient::new(channel);
    for_each(containers, false, |id| {
        let mut client = client.clone();
        let request = UpdateContainerRequest {
            id,
            update_json: json.clone(),
        };
        async move {
            let response = client.update(request).await?.into_inner();
            for warning in response.warnings {
                eprintln!("WARNING: {warning}");
            }
            Ok(())
        }
    })
    .await
}
