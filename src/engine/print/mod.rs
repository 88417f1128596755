//! Printing: canonical nodes as text that parses back to the same node, and as LaTeX.
//!
//! The printer walks the nodes a root reaches in id order (children first) and keeps
//! each node's text, so it never recurses and a subexpression shared by many roots (the
//! entries of a gradient) is laid out once. The layout is shared by both styles and chosen
//! for a reader: positive terms before negative ones, `a - b` rather than `a + -1*b`,
//! factors ordered variables first (by name) then functions, negative powers gathered into
//! one denominator (`2*x*y^3*z*exp(u)/(1 + exp(u))`), and only the parentheses the grammar
//! needs. [`Style`] says how each piece is spelled.

mod latex;
mod text;

use rustc_hash::FxHashMap as HashMap;

pub use latex::Latex;
pub use text::Text;

use super::budget::{Budget, Exhausted};
use super::expr::{Constant, ExprId, Node, Pool};
use super::func::{Func, Spelling};

/// Binding strength of a printed piece, loosest first: a piece is wrapped in parentheses
/// where a tighter one is required.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Prec {
    /// `a + b`, `a - b`.
    Sum,
    /// `a*b`, `a/b`, `a % b`.
    Product,
    /// A leading minus: `-x`, `-2*x`.
    Neg,
    /// `a^b`.
    Power,
    /// A name, a non-negative number, a call, or anything in parentheses.
    Atom,
}

/// How the pieces of an expression are spelled.
pub trait Style {
    /// A non-negative number.
    fn number(&self, v: f64) -> String;
    /// `pi` or `e`.
    fn constant(&self, c: Constant) -> String;
    /// A variable's name.
    fn symbol(&self, name: &str) -> String;
    /// `s` in parentheses.
    fn paren(&self, s: &str) -> String;
    /// `base^exp`, both already parenthesised as needed.
    fn power(&self, base: &str, exp: &str) -> String;
    /// Whether the exponent of a power needs parentheses when it is looser than `^`.
    fn exponent_needs_parens(&self) -> bool;
    /// `sqrt(s)`.
    fn sqrt(&self, s: &str) -> String;
    /// A call of `f` on its arguments.
    fn call(&self, f: Func, args: &[&str]) -> String;
    /// `a op b` for a function spelled as an infix operator (`a % b`), both already
    /// parenthesised as needed.
    fn infix(&self, f: Func, a: &str, b: &str) -> String;
    /// Factors multiplied together.
    fn product(&self, factors: &[String]) -> String;
    /// `num / den`; `den_is_product` tells whether the denominator is a product of
    /// several factors, which plain text must parenthesise.
    fn fraction(&self, num: &str, den: &str, den_is_product: bool) -> String;
    /// Whether a fraction sets its parts apart by itself (a LaTeX `\frac`), so a lone
    /// denominator needs no parentheses.
    fn fraction_groups(&self) -> bool;
}

/// A node's printed form.
#[derive(Clone, Debug)]
struct Piece {
    text: String,
    prec: Prec,
}

/// Prints nodes of one pool in one style, remembering what it has printed.
pub struct Printer<'p, S: Style> {
    pool: &'p Pool,
    style: S,
    done: HashMap<ExprId, Piece>,
    /// Whether an exact number whose decimal ends is written as that decimal (`0.8`)
    /// rather than as a fraction (`4/5`).
    decimals: bool,
}

/// The nodes worth naming once when `roots` are printed together: used more than once (by
/// parents, or as roots) and more than a name and a call, in ascending (topological)
/// order, so each definition only uses names defined before it. Printed with their names
/// (see [`Printer::name`]), the answers grow with the DAG, not with its tree.
pub fn shared(pool: &Pool, roots: &[ExprId]) -> Vec<ExprId> {
    let order = pool.reachable(roots);
    let top = order.last().map_or(0, |id| id.index() + 1);
    let mut uses = vec![0u32; top];
    for r in roots {
        uses[r.index()] = uses[r.index()].saturating_add(1);
    }
    for &id in &order {
        for c in pool.children(id) {
            uses[c.index()] = uses[c.index()].saturating_add(1);
        }
    }
    order
        .into_iter()
        .filter(|id| uses[id.index()] >= 2 && pool.tree_size(*id) > 3)
        .collect()
}

