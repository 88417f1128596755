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

/// A run of operands in [`Ast::items`]: the terms of a sum, the factors of a product, the
/// arguments of a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Items {
    start: u32,
    len: u32,
}

/// A syntax node's kind. Operand lists live in the arena's [`Ast::items`], and a name's
/// text is its node's span of the source, so a node is 24 bytes: reading a large
/// expression writes an arena of a few megabytes, not one with an allocation per chain.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum AstKind {
    /// A number literal.
    Num(f64),
    /// A name: a variable, a parameter, or the constants `pi` and `e` ([`Ast::name`]).
    Ident,
    /// `-a` (a prefix `+` leaves no node).
    Neg(AstId),
    /// `a + b - c ...`: each term with `true` when it is subtracted.
    Sum(Items),
    /// `a * b / c ...`: each factor with `true` when it divides.
    Product(Items),
    /// `a % b`.
    Rem(AstId, AstId),
    /// `a ^ b` (or `a ** b`).
    Pow(AstId, AstId),
    /// A call of a known function with an accepted number of arguments (each `false`).
    Call(Builtin, Items),
    /// `a'`: the transpose.
    Transpose(AstId),
    /// `a .* b`, `a ./ b`, `a .^ b`: elementwise.
    Elem(ElemOp, AstId, AstId),
}

/// An elementwise operator (`.*`, `./`, `.^`). On scalars it is the plain operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElemOp {
    /// `.*`.
    Mul,
    /// `./`.
    Div,
    /// `.^`.
    Pow,
}

/// A syntax node with the bytes it came from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AstNode {
    /// What the node is.
    pub kind: AstKind,
    /// Where it is in the source: `start..end` (a source is shorter than 4 GiB).
    start: u32,
    end: u32,
}

impl AstNode {
    /// Where the node is in the source.
    pub fn span(&self) -> Span {
        Span::new(self.start as usize, self.end as usize)
    }
}

/// A parsed expression. Invariant: every child index is smaller than its parent's, and
/// the root is the last node.
#[derive(Clone, Debug, PartialEq)]
pub struct Ast<'a> {
    /// The nodes, children before parents.
    pub nodes: Vec<AstNode>,
    /// The operand lists of sums, products and calls, one after another.
    items: Vec<(bool, AstId)>,
    /// The source.
    src: &'a str,
}

impl<'a> Ast<'a> {
    /// The root node's id.
    pub fn root(&self) -> AstId {
        AstId(self.nodes.len().saturating_sub(1) as u32)
    }

    /// The node at `id`.
    pub fn node(&self, id: AstId) -> &AstNode {
        &self.nodes[id.index()]
    }

    /// The operands of a sum, product or call, each with its sign or inversion.
    pub fn items(&self, items: Items) -> &[(bool, AstId)] {
        &self.items[items.start as usize..][..items.len as usize]
    }

