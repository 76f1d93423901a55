//! Health checks: while a container with a HEALTHCHECK runs, its probe is
//! exec'd on Docker's schedule and the result kept in `.State.Health`
//! (starting → healthy / unhealthy, the failing streak, the last five runs).

use std::sync::Arc;
use std::time::Duration;

use hoist_api::inspect::{Health, HealthLogEntry};
use hoist_api::spec::{ExecSpec, HealthcheckSpec};
use hoist_runtime::shim::client::{Output, ShimClient};
use hoist_runtime::shim::protocol::Input;
use tracing::{debug, info};

use super::Container;
use super::lifecycle::now;
use super::oci::{self, BundleContext};
use super::record::Status as RunStatus;
use crate::daemon::Daemon;

/// Docker's defaults for fields left at zero.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_START_INTERVAL: Duration = Duration::from_secs(5);
const DEFAULT_RETRIES: i64 = 3;
/// Output kept per probe run.
const MAX_OUTPUT: usize = 4096;
/// Probe runs kept in the log.
const MAX_LOG: usize = 5;

/// A healthcheck with Docker's defaults filled in.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// The command to exec.
    pub command: Vec<String>,
    /// Time between checks.
    pub interval: Duration,
    /// Time a check may take.
    pub timeout: Duration,
    /// Grace period after start.
    pub start_period: Duration,
    /// Time between checks during the grace period.
    pub start_interval: Duration,
    /// Failures in a row that make the container unhealthy.
    pub retries: i64,
}

fn nanos(value: i64, default: Duration) -> Duration {
    if value > 0 {
        Duration::from_nanos(value as u64)
    } else {
        default
    }
}

impl Schedule {
    /// The schedule of a healthcheck; `None` when it has no command.
    pub fn of(check: &HealthcheckSpec) -> Option<Self> {
        let command = match check.test.split_first() {
            Some((kind, rest)) if kind == "CMD" && !rest.is_empty() => rest.to_vec(),
            Some((kind, rest)) if kind == "CMD-SHELL" && !rest.is_empty() => {
                vec!["/bin/sh".into(), "-c".into(), rest.join(" ")]
            }
            _ => return None,
        };
        Some(Self {
            command,
            interval: nanos(check.interval, DEFAULT_INTERVAL),
            timeout: nanos(check.timeout, DEFAULT_TIMEOUT),
            start_period: nanos(check.start_period, Duration::ZERO),
            start_interval: nanos(check.start_interval, DEFAULT_START_INTERVAL),
            retries: if check.retries > 0 {
                check.retries
            } else {
                DEFAULT_RETRIES
            },
        })
    }
}

/// The next health after a probe: Docker's rules. Failures in the start
/// period do not count; any success makes the container healthy.
pub fn next_health(
    current: &Health,
    exit_code: i64,
    in_start_period: bool,
    retries: i64,
) -> (String, i64) {
    if exit_code == 0 {
        return ("healthy".into(), 0);
    }
    if in_start_period && current.status == "starting" {
        return (current.status.clone(), current.failing_streak);
    }
    let streak = current.failing_streak + 1;
    let status = if streak >= retries {
        "unhealthy".to_string()
    } else {
        current.status.clone()
    };
    (status, streak)
}

impl Daemon {
    /// Starts checking a container's health, if it has a healthcheck. The
    /// monitor ends when this run of the container ends. `fresh` (a new
    /// start) resets the health to `starting`; a re-adopted container keeps
    /// what it had.
    pub fn monitor_health(self: &Arc<Self>, container: Arc<Container>, fresh: bool) {
        let daemon = self.clone();
        tokio::spawn(async move {
            let (schedule, exits) = {
                let mut record = container.record.lock().await;
                let Some(schedule) = record.settings.healthcheck.as_ref().and_then(Schedule::of)
                else {
                    return;
                };
                if fresh || record.state.health.is_none() {
                    record.state.health = Some(Health {
                        status: "starting".into(),
                        failing_streak: 0,
                        log: Vec::new(),
                    });
                }
                let _ = record.save_state(&daemon.config.container_dir(&record.id));
                (schedule, container.events.borrow().exits)
            };
            let started = tokio::time::Instant::now();
            let mut events = container.events.subscribe();
            loop {
                let in_start_period = started.elapsed() < schedule.start_period;
                let wait = if in_start_period {
                    schedule.start_interval
                } else {
                    schedule.interval
                };
                let ended = tokio::select! {
                    _ = tokio::time::sleep(wait) => false,
                    _ = events.wait_for(|s| s.exits != exits || s.removed) => true,
                };
                if ended {
                    return;
                }
                let status = container.events.borrow().status;
                if status == RunStatus::Paused {
                    continue;
                }
                if status != RunStatus::Running {
                    return;
                }
                let entry = daemon.probe(&container, &schedule).await;
                let in_start_period = started.elapsed() < schedule.start_period;
                let mut record = container.record.lock().await;
                if container.events.borrow().exits != exits {
                    return;
                }
                let health = record.state.health.get_or_insert_with(Health::default);
                let (status, streak) =
                    next_health(health, entry.exit_code, in_start_period, schedule.retries);
                let changed = status != health.status;
                if changed {
                    info!(id = %container.id, health = %status, "health changed");
                }
                health.status = status.clone();
                health.failing_streak = streak;
                health.log.push(entry);
                if health.log.len() > MAX_LOG {
                    health.log.remove(0);
                }
                let _ = record.save_state(&daemon.config.container_dir(&record.id));
                container.announce(&record, false);
                if changed {
                    daemon.container_event(&record, &format!("health_status: {status}"), &[]);
                }
            }
        });
    }

