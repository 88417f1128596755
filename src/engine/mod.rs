//! The symbolic engine: sans-IO and synchronous; it knows nothing of HTTP, JSON or tokio.
//!
//! # Layout
//! - [`parse`]: text to a syntax arena with spans, and errors written for a student;
//! - [`expr`]: the hash-consed, canonical expression DAG ([`Pool`], [`ExprId`]) and
//!   lowering from syntax;
//! - [`func`]: the built-in functions, each declared once: name, arity, value,
//!   derivative, spelling, machine code;
//! - [`budget`]: the node and time budget every long loop checks;
//! - [`diff`]: every derivative rule; reverse mode, Jacobians, Hessians;
//! - [`print`](mod@print): text that parses back, and LaTeX;
//! - [`compile`](mod@compile): DAG roots to a straight-line [`Tape`];
//! - [`op`]: the tape's operations and their arithmetic;
//! - [`tape`]: the program, a plain value, and its interpretation at one point or a batch;
//! - [`native`]: a small program as machine code, for one point without dispatch;
//! - [`executable`]: a tape beside the machine code it may come to have.

pub mod budget;
pub mod compile;
pub mod diff;
pub mod executable;
pub mod expr;
mod filing;
pub mod func;
pub mod native;
pub mod op;
pub mod parse;
pub mod print;
pub mod tape;
pub mod tensor;

pub use budget::{Budget, Exhausted};
pub use compile::compile;
pub use executable::Executable;
pub use expr::{ExprId, Pool};
pub use tape::{Emit, Tape};

use expr::LowerErrorKind;
use parse::{ParseError, ParseErrorKind, ParseOptions, Span};

/// Why an expression could not be read: a parse error, or a name that does not resolve.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ExprError {
    /// The text does not parse.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// A name is not a variable, parameter or constant.
    #[error(transparent)]
    Lower(#[from] expr::LowerError),
}

/// What kind of error reading an expression met: a caller maps kinds to its own codes
/// (the service to the HTTP contract's, in `service::error`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExprErrorKind {
    /// The text does not follow the grammar.
    Syntax,
    /// A call of a name that is no function of the language.
    UnknownFunction,
    /// A function called with the wrong number of arguments.
    Arity,
    /// Parentheses, calls or operators nested deeper than the parser's limit.
    TooDeep,
    /// Text longer than the parser's limit.
    TooLong,
    /// A name that is not a variable, a parameter or a constant.
    UnknownVariable,
    /// Operands whose shapes do not fit the operation (vectors and matrices).
    ShapeMismatch,
}

impl ExprError {
    /// The kind of the error.
    pub fn kind(&self) -> ExprErrorKind {
        match self {
            ExprError::Parse(e) => match e.kind {
                ParseErrorKind::UnknownFunction { .. }
                | ParseErrorKind::UnsupportedFunction { .. } => ExprErrorKind::UnknownFunction,
                ParseErrorKind::Arity { .. } => ExprErrorKind::Arity,
                ParseErrorKind::TooDeep { .. } => ExprErrorKind::TooDeep,
                ParseErrorKind::TooLong { .. } => ExprErrorKind::TooLong,
                _ => ExprErrorKind::Syntax,
            },
            ExprError::Lower(e) => match e.kind {
                LowerErrorKind::UnknownVariable(_) => ExprErrorKind::UnknownVariable,
                LowerErrorKind::NotScalar(_) => ExprErrorKind::ShapeMismatch,
            },
        }
    }

    /// The bytes of the expression the error points at.
    pub fn span(&self) -> Span {
        match self {
            ExprError::Parse(e) => e.span,
            ExprError::Lower(e) => e.span,
        }
    }
}

/// Parses `src` and lowers it into `pool` with the names of `scope`.
pub fn read(
    pool: &mut Pool,
    src: &str,
    scope: expr::Scope<'_>,
    opts: &ParseOptions,
) -> Result<ExprId, ExprError> {
    let ast = parse::parse(src, opts)?;
    Ok(expr::lower(&ast, pool, scope)?)
}
