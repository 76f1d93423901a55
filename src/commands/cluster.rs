//! `hoist cluster …` (Docker's `swarm …`): init, join, join-token, leave,
//! inspect, client certificates, and bench (the replicated write path,
//! for benchmarks).

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use clap::Subcommand;
use hoist_api::cluster::ClusterView;
use hoist_api::cluster_proto::cluster_client::ClusterClient;
use hoist_api::cluster_proto::{
    BenchRequest, ClientCertificateRequest, Empty, InitRequest, JoinClusterRequest,
    JoinTokenRequest, LeaveRequest, UpdateClusterRequest,
};
use tonic::transport::Channel;

use crate::exit::{CliError, CliResult};
use crate::format::print_documents;

/// `hoist cluster …`.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum ClusterCommand {
    /// Initialize a cluster: this node becomes its first manager
    Init {
        /// Address peers and agents reach this manager at (IP[:PORT]); default: the host's address
        #[arg(long = "advertise-addr", default_value = "")]
        advertise_addr: String,
        /// Address to listen on for cluster traffic (IP:PORT)
        #[arg(long = "listen-addr", default_value = "0.0.0.0:2377")]
        listen_addr: String,
        /// Make this manager the only member of a new cluster keeping the current state
        #[arg(long = "force-new-cluster")]
        force_new_cluster: bool,
    },
    /// Join a cluster as a worker or a manager (the token says which)
    Join {
        /// Token from `hoist cluster join-token` on a manager
        #[arg(long, required = true)]
        token: String,
        /// Address peers reach this node at (IP[:PORT]); default: the host's address
        #[arg(long = "advertise-addr", default_value = "")]
        advertise_addr: String,
        /// Address to listen on for cluster traffic if this node is a manager (IP:PORT)
        #[arg(long = "listen-addr", default_value = "0.0.0.0:2377")]
        listen_addr: String,
        /// A manager's address (IP[:PORT]; the port defaults to 2377)
        remote: String,
    },
    /// Print the command that joins a node as a worker or a manager
    JoinToken {
        /// Only print the token
        #[arg(short = 'q', long)]
        quiet: bool,
        /// Rotate the token: the old one stops working for new joins
        #[arg(long)]
        rotate: bool,
        /// worker or manager
        #[arg(value_parser = ["worker", "manager"])]
        role: String,
    },
    /// Leave the cluster
    Leave {
        /// Leave even if this node is a manager
        #[arg(short = 'f', long)]
        force: bool,
    },
    /// Update the cluster's settings
    Update {
        /// Validity period for node certificates (e.g. 2160h, 90m; at least 20s)
        #[arg(long = "cert-expiry")]
        cert_expiry: Option<String>,
        /// Dispatcher heartbeat period (e.g. 1s, 500ms)
        #[arg(long = "dispatcher-heartbeat")]
        dispatcher_heartbeat: Option<String>,
    },
    /// Display and rotate the root CA
    Ca {
        /// Rotate the root CA: every node renews onto a new one
        #[arg(long)]
        rotate: bool,
        /// With --rotate: return at once instead of waiting for every node
        #[arg(short = 'd', long)]
        detach: bool,
        /// Do not print the root CA certificate
        #[arg(short = 'q', long)]
        quiet: bool,
    },
    /// Make a client certificate for driving the cluster from elsewhere
    /// (`--host tcp://MANAGER:2377 --tlscacert … --tlscert … --tlskey …`)
    ClientCert {
        /// Directory to write ca.pem, cert.pem and key.pem to (made if missing)
        #[arg(short = 'o', long = "output", required = true)]
        output: PathBuf,
        /// Validity (e.g. 720h); default: the cluster's certificate expiry
        #[arg(long)]
        expiry: Option<String>,
    },
    /// Display the cluster's details
    Inspect {
        /// Format output using a Go template, or json
        #[arg(short = 'f', long)]
        format: Option<String>,
    },
    /// Play NODES simulated worker nodes in this process (scale tests): real
    /// joins, sessions and workers, tasks that run in memory. Runs until
    /// interrupted; stopping it is the failure of all its nodes.
    #[command(hide = true)]
    Simulate(SimulateArgs),
    /// Measure replicated writes: COUNT small objects, CONCURRENCY at a time
    #[command(hide = true)]
    Bench {
        /// Writes to make
        #[arg(long, default_value_t = 10_000)]
        count: u64,
        /// Writes in flight at once
        #[arg(long, default_value_t = 64)]
        concurrency: u64,
    },
}

/// Play simulated worker nodes in this process (scale tests): real joins,
/// sessions and workers, tasks that run in memory
#[derive(Debug, clap::Args)]
pub struct SimulateArgs {
    /// How many nodes to play
    #[arg(long, default_value_t = 100)]
    pub nodes: usize,
    /// A worker join token
    #[arg(long)]
    pub token: String,
    /// Hostname prefix of the nodes
    #[arg(long, default_value = "sim")]
    pub prefix: String,
    /// How long a task takes to start (ms|s)
    #[arg(long = "start-latency", default_value = "50ms")]
    pub start_latency: String,
    /// Fraction of task starts that fail (0 to 1)
    #[arg(long = "failure-rate", default_value_t = 0.0)]
    pub failure_rate: f64,
    /// CPUs each node reports
    #[arg(long, default_value_t = 4)]
    pub cpus: u64,
    /// Memory each node reports
    #[arg(long, default_value = "8g")]
    pub memory: String,
    /// A manager's address (IP[:PORT])
    pub manager: String,
}