/// The size of what printing `roots` with the nodes `named` as names writes: each root's
/// tree and each named node's definition, a named node inside another counting as one.
/// Saturates; one loop over the nodes.
pub fn printed_size(pool: &Pool, roots: &[ExprId], named: &[ExprId]) -> u64 {
    let order = pool.reachable(roots);
    let top = order.last().map_or(0, |id| id.index() + 1);
    let mut is_named = vec![false; top];
    for n in named {
        if let Some(b) = is_named.get_mut(n.index()) {
            *b = true;
        }
    }
    // size[i]: the size of node i's definition body; as an operand, a named node is 1.
    let mut size = vec![0u64; top];
    for &id in &order {
        let body = pool.children(id).iter().fold(1u64, |acc, c| {
            let s = if is_named[c.index()] {
                1
            } else {
                size[c.index()]
            };
            acc.saturating_add(s)
        });
        size[id.index()] = body;
    }
    let defs = named
        .iter()
        .filter_map(|n| size.get(n.index()))
        .fold(0u64, |a, s| a.saturating_add(*s));
    roots.iter().fold(defs, |a, r| {
        let s = if is_named[r.index()] {
            1
        } else {
            size[r.index()]
        };
        a.saturating_add(s)
    })
}

/// The printed form of `id` as text that parses back to the same node.
pub fn text(pool: &Pool, id: ExprId) -> String {
    Printer::new(pool, Text).print(id)
}

/// The printed form of `id` as LaTeX.
pub fn latex(pool: &Pool, id: ExprId) -> String {
    Printer::new(pool, Latex).print(id)
}

impl<'p, S: Style> Printer<'p, S> {
    /// A printer for `pool` in `style`.
    pub fn new(pool: &'p Pool, style: S) -> Self {
        Printer {
            pool,
            style,
            done: HashMap::default(),
            decimals: true,
        }
    }

    /// Writes every exact number that is not an integer as a fraction (`4/5`, not `0.8`):
    /// for answers to a request that wrote no decimals, and for the cache key, which must
    /// not depend on how a request wrote its numbers.
    pub fn fractions(mut self) -> Self {
        self.decimals = false;
        self
    }

    /// The printed form of `id`. Its length grows with [`Pool::tree_size`]: check that
    /// before printing what a request made.
    pub fn print(&mut self, id: ExprId) -> String {
        self.print_within(id, &Budget::default())
            .unwrap_or_default()
    }

    /// [`Printer::print`], stopping when the budget's time runs out.
    pub fn print_within(&mut self, id: ExprId, budget: &Budget) -> Result<String, Exhausted> {
        if let Some(p) = self.done.get(&id) {
            // Printed already (the zeros of a sparse gradient): finding what a node reaches
            // walks the ids below it, so asking again for each of 100,000 entries was
            // quadratic.
            return Ok(p.text.clone());
        }
        for (i, n) in self.pool.reachable(&[id]).into_iter().enumerate() {
            budget.check_every(i)?;
            if !self.done.contains_key(&n) {
                let piece = self.piece(n);
                self.done.insert(n, piece);
            }
        }
        Ok(self
            .done
            .get(&id)
            .map(|p| p.text.clone())
            .unwrap_or_default())
    }

    /// From now on `id` prints as `name` (a definition printed once elsewhere). Call it
    /// after printing `id`'s own definition and before printing anything that uses it.
    pub fn name(&mut self, id: ExprId, name: &str) {
        self.done.insert(id, atom(self.style.symbol(name)));
    }

    fn get(&self, id: ExprId) -> &Piece {
        // Children are printed before parents (see `print`).
        &self.done[&id]
    }

    /// The child's text, parenthesised when it binds looser than `min`.
    fn at_least(&self, id: ExprId, min: Prec) -> String {
        let p = self.get(id);
        if p.prec < min {
            self.style.paren(&p.text)
        } else {
            p.text.clone()
        }
    }

