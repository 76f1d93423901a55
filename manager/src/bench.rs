//! `hoist cluster bench`: many small replicated writes, some at a time, to
//! measure what the Raft write path sustains; the probes are deleted
//! afterwards.

use std::sync::Arc;
use std::time::Instant;

use hoist_api::cluster_proto::BenchResponse;
use tokio::task::JoinSet;
use tonic::Status;

use crate::manager::Manager;
use crate::store::objects::{Kind, Meta, Object, Probe};
use crate::store::{Batch, Op};

/// Most writes one bench call makes.
const MAX_COUNT: u64 = 1_000_000;

/// Writes `count` probes with `concurrency` writers, timing each write.
pub async fn run(
    manager: &Arc<Manager>,
    count: u64,
    concurrency: u64,
) -> Result<BenchResponse, Status> {
    if count == 0 || count > MAX_COUNT || concurrency == 0 || concurrency > count {
        return Err(Status::invalid_argument(format!(
            "count must be 1..={MAX_COUNT} and concurrency 1..=count"
        )));
    }
    let run = crate::ids::new_id().map_err(|e| Status::internal(e.to_string()))?;
    let started = Instant::now();
    let mut writers = JoinSet::new();
    for writer in 0..concurrency {
        let manager = manager.clone();
        let run = run.clone();
        writers.spawn(async move {
            let mut latencies = Vec::new();
            let mut i = writer;
            while i < count {
                let probe = Probe {
                    meta: Meta {
                        id: format!("{run}-{i}"),
                        ..Meta::default()
                    },
                    payload: "x".repeat(64),
                };
                let at = Instant::now();
                manager
                    .write(Batch::one(Op::Create(Object::Probe(probe))))
                    .await
                    .map_err(|e| Status::unavailable(e.to_string()))?;
                latencies.push(at.elapsed().as_micros() as u64);
                i += concurrency;
            }
            Ok::<_, Status>(latencies)
        });
    }
    let mut latencies_us = Vec::new();
    while let Some(joined) = writers.join_next().await {
        latencies_us.extend(joined.map_err(|e| Status::internal(e.to_string()))??);
    }
    let elapsed_us = started.elapsed().as_micros() as u64;
    let ids: Vec<Op> = (0..count)
        .map(|i| Op::Delete {
            kind: Kind::Probe,
            id: format!("{run}-{i}"),
            version: None,
        })
        .collect();
    for chunk in ids.chunks(1000) {
        manager
            .write(Batch {
                ops: chunk.to_vec(),
            })
            .await
            .map_err(|e| Status::unavailable(e.to_string()))?;
    }
    Ok(BenchResponse {
        latencies_us,
        elapsed_us,
    })
}
