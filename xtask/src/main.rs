//! `cargo xtask codegen [--check] [--spec FILE --out DIR]`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use xtask::codegen::{self, Kind, Target};

const USAGE: &str = "usage: cargo xtask codegen [--check] [--spec FILE --out DIR]
       cargo xtask bench [--quick] [OPTIONS]
       cargo xtask upstream-diff [--explained] [--spec OURS] [--every-copy | FILE]

  (no options)        regenerate generated/src/generated/ from spec/box-uploads.yaml, and the
                      fixture crate tests/fixture-client/ from xtask/tests/fixtures/everything.yaml
  --check             change nothing; fail naming every stale, missing or orphaned file
  --spec FILE --out DIR [--examples]
                      generate a standalone crate into DIR from another OpenAPI 3.0.x document;
                      --examples adds tests/examples.rs, which decodes every example of the
                      spec into its generated type

  bench [ARGS]        the upload benchmark (BENCHMARKS.md): runs
                      cargo run --release -p box-uploads-bench -- ARGS (--help for its options)

  upstream-diff [--explained] [--every-copy | FILE]
                      compare the spec with Box's published description (FILE, by default the
                      newest copy present: ../shared/box-openapi/openapi.json, else the one
                      xtask/tests/fixtures/upstream/fetch.sh fetches); --help for more";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("{message}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &[String]) -> Result<ExitCode, String> {
    let mut iter = args.iter();
    match iter.next().map(String::as_str) {
        Some("codegen") => {}
        Some("upstream-diff") => return xtask::upstream::main(iter.as_slice()),
        // A separate crate, so that the generator never depends on the generated code.
        Some("bench") => {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let status = std::process::Command::new(cargo)
                .args(["run", "--release", "-p", "box-uploads-bench", "--"])
                .args(iter.as_slice())
                .current_dir(xtask::workspace_root())
                .status()
                .map_err(|e| format!("cannot run cargo: {e}"))?;
            return Ok(ExitCode::from(u8::from(!status.success())));
        }
        Some("-h" | "--help") | None => {
            println!("{USAGE}");
            return Ok(ExitCode::SUCCESS);
        }
        Some(other) => return Err(format!("unknown command `{other}`\n{USAGE}")),
    }
    let (mut check, mut spec, mut out, mut examples) = (false, None, None, false);
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--check" => check = true,
            "--examples" => examples = true,
            "--spec" => spec = Some(iter.next().ok_or("--spec needs a file")?.clone()),
            "--out" => out = Some(iter.next().ok_or("--out needs a directory")?.clone()),
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(ExitCode::SUCCESS);
            }
            other => return Err(format!("unknown option `{other}`\n{USAGE}")),
        }
    }
    let root = xtask::workspace_root();
    let targets = match (spec, out) {
        (None, None) => codegen::default_targets(&root),
        (Some(spec), Some(out)) => vec![standalone_target(&spec, &out, examples)?],
        _ => return Err(format!("--spec and --out go together\n{USAGE}")),
    };
    let mut failed = false;
    let mut all_drift = Vec::new();
    for target in &targets {
        let spec_label = codegen::label(&root, &target.spec);
        let result = if check {
            codegen::check(&root, target)
        } else {
            codegen::write(&root, target)
        };
        match result {
            Ok(drift) => all_drift.extend(drift),
            Err(e) => {
                eprint!("{}", e.report(&spec_label));
                failed = true;
            }
        }
    }
    if failed {
        return Ok(ExitCode::FAILURE);
    }
    if check && !all_drift.is_empty() {
        eprint!("{}", codegen::drift_report(&root, &all_drift));
        return Ok(ExitCode::FAILURE);
    }
    if !check {
        for d in &all_drift {
            let (codegen::Drift::Stale(p)
            | codegen::Drift::Missing(p)
            | codegen::Drift::Orphaned(p)) = d;
            let verb = if matches!(d, codegen::Drift::Orphaned(_)) {
                "removed"
            } else {
                "wrote"
            };
            println!("{verb} {}", codegen::label(&root, p));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn absolute(path: &str) -> Result<PathBuf, String> {
    let p = Path::new(path);
    let cwd =
        std::env::current_dir().map_err(|e| format!("cannot read the current directory: {e}"))?;
    let joined = if p.is_absolute() {
        p.to_path_buf()
    } else {
        cwd.join(p)
    };
    // Lexical normalisation: the output directory may not exist yet.
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    Ok(out)
}

fn standalone_target(spec: &str, out: &str, examples: bool) -> Result<Target, String> {
    let out = absolute(out)?;
    let name: String = out
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let name = if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        format!("generated-client{name}")
    } else {
        name
    };
    Ok(Target {
        spec: absolute(spec)?,
        out,
        kind: Kind::Crate {
            name,
            used_by: None,
            examples,
            member: false,
        },
    })
}
