//! A point as a request spells it, read straight from the JSON: an object's keys and
//! numbers, or an array's numbers, with no JSON tree in between. Points are read on every
//! request; a `serde_json::Value` for `{"x": 0.7, "y": -1.3, "z": 0.4}` took five
//! allocations, this takes one.

use std::fmt;

use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use smallvec::SmallVec;

/// A point of a request.
#[derive(Debug)]
pub enum Point {
    /// `{"x": 1, "y": 2}`: keys in the order written (a key written twice: the last
    /// value counts, as in a JSON object).
    Object(Vec<(Name, Coord)>),
    /// `[1, 2]`: values aligned with the variables.
    Array(Vec<Coord>),
    /// A number, a string or a boolean where a point is due (kept for the message).
    Other(Value),
}

/// A key of a point: names are short, so they are kept inline.
#[derive(Debug)]
pub struct Name(SmallVec<[u8; 16]>);

impl Name {
    /// The key as written.
    pub fn as_str(&self) -> &str {
        // Made from a `&str` only (see `Deserialize`), so always UTF-8.
        std::str::from_utf8(&self.0).unwrap_or("")
    }
}

/// One coordinate: a number (JSON number, or "NaN", "Infinity", "-Infinity"), or what
/// was written instead (for the message).
#[derive(Debug)]
pub enum Coord {
    /// A number.
    Num(f64),
    /// Not a number.
    Bad(Value),
}

impl<'de> Deserialize<'de> for Point {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Point, D::Error> {
        d.deserialize_any(PointVisitor)
    }
}

struct PointVisitor;

impl<'de> Visitor<'de> for PointVisitor {
    type Value = Point;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a point: an object keyed by variable or an array of numbers")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Point, A::Error> {
        // The hint is the input's own count, bounded by the body limit; capped anyway.
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(4).min(1024));
        while let Some(k) = map.next_key::<Name>()? {
            entries.push((k, map.next_value::<Coord>()?));
        }
        Ok(Point::Object(entries))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Point, A::Error> {
        let mut values = Vec::with_capacity(seq.size_hint().unwrap_or(4).min(1024));
        while let Some(c) = seq.next_element::<Coord>()? {
            values.push(c);
        }
        Ok(Point::Array(values))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Point, E> {
        Ok(Point::Other(Value::Bool(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Point, E> {
        Ok(Point::Other(Value::from(v)))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Point, E> {
        Ok(Point::Other(Value::from(v)))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Point, E> {
        Ok(Point::Other(Value::from(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Point, E> {
        Ok(Point::Other(Value::from(v)))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Point, E> {
        Err(E::custom(
            "null is not a point: give an object keyed by variable or an array",
        ))
    }
}

impl<'de> Deserialize<'de> for Name {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Name, D::Error> {
        struct NameVisitor;
        impl Visitor<'_> for NameVisitor {
            type Value = Name;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a variable's name")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Name, E> {
                Ok(Name(SmallVec::from_slice(v.as_bytes())))
            }
        }
        d.deserialize_str(NameVisitor)
    }
}

impl<'de> Deserialize<'de> for Coord {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Coord, D::Error> {
        d.deserialize_any(CoordVisitor)
    }
}

struct CoordVisitor;

impl<'de> Visitor<'de> for CoordVisitor {
    type Value = Coord;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a number")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Coord, E> {
        Ok(Coord::Num(v as f64))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Coord, E> {
        Ok(Coord::Num(v as f64))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Coord, E> {
        Ok(Coord::Num(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Coord, E> {
        Ok(match v {
            "NaN" => Coord::Num(f64::NAN),
            "Infinity" => Coord::Num(f64::INFINITY),
            "-Infinity" => Coord::Num(f64::NEG_INFINITY),
            _ => Coord::Bad(Value::from(v)),
        })
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Coord, E> {
        Ok(Coord::Bad(Value::Bool(v)))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Coord, E> {
        Ok(Coord::Bad(Value::Null))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Coord, A::Error> {
        Value::deserialize(MapAccessDeserializer::new(map)).map(Coord::Bad)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Coord, A::Error> {
        Value::deserialize(SeqAccessDeserializer::new(seq)).map(Coord::Bad)
    }
}
