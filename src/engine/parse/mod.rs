//! The parser: text to an [`Ast`], a flat arena of syntax nodes with spans.
//!
//! A Pratt parser (binding-power table below). Recursion happens only at a nesting level
//! of the source (a parenthesis, a call, a prefix sign, the right side of `^`), and every
//! level counts against [`ParseOptions::max_depth`], so no input can overflow the stack.
//! Chains of `+`/`-` and of `*`/`/` become one n-ary node, so a 10,000-term sum is one
//! node rather than a 10,000-deep tree. The arena stores children before parents, which
//! lets later passes walk it with a plain loop and drop it without recursion.

mod error;
mod lexer;

pub use error::{ParseError, ParseErrorKind, Span};
use lexer::{Lexer, Tok};

use super::func::{self, Builtin};

/// Index of a node in an [`Ast`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AstId(u32);

impl AstId {
    /// The index into [`Ast::nodes`].
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// A syntax node.
#[derive(Clone, Debug, PartialEq)]
pub enum AstKind<'a> {
    /// A number literal.
    Num(f64),
    /// A name: a variable, a parameter, or the constants `pi` and `e`.
    Ident(&'a str),
    /// `-a` (a prefix `+` leaves no node).
    Neg(AstId),
    /// `a + b - c ...`: each term with `true` when it is subtracted.
    Sum(Vec<(bool, AstId)>),
    /// `a * b / c ...`: each factor with `true` when it divides.
    Product(Vec<(bool, AstId)>),
    /// `a % b`.
    Rem(AstId, AstId),
    /// `a ^ b` (or `a ** b`).
    Pow(AstId, AstId),
    /// A call of a known function with an accepted number of arguments.
    Call(Builtin, Vec<AstId>),
}

/// A syntax node with the bytes it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct AstNode<'a> {
    /// What the node is.
    pub kind: AstKind<'a>,
    /// Where it is in the source.
    pub span: Span,
}

/// A parsed expression. Invariant: every child index is smaller than its parent's, and
/// the root is the last node.
#[derive(Clone, Debug, PartialEq)]
pub struct Ast<'a> {
    /// The nodes, children before parents.
    pub nodes: Vec<AstNode<'a>>,
}

impl<'a> Ast<'a> {
    /// The root node's id.
    pub fn root(&self) -> AstId {
        AstId(self.nodes.len().saturating_sub(1) as u32)
    }

    /// The node at `id`.
    pub fn node(&self, id: AstId) -> &AstNode<'a> {
        &self.nodes[id.index()]
    }
}

/// Limits the parser enforces.
#[derive(Clone, Copy, Debug)]
pub struct ParseOptions {
    /// Deepest nesting of parentheses, calls, prefix signs and powers.
    pub max_depth: usize,
    /// Longest expression, in bytes.
    pub max_bytes: usize,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions {
            max_depth: 200,
            max_bytes: 64 * 1024,
        }
    }
}

/// Parses `src` into an [`Ast`].
pub fn parse<'a>(src: &'a str, opts: &ParseOptions) -> Result<Ast<'a>, ParseError> {
    if src.len() > opts.max_bytes {
        return Err(ParseError::new(
            ParseErrorKind::TooLong {
                len: src.len(),
                limit: opts.max_bytes,
            },
            Span::new(0, src.len()),
        ));
    }
    let mut lexer = Lexer::new(src);
    let first = lexer.next_token()?;
    if first.0 == Tok::Eof {
        return Err(ParseError::new(
            ParseErrorKind::Empty,
            Span::new(0, src.len()),
        ));
    }
    // About one syntax node per four bytes (`x12 + ` is two nodes in six bytes).
    let nodes = Vec::with_capacity(src.len() / 4 + 1);
    let mut p = Parser {
        lexer,
        current: first,
        nodes,
        max_depth: opts.max_depth,
    };
    let root = p.expr(0, 0)?;
    match p.peek() {
        (Tok::Eof, _) => {}
        (Tok::RParen, span) => return Err(ParseError::new(ParseErrorKind::Unmatched, span)),
        (tok, span) => {
            return Err(p.unexpected("an operator or the end of the expression", tok, span))
        }
    }
    debug_assert_eq!(root.index() + 1, p.nodes.len());
    Ok(Ast { nodes: p.nodes })
}

