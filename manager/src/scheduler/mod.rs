//! The scheduler: places tasks that wait for a node. [`plan()`] decides,
//! purely, from a snapshot of nodes and tasks (Swarm's filters, then its
//! spread); [`run()`] is the leader's loop that plans whenever the store
//! moves and writes the decisions.

pub mod constraint;
mod filter;
mod load;
mod plan;
pub mod preference;
mod run;
mod spread;

#[cfg(test)]
mod tests;

pub use plan::{Assignment, Plan, Unplaced, plan};
pub use run::{ops, run};
