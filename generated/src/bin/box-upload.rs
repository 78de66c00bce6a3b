//! `box-upload`: upload files to Box from the command line (see `box_uploads::upload::cli`).

fn main() -> std::process::ExitCode {
    box_uploads::upload::cli::main()
}
