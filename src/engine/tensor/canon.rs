//! The canonicalising constructors of a [`TPool`]: the only way a node is made, and the
//! one place that checks shapes.
//!
//! Forms: a sum collects like terms (`A*x + A*x = 2*A*x`) and numbers; an elementwise
//! product collects powers of a base and one numeric coefficient, first; a matrix
//! product is a chain of non-scalar factors (scalar factors are pulled out in front, an
//! identity drops out) and never commutes; a transpose is pushed down to the symbols, so
//! `(A*B)' = B'*A'`, `(A + B)' = A' + B'`, `(A')' = A`, `inv(A)' = inv(A')`, and a
//! diagonal or identity matrix is its own transpose. A chain whose value is a scalar equals
//! its transpose: of the two the one with the smaller structural hash is the form, so
//! `x'*A*x` and `x'*A'*x` are one node.

use super::{Dim, Mismatch, TId, TNode, TPool, TShape};
use crate::engine::expr::exact::Rational;
use crate::engine::func::Func;

type R<T> = Result<T, Mismatch>;

impl TPool {
    // ---- numbers, exact where their operands are ----

    fn num_add(&mut self, a: f64, b: f64) -> f64 {
        match (self.exact(a), self.exact(b)) {
            (Some(x), Some(y)) => match x.checked_add(y) {
                Some(r) => self.remember_exact(r),
                None => a + b,
            },
            _ => a + b,
        }
    }

    fn num_mul(&mut self, a: f64, b: f64) -> f64 {
        match (self.exact(a), self.exact(b)) {
            (Some(x), Some(y)) => match x.checked_mul(y) {
                Some(r) => self.remember_exact(r),
                None => a * b,
            },
            _ => a * b,
        }
    }

    /// `a ^ b` when it is exact (`b` an integer), else `None`.
    fn num_pow(&mut self, a: f64, b: f64) -> Option<f64> {
        let k = self.exact(b).filter(|k| k.is_integer())?.numer();
        let r = self.exact(a)?.powi(k)?;
        Some(self.remember_exact(r))
    }

    /// The shape of an elementwise operation on operands of `shapes`: all the non-scalar
    /// ones equal.
    fn broadcast(&self, ids: &[TId], what: &str) -> R<TShape> {
        let mut shape = TShape::SCALAR;
        for &id in ids {
            let s = self.shape(id);
            if s.is_scalar() {
                continue;
            }
            if shape.is_scalar() {
                shape = s;
            } else if shape != s {
                return Err(Mismatch(format!(
                    "cannot {what} {} and {}: the shapes differ",
                    self.shape_name(shape),
                    self.shape_name(s)
                )));
            }
        }
        Ok(shape)
    }

    /// A tensor of shape `s` filled with `c`.
    pub fn fill(&mut self, c: f64, s: TShape) -> TId {
        if s.is_scalar() {
            return self.num(c);
        }
        if c == 0.0 {
            return self.intern(TNode::Zeros(s), s);
        }
        let ones = self.intern(TNode::Ones(s), s);
        if c == 1.0 {
            return ones;
        }
        let c = self.num(c);
        self.intern(TNode::Mul(vec![c, ones]), s)
    }

    /// `t` with shape `s`: itself, or a scalar spread over `s`.
    pub fn widen(&mut self, t: TId, s: TShape) -> TId {
        if self.shape(t) == s {
            return t;
        }
        if let Some(c) = self.as_num(t) {
            return self.fill(c, s);
        }
        let ones = self.intern(TNode::Ones(s), s);
        let mut fs = vec![t, ones];
        self.sort(&mut fs);
        self.intern(TNode::Mul(fs), s)
    }

    fn sort(&self, ids: &mut [TId]) {
        ids.sort_by_key(|&id| (self.as_num(id).is_some(), self.hash(id), id));
    }

    /// A term as `(coefficient, the rest)`.
    fn split_coefficient(&mut self, t: TId) -> (f64, TId) {
        if let TNode::Mul(fs) = self.node(t) {
            if let Some(c) = self.as_num(fs[0]) {
                let rest = fs[1..].to_vec();
                let shape = self.shape(t);
                let rest = match rest.len() {
                    1 => self.widen(rest[0], shape),
                    _ => self.intern(TNode::Mul(rest), shape),
                };
                return (c, rest);
            }
        }
        (1.0, t)
    }

