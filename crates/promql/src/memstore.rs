//! In-memory `Queryable` for tests and the conformance runner. Owned by the evaluator.
