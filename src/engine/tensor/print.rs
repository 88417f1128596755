//! Tensor expressions in matrix notation: text in the language of the requests (it
//! parses back, with the same shapes, to the same function) and LaTeX (`^\top`,
//! `\operatorname{tr}`, `\odot` for the elementwise product).
//!
//! Printing is a loop over the nodes below the roots, children first, each node's text
//! made from its children's: no recursion, and the texts' total length is bounded.

use super::{TId, TNode, TPool, TShape};
use crate::engine::func::{Func, Latex, Spelling};

/// Binding strength of a printed form: parenthesised where a tighter one is needed.
const SUM: u8 = 1;
const PRODUCT: u8 = 2;
const NEG: u8 = 3;
const POWER: u8 = 4;
const ATOM: u8 = 5;

/// The printed texts ran past their size limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the printed answer grew past {limit} bytes")]
pub struct TooLong {
    /// The limit in bytes.
    pub limit: usize,
}

/// Prints each of `roots` as text (`latex` false) or LaTeX; the texts together may hold
/// at most `limit` bytes.
pub fn print(
    pool: &TPool,
    roots: &[TId],
    latex: bool,
    limit: usize,
) -> Result<Vec<String>, TooLong> {
    let reach = pool.reachable(roots);
    let mut texts: Vec<Option<(String, u8)>> = vec![None; reach.len()];
    let mut total = 0usize;
    for (i, &needed) in reach.iter().enumerate() {
        if !needed {
            continue;
        }
        let id = TId(i as u32);
        let (text, prec) = Printer {
            pool,
            texts: &texts,
            latex,
        }
        .node(id);
        total += text.len();
        if total > limit {
            return Err(TooLong { limit });
        }
        texts[i] = Some((text, prec));
    }
    Ok(roots
        .iter()
        .map(|r| {
            texts[r.index()]
                .as_ref()
                .map_or(String::new(), |(t, _)| t.clone())
        })
        .collect())
}

struct Printer<'a> {
    pool: &'a TPool,
    texts: &'a [Option<(String, u8)>],
    latex: bool,
}

