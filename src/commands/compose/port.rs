//! `hoist compose port`: the host address a service's container port is
//! published on (`0.0.0.0:8080`).

use clap::Args;
use hoist_api::proto::ContainerSummary;
use hoist_compose::plan::{Plan, labels};

use super::engine::Engine;
use super::services::{is_one_off, service_of};
use super::up::selection;
use crate::commands::container::ports_text;
use crate::exit::{CliError, CliResult};

/// Print the public port for a port binding
#[derive(Debug, Args)]
pub struct PortArgs {
    /// Index of the container if service has multiple replicas (default: the first)
    #[arg(long, default_value_t = 0)]
    index: u32,
    /// tcp or udp
    #[arg(long, default_value = "tcp", value_parser = ["tcp", "udp"])]
    protocol: String,
    /// The service
    #[arg(value_name = "SERVICE")]
    service: String,
    /// The port in the container
    #[arg(value_name = "PRIVATE_PORT")]
    private_port: u16,
}

/// Prints where the service's container publishes the port.
pub async fn port(engine: Engine, plan: Plan, args: PortArgs) -> CliResult<i32> {
    selection(&plan, std::slice::from_ref(&args.service), true)?;
    let running = engine.project_containers(&plan.project, false).await?;
    let container = pick(running, &args.service, args.index)?;
    let published = container.ports.iter().find(|p| {
        p.container_port == u32::from(args.private_port)
            && p.protocol == args.protocol
            && p.host_port != 0
    });
    match published {
        Some(p) => {
            let ip = if p.host_ip.is_empty() {
                "0.0.0.0"
            } else {
                &p.host_ip
            };
            println!("{ip}:{}", p.host_port);
            Ok(0)
        }
        None => Err(CliError::client(format!(
            "no port {}/{} for container {}: {}",
            args.private_port,
            args.protocol,
            container.name,
            match ports_text(&container.ports) {
                text if text.is_empty() => "it publishes none".to_string(),
                text => text,
            }
        ))),
    }
}

/// The running container of `service` numbered `index` (0: the lowest
/// number, service containers before `compose run` ones).
fn pick(running: Vec<ContainerSummary>, service: &str, index: u32) -> CliResult<ContainerSummary> {
    let number = |c: &ContainerSummary| {
        c.labels
            .get(labels::NUMBER)
            .and_then(|n| n.parse::<u32>().ok())
            .unwrap_or(0)
    };
    running
        .into_iter()
        .filter(|c| service_of(c) == Some(service) && (index == 0 || number(c) == index))
        .min_by_key(|c| (is_one_off(c), number(c)))
        .ok_or_else(|| {
            CliError::client(if index > 0 {
                format!("service {service:?} is not running container #{index}")
            } else {
                format!("service {service:?} is not running")
            })
        })
}