    /// `-a`.
    pub fn neg(&mut self, a: TId) -> TId {
        let m1 = self.num(-1.0);
        // A scalar times anything is never a mismatch.
        self.mul(&[m1, a]).unwrap_or(a)
    }

    /// The elementwise sum of `terms` (scalars broadcast).
    pub fn add(&mut self, terms: &[TId]) -> R<TId> {
        let shape = self.broadcast(terms, "add")?;
        let mut flat = Vec::with_capacity(terms.len());
        for &t in terms {
            match self.node(t) {
                TNode::Add(ts) => flat.extend_from_slice(ts),
                TNode::Zeros(_) => {}
                _ => flat.push(t),
            }
        }
        let mut constant = 0.0;
        let mut like: Vec<(TId, f64)> = Vec::new();
        for t in flat {
            if let Some(c) = self.as_num(t) {
                constant = self.num_add(constant, c);
                continue;
            }
            let (c, rest) = self.split_coefficient(t);
            match like.iter_mut().position(|(r, _)| *r == rest) {
                Some(i) => {
                    let sum = self.num_add(like[i].1, c);
                    like[i].1 = sum;
                }
                None => like.push((rest, c)),
            }
        }
        let mut out = Vec::with_capacity(like.len() + 1);
        for (rest, c) in like {
            if c == 0.0 {
                continue;
            }
            let term = if c == 1.0 {
                rest
            } else {
                let c = self.num(c);
                self.mul(&[c, rest])?
            };
            out.push(term);
        }
        if constant != 0.0 || constant.is_nan() {
            out.push(self.num(constant));
        }
        match out.len() {
            0 => Ok(self.fill(0.0, shape)),
            1 => Ok(self.widen(out[0], shape)),
            _ => {
                self.sort(&mut out);
                Ok(self.intern(TNode::Add(out), shape))
            }
        }
    }

    /// `a - b`.
    pub fn sub(&mut self, a: TId, b: TId) -> R<TId> {
        let nb = self.neg(b);
        self.add(&[a, nb])
    }

    /// The elementwise product of `factors` (scalars broadcast).
    pub fn mul(&mut self, factors: &[TId]) -> R<TId> {
        let shape = self.broadcast(factors, "multiply elementwise")?;
        let mut flat = Vec::with_capacity(factors.len());
        for &f in factors {
            match self.node(f) {
                TNode::Mul(fs) => flat.extend_from_slice(fs),
                TNode::Ones(_) => {}
                TNode::Zeros(_) => return Ok(self.fill(0.0, shape)),
                _ => flat.push(f),
            }
        }
        let mut coefficient = 1.0;
        // Each base with the sum of its exponents.
        let mut powers: Vec<(TId, Vec<TId>)> = Vec::new();
        for f in flat {
            if let Some(c) = self.as_num(f) {
                coefficient = self.num_mul(coefficient, c);
                continue;
            }
            let (base, exponent) = match *self.node(f) {
                TNode::Pow([b, e]) => (b, e),
                _ => (f, self.num(1.0)),
            };
            match powers.iter_mut().position(|(b, _)| *b == base) {
                Some(i) => powers[i].1.push(exponent),
                None => powers.push((base, vec![exponent])),
            }
        }
        // exp(t) .* (exp(t) + 1).^-1 is sigmoid(t), finite where exp overflows.
        let mut k = 0;
        while k < powers.len() {
            let (base, ref exponents) = powers[k];
            let inverse = exponents.len() == 1 && self.as_num(exponents[0]) == Some(-1.0);
            let t = if inverse {
                self.one_plus_exp(base)
            } else {
                None
            };
            let partner = t.and_then(|t| {
                powers.iter().position(|(b, es)| {
                    matches!(self.node(*b), TNode::Call(Func::Exp, a) if a[0] == t)
                        && es.len() == 1
                        && self.as_num(es[0]) == Some(1.0)
                })
            });
            match (t, partner) {
                (Some(t), Some(j)) => {
                    let s = self.call(Func::Sigmoid, &[t])?;
                    let one = self.num(1.0);
                    let (hi, lo) = (k.max(j), k.min(j));
                    powers.remove(hi);
                    powers.remove(lo);
                    match powers.iter_mut().find(|(b, _)| *b == s) {
                        Some((_, es)) => es.push(one),
                        None => powers.push((s, vec![one])),
                    }
                    k = 0;
                }
                _ => k += 1,
            }
        }
        let mut out = Vec::with_capacity(powers.len() + 1);
        for (base, exponents) in powers {
            let exponent = self.add(&exponents)?;
            let p = if exponents.len() == 1 {
                // A factor as it was: already canonical.
                match self.as_num(exponent) {
                    Some(1.0) => base,
                    _ => self.pow(base, exponent)?,
                }
            } else {
                self.pow(base, exponent)?
            };
            if let Some(c) = self.as_num(p) {
                coefficient = self.num_mul(coefficient, c);
                continue;
            }
            match self.node(p) {
                TNode::Mul(fs) => {
                    let fs = fs.clone();
                    for g in fs {
                        match self.as_num(g) {
                            Some(c) => coefficient = self.num_mul(coefficient, c),
                            None => out.push(g),
                        }
                    }
                }
                TNode::Ones(_) => {}
                _ => out.push(p),
            }
        }
        if coefficient == 0.0 {
            return Ok(self.fill(0.0, shape));
        }
        self.sort(&mut out);
        if out.is_empty() {
            return Ok(self.fill(coefficient, shape));
        }
        if coefficient != 1.0 {
            out.insert(0, self.num(coefficient));
        }
        if !shape.is_scalar() && out.iter().all(|&f| self.shape(f) != shape) {
            let ones = self.intern(TNode::Ones(shape), shape);
            out.push(ones);
            let start = usize::from(coefficient != 1.0);
            self.sort(&mut out[start..]);
        }
        if out.len() == 1 {
            return Ok(out[0]);
        }
        Ok(self.intern(TNode::Mul(out), shape))
    }

