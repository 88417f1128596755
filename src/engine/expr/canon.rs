//! The canonicalising constructors: every node of a pool is made by one of these.
//!
//! What "canonical" means here:
//! - numbers fold: an operation on numbers is its value, unless the value is not finite
//!   (then the operation stays: `1/0` is `0^(-1)`, which evaluates to `inf`);
//! - sums and products are flat and n-ary, their operands sorted by structural hash, with
//!   like terms collected (`x + x = 2*x`, `x*x = x^2`, `x^a*x^b = x^(a+b)`) and at most one
//!   numeric term or coefficient (a coefficient is the first factor);
//! - the identities `x + 0 = x`, `1*x = x`, `x^1 = x`, `x^0 = 1`, `1^x = 1`, and `0*x = 0`
//!   where safe: only when `x` is entire (`0*ln(x)` stays, since it is undefined for
//!   `x <= 0`); `x - x = 0` likewise;
//! - a numeric coefficient stays beside a sum factor (`2*(x + y)` is a product: the chain
//!   rule makes such products by the thousand, and multiplying each out would double the
//!   nodes of a gradient and the program computing it), but a multiple of a sum that is
//!   itself a term of a sum joins that sum's terms, multiplied out (`x - (y + z)` is
//!   `x - y - z`, `2*(x + y) - 2*x` is `2*y`), so the difference of two spellings of one
//!   sum still comes to 0; an integer
//!   power distributes over a product and multiplies into a power (`(x*y)^2 = x^2*y^2`,
//!   `(x^a)^2 = x^(2*a)`); `sqrt(x)` is `x^0.5`, `a/b` is `a*b^-1`, `a - b` is `a + -1*b`;
//! - `ln(exp(x)) = x`, `ln(e) = 1`; `min`, `max` and `hypot` sort their arguments.
//!
//! These identities assume finite inputs; they never change a value that is defined.

use smallvec::SmallVec;

use super::sign::Sign;
use super::{Constant, ExprId, Node, Pool};
use crate::engine::func::Func;

impl Pool {
    /// The number `v`. NaN has no number node; it becomes the expression `0*0^-1`.
    pub fn num(&mut self, v: f64) -> ExprId {
        if v.is_nan() {
            let zero = self.intern(Node::Num(0f64.to_bits()));
            let minus_one = self.intern(Node::Num((-1f64).to_bits()));
            let inf = self.intern(Node::Pow([zero, minus_one]));
            return self.intern(Node::Mul(&[zero, inf]));
        }
        let bits = v.to_bits();
        let k = (bits.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 60) as usize;
        match self.recent_nums[k] {
            Some((b, id)) if b == bits => id,
            _ => {
                let id = self.intern(Node::Num(bits));
                self.recent_nums[k] = Some((bits, id));
                id
            }
        }
    }

    /// `-a`.
    pub fn neg(&mut self, a: ExprId) -> ExprId {
        self.scale(-1.0, a)
    }

    /// `a - b`.
    pub fn sub(&mut self, a: ExprId, b: ExprId) -> ExprId {
        let nb = self.neg(b);
        self.add(&[a, nb])
    }

    /// `a / b`.
    pub fn div(&mut self, a: ExprId, b: ExprId) -> ExprId {
        let r = self.recip(b);
        self.mul(&[a, r])
    }

    /// `1 / a`.
    pub fn recip(&mut self, a: ExprId) -> ExprId {
        let m = self.num(-1.0);
        self.pow(a, m)
    }

    /// `c * a`.
    pub fn scale(&mut self, c: f64, a: ExprId) -> ExprId {
        if let Some(id) = self.scale_quick(c, a) {
            return id;
        }
        let c = self.num(c);
        self.mul_general(&[c, a])
    }

    /// `c * a` for the shapes where the general rules of [`Pool::mul`] come to a copy: a
    /// symbol, power, call or constant takes the coefficient, a product's coefficient
    /// changes (its other factors are sorted and distinct already), a sum takes it as a
    /// factor.
    /// `None` leaves the rest (a number `a`, a zero or non-finite coefficient) to them.
    fn scale_quick(&mut self, c: f64, a: ExprId) -> Option<ExprId> {
        if c == 1.0 {
            return Some(a);
        }
        if c == 0.0 || !c.is_finite() {
            return None;
        }
        let mut factors: SmallVec<[ExprId; 8]> = SmallVec::new();
        match self.node(a) {
            Node::Num(_) => return None,
            Node::Add(_) => {
                factors.push(self.num(c));
                factors.push(a);
            }
            Node::Mul(xs) => {
                let (c0, rest) = match self.node(xs[0]).as_num() {
                    Some(c0) => (Some(c0), &xs[1..]),
                    None => (None, xs),
                };
                let rest: SmallVec<[ExprId; 8]> = SmallVec::from_slice(rest);
                let k = match c0 {
                    Some(c0) => self.num_mul(c, c0),
                    None => c,
                };
                if k == 0.0 || !k.is_finite() {
                    return None;
                }
                if k == 1.0 && rest.len() == 1 {
                    return Some(rest[0]);
                }
                if k != 1.0 {
                    factors.push(self.num(k));
                }
                factors.extend_from_slice(&rest);
            }
            _ => {
                factors.push(self.num(c));
                factors.push(a);
            }
        }
        Some(self.intern(Node::Mul(factors.as_slice())))
    }

