//! Bongsu's shared vocabulary. No I/O.
//!
//! Main types: [`Labels`] (a sorted label set), [`Matcher`] (a label matcher
//! with Prometheus' regex anchoring), [`Sample`], durations in milliseconds
//! ([`duration`]), float formatting as Go prints it ([`fmt_float`]) and the
//! storage seams [`storage::Queryable`] and [`storage::Appender`].
#![forbid(unsafe_code)]

pub mod duration;
pub mod labels;
pub mod matcher;
pub mod storage;
pub mod timefmt;
pub mod value;

pub use labels::{Label, LabelStr, Labels, LabelsBuilder, METRIC_NAME};
pub use matcher::{MatchOp, Matcher, MatcherError};
pub use value::{fmt_exposition_float, fmt_float, is_stale_nan, parse_go_float, Sample, STALE_NAN, STALE_NAN_BITS};

/// Milliseconds since the Unix epoch, as Prometheus stores time.
pub type Timestamp = i64;

/// Now as a millisecond timestamp.
pub fn now_ms() -> Timestamp {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
