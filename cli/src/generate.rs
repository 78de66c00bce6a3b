//! `box-upload completions SHELL` and `box-upload man`: a shell completion script and the man
//! page, generated from the same clap definitions as the parser and `--help`.

use std::io::Write as _;

use clap::CommandFactory as _;

use crate::args::Cli;

/// The completion script of `shell` on stdout.
pub(crate) fn completions(shell: clap_complete::Shell) -> std::io::Result<()> {
    let mut cmd = Cli::command();
    let mut out = std::io::stdout().lock();
    clap_complete::generate(shell, &mut cmd, "box-upload", &mut out);
    out.flush()
}

/// The man page (roff) on stdout.
pub(crate) fn man() -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    clap_mangen::Man::new(Cli::command()).render(&mut out)?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_man_page_documents_put() {
        let mut page = Vec::new();
        clap_mangen::Man::new(Cli::command())
            .render(&mut page)
            .expect("renders");
        let page = String::from_utf8_lossy(&page);
        assert!(page.contains(".TH box-upload"), "{page}");
        assert!(page.contains("put"), "{page}");
    }
}
