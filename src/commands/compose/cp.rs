//! `hoist compose cp`: files copied between a service's containers and
//! the local filesystem, as `hoist cp` copies them; into every replica
//! unless `--index` names one, out of replica 1 unless it names another.

use clap::Args;
use hoist_compose::plan::labels;

use super::engine::Engine;
use crate::commands::files::{self, CpArgs as ContainerCp, split_remote};
use crate::exit::{CliError, CliResult};

/// Copy files/folders between a service container and the local filesystem
#[derive(Debug, Args)]
pub struct CpArgs {
    /// Archive mode (copy all uid/gid information)
    #[arg(short = 'a', long)]
    archive: bool,
    /// Always follow symbol link in SRC_PATH
    #[arg(short = 'L', long = "follow-link")]
    follow_link: bool,
    /// Index of the container if the service has multiple replicas
    #[arg(long)]
    index: Option<u32>,
    /// SERVICE:SRC_PATH or a local path (- for a tar on stdin)
    source: String,
    /// SERVICE:DEST_PATH or a local path (- for a tar on stdout)
    destination: String,
}

/// Runs `compose cp`.
pub async fn cp(engine: Engine, project: &str, args: CpArgs) -> CliResult<i32> {
    let copy = |source: String, destination: String| ContainerCp {
        archive: args.archive,
        follow_link: args.follow_link,
        source,
        destination,
    };
    match (split_remote(&args.source), split_remote(&args.destination)) {
        (Some((service, path)), None) => {
            let container = engine
                .service_container(project, service, args.index.unwrap_or(1))
                .await?;
            let source = format!("{}:{path}", container.id);
            files::cp(engine.channel(), copy(source, args.destination.clone())).await
        }
        (None, Some((service, path))) => {
            let targets: Vec<String> = match args.index {
                Some(index) => vec![engine.service_container(project, service, index).await?.id],
                None => engine
                    .project_containers(project, false)
                    .await?
                    .into_iter()
                    .filter(|c| {
                        c.labels.get(labels::SERVICE).map(String::as_str) == Some(service)
                            && c.labels.get(labels::ONEOFF).map(String::as_str) != Some("True")
                    })
                    .map(|c| c.id)
                    .collect(),
            };
            if targets.is_empty() {
                return Err(CliError::client(format!(
                    "service {service:?} has no running container: start it with 'hoist compose up -d {service}'"
                )));
            }
            for id in targets {
                let destination = format!("{id}:{path}");
                files::cp(engine.channel(), copy(args.source.clone(), destination)).await?;
            }
            Ok(0)
        }
        (Some(_), Some(_)) => Err(CliError::client(
            "copying between services is not supported: copy through a local path",
        )),
        (None, None) => Err(CliError::client(
            "must specify at least one service source or destination (SERVICE:PATH)",
        )),
    }
}
