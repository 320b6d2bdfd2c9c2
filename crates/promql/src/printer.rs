//! Prints an AST in Prometheus' canonical form (`Display for Expr`). Owned by the parser.
