//! Prometheus remote write 1.0 for Bongsu.
//!
//! - [`prompb`]: the protobuf messages (`WriteRequest`, `TimeSeries`,
//!   `Label`, `Sample`, `Exemplar`, `MetricMetadata`), hand-written `prost`
//!   derives.
//! - [`codec`]: snappy block compression with a capped decoded size.
//! - [`receiver`]: `POST /api/v1/write` semantics over an `Appendable`.
//! - [`log`]: the sender's append log (segments, records, readers).
//! - [`tee`]: [`tee::LoggingAppendable`], which writes every commit to the
//!   log before the storage.
//! - [`queue`]: one remote's queue, shards, batches, retries and durable
//!   position; [`RemoteStorage`] runs the queues of a configuration.
#![forbid(unsafe_code)]

pub mod codec;
pub mod log;
pub mod prompb;
pub mod queue;
pub mod receiver;
mod storage;
pub mod tee;

pub use storage::{QueueView, RemoteStorage};
