//! Bongsu's automated responder: runbooks that act on alerts — guarded,
//! exactly once, verified, rolled back or escalated, audited.
//!
//! A runbook is reached like any receiver: a `runbook_configs` entry in
//! `alertmanager.yml` (so routing, grouping, inhibition, silences and time
//! intervals decide what reaches automation exactly as they decide what
//! reaches people), or an external Alertmanager's webhook posted to
//! `/api/bongsu/v1/respond/webhook`. See `docs/respond.md`.
//!
//! - [`runbook`]: the files, strict, checked at load.
//! - [`engine`]: triggers → executions; guards, approval, steps,
//!   verification (PromQL), rollback, escalation, crash recovery.
//! - [`action`]: `exec` (argv only, process-group timeouts) and `http`
//!   (HMAC-signed when asked), shared with the webhook's signature check.
//! - [`integration`]: the `runbook` integration for the built-in
//!   Alertmanager, and escalation through its receivers.
//! - [`api`]: the HTTP API (executions, approvals, incidents, webhook).
#![forbid(unsafe_code)]

pub mod action;
pub mod api;
pub mod engine;
pub mod integration;
pub mod model;
pub mod render;
pub mod runbook;
pub mod sim;

pub use engine::{Escalator, Querier, Responder, Settings};
pub use model::{Execution, Trigger, TriggerAlert};
pub use runbook::{Runbook, Runbooks};
