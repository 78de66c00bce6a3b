//! The codegen timings: `cargo xtask codegen --check` on our spec, and the generator on Box's
//! whole published API.

use std::fmt::{self, Write as _};

use crate::results::Results;

pub fn section(md: &mut String, r: &Results) -> fmt::Result {
    writeln!(md, "## `cargo xtask codegen --check`\n")?;
    match &r.codegen_check {
        Some(c) => {
            writeln!(
                md,
                "On the already-built tree (after `cargo build -p xtask` and one untimed \
                 warm-up), {} timed runs each, interleaved:\n",
                c.runs
            )?;
            writeln!(
                md,
                "| Command | Median s | Min–max s |\n| --- | ---: | ---: |"
            )?;
            if let Some(t) = c.cargo_xtask_s {
                writeln!(
                    md,
                    "| `cargo xtask codegen --check` (cargo's freshness check included) | {:.3} | {:.3}–{:.3} |",
                    t.median, t.min, t.max
                )?;
            }
            if let Some(t) = c.binary_s {
                writeln!(
                    md,
                    "| `target/debug/xtask codegen --check` (the generator alone) | {:.3} | {:.3}–{:.3} |",
                    t.median, t.min, t.max
                )?;
            }
            if let Some(n) = &c.note {
                writeln!(md, "\nNote: {n}")?;
            }
            writeln!(md)?;
        }
        None => {
            writeln!(md, "Not timed in this run (`--skip-codegen`).\n")?;
        }
    }
    whole_api(md, r)
}

/// `xtask codegen` on Box's whole published API, beside the `--check` of our own spec.
fn whole_api(md: &mut String, r: &Results) -> fmt::Result {
    let Some(w) = &r.codegen_whole_api else {
        return Ok(());
    };
    writeln!(md, "### Box's whole published API\n")?;
    writeln!(
        md,
        "`{}` ({} operations; `bash xtask/tests/fixtures/upstream/fetch.sh` puts it there), \
         with the release xtask binary (`cargo build --release -p xtask`), after one untimed \
         generation, {} timed runs each, interleaved:\n",
        w.spec, w.operations, w.runs
    )?;
    writeln!(
        md,
        "| Command | Median s | Min–max s |\n| --- | ---: | ---: |"
    )?;
    for (label, t) in [
        (
            "`target/release/xtask codegen --spec box.com.json --out target/bench/box-whole-api`",
            w.generate_s,
        ),
        ("the same with `--check`", w.check_s),
    ] {
        if let Some(t) = t {
            writeln!(
                md,
                "| {label} | {:.3} | {:.3}–{:.3} |",
                t.median, t.min, t.max
            )?;
        }
    }
    if let Some(n) = &w.note {
        writeln!(md, "\nNote: {}", n.replace('\n', " "))?;
    }
    writeln!(md)?;
    Ok(())
}
