//! `powercut`: see `powercut::cli`.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    std::process::exit(powercut::cli::run(
        &args,
        &mut std::io::stdout(),
        &mut std::io::stderr(),
    ));
}