struct Parser<'a> {
    lexer: Lexer<'a>,
    /// The next token, read but not consumed.
    current: (Tok<'a>, Span),
    nodes: Vec<AstNode<'a>>,
    max_depth: usize,
}

/// Binding powers `(left, right)` of the binary operators; `left > right` makes `^`
/// right-associative. A prefix sign binds its operand at [`PREFIX_BP`]: tighter than `*`,
/// looser than `^`, so `-x^2 = -(x^2)` and `2^-x = 2^(-x)`.
fn infix_bp(tok: Tok<'_>) -> Option<(u8, u8)> {
    Some(match tok {
        Tok::Plus | Tok::Minus => (1, 2),
        Tok::Star | Tok::Slash | Tok::Percent => (3, 4),
        Tok::Caret => (8, 7),
        _ => return None,
    })
}
const PREFIX_BP: u8 = 5;

/// An n-ary chain being read: its items (`true` when subtracted or divided), whether it is
/// a sum (else a product), and its span so far.
type Chain = (Vec<(bool, AstId)>, bool, Span);

impl<'a> Parser<'a> {
    fn peek(&self) -> (Tok<'a>, Span) {
        self.current
    }

    /// Consumes the next token (at the end, Eof stays).
    fn bump(&mut self) -> Result<(Tok<'a>, Span), ParseError> {
        let t = self.current;
        if t.0 != Tok::Eof {
            self.current = self.lexer.next_token()?;
        }
        Ok(t)
    }

    fn push(&mut self, kind: AstKind<'a>, span: Span) -> AstId {
        self.nodes.push(AstNode { kind, span });
        AstId((self.nodes.len() - 1) as u32)
    }

    fn span(&self, id: AstId) -> Span {
        self.nodes[id.index()].span
    }

    fn unexpected(&self, expected: &'static str, tok: Tok<'_>, span: Span) -> ParseError {
        ParseError::new(
            ParseErrorKind::Unexpected {
                expected,
                found: tok.describe(),
            },
            span,
        )
    }

    fn expr(&mut self, min_bp: u8, depth: usize) -> Result<AstId, ParseError> {
        if depth > self.max_depth {
            let span = self.peek().1;
            return Err(ParseError::new(
                ParseErrorKind::TooDeep {
                    limit: self.max_depth,
                },
                span,
            ));
        }
        let mut lhs = self.prefix(depth)?;
        // The n-ary chain this loop is extending (`a - b + c` is one Sum), if any: its
        // items, whether it is a sum, and its span so far. It becomes a node when it ends,
        // after all its items, so children stay before parents.
        let mut chain: Option<Chain> = None;
        loop {
            let (tok, _) = self.peek();
            let Some((l_bp, r_bp)) = infix_bp(tok) else {
                break;
            };
            if l_bp < min_bp {
                break;
            }
            self.bump()?;
            let rhs = self.expr(r_bp, depth + 1)?;
            match tok {
                Tok::Plus | Tok::Minus | Tok::Star | Tok::Slash => {
                    let inverted = matches!(tok, Tok::Minus | Tok::Slash);
                    let is_sum = matches!(tok, Tok::Plus | Tok::Minus);
                    let span = self.span(rhs);
                    match &mut chain {
                        Some((items, sum, whole)) if *sum == is_sum => {
                            items.push((inverted, rhs));
                            *whole = whole.to(span);
                        }
                        _ => {
                            lhs = self.end_chain(chain.take(), lhs);
                            let whole = self.span(lhs).to(span);
                            chain = Some((vec![(false, lhs), (inverted, rhs)], is_sum, whole));
                        }
                    }
                }
                _ => {
                    lhs = self.end_chain(chain.take(), lhs);
                    let span = self.span(lhs).to(self.span(rhs));
                    let kind = match tok {
                        Tok::Percent => AstKind::Rem(lhs, rhs),
                        _ => AstKind::Pow(lhs, rhs),
                    };
                    lhs = self.push(kind, span);
                }
            }
        }
        Ok(self.end_chain(chain, lhs))
    }