    /// `a ./ b`.
    pub fn div(&mut self, a: TId, b: TId) -> R<TId> {
        let m1 = self.num(-1.0);
        let inverse = self.pow(b, m1)?;
        self.mul(&[a, inverse])
    }

    /// The elementwise power `base .^ exponent`.
    pub fn pow(&mut self, base: TId, exponent: TId) -> R<TId> {
        let shape = self.broadcast(&[base, exponent], "raise elementwise")?;
        let e = self.as_num(exponent);
        match e {
            Some(0.0) => return Ok(self.fill(1.0, shape)),
            Some(1.0) => return Ok(self.widen(base, shape)),
            _ => {}
        }
        if let (Some(b), Some(e)) = (self.as_num(base), e) {
            if let Some(v) = self.num_pow(b, e) {
                return Ok(self.num(v));
            }
        }
        let integer = e.is_some_and(|e| e == e.trunc() && e.abs() < 1e9);
        match self.node(base).clone() {
            TNode::Pow([b, e0]) if integer => {
                if let (Some(e0), Some(e)) = (self.as_num(e0), e) {
                    let product = self.num_mul(e0, e);
                    let product = self.num(product);
                    return self.pow(b, product);
                }
            }
            TNode::Mul(fs) if integer => {
                let mut parts = Vec::with_capacity(fs.len());
                for f in fs {
                    parts.push(self.pow(f, exponent)?);
                }
                return self.mul(&parts);
            }
            TNode::Ones(_) => return Ok(self.fill(1.0, shape)),
            TNode::Zeros(_) if e.is_some_and(|e| e > 0.0) => return Ok(self.fill(0.0, shape)),
            _ => {}
        }
        Ok(self.intern(TNode::Pow([base, exponent]), shape))
    }

    /// A scalar part and a tensor part of a product's operand: `2*t*A` is `(2*t, A)`.
    fn scalar_part(&mut self, x: TId) -> R<(Vec<TId>, TId)> {
        if let TNode::Mul(fs) = self.node(x) {
            let fs = fs.clone();
            let (scalars, tensors): (Vec<TId>, Vec<TId>) =
                fs.into_iter().partition(|&f| self.shape(f).is_scalar());
            if !scalars.is_empty() {
                let tensor = match tensors.len() {
                    1 => tensors[0],
                    _ => self.mul(&tensors)?,
                };
                return Ok((scalars, tensor));
            }
        }
        Ok((Vec::new(), x))
    }

    /// The matrix product `a * b` (a scalar operand scales the other).
    pub fn matmul(&mut self, a: TId, b: TId) -> R<TId> {
        self.matmul_chain(&[a, b])
    }

