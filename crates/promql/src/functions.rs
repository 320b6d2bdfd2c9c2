//! The PromQL function signature table (Prometheus 3.14 `functions.go`):
//! argument types, variadic arity, return type and whether the function is
//! experimental (all are accepted by the parser; the engine decides).

use crate::ast::ValueType;

/// One PromQL function's signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FunctionSig {
    pub name: &'static str,
    pub arg_types: &'static [ValueType],
    /// Prometheus semantics: 0 = exactly `arg_types.len()` arguments;
    /// -1 = the last argument type repeats without limit; n > 0 = up to n
    /// optional trailing arguments of the last type (at least
    /// `arg_types.len() - 1` arguments are required).
    pub variadic: i32,
    pub return_type: ValueType,
    /// Behind `--enable-feature=promql-experimental-functions` upstream.
    pub experimental: bool,
}

impl FunctionSig {
    /// Smallest number of arguments accepted.
    pub fn min_args(&self) -> usize {
        if self.variadic == 0 {
            self.arg_types.len()
        } else {
            self.arg_types.len().saturating_sub(1)
        }
    }

    /// Largest number of arguments accepted (`None` = unlimited).
    pub fn max_args(&self) -> Option<usize> {
        match self.variadic {
            0 => Some(self.arg_types.len()),
            v if v < 0 => None,
            v => Some(self.arg_types.len().saturating_sub(1) + v as usize),
        }
    }

    /// The expected type of argument `i` (the last type repeats for
    /// variadic functions).
    pub fn arg_type(&self, i: usize) -> Option<ValueType> {
        match self.arg_types.get(i) {
            Some(t) => Some(*t),
            None if self.variadic != 0 => self.arg_types.last().copied(),
            None => None,
        }
    }
}

const S: ValueType = ValueType::Scalar;
const V: ValueType = ValueType::Vector;
const M: ValueType = ValueType::Matrix;
#[allow(non_upper_case_globals)]
const Str: ValueType = ValueType::String;

const fn sig(
    name: &'static str,
    arg_types: &'static [ValueType],
    variadic: i32,
    return_type: ValueType,
    experimental: bool,
) -> FunctionSig {
    FunctionSig { name, arg_types, variadic, return_type, experimental }
}