    /// The node of a finished chain, or `lhs` when there is none.
    fn end_chain(&mut self, chain: Option<Chain>, lhs: AstId) -> AstId {
        match chain {
            Some((items, true, span)) => self.push(AstKind::Sum(items), span),
            Some((items, false, span)) => self.push(AstKind::Product(items), span),
            None => lhs,
        }
    }

    fn prefix(&mut self, depth: usize) -> Result<AstId, ParseError> {
        let (tok, span) = self.bump()?;
        match tok {
            Tok::Num(v) => Ok(self.push(AstKind::Num(v), span)),
            Tok::Ident(name) => {
                if self.peek().0 == Tok::LParen {
                    return self.call(name, span, depth);
                }
                if func::lookup(name).is_some() {
                    return Err(ParseError::new(
                        ParseErrorKind::FunctionAsValue(name.into()),
                        span,
                    ));
                }
                Ok(self.push(AstKind::Ident(name), span))
            }
            Tok::Minus | Tok::Plus => {
                let operand = self.expr(PREFIX_BP, depth + 1)?;
                if tok == Tok::Plus {
                    return Ok(operand);
                }
                let span = span.to(self.span(operand));
                Ok(self.push(AstKind::Neg(operand), span))
            }
            Tok::LParen => {
                let inner = self.expr(0, depth + 1)?;
                let (close, close_span) = self.bump()?;
                if close != Tok::RParen {
                    return Err(self.unclosed(span, close, close_span));
                }
                // The parenthesised node keeps its own span: errors point inside.
                let _ = close_span;
                Ok(inner)
            }
            Tok::RParen => Err(self.unexpected("a number, a name or '('", tok, span)),
            Tok::Eof => Err(self.unexpected("a number, a name or '('", tok, span)),
            _ => Err(self.unexpected("a number, a name or '('", tok, span)),
        }
    }

    fn unclosed(&self, open: Span, found: Tok<'_>, found_span: Span) -> ParseError {
        match found {
            // Another token where `)` should be: say what we expected, pointing at it.
            Tok::Eof => ParseError::new(
                ParseErrorKind::Unclosed { open: open.start },
                open.to(found_span),
            ),
            _ => self.unexpected("')' or an operator", found, found_span),
        }
    }

    fn call(&mut self, name: &str, name_span: Span, depth: usize) -> Result<AstId, ParseError> {
        let Some(builtin) = func::lookup(name) else {
            return Err(ParseError::new(
                ParseErrorKind::UnknownFunction {
                    name: name.into(),
                    suggestion: func::suggest(name),
                },
                name_span,
            ));
        };
        let (_, open) = self.bump()?; // the '('
        let mut args = Vec::new();
        if self.peek().0 != Tok::RParen {
            loop {
                args.push(self.expr(0, depth + 1)?);
                match self.bump()? {
                    (Tok::Comma, _) => continue,
                    (Tok::RParen, close) => {
                        return self.finish_call(builtin, name, args, name_span.to(close))
                    }
                    (Tok::Eof, eof) => {
                        return Err(ParseError::new(
                            ParseErrorKind::Unclosed { open: open.start },
                            open.to(eof),
                        ))
                    }
                    (tok, span) => return Err(self.unexpected("',' or ')'", tok, span)),
                }
            }
        }
        let (_, close) = self.bump()?;
        self.finish_call(builtin, name, args, name_span.to(close))
    }

    fn finish_call(
        &mut self,
        builtin: Builtin,
        name: &str,
        args: Vec<AstId>,
        span: Span,
    ) -> Result<AstId, ParseError> {
        let (lo, hi) = builtin.arity();
        if args.len() < lo || hi.is_some_and(|hi| args.len() > hi) {
            let plural = |n: usize| if n == 1 { "argument" } else { "arguments" };
            let expected = match hi {
                Some(hi) => format!("{hi} {}", plural(hi)),
                None => format!("{lo} or more {}", plural(2)),
            };
            return Err(ParseError::new(
                ParseErrorKind::Arity {
                    name: name.into(),
                    expected,
                    found: args.len(),
                },
                span,
            ));
        }
        Ok(self.push(AstKind::Call(builtin, args), span))
    }
}