/// Runs `cluster simulate` until SIGINT or SIGTERM.
pub async fn simulate(args: SimulateArgs) -> CliResult<i32> {
    let start_latency = hoist_api::units::parse_duration(&args.start_latency)
        .map_err(|e| CliError::usage(format!("invalid --start-latency: {e}")))?;
    let memory_bytes = hoist_api::units::parse_bytes(&args.memory)
        .map_err(|e| CliError::usage(format!("invalid --memory: {e}")))?;
    if !(0.0..=1.0).contains(&args.failure_rate) {
        return Err(CliError::usage(
            "--failure-rate is a fraction between 0 and 1",
        ));
    }
    let manager = if args.manager.contains(':') {
        args.manager
    } else {
        format!(
            "{}:{}",
            args.manager,
            hoist_api::cluster::DEFAULT_CLUSTER_PORT
        )
    };
    let simulated = hoist_manager::simulate::start(hoist_manager::simulate::Simulation {
        manager,
        token: args.token.trim().to_string(),
        nodes: args.nodes,
        prefix: args.prefix,
        start_latency: std::time::Duration::from_nanos(start_latency.max(0) as u64),
        failure_rate: args.failure_rate,
        cpus: args.cpus,
        memory_bytes: memory_bytes.max(0) as u64,
    })
    .await?;
    println!("{} simulated nodes joined", simulated.node_ids.len());
    tokio::select! {
        _ = simulated.wait() => {}
        _ = tokio::signal::ctrl_c() => {}
        _ = terminated() => {}
    }
    Ok(0)
}

async fn terminated() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut term) => {
            term.recv().await;
        }
        Err(_) => std::future::pending().await,
    }
}

fn join_instructions(role: &str, token: &str, addr: &str) {
    println!("To add a {role} to this cluster, run the following command:\n");
    println!("    hoist cluster join --token {token} {addr}\n");
}

fn decode(json: &[u8]) -> CliResult<ClusterView> {
    serde_json::from_slice(json).map_err(|e| CliError::client(format!("undecodable answer: {e}")))
}

async fn inspect(client: &mut ClusterClient<Channel>) -> CliResult<ClusterView> {
    decode(&client.inspect(Empty {}).await?.into_inner().json)
}

