//! nabla: a gradient-serving HTTP microservice with its own symbolic engine.
//!
//! # Layout
//! - [`engine`]: parse, canonicalise, differentiate, print, compile and evaluate
//!   expressions; sans-IO, synchronous, no HTTP inside.

pub mod engine;
