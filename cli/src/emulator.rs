//! `box-upload emulator`: the Box-compatible server of `box-emulator`, run in the foreground
//! until Ctrl-C, so that box-upload can be tried without a Box account. It takes a free port
//! unless `--listen` names one, so that several can run at once, and prints the `export` line
//! that points box-upload at it.

use anyhow::Context as _;

use crate::args::EmulatorArgs;

/// Starts the emulator, prints its URLs, its token and the variables that send uploads to it,
/// and serves until Ctrl-C.
pub(crate) async fn run(args: EmulatorArgs) -> anyhow::Result<()> {
    let listen = args
        .listen
        .unwrap_or_else(|| std::net::SocketAddr::from(([127, 0, 0, 1], 0)));
    let config = box_emulator::Config {
        listen,
        data_dir: args.data_dir.clone(),
        token: args.token.clone(),
        part_size: args.part_size,
        ..Default::default()
    };
    let emu = box_emulator::Emulator::start(config)
        .await
        .with_context(|| format!("cannot start the emulator on {listen}"))?;
    println!("box emulator listening on {}", emu.base_url());
    println!("  API:     {}", emu.api_url());
    println!("  uploads: {}", emu.upload_url());
    println!("  token:   {}", emu.token());
    match &args.data_dir {
        Some(dir) => println!("  data:    {}", dir.display()),
        None => println!("  data:    a temporary directory, removed on exit"),
    }
    println!();
    println!("In another terminal, point box-upload at it:");
    println!(
        "  export BOX_API_URL={} BOX_UPLOAD_URL={} BOX_TOKEN={}",
        emu.api_url(),
        emu.upload_url(),
        emu.token()
    );
    println!("  box-upload put FILE --folder 0");
    println!();
    println!("Ctrl-C stops it.");
    tokio::signal::ctrl_c()
        .await
        .context("cannot wait for Ctrl-C")?;
    emu.shutdown().await;
    Ok(())
}