    fn piece(&self, id: ExprId) -> Piece {
        let pool = self.pool;
        match pool.node(id) {
            Node::Num(_) => {
                let v = pool.node(id).as_num().unwrap_or(f64::NAN);
                if v.is_sign_negative() {
                    Piece {
                        text: format!("-{}", self.number_piece(-v).text),
                        prec: Prec::Neg,
                    }
                } else {
                    self.number_piece(v)
                }
            }
            Node::Const(c) => atom(self.style.constant(c)),
            Node::Sym(s) => atom(self.style.symbol(pool.symbol_name(s))),
            Node::Add(terms) => self.sum(terms),
            Node::Mul(factors) => match pool.node(factors[0]).as_num() {
                Some(c) => self.product(c, &factors[1..]),
                None => self.product(1.0, factors),
            },
            Node::Pow([b, e]) => match pool.node(e).as_num() {
                Some(p) if p < 0.0 && pool.node(b).as_num().is_none() => self.product(1.0, &[id]),
                Some(0.5) => atom(self.style.sqrt(&self.get(b).text)),
                _ => {
                    let exp_min = if self.style.exponent_needs_parens() {
                        Prec::Power
                    } else {
                        Prec::Sum
                    };
                    Piece {
                        text: self
                            .style
                            .power(&self.at_least(b, Prec::Atom), &self.at_least(e, exp_min)),
                        prec: Prec::Power,
                    }
                }
            },
            Node::Call(f, &[a, b]) if matches!(f.spelling(), Spelling::Infix { .. }) => Piece {
                text: self.style.infix(
                    f,
                    &self.at_least(a, Prec::Product),
                    &self.at_least(b, Prec::Power),
                ),
                prec: Prec::Product,
            },
            Node::Call(f, args) => {
                let texts: Vec<&str> = args.iter().map(|a| self.get(*a).text.as_str()).collect();
                atom(self.style.call(f, &texts))
            }
        }
    }

    /// Splits a term into (is it subtracted, its magnitude's text and precedence).
    fn signed_term(&self, t: ExprId) -> (bool, Piece) {
        match self.pool.node(t) {
            Node::Num(_) => {
                let v = self.pool.node(t).as_num().unwrap_or(f64::NAN);
                (v.is_sign_negative(), self.number_piece(v.abs()))
            }
            Node::Mul(fs) => match self.pool.node(fs[0]).as_num() {
                Some(c) if c < 0.0 => (true, self.product(-c, &fs[1..])),
                _ => (false, self.get(t).clone()),
            },
            _ => (false, self.get(t).clone()),
        }
    }

    fn sum(&self, terms: &[ExprId]) -> Piece {
        let mut parts: Vec<(bool, u64, Piece)> = terms
            .iter()
            .map(|&t| {
                let (neg, p) = self.signed_term(t);
                (neg, self.pool.tree_size(t), p)
            })
            .collect();
        parts.sort_by(|a, b| (a.0, a.1, &a.2.text).cmp(&(b.0, b.1, &b.2.text)));
        let mut text = String::new();
        for (i, (neg, _, p)) in parts.iter().enumerate() {
            let body = if p.prec <= Prec::Sum {
                self.style.paren(&p.text)
            } else {
                p.text.clone()
            };
            match (i, neg) {
                (0, false) => text.push_str(&body),
                (0, true) => {
                    text.push('-');
                    text.push_str(&body);
                }
                (_, false) => {
                    text.push_str(" + ");
                    text.push_str(&body);
                }
                (_, true) => {
                    text.push_str(" - ");
                    text.push_str(&body);
                }
            }
        }
        Piece {
            text,
            prec: Prec::Sum,
        }
    }

    /// The exact fraction `p/q` (`q > 1`) a non-negative number stands for, printed as
    /// such: always (see [`Printer::fractions`]), or when its decimal does not end (`1/3`;
    /// `0.8` is then the decimal it is).
    fn fraction(&self, v: f64) -> Option<(i64, i64)> {
        let r = self.pool.exact(v)?;
        let as_fraction = !r.is_integer() && (!self.decimals || !r.is_decimal());
        as_fraction.then(|| (r.numer().abs(), r.denom()))
    }

    /// A non-negative number: an integer, the decimal that is exactly it, or a fraction.
    fn number_piece(&self, v: f64) -> Piece {
        match self.fraction(v) {
            Some((p, q)) => Piece {
                text: self.style.fraction(
                    &self.style.number(p as f64),
                    &self.style.number(q as f64),
                    false,
                ),
                prec: if self.style.fraction_groups() {
                    Prec::Atom
                } else {
                    Prec::Product
                },
            },
            None => atom(self.style.number(v)),
        }
    }