    /// The sum of `terms` (0 when empty).
    pub fn add(&mut self, terms: &[ExprId]) -> ExprId {
        if let [one] = terms {
            return *one; // a node is canonical already
        }
        let mut consts: SmallVec<[f64; 4]> = SmallVec::new();
        // (key of the term without its coefficient, the term, its coefficient)
        let mut items: SmallVec<[(u64, ExprId, f64); 8]> = SmallVec::with_capacity(terms.len());
        for &t in terms {
            match self.node(t) {
                Node::Add(xs) => {
                    for &x in xs.iter() {
                        self.gather_term(x, &mut consts, &mut items);
                    }
                }
                Node::Mul(&[c, sum]) if self.node(c).as_num().is_some() => {
                    // A multiple of a sum joins its terms, multiplied out.
                    let (Some(c), Node::Add(xs)) = (self.node(c).as_num(), self.node(sum)) else {
                        self.gather_term(t, &mut consts, &mut items);
                        continue;
                    };
                    let xs: SmallVec<[ExprId; 8]> = SmallVec::from_slice(xs);
                    for x in xs {
                        let x = self.scale(c, x);
                        self.gather_term(x, &mut consts, &mut items);
                    }
                }
                _ => self.gather_term(t, &mut consts, &mut items),
            }
        }
        // (key, term) orders totally (equal pairs are equal items): an unstable sort is exact.
        items.sort_unstable_by_key(|&(key, t, _)| (key, t));
        let mut out: SmallVec<[ExprId; 8]> = SmallVec::with_capacity(items.len() + 1);
        let mut i = 0;
        while i < items.len() {
            let (key, first, mut c) = items[i];
            let mut j = i + 1;
            let mut merged = false;
            while j < items.len() && items[j].0 == key && self.same_rest(first, items[j].1) {
                c = self.num_add(c, items[j].2);
                merged = true;
                j += 1;
            }
            // Equal keys with different rests (a hash collision) are left as they are.
            i = j;
            if !merged {
                out.push(first); // already canonical
                continue;
            }
            let rest = self.rest_of(first);
            if c == 0.0 && self.meta(rest).entire {
                continue;
            }
            out.push(self.scale(c, rest));
        }
        // Folding from -0 keeps `-0` when every number is -0 (IEEE: -0 + -0 = -0); the
        // sum is exact where the numbers are.
        let csum = match consts.split_first() {
            Some((&first, rest)) if consts.iter().any(|c| c.to_bits() != (-0.0f64).to_bits()) => {
                rest.iter().fold(first, |a, &b| self.num_add(a, b))
            }
            _ => consts.iter().fold(-0.0, |a, b| a + b),
        };
        if csum.is_nan() {
            // inf - inf: keep the numbers apart rather than make a NaN node.
            for c in consts {
                out.push(self.intern(Node::Num(c.to_bits())));
            }
        } else if csum != 0.0 || (out.is_empty() && !consts.is_empty()) {
            out.push(self.num(csum));
        }
        match out.len() {
            0 => self.num(0.0),
            1 => out[0],
            _ => {
                self.sort_by_hash(&mut out);
                self.intern(Node::Add(out.as_slice()))
            }
        }
    }

    /// Records a term of a sum: numbers apart, others with their coefficient and the key
    /// (structural hash) of the rest.
    fn gather_term(
        &self,
        t: ExprId,
        consts: &mut SmallVec<[f64; 4]>,
        items: &mut SmallVec<[(u64, ExprId, f64); 8]>,
    ) {
        if let Some(v) = self.node(t).as_num() {
            consts.push(v);
            return;
        }
        let (c, rest): (f64, &[ExprId]) = match self.node(t) {
            Node::Mul(xs) => match self.node(xs[0]).as_num() {
                Some(c) => (c, &xs[1..]),
                None => (1.0, xs),
            },
            _ => (1.0, std::slice::from_ref(&t)),
        };
        let key = match rest {
            [one] => self.hash(*one),
            many => many.iter().fold(0x6d75_6c00, |h, &f| {
                (h ^ self.hash(f))
                    .rotate_left(23)
                    .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            }),
        };
        items.push((key, t, c));
    }

