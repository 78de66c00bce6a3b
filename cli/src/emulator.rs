//! `box-upload emulator`: the Box-compatible server of `box-emulator`, run in the foreground
//! until Ctrl-C, so that box-upload can be tried without a Box account.

use anyhow::Context as _;

use crate::args::EmulatorArgs;

/// Starts the emulator, prints its URLs, its token and a command that uploads to it, and serves
/// until Ctrl-C.
pub(crate) async fn run(args: EmulatorArgs) -> anyhow::Result<()> {
    let config = box_emulator::Config {
        listen: args.listen,
        data_dir: args.data_dir.clone(),
        token: args.token.clone(),
        part_size: args.part_size,
        ..Default::default()
    };
    let emu = box_emulator::Emulator::start(config)
        .await
        .context("cannot start the emulator")?;
    println!("box emulator listening on {}", emu.base_url());
    println!("  API:     {}", emu.api_url());
    println!("  uploads: {}", emu.upload_url());
    println!("  token:   {}", emu.token());
    match &args.data_dir {
        Some(dir) => println!("  data:    {}", dir.display()),
        None => println!("  data:    a temporary directory, removed on exit"),
    }
    println!();
    println!("Upload a file to it from another terminal:");
    println!(
        "  BOX_TOKEN={} box-upload put FILE --folder 0 --api-url {} --upload-url {}",
        emu.token(),
        emu.api_url(),
        emu.upload_url()
    );
    println!();
    println!("Ctrl-C stops it.");
    tokio::signal::ctrl_c()
        .await
        .context("cannot wait for Ctrl-C")?;
    emu.shutdown().await;
    Ok(())
}
