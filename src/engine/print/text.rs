//! The plain-text style: the expression language itself, so printed text parses back.

use super::Style;
use crate::engine::expr::Constant;
use crate::engine::func::{Func, Spelling};

/// Plain text in the expression language.
#[derive(Clone, Copy, Debug, Default)]
pub struct Text;

/// A non-negative number as the shortest text that parses back to the same `f64`:
/// positional between 1e-5 and 1e16, scientific outside, `1e999` for infinity.
pub fn number(v: f64) -> String {
    if v.is_infinite() {
        "1e999".into()
    } else if v == 0.0 || (1e-5..1e16).contains(&v) {
        format!("{v}")
    } else {
        format!("{v:e}")
    }
}

impl Style for Text {
    fn number(&self, v: f64) -> String {
        number(v)
    }
    fn constant(&self, c: Constant) -> String {
        c.name().into()
    }
    fn symbol(&self, name: &str) -> String {
        name.into()
    }
    fn paren(&self, s: &str) -> String {
        format!("({s})")
    }
    fn power(&self, base: &str, exp: &str) -> String {
        format!("{base}^{exp}")
    }
    fn exponent_needs_parens(&self) -> bool {
        true
    }
    fn sqrt(&self, s: &str) -> String {
        format!("sqrt({s})")
    }
    fn call(&self, f: Func, args: &[&str]) -> String {
        format!("{}({})", f.name(), args.join(", "))
    }
    fn infix(&self, f: Func, a: &str, b: &str) -> String {
        let op = match f.spelling() {
            Spelling::Infix { text, .. } => text,
            Spelling::Call(_) => f.name(),
        };
        format!("{a} {op} {b}")
    }
    fn product(&self, factors: &[String]) -> String {
        factors.join("*")
    }
    fn fraction(&self, num: &str, den: &str, den_is_product: bool) -> String {
        if den_is_product {
            format!("{num}/({den})")
        } else {
            format!("{num}/{den}")
        }
    }
    fn fraction_groups(&self) -> bool {
        false
    }
}
