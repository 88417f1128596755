//! The LaTeX style: `\frac`, `\exp`, `\ln`, `x^{2}`, `\sqrt{}`.

use super::Style;
use crate::engine::expr::Constant;
use crate::engine::func::{self, Func, Spelling};

/// LaTeX math-mode source.
#[derive(Clone, Copy, Debug, Default)]
pub struct Latex;

const GREEK: &[&str] = &[
    "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa",
    "lambda", "mu", "nu", "xi", "rho", "sigma", "tau", "upsilon", "phi", "chi", "psi", "omega",
    "Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi", "Sigma", "Phi", "Psi", "Omega",
];

fn name(n: &str) -> String {
    if GREEK.contains(&n) {
        return format!("\\{n}");
    }
    if n.len() == 1 {
        return n.into();
    }
    if let Some((head, tail)) = n.split_once('_') {
        if !head.is_empty() && !tail.is_empty() {
            return format!("{}_{{{}}}", name(head), tail.replace('_', "\\_"));
        }
    }
    let digits = n.trim_end_matches(|c: char| c.is_ascii_digit());
    if !digits.is_empty() && digits.len() < n.len() {
        return format!("{}_{{{}}}", name(digits), &n[digits.len()..]);
    }
    format!("\\mathrm{{{}}}", n.replace('_', "\\_"))
}

impl Style for Latex {
    fn number(&self, v: f64) -> String {
        let t = super::text::number(v);
        if v.is_infinite() {
            return "\\infty".into();
        }
        match t.split_once('e') {
            Some((m, e)) => format!("{m} \\cdot 10^{{{e}}}"),
            None => t,
        }
    }
    fn constant(&self, c: Constant) -> String {
        match c {
            Constant::Pi => "\\pi".into(),
            Constant::E => "e".into(),
        }
    }
    fn symbol(&self, n: &str) -> String {
        name(n)
    }
    fn paren(&self, s: &str) -> String {
        format!("\\left({s}\\right)")
    }
    fn power(&self, base: &str, exp: &str) -> String {
        format!("{base}^{{{exp}}}")
    }
    fn exponent_needs_parens(&self) -> bool {
        false
    }
    fn sqrt(&self, s: &str) -> String {
        format!("\\sqrt{{{s}}}")
    }
    fn call(&self, f: Func, args: &[&str]) -> String {
        let a = args.first().copied().unwrap_or_default();
        match f.spelling() {
            Spelling::Call(func::Latex::Command(c)) => format!("{c}\\left({a}\\right)"),
            Spelling::Call(func::Latex::Around(left, right)) => format!("{left}{a}{right}"),
            Spelling::Call(func::Latex::Named) | Spelling::Infix { .. } => format!(
                "\\operatorname{{{}}}\\left({}\\right)",
                f.name(),
                args.join(", ")
            ),
        }
    }
    fn infix(&self, f: Func, a: &str, b: &str) -> String {
        let op = match f.spelling() {
            Spelling::Infix { latex, .. } => latex,
            Spelling::Call(_) => f.name(),
        };
        format!("{a} {op} {b}")
    }
    fn product(&self, factors: &[String]) -> String {
        let mut out = String::new();
        for (i, f) in factors.iter().enumerate() {
            if i > 0 {
                let digit = f.starts_with(|c: char| c.is_ascii_digit());
                out.push_str(if digit { " \\cdot " } else { " " });
            }
            out.push_str(f);
        }
        out
    }
    fn fraction(&self, num: &str, den: &str, _den_is_product: bool) -> String {
        format!("\\frac{{{num}}}{{{den}}}")
    }
    fn fraction_groups(&self) -> bool {
        true
    }
}