    /// Runs the probe once: exit code 0 healthy, 1 unhealthy, -1 when it
    /// could not run or timed out.
    async fn probe(&self, container: &Arc<Container>, schedule: &Schedule) -> HealthLogEntry {
        let start = now();
        let failed = |output: String| HealthLogEntry {
            start: start.clone(),
            end: now(),
            exit_code: -1,
            output,
        };
        let process = {
            let record = container.record.lock().await;
            let ctx = BundleContext {
                config: &self.config,
                images: &self.images,
                hierarchy: &self.hierarchy,
                joined: Default::default(),
                console: None,
            };
            let exec = ExecSpec {
                cmd: schedule.command.clone(),
                ..Default::default()
            };
            match oci::exec_process(&ctx, &record, &exec) {
                Ok(p) => p,
                Err(e) => return failed(e.message().to_string()),
            }
        };
        let client = ShimClient::new(&self.config.container_run_dir(&container.id));
        let (_, mut output, mut input) = match client.exec(process).await {
            Ok(session) => session,
            Err(e) => return failed(e.to_string()),
        };
        let mut text = Vec::new();
        let run = async {
            loop {
                match output.next().await {
                    Ok(Some(Output::Data(_, data))) => {
                        let room = MAX_OUTPUT.saturating_sub(text.len());
                        text.extend_from_slice(&data[..data.len().min(room)]);
                    }
                    Ok(Some(Output::Exited(info))) => return Some(info.code),
                    Ok(None) | Err(_) => return None,
                }
            }
        };
        let result = tokio::time::timeout(schedule.timeout, run).await;
        let output = String::from_utf8_lossy(&text).into_owned();
        match result {
            Ok(Some(code)) => {
                debug!(id = %container.id, code, "health probe");
                HealthLogEntry {
                    start,
                    end: now(),
                    exit_code: if code == 0 { 0 } else { 1 },
                    output,
                }
            }
            Ok(None) => failed(format!(
                "{output}the probe's stream ended without an exit status"
            )),
            Err(_) => {
                let _ = input
                    .control(&Input::Kill {
                        signal: libc::SIGKILL,
                    })
                    .await;
                failed(format!(
                    "Health check exceeded timeout ({:?})",
                    schedule.timeout
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_fill_in_docker_defaults() {
        let s = Schedule::of(&HealthcheckSpec {
            test: vec!["CMD-SHELL".into(), "wget -q localhost".into()],
            ..Default::default()
        })
        .unwrap();
        assert_eq!(s.command, vec!["/bin/sh", "-c", "wget -q localhost"]);
        assert_eq!(
            (s.interval, s.timeout, s.retries),
            (DEFAULT_INTERVAL, DEFAULT_TIMEOUT, 3)
        );
        let s = Schedule::of(&HealthcheckSpec {
            test: vec!["CMD".into(), "true".into()],
            interval: 1_000_000,
            retries: 2,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            (s.command.clone(), s.interval, s.retries),
            (vec!["true".to_string()], Duration::from_millis(1), 2)
        );
        assert!(
            Schedule::of(&HealthcheckSpec {
                test: vec!["NONE".into()],
                ..Default::default()
            })
            .is_none()
        );
    }

    #[test]
    fn health_follows_dockers_state_rules() {
        let starting = Health {
            status: "starting".into(),
            failing_streak: 0,
            log: Vec::new(),
        };
        assert_eq!(
            next_health(&starting, 1, true, 3),
            ("starting".into(), 0),
            "start period failures do not count"
        );
        assert_eq!(next_health(&starting, 0, true, 3), ("healthy".into(), 0));
        let healthy = Health {
            status: "healthy".into(),
            failing_streak: 1,
            log: Vec::new(),
        };
        assert_eq!(next_health(&healthy, 1, false, 3), ("healthy".into(), 2));
        assert_eq!(next_health(&healthy, 1, false, 2), ("unhealthy".into(), 2));
        assert_eq!(
            next_health(&healthy, -1, false, 2),
            ("unhealthy".into(), 2),
            "a timeout is a failure"
        );
    }
}
