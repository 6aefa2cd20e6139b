fn main() {
    std::process::exit(mlprov::cli::main());
}
