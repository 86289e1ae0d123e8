//! `crashwriter`: see `crashwriter::cli`.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut out = std::io::stdout();
    let code = crashwriter::cli::run(&args, &mut out, &mut std::io::stderr());
    std::process::exit(code);
}