    /// The matrix product of `factors`, left to right.
    pub fn matmul_chain(&mut self, factors: &[TId]) -> R<TId> {
        let Some(&first) = factors.first() else {
            return Ok(self.num(1.0));
        };
        let mut shape = self.shape(first);
        let mut scalars = Vec::new();
        let mut chain: Vec<TId> = Vec::new();
        for (i, &f) in factors.iter().enumerate() {
            let s = self.shape(f);
            if i > 0 {
                if s.is_scalar() {
                    // scalar * tensor: the shape stays.
                } else if shape.is_scalar() {
                    shape = s;
                } else if shape.cols != s.rows {
                    return Err(Mismatch(format!(
                        "cannot multiply {} by {}",
                        self.shape_name(shape),
                        self.shape_name(s)
                    )));
                } else {
                    shape = TShape::new(shape.rows, s.cols);
                }
            }
            if s.is_scalar() {
                scalars.push(f);
                continue;
            }
            let (mut sc, t) = self.scalar_part(f)?;
            scalars.append(&mut sc);
            match self.node(t) {
                TNode::MatMul(fs) => chain.extend_from_slice(fs),
                _ => chain.push(t),
            }
        }
        if chain
            .iter()
            .any(|&f| matches!(self.node(f), TNode::Zeros(_)))
        {
            return Ok(self.fill(0.0, shape));
        }
        // Adjacent diagonal matrices are one: diag(a)*diag(b) = diag(a .* b).
        let mut k = 1;
        while k < chain.len() {
            if let (TNode::Diag(a), TNode::Diag(b)) = (self.node(chain[k - 1]), self.node(chain[k]))
            {
                let (a, b) = (*a, *b);
                let ab = self.mul(&[a, b])?;
                chain[k - 1] = self.diag(ab)?;
                chain.remove(k);
            } else {
                k += 1;
            }
        }
        // diag(v)*y = v .* y for a column y at the end.
        if let [.., d, y] = chain[..] {
            if let TNode::Diag(v) = *self.node(d) {
                if self.shape(y).is_column() {
                    let vy = self.mul(&[v, y])?;
                    chain.pop();
                    chain.pop();
                    match self.node(vy) {
                        TNode::MatMul(fs) => chain.extend_from_slice(&fs.clone()),
                        _ => chain.push(vy),
                    }
                }
            }
        }
        if chain.len() > 1 {
            chain.retain(|&f| !matches!(self.node(f), TNode::Eye(_)));
            if chain.is_empty() {
                // Only identities: one of them.
                let d = shape.rows;
                chain.push(self.intern(TNode::Eye(d), TShape::new(d, d)));
            }
        }
        let product = match chain.len() {
            0 => self.num(1.0),
            1 => chain[0],
            _ if shape.is_scalar() => {
                let forward = self.intern(TNode::MatMul(chain.clone()), shape);
                let mut back = Vec::with_capacity(chain.len());
                for &f in chain.iter().rev() {
                    back.push(self.transpose(f)?);
                }
                let back = self.intern(TNode::MatMul(back), shape);
                // The one with fewer transposes (as it is usually written), then by hash.
                let rank = |p: &TPool, id: TId| {
                    let transposes = p
                        .node(id)
                        .children()
                        .iter()
                        .filter(|&&f| matches!(p.node(f), TNode::Transpose(_)))
                        .count();
                    (transposes, p.hash(id))
                };
                if rank(self, back) < rank(self, forward) {
                    back
                } else {
                    forward
                }
            }
            _ => self.intern(TNode::MatMul(chain), shape),
        };
        if scalars.is_empty() {
            return Ok(product);
        }
        scalars.push(product);
        self.mul(&scalars)
    }

