//! PLACEHOLDER — replaced by the function signature table.
use crate::ast::ValueType;

pub fn return_type(_name: &str) -> Option<ValueType> {
    None
}