    /// `coeff * factors`, with negative powers as a denominator.
    fn product(&self, coeff: f64, factors: &[ExprId]) -> Piece {
        let pool = self.pool;
        if factors.is_empty() {
            let p = self.number_piece(coeff.abs());
            return if coeff < 0.0 {
                (format!("-{}", p.text), Prec::Neg).into()
            } else {
                p
            };
        }
        let mut num: Vec<(u8, String, String)> = Vec::new();
        let mut den: Vec<(u8, String, String, Prec)> = Vec::new();
        for &f in factors {
            match pool.node(f) {
                // A number's negative power (`0^(-1)`, kept because it is not finite)
                // stays in the numerator: `1/(x*0)` would read back as `1/0`.
                Node::Pow([b, e])
                    if pool.node(e).as_num().is_some_and(|p| p < 0.0)
                        && pool.node(b).as_num().is_none() =>
                {
                    let p = -pool.node(e).as_num().unwrap_or(-1.0);
                    let text = if p == 1.0 {
                        self.get(b).text.clone()
                    } else if p == 0.5 {
                        self.style.sqrt(&self.get(b).text)
                    } else {
                        let e = self.number_piece(p);
                        let e = if e.prec < Prec::Power && self.style.exponent_needs_parens() {
                            self.style.paren(&e.text)
                        } else {
                            e.text
                        };
                        self.style.power(&self.at_least(b, Prec::Atom), &e)
                    };
                    let prec = if p == 1.0 {
                        self.get(b).prec
                    } else {
                        Prec::Power
                    };
                    den.push((rank(pool, b), self.get(b).text.clone(), text, prec));
                }
                _ => {
                    let base = match pool.node(f) {
                        Node::Pow([b, _]) => b,
                        _ => f,
                    };
                    num.push((
                        rank(pool, base),
                        self.get(base).text.clone(),
                        self.at_least(f, Prec::Neg),
                    ));
                }
            }
        }
        num.sort();
        den.sort();
        let mut texts: Vec<String> = Vec::with_capacity(num.len() + 1);
        let mut mag = coeff.abs();
        // A fraction's denominator joins the others: `1/(3*x^(2/3))`, `2*x/3`.
        if let Some((p, q)) = self.fraction(mag) {
            den.insert(
                0,
                (0, String::new(), self.style.number(q as f64), Prec::Atom),
            );
            mag = p as f64;
        }
        if mag != 1.0 || (num.is_empty() && den.is_empty()) {
            texts.push(self.style.number(mag));
        }
        texts.extend(num.into_iter().map(|(_, _, t)| t));
        let numerator = if texts.is_empty() {
            self.style.number(1.0)
        } else {
            self.style.product(&texts)
        };
        let (text, prec) = if !den.is_empty() {
            // A lone denominator needs parentheses only where the fraction does not group.
            let alone = den.len() == 1 && self.style.fraction_groups();
            let den_texts: Vec<String> = den
                .into_iter()
                .map(|(_, _, t, p)| {
                    if p <= Prec::Product && !alone {
                        self.style.paren(&t)
                    } else {
                        t
                    }
                })
                .collect();
            let n = den_texts.len();
            let den_text = self.style.product(&den_texts);
            (
                self.style.fraction(&numerator, &den_text, n > 1),
                Prec::Product,
            )
        } else if texts.len() > 1 {
            (numerator, Prec::Product)
        } else if let (1.0, [f]) = (mag, factors) {
            // A lone factor (the magnitude of `-x`): its own precedence, or an atom if it
            // was parenthesised.
            let p = self.get(*f).prec;
            (numerator, if p < Prec::Neg { Prec::Atom } else { p })
        } else {
            (numerator, Prec::Atom)
        };
        if coeff < 0.0 {
            (format!("-{text}"), Prec::Neg).into()
        } else {
            (text, prec).into()
        }
    }
}

impl From<(String, Prec)> for Piece {
    fn from((text, prec): (String, Prec)) -> Piece {
        Piece { text, prec }
    }
}

fn atom(text: String) -> Piece {
    Piece {
        text,
        prec: Prec::Atom,
    }
}

/// Where a factor goes in a product: variables (and their powers) first, then constants,
/// then calls, then everything else; ties by text.
fn rank(pool: &Pool, base: ExprId) -> u8 {
    match pool.node(base) {
        Node::Sym(_) => 0,
        Node::Const(_) | Node::Num(_) => 1,
        Node::Call(..) => 2,
        _ => 3,
    }
}