    /// The factors of a term other than its numeric coefficient.
    fn rest_factors<'a>(&'a self, t: &'a ExprId) -> &'a [ExprId] {
        match self.node(*t) {
            Node::Mul(xs) => match self.node(xs[0]).as_num() {
                Some(_) => &xs[1..],
                None => xs,
            },
            _ => std::slice::from_ref(t),
        }
    }

    fn same_rest(&self, a: ExprId, b: ExprId) -> bool {
        self.rest_factors(&a) == self.rest_factors(&b)
    }

    /// The term without its numeric coefficient, as a node.
    fn rest_of(&mut self, t: ExprId) -> ExprId {
        match self.rest_factors(&t) {
            [one] => *one,
            // Already sorted and flat: a product without a coefficient.
            many => {
                let many: SmallVec<[ExprId; 8]> = SmallVec::from_slice(many);
                self.intern(Node::Mul(&many))
            }
        }
    }

    /// The product `id` (a product node) without its factor number `i`: the partial
    /// derivative of a product by one of its factors. A canonical product less one factor
    /// is canonical already (sorted, flat, one coefficient at most, first), so this is a copy,
    /// not a new canonicalisation: linear in the factors, where `mul` would sort them.
    pub fn without_factor(&mut self, id: ExprId, i: usize) -> ExprId {
        let Node::Mul(xs) = self.node(id) else {
            return self.num(1.0);
        };
        let coeff = self.node(xs[0]).as_num();
        let rest: SmallVec<[ExprId; 8]> = xs
            .iter()
            .enumerate()
            .filter(|&(j, _)| j != i)
            .map(|(_, &x)| x)
            .collect();
        if coeff == Some(0.0)
            || matches!(rest.first().map(|&f| self.node(f)), Some(Node::Num(_))) && rest.len() == 1
        {
            // `0*...` may fold once a non-entire factor is gone; a lone coefficient is a
            // number: let the full constructor decide.
            return self.mul(&rest);
        }
        match rest.as_slice() {
            [] => self.num(1.0),
            [one] => *one,
            _ => self.intern(Node::Mul(rest.as_slice())),
        }
    }

    /// The product of `factors` (1 when empty).
    pub fn mul(&mut self, factors: &[ExprId]) -> ExprId {
        match *factors {
            [one] => return one,
            [a, b] => {
                let quick = match (self.node(a).as_num(), self.node(b).as_num()) {
                    (Some(c), None) => self.scale_quick(c, b),
                    (None, Some(c)) => self.scale_quick(c, a),
                    _ => None,
                };
                if let Some(id) = quick {
                    return id;
                }
            }
            _ => {}
        }
        self.mul_general(factors)
    }

    /// [`Pool::mul`] without its shortcuts.
    fn mul_general(&mut self, factors: &[ExprId]) -> ExprId {
        if let [one] = factors {
            return *one;
        }
        let mut coeff = 1.0f64;
        // (base, exponent, the factor itself)
        let mut items: SmallVec<[(ExprId, ExprId, ExprId); 8]> =
            SmallVec::with_capacity(factors.len());
        let one = self.num(1.0);
        // The numeric factors, multiplied after (exactly where they are exact).
        let mut numbers: SmallVec<[f64; 4]> = SmallVec::new();
        let mut gather = |pool: &Pool, f: ExprId| match pool.node(f) {
            Node::Num(_) => numbers.push(pool.node(f).as_num().unwrap_or(1.0)),
            Node::Pow([b, e]) => items.push((b, e, f)),
            _ => items.push((f, one, f)),
        };
        for &f in factors {
            match self.node(f) {
                Node::Mul(xs) => {
                    for &x in xs.iter() {
                        gather(self, x);
                    }
                }
                _ => gather(self, f),
            }
        }
        for v in numbers {
            coeff = self.num_mul(coeff, v);
        }
        items.sort_unstable_by_key(|&(b, _, f)| (b, f)); // a total order, as in `add`
        let mut out: SmallVec<[ExprId; 8]> = SmallVec::with_capacity(items.len() + 1);
        let mut regroup = false;
        let mut i = 0;
        while i < items.len() {
            let base = items[i].0;
            let mut j = i + 1;
            while j < items.len() && items[j].0 == base {
                j += 1;
            }
            if j == i + 1 {
                out.push(items[i].2); // a base seen once: the factor as it is
                i = j;
                continue;
            }
            let exps: SmallVec<[ExprId; 4]> = items[i..j].iter().map(|&(_, e, _)| e).collect();
            i = j;
            let e = self.add(&exps);
            let p = self.pow(base, e);
            match self.node(p) {
                Node::Num(_) => coeff = self.num_mul(coeff, self.node(p).as_num().unwrap_or(1.0)),
                // `(sqrt(x*y))^2` is `x*y`, and `sqrt(y^2)^2` is `y^2`: a result whose
                // base is not the group's may share a base with another factor.
                Node::Mul(_) => {
                    regroup = true;
                    out.push(p);
                }
                Node::Pow([b, _]) if b != base => {
                    regroup = true;
                    out.push(p);
                }
                _ => {
                    regroup |= p != base && !matches!(self.node(p), Node::Pow(_));
                    out.push(p);
                }
            }
        }
        if regroup && !coeff.is_nan() {
            out.push(self.num(coeff));
            return self.mul(&out);
        }
        if coeff.is_nan() {
            return self.num(f64::NAN);
        }
        if coeff == 0.0 && out.iter().all(|&f| self.meta(f).entire) {
            return self.num(if out.is_empty() { coeff } else { 0.0 });
        }
        if coeff == 0.0 {
            coeff = 0.0; // a zero coefficient of `0*ln(x)` has no sign to keep
        }
        match (out.len(), coeff == 1.0) {
            (0, _) => self.num(coeff),
            (1, true) => out[0],
            _ => {
                self.sort_by_hash(&mut out);
                if coeff != 1.0 {
                    out.insert(0, self.num(coeff));
                }
                self.intern(Node::Mul(out.as_slice()))
            }
        }
    }

