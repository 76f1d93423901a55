//! The scheduler: places tasks that wait for a node.

pub mod constraint;
