//! One action on many containers at once, with Docker Compose's progress
//! lines for each (`Stopping` … `Stopped`).

use hoist_api::proto::ContainerSummary;
use tokio::task::JoinSet;

use super::engine::Engine;
use super::events::{Kind, event};
use crate::exit::{CliError, CliResult};

/// Runs `action` on every container concurrently, printing `before` and
/// `after` for each (an empty `before` prints nothing first, as for
/// Docker Compose's `Paused`); the first error is returned once all have
/// finished.
pub async fn each_container<F, Fut>(
    engine: &Engine,
    containers: &[ContainerSummary],
    before: &'static str,
    after: &'static str,
    action: F,
) -> CliResult
where
    F: Fn(Engine, String) -> Fut,
    Fut: std::future::Future<Output = CliResult> + Send + 'static,
{
    let mut tasks = JoinSet::new();
    for container in containers {
        let name = container.name.clone();
        let work = action(engine.clone(), container.id.clone());
        tasks.spawn(async move {
            if !before.is_empty() {
                event(Kind::Container, &name, before);
            }
            work.await?;
            event(Kind::Container, &name, after);
            Ok::<_, CliError>(())
        });
    }
    let mut failure = None;
    while let Some(result) = tasks.join_next().await {
        if let Err(e) = result
            .map_err(|e| CliError::client(format!("a container task failed: {e}")))
            .and_then(|r| r)
        {
            failure.get_or_insert(e);
        }
    }
    failure.map_or(Ok(()), Err)
}
