//! `hoist version` and `hoist info`.

use hoist_api::proto::system_client::SystemClient;
use hoist_api::proto::{InfoRequest, VersionRequest};
use tonic::transport::Channel;

use crate::exit::{CliError, CliResult};

/// Prints client and daemon versions.
pub async fn version(channel: Option<Channel>) -> CliResult<i32> {
    println!(
        "Client:\n Version:    {}\n API version: {}\n OS/Arch:    {}/{}",
        hoist_api::VERSION,
        hoist_api::API_VERSION,
        std::env::consts::OS,
        hoist_runtime::image::config::host_architecture()
    );
    let Some(channel) = channel else {
        return Err(CliError::client("cannot reach the daemon"));
    };
    let v = SystemClient::new(channel)
        .version(VersionRequest {})
        .await?
        .into_inner();
    println!(
        "\nServer:\n Version:    {}\n API version: {}\n OS/Arch:    {}/{}\n Kernel:     {}\n PID:        {}",
        v.version, v.api_version, v.os, v.arch, v.kernel_version, v.pid
    );
    Ok(0)
}

/// Prints daemon facts as JSON.
pub async fn info(channel: Channel) -> CliResult<i32> {
    let response = SystemClient::new(channel)
        .info(InfoRequest {})
        .await?
        .into_inner();
    let info: serde_json::Value =
        serde_json::from_slice(&response.info_json).map_err(|e| CliError::client(e.to_string()))?;
    println!(
        "{}",
        serde_json::to_string_pretty(&info).map_err(|e| CliError::client(e.to_string()))?
    );
    Ok(0)
}
