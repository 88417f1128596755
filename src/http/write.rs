//! Numeric answers written straight to JSON bytes: no `Value` tree per answer. The cached
//! one-point gradient is the service's hot path, and building maps of values for it took
//! a dozen allocations a request; the bytes here are the same ones `serde_json` writes for
//! those values (`tests/it/http.rs` compares answers as JSON).

use serde_json::Value;

use crate::service::points::Layout;
use crate::service::program::{Kind, Program};

/// Appends `v` as the contract writes numbers: JSON numbers, and the strings `"NaN"`,
/// `"Infinity"`, `"-Infinity"` for the others.
fn number(buf: &mut Vec<u8>, v: f64) {
    if v.is_nan() {
        buf.extend_from_slice(b"\"NaN\"");
    } else if v == f64::INFINITY {
        buf.extend_from_slice(b"\"Infinity\"");
    } else if v == f64::NEG_INFINITY {
        buf.extend_from_slice(b"\"-Infinity\"");
    } else {
        // Writing a finite f64 to a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *buf, &v);
    }
}

/// Appends `s` as a JSON string.
fn string(buf: &mut Vec<u8>, s: &str) {
    let _ = serde_json::to_writer(&mut *buf, s);
}

/// Appends `items` as a JSON array, each written by `item`.
fn array<T>(
    buf: &mut Vec<u8>,
    items: impl IntoIterator<Item = T>,
    mut item: impl FnMut(&mut Vec<u8>, T),
) {
    buf.push(b'[');
    for (i, x) in items.into_iter().enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        item(buf, x);
    }
    buf.push(b']');
}

/// Appends one value per variable: an object keyed by variable, or an array.
fn shaped<T>(
    buf: &mut Vec<u8>,
    items: impl IntoIterator<Item = T>,
    vars: &[String],
    layout: Layout,
    mut item: impl FnMut(&mut Vec<u8>, T),
) {
    match layout {
        Layout::Array => array(buf, items, item),
        Layout::Object => {
            buf.push(b'{');
            for (i, (name, x)) in vars.iter().zip(items).enumerate() {
                if i > 0 {
                    buf.push(b',');
                }
                string(buf, name);
                buf.push(b':');
                item(buf, x);
            }
            buf.push(b'}');
        }
    }
}

/// The answer's fields and their batch names, by endpoint.
pub fn fields(kind: Kind) -> &'static [(&'static str, &'static str)] {
    match kind {
        Kind::Jacobian => &[("value", "values"), ("jacobian", "jacobians")],
        Kind::Hessian => &[
            ("value", "values"),
            ("gradient", "gradients"),
            ("hessian", "hessians"),
        ],
        _ => &[("value", "values"), ("gradient", "gradients")],
    }
}

/// Appends field `field` of one point's answer; `out` is that point's outputs, in the
/// order of [`Program::outputs`].
fn field(buf: &mut Vec<u8>, program: &Program, out: &[f64], field: &str, layout: Layout) {
    let o = program.outputs();
    let vars = &program.variables;
    let row = |buf: &mut Vec<u8>, at: std::ops::Range<usize>| {
        let values = out.get(at).unwrap_or(&[]);
        shaped(buf, values, vars, layout, |b, v| number(b, *v));
    };
    let value = |buf: &mut Vec<u8>, e: usize| match out.get(o.value(e)) {
        Some(v) => number(buf, *v),
        None => buf.extend_from_slice(b"null"),
    };
    match (field, program.kind) {
        ("value", Kind::Jacobian) => array(buf, 0..o.expressions(), value),
        ("value", _) => value(buf, 0),
        ("jacobian", _) => array(buf, 0..o.expressions(), |b, e| row(b, o.gradient_row(e))),
        ("gradient", _) => row(buf, o.gradient_row(0)),
        ("hessian", _) => shaped(buf, 0..o.hessian_rows(), vars, layout, |b, i| {
            row(b, o.hessian_row(i))
        }),
        _ => buf.extend_from_slice(b"null"),
    }
}

/// The whole answer of `points` points (`out` holds their outputs one after another), and
/// the symbolic texts if asked for.
pub fn answer(
    program: &Program,
    out: &[f64],
    points: usize,
    batch: bool,
    layout: Layout,
    symbolic: Option<&Value>,
) -> Vec<u8> {
    let n_out = out.len() / points.max(1);
    let mut buf = Vec::with_capacity(64 + out.len() * 24);
    buf.extend_from_slice(b"{\"variables\":");
    array(&mut buf, &program.variables, |b, v| string(b, v));
    for &(single, plural) in fields(program.kind) {
        buf.push(b',');
        if batch {
            string(&mut buf, plural);
            buf.push(b':');
            array(&mut buf, out.chunks(n_out.max(1)).take(points), |b, o| {
                field(b, program, o, single, layout)
            });
        } else {
            string(&mut buf, single);
            buf.push(b':');
            field(&mut buf, program, out, single, layout);
        }
    }
    if let Some(texts) = symbolic {
        buf.extend_from_slice(b",\"symbolic\":");
        let _ = serde_json::to_writer(&mut buf, texts);
    }
    buf.push(b'}');
    buf
}