    /// The transpose of `a`, pushed down to its symbols.
    pub fn transpose(&mut self, a: TId) -> R<TId> {
        if self.shape(a).is_scalar() {
            return Ok(a);
        }
        // The transposes of the nodes below `a`, children first: a loop, not a recursion.
        let reach = self.reachable(&[a]);
        let mut t: Vec<Option<TId>> = vec![None; a.index() + 1];
        for i in 0..=a.index() {
            if !reach[i] {
                continue;
            }
            let id = TId(i as u32);
            if self.shape(id).is_scalar() {
                t[i] = Some(id);
                continue;
            }
            let tr = |c: &TId| t[c.index()].unwrap_or(*c);
            let node = self.node(id).clone();
            let shape = self.shape(id).t();
            t[i] = Some(match node {
                TNode::Transpose(x) => x,
                TNode::Add(ts) => {
                    let ts: Vec<TId> = ts.iter().map(tr).collect();
                    self.add(&ts)?
                }
                TNode::Mul(fs) => {
                    let fs: Vec<TId> = fs.iter().map(tr).collect();
                    self.mul(&fs)?
                }
                TNode::Pow([b, e]) => self.pow(tr(&b), tr(&e))?,
                TNode::Call(f, args) => {
                    let args: Vec<TId> = args.iter().map(tr).collect();
                    self.call(f, &args)?
                }
                TNode::MatMul(fs) => {
                    let fs: Vec<TId> = fs.iter().rev().map(tr).collect();
                    self.matmul_chain(&fs)?
                }
                TNode::Inv(x) => self.inv(tr(&x))?,
                TNode::Diag(_) | TNode::Eye(_) => id,
                TNode::Ones(s) => self.fill(1.0, s.t()),
                TNode::Zeros(s) => self.fill(0.0, s.t()),
                _ => self.intern(TNode::Transpose(id), shape),
            });
        }
        Ok(t[a.index()].unwrap_or(a))
    }