    /// The source text.
    pub fn source(&self) -> &'a str {
        self.src
    }

    /// The name of an [`AstKind::Ident`] node (for another node, its source text).
    pub fn name(&self, node: &AstNode) -> &'a str {
        &self.src[node.start as usize..node.end as usize]
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
    // Spans are stored in 32 bits.
    let limit = opts.max_bytes.min(u32::MAX as usize);
    if src.len() > limit {
        return Err(ParseError::new(
            ParseErrorKind::TooLong {
                len: src.len(),
                limit,
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
    // Up to one syntax node per two or three bytes (`x1 - x0^2` is six nodes in nine), and
    // an operand of a chain or call per four or so: room for them up front, so a large
    // expression's arena is not copied as it grows (untouched room costs no memory).
    let mut p = Parser {
        lexer,
        current: first,
        nodes: Vec::with_capacity(src.len() / 2 + 1),
        items: Vec::with_capacity(src.len() / 4 + 1),
        open: Vec::new(),
        max_depth: opts.max_depth,
        last: Tok::Eof,
        src,
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
    Ok(Ast {
        nodes: p.nodes,
        items: p.items,
        src,
    })
}

struct Parser<'a> {
    lexer: Lexer<'a>,
    /// The next token, read but not consumed.
    current: (Tok<'a>, Span),
    nodes: Vec<AstNode>,
    items: Vec<(bool, AstId)>,
    /// The operands of the chains and calls being read, innermost last: a nested chain
    /// pushes its operands above its parent's and takes them off when it ends.
    open: Vec<(bool, AstId)>,
    max_depth: usize,
    /// The token consumed last: whether a product is implied depends on it.
    last: Tok<'a>,
    /// The source, for the texts of suggestions.
    src: &'a str,
}

/// Binding powers `(left, right)` of the binary operators; `left > right` makes `^`
/// right-associative. A prefix sign binds its operand at [`PREFIX_BP`]: tighter than `*`,
/// looser than `^`, so `-x^2 = -(x^2)` and `2^-x = 2^(-x)`. The postfix transpose `'`
/// binds tightest of all: `-x' = -(x')`, `x'^2 = (x')^2`.
fn infix_bp(tok: Tok<'_>) -> Option<(u8, u8)> {
    Some(match tok {
        Tok::Plus | Tok::Minus => (1, 2),
        Tok::Star | Tok::Slash | Tok::Percent | Tok::DotStar | Tok::DotSlash => (3, 4),
        Tok::Caret | Tok::DotCaret => (8, 7),
        _ => return None,
    })
}
const PREFIX_BP: u8 = 5;

/// An n-ary chain being read: where its items (`true` when subtracted or divided) start in
/// [`Parser::open`], whether it is a sum (else a product), and its span so far.
type Chain = (usize, bool, Span);

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
        self.last = t.0;
        Ok(t)
    }

    /// Whether the next token starts a factor multiplied by what was just read, as
    /// students write products: a number before a name or `(` (`3x^2`, `2pi`, `2(x+1)`),
    /// `)` before `(`, a name or a number (`(x+1)(x-1)`), and a name before a name (`x y`:
    /// two names are always apart, or they would be one). A name before `(` is a call, and
    /// two numbers in a row stay an error.
    fn implied_product(&self) -> bool {
        matches!(
            (self.last, self.peek().0),
            (Tok::Num(_), Tok::Ident(_) | Tok::LParen)
                | (Tok::RParen, Tok::LParen | Tok::Ident(_) | Tok::Num(_))
                | (Tok::Ident(_), Tok::Ident(_))
        )
    }

    fn push(&mut self, kind: AstKind, span: Span) -> AstId {
        // Spans fit: `parse` refuses sources of 4 GiB or more.
        self.nodes.push(AstNode {
            kind,
            start: span.start as u32,
            end: span.end as u32,
        });
        AstId((self.nodes.len() - 1) as u32)
    }

    fn span(&self, id: AstId) -> Span {
        self.nodes[id.index()].span()
    }

    /// Moves the open operands from `base` on into the arena's items.
    fn close(&mut self, base: usize) -> Items {
        let start = self.items.len() as u32;
        self.items.extend(self.open.drain(base..));
        Items {
            start,
            len: self.items.len() as u32 - start,
        }
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
            let (next, prime) = self.peek();
            if next == Tok::Prime {
                self.bump()?;
                lhs = self.end_chain(chain.take(), lhs);
                let span = self.span(lhs).to(prime);
                lhs = self.push(AstKind::Transpose(lhs), span);
                continue;
            }
            // An implied product binds like `*`, looser than `^` (`2x^2` is `2*(x^2)`).
            let implied = infix_bp(next).is_none() && self.implied_product();
            let tok = if implied { Tok::Star } else { next };
            let Some((l_bp, r_bp)) = infix_bp(tok) else {
                break;
            };
            if l_bp < min_bp {
                break;
            }
            if !implied {
                self.bump()?;
            }
            let rhs = self.expr(r_bp, depth + 1)?;
            match tok {
                Tok::Plus | Tok::Minus | Tok::Star | Tok::Slash => {
                    let inverted = matches!(tok, Tok::Minus | Tok::Slash);
                    let is_sum = matches!(tok, Tok::Plus | Tok::Minus);
                    let span = self.span(rhs);
                    match &mut chain {
                        Some((_, sum, whole)) if *sum == is_sum => {
                            self.open.push((inverted, rhs));
                            *whole = whole.to(span);
                        }
                        _ => {
                            lhs = self.end_chain(chain.take(), lhs);
                            let whole = self.span(lhs).to(span);
                            let base = self.open.len();
                            self.open.extend([(false, lhs), (inverted, rhs)]);
                            chain = Some((base, is_sum, whole));
                        }
                    }
                }
                _ => {
                    lhs = self.end_chain(chain.take(), lhs);
                    let span = self.span(lhs).to(self.span(rhs));
                    let kind = match tok {
                        Tok::Percent => AstKind::Rem(lhs, rhs),
                        Tok::DotStar => AstKind::Elem(ElemOp::Mul, lhs, rhs),
                        Tok::DotSlash => AstKind::Elem(ElemOp::Div, lhs, rhs),
                        Tok::DotCaret => AstKind::Elem(ElemOp::Pow, lhs, rhs),
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
            Some((base, true, span)) => {
                let items = self.close(base);
                self.push(AstKind::Sum(items), span)
            }
            Some((base, false, span)) => {
                let items = self.close(base);
                self.push(AstKind::Product(items), span)
            }
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
                if let Some(builtin) = func::lookup(name).filter(|b| !b.is_tensor()) {
                    if matches!(builtin.arity(), (1, Some(_)))
                        && matches!(self.peek().0, Tok::Num(_) | Tok::Ident(_))
                    {
                        return self.apply_without_parens(builtin, span, depth);
                    }
                    return Err(ParseError::new(
                        ParseErrorKind::FunctionAsValue(name.into()),
                        span,
                    ));
                }
                Ok(self.push(AstKind::Ident, span))
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

    /// A function of one argument applied as textbooks write it, without parentheses:
    /// `sec x`, `sin 2x`, `ln x^2`, `sqrt 2 x`. The argument is the factors that follow,
    /// multiplied without a sign between them, up to the next function name or operator:
    /// `sin x cos x` is `sin(x)*cos(x)`, `sin x/2` is `sin(x)/2`, `sin x + 1` is
    /// `sin(x) + 1`.
    fn apply_without_parens(
        &mut self,
        builtin: func::Builtin,
        name_span: Span,
        depth: usize,
    ) -> Result<AstId, ParseError> {
        // A factor: an operand with its powers, not its products (binding power above `*`).
        const FACTOR_BP: u8 = 4;
        let first = self.expr(FACTOR_BP, depth + 1)?;
        let mut span = name_span.to(self.span(first));
        let base = self.open.len();
        self.open.push((false, first));
        while self.implied_product()
            && !matches!(self.peek().0, Tok::Ident(n) if func::lookup(n).is_some())
        {
            let factor = self.expr(FACTOR_BP, depth + 1)?;
            span = span.to(self.span(factor));
            self.open.push((false, factor));
        }
        let arg = if self.open.len() - base == 1 {
            self.open.truncate(base);
            first
        } else {
            let items = self.close(base);
            let whole = self.span(first).to(span);
            self.push(AstKind::Product(items), whole)
        };
        let base = self.open.len();
        self.open.push((false, arg));
        let args = self.close(base);
        Ok(self.push(AstKind::Call(builtin, args), span))
    }

    /// `name*(...)`: the call at `name_span` written as the product a student may have
    /// meant (`x(x+1)` for `x*(x+1)`), if its parentheses close.
    fn as_product(&self, name: &str, name_span: Span) -> Option<String> {
        let rest = self.src.get(name_span.end..)?;
        let open = rest.find('(')?;
        let mut depth = 0usize;
        for (i, c) in rest.char_indices().skip_while(|&(i, _)| i < open) {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(format!("{name}*{}", &rest[open..=i]));
                    }
                }
                _ => {}
            }
        }
        None
    }

    fn call(&mut self, name: &str, name_span: Span, depth: usize) -> Result<AstId, ParseError> {
        let Some(builtin) = func::lookup(name) else {
            let kind = match func::unsupported(name) {
                Some(advice) => ParseErrorKind::UnsupportedFunction {
                    name: name.into(),
                    advice,
                },
                None => ParseErrorKind::UnknownFunction {
                    name: name.into(),
                    suggestion: func::suggest(name),
                    product: self.as_product(name, name_span),
                },
            };
            return Err(ParseError::new(kind, name_span));
        };
        let (_, open) = self.bump()?; // the '('
        let base = self.open.len();
        if self.peek().0 != Tok::RParen {
            loop {
                let arg = self.expr(0, depth + 1)?;
                self.open.push((false, arg));
                match self.bump()? {
                    (Tok::Comma, _) => continue,
                    (Tok::RParen, close) => {
                        return self.finish_call(builtin, name, base, name_span.to(close))
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
        self.finish_call(builtin, name, base, name_span.to(close))
    }

    fn finish_call(
        &mut self,
        builtin: Builtin,
        name: &str,
        base: usize,
        span: Span,
    ) -> Result<AstId, ParseError> {
        let (lo, hi) = builtin.arity();
        let found = self.open.len() - base;
        if found < lo || hi.is_some_and(|hi| found > hi) {
            let plural = |n: usize| if n == 1 { "argument" } else { "arguments" };
            let expected = match hi {
                Some(hi) if hi == lo => format!("{hi} {}", plural(hi)),
                Some(hi) => format!("{lo} or {hi} {}", plural(hi)),
                None => format!("{lo} or more {}", plural(2)),
            };
            return Err(ParseError::new(
                ParseErrorKind::Arity {
                    name: name.into(),
                    expected,
                    found,
                },
                span,
            ));
        }
        let args = self.close(base);
        Ok(self.push(AstKind::Call(builtin, args), span))
    }
}
