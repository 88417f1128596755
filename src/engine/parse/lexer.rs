//! The lexer: bytes to tokens with byte spans.
//!
//! Text copied from a PDF should work, so the minus sign U+2212 reads as `-`, and `·`
//! (U+00B7) and `×` (U+00D7) read as `*`. Any other non-ASCII character is an error that
//! points at it.

use super::error::{ParseError, ParseErrorKind, Span};

/// A token of the expression language.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Tok<'a> {
    /// A number literal, already converted.
    Num(f64),
    /// An identifier: a variable, a constant or a function name.
    Ident(&'a str),
    /// `+`.
    Plus,
    /// `-` or U+2212.
    Minus,
    /// `*`, `·` or `×`.
    Star,
    /// `/`.
    Slash,
    /// `%`.
    Percent,
    /// `^` or `**`.
    Caret,
    /// `(`.
    LParen,
    /// `)`.
    RParen,
    /// `,`.
    Comma,
    /// `'`: the transpose, postfix.
    Prime,
    /// `.*`: the elementwise product.
    DotStar,
    /// `./`: the elementwise quotient.
    DotSlash,
    /// `.^`: the elementwise power.
    DotCaret,
    /// The end of the input.
    Eof,
}

impl Tok<'_> {
    /// How the token reads in an error message.
    pub fn describe(&self) -> String {
        match self {
            Tok::Num(_) => "a number".into(),
            Tok::Ident(name) => format!("'{name}'"),
            Tok::Plus => "'+'".into(),
            Tok::Minus => "'-'".into(),
            Tok::Star => "'*'".into(),
            Tok::Slash => "'/'".into(),
            Tok::Percent => "'%'".into(),
            Tok::Caret => "'^'".into(),
            Tok::LParen => "'('".into(),
            Tok::RParen => "')'".into(),
            Tok::Comma => "','".into(),
            Tok::Prime => "'''".into(),
            Tok::DotStar => "'.*'".into(),
            Tok::DotSlash => "'./'".into(),
            Tok::DotCaret => "'.^'".into(),
            Tok::Eof => "the end of the expression".into(),
        }
    }
}

/// Reads `src` one token at a time, as the parser asks: no token list is kept (for a long
/// expression it would be several times the size of the text).
pub struct Lexer<'a> {
    src: &'a str,
    /// The byte the next token starts at or before (whitespace is skipped).
    i: usize,
}

impl<'a> Lexer<'a> {
    /// A lexer at the start of `src`.
    pub fn new(src: &'a str) -> Self {
        Lexer { src, i: 0 }
    }

    /// The next token and its span; at the end, [`Tok::Eof`] (with an empty span at the
    /// end) however often it is asked.
    pub fn next_token(&mut self) -> Result<(Tok<'a>, Span), ParseError> {
        let (src, bytes) = (self.src, self.src.as_bytes());
        let mut i = self.i;
        while i < bytes.len() && matches!(bytes[i], b' ' | b'\t' | b'\n' | b'\r') {
            i += 1;
        }
        let start = i;
        let Some(&c) = bytes.get(i) else {
            self.i = i;
            return Ok((Tok::Eof, Span::new(bytes.len(), bytes.len())));
        };
        let tok = match c {
            // `.*`, `./`, `.^` are operators, even right after a digit (`1./x`).
            b'.' if matches!(bytes.get(i + 1), Some(b'*' | b'/' | b'^')) => {
                i += 2;
                match bytes[i - 1] {
                    b'*' => Tok::DotStar,
                    b'/' => Tok::DotSlash,
                    _ => Tok::DotCaret,
                }
            }
            b'0'..=b'9' | b'.' => {
                i = scan_number(bytes, i);
                let text = &src[start..i];
                let value = text.parse::<f64>().map_err(|_| {
                    ParseError::new(ParseErrorKind::BadNumber(text.into()), Span::new(start, i))
                })?;
                Tok::Num(value)
            }
            b'a'..=b'z' | b'A'..=b'Z' | b'_' => {
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
                Tok::Ident(&src[start..i])
            }
            b'+' => single(&mut i, Tok::Plus),
            b'-' => single(&mut i, Tok::Minus),
            b'*' if bytes.get(i + 1) == Some(&b'*') => {
                i += 2;
                Tok::Caret
            }
            b'*' => single(&mut i, Tok::Star),
            b'/' => single(&mut i, Tok::Slash),
            b'%' => single(&mut i, Tok::Percent),
            b'^' => single(&mut i, Tok::Caret),
            b'(' => single(&mut i, Tok::LParen),
            b')' => single(&mut i, Tok::RParen),
            b',' => single(&mut i, Tok::Comma),
            b'\'' => single(&mut i, Tok::Prime),
            _ => {
                // A char boundary: every arm above consumed whole ASCII characters.
                let ch = src[start..].chars().next().unwrap_or('\u{fffd}');
                i += ch.len_utf8();
                match ch {
                    '\u{2212}' => Tok::Minus,
                    '\u{b7}' | '\u{d7}' => Tok::Star,
                    _ => {
                        return Err(ParseError::new(
                            ParseErrorKind::UnexpectedChar(ch),
                            Span::new(start, i),
                        ))
                    }
                }
            }
        };
        self.i = i;
        Ok((tok, Span::new(start, i)))
    }
}

fn single<'a>(i: &mut usize, tok: Tok<'a>) -> Tok<'a> {
    *i += 1;
    tok
}

/// Scans `digits [. digits] [(e|E) [+-] digits]` or `. digits [...]` from `i` and returns
/// the end. An exponent marker not followed by digits is not part of the number.
fn scan_number(b: &[u8], mut i: usize) -> usize {
    let digits = |b: &[u8], mut i: usize| {
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        i
    };
    i = digits(b, i);
    // `1./x` is `1 ./ x`: a point before an operator is the operator's.
    if i < b.len() && b[i] == b'.' && !matches!(b.get(i + 1), Some(b'*' | b'/' | b'^')) {
        i = digits(b, i + 1);
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        let mut j = i + 1;
        if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
            j += 1;
        }
        let end = digits(b, j);
        if end > j {
            i = end;
        }
    }
    i
}