    /// `t` when `id` is `exp(t) + 1`.
    fn one_plus_exp(&self, id: TId) -> Option<TId> {
        match self.node(id) {
            TNode::Add(ts) if ts.len() == 2 && self.as_num(ts[1]) == Some(1.0) => {
                match self.node(ts[0]) {
                    TNode::Call(Func::Exp, a) => Some(a[0]),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// A scalar function applied elementwise.
    pub fn call(&mut self, f: Func, args: &[TId]) -> R<TId> {
        let shape = self.broadcast(args, &format!("apply {} to", f.name()))?;
        // ln(1 + exp(t)) is softplus(t): the same function, finite where exp overflows
        // (a logistic loss at a large margin), and its derivative is sigmoid(t).
        if f == Func::Ln {
            if let Some(t) = self.one_plus_exp(args[0]) {
                return self.call(Func::Softplus, &[t]);
            }
        }
        if args.iter().all(|&a| self.as_num(a).is_some()) {
            let a = self.as_num(args[0]).unwrap_or(f64::NAN);
            let b = args.get(1).and_then(|&b| self.as_num(b)).unwrap_or(a);
            let v = f.eval(a, b);
            if v.is_finite() && Rational::from_f64(v).is_some() {
                return Ok(self.num(v));
            }
        }
        Ok(self.intern(TNode::Call(f, args.to_vec()), shape))
    }

    /// Pulls the scalar factors of `a` out of a linear function `make` of it.
    fn linear(&mut self, a: TId, make: impl FnOnce(&mut TPool, TId) -> R<TId>) -> R<TId> {
        let (scalars, t) = self.scalar_part(a)?;
        let inner = make(self, t)?;
        if scalars.is_empty() {
            return Ok(inner);
        }
        let mut fs = scalars;
        fs.push(inner);
        self.mul(&fs)
    }

    /// The sum of all entries.
    pub fn sum(&mut self, a: TId) -> R<TId> {
        if self.shape(a).is_scalar() {
            return Ok(a);
        }
        self.linear(a, |p, t| {
            Ok(match p.node(t) {
                TNode::Zeros(_) => p.num(0.0),
                TNode::Ones(s) => match s.len() {
                    Some(n) => p.num(n as f64),
                    None => p.intern(TNode::Sum(t), TShape::SCALAR),
                },
                TNode::Transpose(x) => {
                    let x = *x;
                    p.sum(x)?
                }
                _ => p.intern(TNode::Sum(t), TShape::SCALAR),
            })
        })
    }

    fn square(&self, a: TId, what: &str) -> R<()> {
        let s = self.shape(a);
        if s.is_square() {
            Ok(())
        } else {
            Err(Mismatch(format!(
                "{what} needs a square matrix, not {}",
                self.shape_name(s)
            )))
        }
    }

    /// The trace.
    pub fn tr(&mut self, a: TId) -> R<TId> {
        self.square(a, "tr")?;
        if self.shape(a).is_scalar() {
            return Ok(a);
        }
        self.linear(a, |p, t| {
            Ok(match *p.node(t) {
                TNode::Eye(Dim::Known(n)) => p.num(f64::from(n)),
                TNode::Transpose(x) => p.tr(x)?,
                _ => p.intern(TNode::Tr(t), TShape::SCALAR),
            })
        })
    }

    /// The determinant.
    pub fn det(&mut self, a: TId) -> R<TId> {
        self.square(a, "det")?;
        if self.shape(a).is_scalar() {
            return Ok(a);
        }
        Ok(match *self.node(a) {
            TNode::Eye(_) => self.num(1.0),
            TNode::Transpose(x) => self.det(x)?,
            _ => self.intern(TNode::Det(a), TShape::SCALAR),
        })
    }

    /// `ln(det(a))`.
    pub fn logdet(&mut self, a: TId) -> R<TId> {
        self.square(a, "logdet")?;
        if self.shape(a).is_scalar() {
            return self.call(Func::Ln, &[a]);
        }
        Ok(match *self.node(a) {
            TNode::Eye(_) => self.num(0.0),
            TNode::Transpose(x) => self.logdet(x)?,
            _ => self.intern(TNode::Logdet(a), TShape::SCALAR),
        })
    }

    /// The inverse.
    pub fn inv(&mut self, a: TId) -> R<TId> {
        self.square(a, "inv")?;
        if self.shape(a).is_scalar() {
            let m1 = self.num(-1.0);
            return self.pow(a, m1);
        }
        Ok(match *self.node(a) {
            TNode::Inv(x) => x,
            TNode::Eye(_) => a,
            _ => {
                let s = self.shape(a);
                self.intern(TNode::Inv(a), s)
            }
        })
    }

    /// `diag(x)` of a column (the diagonal matrix) or of a square matrix (its diagonal).
    pub fn diag(&mut self, a: TId) -> R<TId> {
        let s = self.shape(a);
        if s.is_scalar() {
            return Ok(a);
        }
        if s.is_column() {
            let n = s.rows;
            return Ok(match self.node(a) {
                TNode::Ones(_) => self.intern(TNode::Eye(n), TShape::new(n, n)),
                TNode::Zeros(_) => self.fill(0.0, TShape::new(n, n)),
                _ => self.intern(TNode::Diag(a), TShape::new(n, n)),
            });
        }
        if s.is_square() {
            let n = s.rows;
            let col = TShape::new(n, Dim::Known(1));
            return Ok(match *self.node(a) {
                TNode::Diag(v) => v,
                TNode::Eye(_) => self.fill(1.0, col),
                TNode::Transpose(x) => self.diag(x)?,
                _ => self.intern(TNode::DiagOf(a), col),
            });
        }
        Err(Mismatch(format!(
            "diag takes a column vector or a square matrix, not {}",
            self.shape_name(s)
        )))
    }

    /// The Euclidean (Frobenius) norm.
    pub fn norm(&mut self, a: TId) -> R<TId> {
        if self.shape(a).is_scalar() {
            return self.call(Func::Abs, &[a]);
        }
        Ok(match *self.node(a) {
            TNode::Transpose(x) => self.norm(x)?,
            _ => self.intern(TNode::Norm(a), TShape::SCALAR),
        })
    }

    /// The sum of absolute values of the entries.
    pub fn norm1(&mut self, a: TId) -> R<TId> {
        if self.shape(a).is_scalar() {
            return self.call(Func::Abs, &[a]);
        }
        Ok(match *self.node(a) {
            TNode::Transpose(x) => self.norm1(x)?,
            _ => self.intern(TNode::Norm1(a), TShape::SCALAR),
        })
    }

    /// `dot(a, b)`: `a'*b` for vectors, the sum of the elementwise product otherwise.
    pub fn dot(&mut self, a: TId, b: TId) -> R<TId> {
        let (sa, sb) = (self.shape(a), self.shape(b));
        if sa != sb {
            return Err(Mismatch(format!(
                "dot needs two operands of one shape, not {} and {}",
                self.shape_name(sa),
                self.shape_name(sb)
            )));
        }
        if sa.is_column() {
            let at = self.transpose(a)?;
            return self.matmul(at, b);
        }
        let product = self.mul(&[a, b])?;
        self.sum(product)
    }

    /// The identity of size `d`.
    pub fn eye(&mut self, d: Dim) -> TId {
        if d == Dim::Known(1) {
            return self.num(1.0);
        }
        self.intern(TNode::Eye(d), TShape::new(d, d))
    }
}