/// Every function, sorted by name.
#[allow(non_upper_case_globals)]
pub static FUNCTIONS: &[FunctionSig] = &[
    sig("abs", &[V], 0, V, false),
    sig("absent", &[V], 0, V, false),
    sig("absent_over_time", &[M], 0, V, false),
    sig("acos", &[V], 0, V, false),
    sig("acosh", &[V], 0, V, false),
    sig("asin", &[V], 0, V, false),
    sig("asinh", &[V], 0, V, false),
    sig("atan", &[V], 0, V, false),
    sig("atanh", &[V], 0, V, false),
    sig("avg_over_time", &[M], 0, V, false),
    sig("ceil", &[V], 0, V, false),
    sig("changes", &[M], 0, V, false),
    sig("clamp", &[V, S, S], 0, V, false),
    sig("clamp_max", &[V, S], 0, V, false),
    sig("clamp_min", &[V, S], 0, V, false),
    sig("cos", &[V], 0, V, false),
    sig("cosh", &[V], 0, V, false),
    sig("count_over_time", &[M], 0, V, false),
    sig("day_of_month", &[V], 1, V, false),
    sig("day_of_week", &[V], 1, V, false),
    sig("day_of_year", &[V], 1, V, false),
    sig("days_in_month", &[V], 1, V, false),
    sig("deg", &[V], 0, V, false),
    sig("delta", &[M], 0, V, false),
    sig("deriv", &[M], 0, V, false),
    sig("double_exponential_smoothing", &[M, S, S], 0, V, true),
    sig("end", &[], 0, S, true),
    sig("exp", &[V], 0, V, false),
    sig("first_over_time", &[M], 0, V, false),
    sig("floor", &[V], 0, V, false),
    sig("histogram_avg", &[V], 0, V, false),
    sig("histogram_count", &[V], 0, V, false),
    sig("histogram_fraction", &[S, S, V], 0, V, false),
    sig("histogram_quantile", &[S, V], 0, V, false),
    sig("histogram_quantiles", &[V, Str, S, S], 9, V, true),
    sig("histogram_stddev", &[V], 0, V, false),
    sig("histogram_stdvar", &[V], 0, V, false),
    sig("histogram_sum", &[V], 0, V, false),
    sig("hour", &[V], 1, V, false),
    sig("idelta", &[M], 0, V, false),
    sig("increase", &[M], 0, V, false),
    sig("info", &[V, V], 1, V, true),
    sig("irate", &[M], 0, V, false),
    sig("label_join", &[V, Str, Str, Str], -1, V, false),
    sig("label_replace", &[V, Str, Str, Str, Str], 0, V, false),
    sig("last_over_time", &[M], 0, V, false),
    sig("ln", &[V], 0, V, false),
    sig("log10", &[V], 0, V, false),
    sig("log2", &[V], 0, V, false),
    sig("mad_over_time", &[M], 0, V, true),
    sig("max_of", &[S, S], 0, S, true),
    sig("max_over_time", &[M], 0, V, false),
    sig("min_of", &[S, S], 0, S, true),
    sig("min_over_time", &[M], 0, V, false),
    sig("minute", &[V], 1, V, false),
    sig("month", &[V], 1, V, false),
    sig("pi", &[], 0, S, false),
    sig("predict_linear", &[M, S], 0, V, false),
    sig("present_over_time", &[M], 0, V, false),
    sig("quantile_over_time", &[S, M], 0, V, false),
    sig("rad", &[V], 0, V, false),
    sig("range", &[], 0, S, true),
    sig("rate", &[M], 0, V, false),
    sig("resets", &[M], 0, V, false),
    sig("round", &[V, S], 1, V, false),
    sig("scalar", &[V], 0, S, false),
    sig("sgn", &[V], 0, V, false),
    sig("sin", &[V], 0, V, false),
    sig("sinh", &[V], 0, V, false),
    sig("sort", &[V], 0, V, false),
    sig("sort_by_label", &[V, Str], -1, V, true),
    sig("sort_by_label_desc", &[V, Str], -1, V, true),
    sig("sort_desc", &[V], 0, V, false),
    sig("sqrt", &[V], 0, V, false),
    sig("start", &[], 0, S, true),
    sig("start_timestamp", &[V], 0, V, true),
    sig("stddev_over_time", &[M], 0, V, false),
    sig("stdvar_over_time", &[M], 0, V, false),
    sig("step", &[], 0, S, true),
    sig("sum_over_time", &[M], 0, V, false),
    sig("tan", &[V], 0, V, false),
    sig("tanh", &[V], 0, V, false),
    sig("time", &[], 0, S, false),
    sig("timestamp", &[V], 0, V, false),
    sig("ts_of_first_over_time", &[M], 0, V, true),
    sig("ts_of_last_over_time", &[M], 0, V, true),
    sig("ts_of_max_over_time", &[M], 0, V, true),
    sig("ts_of_min_over_time", &[M], 0, V, true),
    sig("vector", &[S], 0, V, false),
    sig("year", &[V], 1, V, false),
];

/// The signature of a function, by its exact (case-sensitive) name.
pub fn lookup(name: &str) -> Option<&'static FunctionSig> {
    FUNCTIONS.binary_search_by(|f| f.name.cmp(name)).ok().map(|i| &FUNCTIONS[i])
}

/// The return type of a function, if it exists.
pub fn return_type(name: &str) -> Option<ValueType> {
    lookup(name).map(|f| f.return_type)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_complete() {
        assert!(FUNCTIONS.windows(2).all(|w| w[0].name < w[1].name));
        for name in [
            "rate", "label_replace", "double_exponential_smoothing", "histogram_quantile", "info", "ts_of_max_over_time",
            "mad_over_time", "step", "range", "start", "end", "min_of", "max_of", "pi", "first_over_time",
        ] {
            assert!(lookup(name).is_some(), "{name}");
        }
        assert!(lookup("holt_winters").is_none());
        assert_eq!(return_type("scalar"), Some(ValueType::Scalar));
        let lj = lookup("label_join").unwrap();
        assert_eq!((lj.min_args(), lj.max_args()), (3, None));
        let round = lookup("round").unwrap();
        assert_eq!((round.min_args(), round.max_args()), (1, Some(2)));
        assert_eq!(lookup("hour").unwrap().arg_type(0), Some(ValueType::Vector));
    }
}
