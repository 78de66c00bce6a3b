//! The `box-upload` command line, built in this package so that the CLI tests can start it
//! (`env!("CARGO_BIN_EXE_box-upload-e2e")`) and kill it mid-upload. Same code as
//! `generated/src/bin/box-upload.rs`.

fn main() -> std::process::ExitCode {
    box_uploads::upload::cli::main()
}
