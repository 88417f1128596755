//! Parse errors: a kind, a byte span, and a message written for a student.

use std::fmt;

/// A byte range `[start, end)` in the source expression.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl Span {
    /// The span `[start, end)`.
    pub fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }
}

/// What went wrong; [`ParseError`]'s `Display` turns it into a sentence.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ParseErrorKind {
    /// The expression is empty or only white space.
    #[error("the expression is empty")]
    Empty,
    /// A character that is not part of the language.
    #[error("unexpected character '{0}'")]
    UnexpectedChar(char),
    /// A number literal that does not convert (a lone `.`).
    #[error("'{0}' is not a number")]
    BadNumber(String),
    /// A token where another was expected.
    #[error("expected {expected}, found {found}")]
    Unexpected {
        /// What would have fit, e.g. "an operator or the end of the expression".
        expected: &'static str,
        /// The token found, as it reads in a sentence.
        found: String,
    },
    /// A `(` without its `)`.
    #[error("expected ')' to close '(' opened at {open}")]
    Unclosed {
        /// The byte offset of the `(`.
        open: usize,
    },
    /// A `)` with no `(` before it.
    #[error("unmatched ')'; there is no '(' for it to close")]
    Unmatched,
    /// A function name used as a value, e.g. `sin + 1`.
    #[error("'{0}' is a function; call it as {0}(...)")]
    FunctionAsValue(String),
    /// A call of a function that does not exist.
    #[error("unknown function '{name}'{}", unknown_hint(*suggestion, product.as_deref()))]
    UnknownFunction {
        /// The name called.
        name: String,
        /// The nearest known function name, if one is close.
        suggestion: Option<&'static str>,
        /// The call written as a product (`x*(x+1)` for `x(x+1)`), offered when no
        /// function name is close.
        product: Option<String>,
    },
    /// A call of a well-known function the language does not have.
    #[error("'{name}' is not a function of the language; {advice}")]
    UnsupportedFunction {
        /// The name called.
        name: String,
        /// How to write it instead, or that it cannot be.
        advice: &'static str,
    },
    /// A call with the wrong number of arguments.
    #[error("'{name}' takes {expected}, found {found}")]
    Arity {
        /// The function called.
        name: String,
        /// The accepted count in words, e.g. "2 arguments" or "1 or more arguments".
        expected: String,
        /// The number of arguments given.
        found: usize,
    },
    /// Nesting deeper than the configured limit.
    #[error("the expression is nested deeper than the limit of {limit} levels")]
    TooDeep {
        /// The configured maximum depth.
        limit: usize,
    },
    /// An expression longer than the configured limit.
    #[error("the expression is {len} bytes long, over the limit of {limit}")]
    TooLong {
        /// The expression's length in bytes.
        len: usize,
        /// The configured maximum.
        limit: usize,
    },
}

/// A parse error: what went wrong and where.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{kind}")]
pub struct ParseError {
    /// What went wrong.
    pub kind: ParseErrorKind,
    /// Where, as bytes of the source.
    pub span: Span,
}

impl ParseError {
    /// An error of `kind` at `span`.
    pub fn new(kind: ParseErrorKind, span: Span) -> ParseError {
        ParseError { kind, span }
    }

    /// The message without the position (the span carries it).
    pub fn message(&self) -> String {
        self.kind.to_string()
    }

    /// The source line with a caret under the span, for terminals and logs:
    ///
    /// ```text
    /// sin(x + 1
    ///     ^^^^^ expected ')' to close '(' at 3
    /// ```
    pub fn render(&self, src: &str) -> String {
        let start = self.span.start.min(src.len());
        let end = self.span.end.clamp(start, src.len());
        let pad = src.get(..start).map_or(start, |s| s.chars().count());
        let width = src.get(start..end).map_or(1, |s| s.chars().count()).max(1);
        format!("{src}\n{}{} {}", " ".repeat(pad), "^".repeat(width), self)
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.start, self.end)
    }
}

/// The end of an unknown function's message: the near function name, else the product the
/// call may have meant.
fn unknown_hint(suggestion: Option<&str>, product: Option<&str>) -> String {
    match (suggestion, product) {
        (Some(s), _) => format!("; did you mean '{s}'?"),
        (None, Some(p)) => format!("; for a product, write {p}"),
        (None, None) => String::new(),
    }
}
