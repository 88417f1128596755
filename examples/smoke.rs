use nabla::engine::{diff, expr::Scope, parse::ParseOptions, print, read, Pool};
fn main() {
    for src in std::env::args().skip(1) {
        let mut pool = Pool::new();
        let root = match read(&mut pool, &src, Scope::default(), &ParseOptions::default()) {
            Ok(r) => r,
            Err(e) => { println!("{src}: error {} {}", e.code(), e); if let nabla::engine::ExprError::Parse(p) = &e { println!("{}", p.render(&src)); } continue; }
        };
        let vars: Vec<String> = pool.free_symbols(&[root]);
        let ids: Vec<_> = vars.iter().map(|v| pool.sym(v)).collect();
        println!("{src}  =>  {}   [{}]", print::text(&pool, root), print::latex(&pool, root));
        let g = diff::gradient(&mut pool, root, &ids, 1_000_000).unwrap();
        for (v, gi) in vars.iter().zip(&g) {
            println!("  d/d{v} = {}    [{}]", print::text(&pool, *gi), print::latex(&pool, *gi));
        }
        let tape = nabla::engine::compile(&pool, &g, &ids).unwrap();
        println!("  tape {} instrs", tape.len());
    }
}