    /// `base ^ exponent`.
    pub fn pow(&mut self, base: ExprId, exponent: ExprId) -> ExprId {
        let b = self.node(base).as_num();
        if let Some(e) = self.node(exponent).as_num() {
            if e == 0.0 {
                return self.num(1.0);
            }
            if e == 1.0 {
                return base;
            }
            if let Some(b) = b {
                let v = self.num_pow(b, e);
                if v.is_finite() {
                    return self.num(v);
                }
            }
            if e.fract() == 0.0 {
                match self.node(base) {
                    Node::Pow([bb, be]) => {
                        let ne = self.mul(&[be, exponent]);
                        return self.pow(bb, ne);
                    }
                    Node::Mul(xs) => {
                        let xs: SmallVec<[ExprId; 8]> = SmallVec::from_slice(xs);
                        let ps: SmallVec<[ExprId; 8]> =
                            xs.iter().map(|&x| self.pow(x, exponent)).collect();
                        return self.mul(&ps);
                    }
                    _ => {}
                }
            }
        }
        if b == Some(1.0) {
            return base;
        }
        self.intern(Node::Pow([base, exponent]))
    }

    /// `f(args...)`; `args.len()` must be `f.arity()` (the parser checks it).
    pub fn call(&mut self, f: Func, args: &[ExprId]) -> ExprId {
        let nums: SmallVec<[Option<f64>; 2]> =
            args.iter().map(|&a| self.node(a).as_num()).collect();
        if nums.iter().all(Option::is_some) {
            let a = nums.first().copied().flatten().unwrap_or(f64::NAN);
            let b = nums.get(1).copied().flatten().unwrap_or(f64::NAN);
            let v = f.eval(a, b);
            if v.is_finite() {
                return self.num(v);
            }
        }
        let mut args: SmallVec<[ExprId; 2]> = SmallVec::from_slice(args);
        match (f, self.node(args[0])) {
            (Func::Ln, Node::Const(Constant::E)) => return self.num(1.0),
            (Func::Ln, Node::Call(Func::Exp, inner)) => return inner[0],
            (Func::Abs, Node::Call(Func::Abs, _)) => return args[0],
            // A sign known wherever the argument is defined (`abs(x^2 + 1)` is `x^2 + 1`).
            (Func::Abs, _) if self.meta(args[0]).sign.non_negative() => return args[0],
            (Func::Abs, _) if self.meta(args[0]).sign.non_positive() => {
                return self.neg(args[0]);
            }
            (Func::Sign | Func::Signum, _) if self.meta(args[0]).sign == Sign::Positive => {
                return self.num(1.0);
            }
            (Func::Sign | Func::Signum, _) if self.meta(args[0]).sign == Sign::Negative => {
                return self.num(-1.0);
            }
            (f, _) if f.is_commutative() => self.sort_by_hash(&mut args),
            _ => {}
        }
        self.intern(Node::Call(f, args.as_slice()))
    }

    fn sort_by_hash(&self, ids: &mut [ExprId]) {
        ids.sort_unstable_by_key(|&id| (self.hash(id), id));
    }
}
