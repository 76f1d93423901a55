//! `hoist compose exec`: a command in a service's running container, with
//! Docker Compose's defaults (standard input attached, a terminal when
//! ours is one unless `-T`).

use clap::Args;

use super::engine::Engine;
use crate::commands::container::{self, ExecArgs as ContainerExec};
use crate::commands::session::stdin_is_terminal;
use crate::exit::{CliError, CliResult};

/// Execute a command in a running container
#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Detached mode: run command in the background
    #[arg(short = 'd', long)]
    detach: bool,
    /// Give extended privileges to the process
    #[arg(long)]
    privileged: bool,
    /// Run the command as this user
    #[arg(short = 'u', long)]
    user: Option<String>,
    /// Disable pseudo-TTY allocation (by default one is allocated when stdin is a terminal)
    #[arg(short = 'T', long = "no-TTY")]
    no_tty: bool,
    /// Index of the container if the service has multiple replicas
    #[arg(long, default_value_t = 1)]
    index: u32,
    /// Set environment variables
    #[arg(short = 'e', long = "env")]
    env: Vec<String>,
    /// Path to workdir directory for this command
    #[arg(short = 'w', long)]
    workdir: Option<String>,
    /// The service, then the command and its arguments
    #[arg(required = true, num_args = 2.., trailing_var_arg = true, allow_hyphen_values = true, value_name = "SERVICE COMMAND [ARGS...]")]
    service_and_command: Vec<String>,
}

/// Runs `exec` in a project.
pub async fn exec(engine: Engine, project: &str, args: ExecArgs) -> CliResult<i32> {
    let (service, command) = args
        .service_and_command
        .split_first()
        .ok_or_else(|| CliError::client("exec needs a service and a command"))?;
    let container = engine
        .service_container(project, service, args.index)
        .await?;
    let mut target = vec![container.id];
    target.extend_from_slice(command);
    let exec = ContainerExec {
        detach: args.detach,
        interactive: !args.detach,
        tty: !args.no_tty && !args.detach && stdin_is_terminal(),
        env: args.env,
        env_file: Vec::new(),
        user: args.user,
        workdir: args.workdir,
        privileged: args.privileged,
        detach_keys: None,
        container_and_command: target,
    };
    container::exec(engine.channel(), exec).await
}
