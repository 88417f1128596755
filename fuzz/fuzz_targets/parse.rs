//! The parser on arbitrary text: an expression or a `ParseError` whose span lies inside the
//! input, never a panic, and what parses lowers, prints and parses back to the same node.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nabla::engine::expr::Scope;
use nabla::engine::parse::{parse, ParseOptions};
use nabla::engine::{print, read, Pool};

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    let opts = ParseOptions::default();
    match parse(src, &opts) {
        Err(e) => {
            assert!(
                e.span.start <= e.span.end && e.span.end <= src.len(),
                "{e:?} in {src:?}"
            );
            assert!(!e.to_string().is_empty());
        }
        Ok(_) => {
            let mut pool = Pool::new();
            // Every free symbol is a variable (nothing is out of scope).
            if let Ok(root) = read(&mut pool, src, Scope::default(), &opts) {
                if pool.tree_size(root) < 100_000 {
                    let text = print::text(&pool, root);
                    let back = read(
                        &mut pool,
                        &text,
                        Scope::default(),
                        &ParseOptions {
                            max_bytes: usize::MAX,
                            max_depth: 1_000,
                        },
                    )
                    .unwrap_or_else(|e| {
                        panic!("{src:?} printed {text:?}, which does not parse: {e}")
                    });
                    assert_eq!(
                        back, root,
                        "{src:?} printed {text:?} parses to another node"
                    );
                }
            }
        }
    }
});