/// Runs a cluster command.
pub async fn run(channel: Channel, command: ClusterCommand) -> CliResult<i32> {
    let mut client = ClusterClient::new(channel);
    match command {
        ClusterCommand::Init {
            advertise_addr,
            listen_addr,
            force_new_cluster,
        } => {
            let answer = client
                .init(InitRequest {
                    advertise_addr,
                    listen_addr,
                    force_new_cluster,
                })
                .await?
                .into_inner();
            if force_new_cluster {
                println!(
                    "Cluster recovered: current node ({}) is now the only manager; the other managers were made workers.\n",
                    answer.node_id
                );
            } else {
                println!(
                    "Cluster initialized: current node ({}) is now a manager.\n",
                    answer.node_id
                );
            }
            join_instructions("worker", &answer.worker_token, &answer.manager_addr);
            println!(
                "To add a manager to this cluster, run 'hoist cluster join-token manager' and follow the instructions."
            );
        }
        ClusterCommand::Join {
            token,
            advertise_addr,
            listen_addr,
            remote,
        } => {
            let answer = client
                .join(JoinClusterRequest {
                    token,
                    remote_addr: remote,
                    advertise_addr,
                    listen_addr,
                })
                .await?
                .into_inner();
            println!("This node joined a cluster as a {}.", answer.role);
        }
        ClusterCommand::JoinToken {
            quiet,
            rotate,
            role,
        } => {
            let answer = client
                .join_token(JoinTokenRequest {
                    role: role.clone(),
                    rotate,
                })
                .await?
                .into_inner();
            if quiet {
                println!("{}", answer.token);
            } else {
                if rotate {
                    println!("Successfully rotated {role} join token.\n");
                }
                join_instructions(&role, &answer.token, &answer.manager_addr);
            }
        }
        ClusterCommand::Leave { force } => {
            client.leave(LeaveRequest { force }).await?;
            println!("Node left the cluster.");
        }
        ClusterCommand::Update {
            cert_expiry,
            dispatcher_heartbeat,
        } => {
            let nanos = |value: &Option<String>, flag: &str| -> CliResult<u64> {
                match value {
                    None => Ok(0),
                    Some(text) => hoist_api::units::parse_duration(text)
                        .ok()
                        .filter(|n| *n > 0)
                        .map(|n| n as u64)
                        .ok_or_else(|| {
                            CliError::usage(format!(
                                "invalid {flag} {text:?}: use a duration such as 90m or 2160h"
                            ))
                        }),
                }
            };
            let request = UpdateClusterRequest {
                cert_expiry_secs: nanos(&cert_expiry, "--cert-expiry")? / 1_000_000_000,
                heartbeat_period_ms: nanos(&dispatcher_heartbeat, "--dispatcher-heartbeat")?
                    / 1_000_000,
            };
            client.update(request).await?;
            println!("Cluster updated.");
        }
        ClusterCommand::Ca {
            rotate,
            detach,
            quiet,
        } => {
            let mut view = if rotate {
                decode(&client.rotate_ca(Empty {}).await?.into_inner().json)?
            } else {
                inspect(&mut client).await?
            };
            if rotate && !detach {
                let mut last = None;
                while view.ca_rotation_in_progress {
                    let progress = (view.ca_rotation_renewed, view.ca_rotation_nodes);
                    if last != Some(progress) {
                        eprintln!(
                            "rotating the root CA: {}/{} nodes renewed",
                            progress.0, progress.1
                        );
                        last = Some(progress);
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                    view = inspect(&mut client).await?;
                }
                eprintln!("root CA rotation done");
            }
            if !quiet {
                print!("{}", view.ca_certificate);
            }
        }
        ClusterCommand::ClientCert { output, expiry } => {
            client_cert(&mut client, &output, expiry.as_deref()).await?;
        }
        ClusterCommand::Inspect { format } => {
            let view = inspect(&mut client).await?;
            if view.stale {
                eprintln!(
                    "Warning: no leader with a quorum confirmed this state: it is this manager's last known state"
                );
            }
            let document =
                serde_json::to_value(&view).map_err(|e| CliError::client(e.to_string()))?;
            print_documents(format.as_deref(), &[document])?;
        }
        ClusterCommand::Simulate(args) => return simulate(args).await,
        ClusterCommand::Bench { count, concurrency } => {
            let answer = client
                .bench(BenchRequest { count, concurrency })
                .await?
                .into_inner();
            let mut latencies = answer.latencies_us;
            latencies.sort_unstable();
            let percentile = |p: f64| -> f64 {
                let i = ((latencies.len() as f64 - 1.0) * p).round() as usize;
                latencies.get(i).copied().unwrap_or(0) as f64 / 1000.0
            };
            let seconds = answer.elapsed_us as f64 / 1e6;
            println!(
                "writes={} concurrency={concurrency} seconds={seconds:.3} writes_per_second={:.0} p50_ms={:.2} p99_ms={:.2} max_ms={:.2}",
                latencies.len(),
                latencies.len() as f64 / seconds,
                percentile(0.5),
                percentile(0.99),
                percentile(1.0),
            );
        }
    }
    Ok(0)
}

/// `cluster client-cert`: a new key made here, its certificate signed by
/// the manager, both written to `output` with the cluster's trust bundle
/// (the key readable by its owner only). Existing files are not replaced.
async fn client_cert(
    client: &mut ClusterClient<Channel>,
    output: &Path,
    expiry: Option<&str>,
) -> CliResult {
    let lifetime_secs = match expiry {
        None => 0,
        Some(text) => hoist_api::units::parse_duration(text)
            .ok()
            .filter(|n| *n >= 1_000_000_000)
            .map(|n| n as u64 / 1_000_000_000)
            .ok_or_else(|| {
                CliError::usage(format!(
                    "invalid --expiry {text:?}: use a duration such as 720h"
                ))
            })?,
    };
    let files = ["ca.pem", "cert.pem", "key.pem"].map(|name| output.join(name));
    if let Some(taken) = files.iter().find(|f| f.exists()) {
        return Err(CliError::client(format!(
            "{} exists: choose another --output directory, or remove it first",
            taken.display()
        )));
    }
    let (key_pem, csr_pem) =
        hoist_api::tls::new_key_and_request().map_err(|e| CliError::client(e.to_string()))?;
    let issued = client
        .issue_client_certificate(ClientCertificateRequest {
            csr_pem,
            lifetime_secs,
        })
        .await?
        .into_inner();
    let written = (|| -> std::io::Result<()> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(output)?;
        for (path, content, mode) in [
            (&files[0], &issued.ca_pem, 0o644),
            (&files[1], &issued.cert_pem, 0o644),
            (&files[2], &key_pem, 0o600),
        ] {
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(mode)
                .open(path)?
                .write_all(content.as_bytes())?;
        }
        Ok(())
    })();
    written.map_err(|e| {
        CliError::client(format!(
            "cannot write the client certificate to {}: {e}",
            output.display()
        ))
    })?;
    let until = chrono::DateTime::from_timestamp(issued.not_after, 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default();
    let dir = output.display();
    println!(
        "Client certificate {} (valid until {until}) written to {dir}. Use it with:\n    hoist --host tcp://MANAGER:2377 --tlscacert {dir}/ca.pem --tlscert {dir}/cert.pem --tlskey {dir}/key.pem node ls",
        issued.id
    );
    Ok(())
}