impl Printer<'_> {
    fn get(&self, id: TId) -> (&str, u8) {
        self.texts[id.index()]
            .as_ref()
            .map_or(("?", ATOM), |(t, p)| (t.as_str(), *p))
    }

    /// The child's text, in parentheses when it binds looser than `min`.
    fn at(&self, id: TId, min: u8) -> String {
        let (t, p) = self.get(id);
        if p >= min {
            t.to_string()
        } else if self.latex {
            format!("\\left({t}\\right)")
        } else {
            format!("({t})")
        }
    }

    fn paren(&self, t: &str) -> String {
        if self.latex {
            format!("\\left({t}\\right)")
        } else {
            format!("({t})")
        }
    }

    fn number(&self, v: f64) -> (String, u8) {
        let neg = v < 0.0;
        let a = v.abs();
        let (body, prec) = match self.pool.exact(a) {
            Some(r) if r.denom() == 1 => (r.numer().to_string(), ATOM),
            Some(r) if self.latex => (format!("\\frac{{{}}}{{{}}}", r.numer(), r.denom()), ATOM),
            Some(r) => (format!("{}/{}", r.numer(), r.denom()), PRODUCT),
            None if a.is_infinite() && self.latex => ("\\infty".into(), ATOM),
            None if a.is_infinite() => ("1/0".into(), PRODUCT),
            None if self.latex => {
                let s = format!("{a:e}");
                match s.split_once('e') {
                    Some((m, "0")) => (m.to_string(), ATOM),
                    _ => (format!("{a}"), ATOM),
                }
            }
            None => (format!("{a}"), ATOM),
        };
        if neg {
            (
                format!(
                    "-{}",
                    if prec < NEG {
                        format!("({body})")
                    } else {
                        body
                    }
                ),
                NEG,
            )
        } else {
            (body, prec)
        }
    }

    fn dims(&self, s: TShape) -> String {
        let (r, c) = (self.pool.dim_name(s.rows), self.pool.dim_name(s.cols));
        match (self.latex, s.is_column()) {
            (false, true) => r,
            (false, false) => format!("{r}, {c}"),
            (true, true) => format!("{{{r}}}"),
            (true, false) => format!("{{{r} \\times {c}}}"),
        }
    }

    fn call(&self, name: &str, latex: &str, args: &[TId]) -> (String, u8) {
        let args: Vec<String> = args.iter().map(|&a| self.get(a).0.to_string()).collect();
        if self.latex {
            (format!("{latex}\\left({}\\right)", args.join(", ")), ATOM)
        } else {
            (format!("{name}({})", args.join(", ")), ATOM)
        }
    }

    fn node(&self, id: TId) -> (String, u8) {
        let pool = self.pool;
        match pool.node(id) {
            TNode::Num(bits) => self.number(f64::from_bits(*bits)),
            TNode::Const(c) => match (self.latex, c.name()) {
                (true, "pi") => ("\\pi".into(), ATOM),
                (_, n) => (n.into(), ATOM),
            },
            TNode::Sym(k) => (pool.symbol(*k).0.to_string(), ATOM),
            TNode::Add(ts) => {
                let mut out = String::new();
                // Added terms before subtracted ones, numbers last, fewer transposes first:
                // `A + A'`, `A*x - b`.
                let mut terms: Vec<(bool, bool, String)> = ts
                    .iter()
                    .map(|&t| {
                        let (neg, text) = self.term(t);
                        (neg, pool.as_num(t).is_some(), text)
                    })
                    .collect();
                terms.sort_by_key(|(neg, number, text)| {
                    let transposes = text.matches('\'').count() + text.matches("\\top").count();
                    (*neg, *number, transposes)
                });
                for (i, (neg, _, text)) in terms.into_iter().enumerate() {
                    match (i, neg) {
                        (0, false) => out.push_str(&text),
                        (0, true) => {
                            out.push('-');
                            out.push_str(&text);
                        }
                        (_, false) => {
                            out.push_str(" + ");
                            out.push_str(&text);
                        }
                        (_, true) => {
                            out.push_str(" - ");
                            out.push_str(&text);
                        }
                    }
                }
                (out, SUM)
            }
            TNode::Mul(_) | TNode::Pow(_) => self.product(id),
            TNode::MatMul(fs) => {
                let sep = if self.latex { " " } else { "*" };
                let parts: Vec<String> = fs.iter().map(|&f| self.at(f, POWER)).collect();
                (parts.join(sep), PRODUCT)
            }
            TNode::Transpose(x) => {
                if self.latex {
                    let (t, p) = self.get(*x);
                    let base = match (p >= ATOM, t.len() == 1) {
                        (true, true) => t.to_string(),
                        (true, false) => format!("{{{t}}}"),
                        _ => self.paren(t),
                    };
                    (format!("{base}^\\top"), POWER)
                } else {
                    (format!("{}'", self.at(*x, ATOM)), ATOM)
                }
            }
            TNode::Call(f, args) => self.function(*f, args),
            TNode::Sum(a) => self.call("sum", "\\operatorname{sum}", &[*a]),
            TNode::Tr(a) => self.call("tr", "\\operatorname{tr}", &[*a]),
            TNode::Det(a) => self.call("det", "\\det", &[*a]),
            TNode::Logdet(a) => self.call("logdet", "\\log\\det", &[*a]),
            TNode::Inv(a) => {
                if self.latex {
                    let (t, p) = self.get(*a);
                    let base = if p >= ATOM {
                        format!("{{{t}}}")
                    } else {
                        self.paren(t)
                    };
                    (format!("{base}^{{-1}}"), POWER)
                } else {
                    self.call("inv", "", &[*a])
                }
            }
            TNode::Diag(a) | TNode::DiagOf(a) => self.call("diag", "\\operatorname{diag}", &[*a]),
            TNode::Norm(a) => {
                if self.latex {
                    (format!("\\left\\|{}\\right\\|", self.get(*a).0), ATOM)
                } else {
                    self.call("norm", "", &[*a])
                }
            }
            TNode::Norm1(a) => {
                if self.latex {
                    (format!("\\left\\|{}\\right\\|_1", self.get(*a).0), ATOM)
                } else {
                    self.call("norm1", "", &[*a])
                }
            }
            TNode::Eye(d) => {
                let n = pool.dim_name(*d);
                if self.latex {
                    (format!("I_{{{n}}}"), ATOM)
                } else {
                    (format!("eye({n})"), ATOM)
                }
            }
            TNode::Ones(s) | TNode::Zeros(s) => {
                let ones = matches!(pool.node(id), TNode::Ones(_));
                if self.latex {
                    let b = if ones { "\\mathbf{1}" } else { "\\mathbf{0}" };
                    (format!("{b}_{}", self.dims(*s)), ATOM)
                } else {
                    let name = if ones { "ones" } else { "zeros" };
                    (format!("{name}({})", self.dims(*s)), ATOM)
                }
            }
        }
    }

    /// A term of a sum: whether it is subtracted, and its text without the sign.
    fn term(&self, t: TId) -> (bool, String) {
        let pool = self.pool;
        if let Some(v) = pool.as_num(t) {
            if v < 0.0 {
                return (true, self.number(-v).0);
            }
        }
        if let TNode::Mul(fs) = pool.node(t) {
            if let Some(c) = pool.as_num(fs[0]) {
                if c < 0.0 {
                    return (true, self.product_of(&fs[1..], -c, pool.shape(t)));
                }
            }
        }
        (false, self.at(t, SUM + 1))
    }

    fn function(&self, f: Func, args: &[TId]) -> (String, u8) {
        match f.spelling() {
            Spelling::Infix { text, latex } => {
                let op = if self.latex { latex } else { text };
                let a = self.at(args[0], POWER);
                let b = self.at(args[1], POWER);
                (format!("{a} {op} {b}"), PRODUCT)
            }
            Spelling::Call(Latex::Command(c)) => self.call(f.name(), c, args),
            Spelling::Call(Latex::Around(l, r)) if self.latex => {
                (format!("{l}{}{r}", self.get(args[0]).0), ATOM)
            }
            Spelling::Call(_) => {
                let named = format!("\\operatorname{{{}}}", f.name());
                self.call(f.name(), &named, args)
            }
        }
    }

    /// An elementwise product or power.
    fn product(&self, id: TId) -> (String, u8) {
        let pool = self.pool;
        let fs: Vec<TId> = match pool.node(id) {
            TNode::Mul(fs) => fs.clone(),
            _ => vec![id],
        };
        let (c, rest) = match pool.as_num(fs[0]) {
            Some(c) => (c, &fs[1..]),
            None => (1.0, &fs[..]),
        };
        if c < 0.0 {
            let body = self.product_of(rest, -c, pool.shape(id));
            return (format!("-{body}"), NEG);
        }
        let body = self.product_of(rest, c, pool.shape(id));
        let prec = if rest.len() == 1 && c == 1.0 {
            match pool.node(rest[0]) {
                TNode::Pow([_, e]) if pool.as_num(*e).is_some_and(|e| e < 0.0) => PRODUCT,
                TNode::Pow(_) => POWER,
                _ => PRODUCT,
            }
        } else {
            PRODUCT
        };
        (body, prec)
    }

    /// `c` times the factors, with those of negative numeric exponents under a division.
    fn product_of(&self, fs: &[TId], c: f64, _shape: TShape) -> String {
        let pool = self.pool;
        let mut num: Vec<(String, bool)> = Vec::new();
        let mut den: Vec<(String, bool)> = Vec::new();
        if c != 1.0 {
            let (t, _) = self.number(c);
            num.push((t, true));
        }
        // Scalars first, as a product is written: `t*eye(3)`, not `eye(3)*t`.
        let mut ordered = fs.to_vec();
        ordered.sort_by_key(|&f| !pool.shape(f).is_scalar());
        for f in ordered {
            let scalar = pool.shape(f).is_scalar();
            match pool.node(f) {
                TNode::Pow([b, e]) if pool.as_num(*e).is_some_and(|e| e < 0.0) => {
                    let e = -pool.as_num(*e).unwrap_or(1.0);
                    den.push((self.power(*b, None, Some(e)), scalar));
                }
                TNode::Pow([b, e]) => num.push((self.power(*b, Some(*e), None), scalar)),
                _ => num.push((self.at(f, POWER), scalar)),
            }
        }
        let join = |parts: &[(String, bool)]| {
            let mut out = String::new();
            for (i, (t, scalar)) in parts.iter().enumerate() {
                if i > 0 {
                    let prev_scalar = parts[i - 1].1;
                    out.push_str(match (self.latex, *scalar || prev_scalar) {
                        (false, true) => "*",
                        (false, false) => " .* ",
                        (true, true) => " ",
                        (true, false) => " \\odot ",
                    });
                }
                out.push_str(t);
            }
            out
        };
        let top = if num.is_empty() {
            "1".to_string()
        } else {
            join(&num)
        };
        if den.is_empty() {
            return top;
        }
        let den_scalar = den.iter().all(|(_, s)| *s);
        let bottom = join(&den);
        if self.latex {
            if den_scalar {
                return format!("\\frac{{{top}}}{{{bottom}}}");
            }
            let bottom = if den.len() > 1 {
                self.paren(&bottom)
            } else {
                bottom
            };
            return format!("{top} \\oslash {bottom}");
        }
        let bottom = if den.len() > 1 {
            format!("({bottom})")
        } else {
            bottom
        };
        let top = if num.len() > 1 && !den_scalar {
            format!("({top})")
        } else {
            top
        };
        if den_scalar {
            format!("{top}/{bottom}")
        } else {
            format!("{top} ./ {bottom}")
        }
    }

    /// `b ^ e` (the exponent a node, or a number).
    fn power(&self, b: TId, e: Option<TId>, k: Option<f64>) -> String {
        let pool = self.pool;
        let tensor = !pool.shape(b).is_scalar() || e.is_some_and(|e| !pool.shape(e).is_scalar());
        let exponent_value = k.or_else(|| e.and_then(|e| pool.as_num(e)));
        if exponent_value == Some(1.0) {
            return self.at(b, POWER + 1);
        }
        if exponent_value == Some(0.5) {
            return self
                .call("sqrt", "\\sqrt", &[b])
                .0
                .replace("\\sqrt\\left(", "\\sqrt{")
                .replace("\\right)", "}");
        }
        let base = self.at(b, ATOM);
        let exponent = match (k, e) {
            (Some(k), _) => {
                let (t, p) = self.number(k);
                if p >= ATOM || self.latex {
                    t
                } else {
                    format!("({t})")
                }
            }
            (None, Some(e)) => {
                if self.latex {
                    self.get(e).0.to_string()
                } else {
                    self.at(e, ATOM)
                }
            }
            (None, None) => "1".into(),
        };
        match (self.latex, tensor) {
            (false, false) => format!("{base}^{exponent}"),
            (false, true) => format!("{base}.^{exponent}"),
            (true, false) => format!("{{{base}}}^{{{exponent}}}"),
            (true, true) => format!("{{{base}}}^{{\\circ {exponent}}}"),
        }
    }
}
