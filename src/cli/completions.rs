//! `tikwire completions SHELL` and the hidden `tikwire man DIR`: both from the clap definitions,
//! so they never drift from the real command line.

use std::path::Path;

use clap::CommandFactory as _;

use super::{Cli, CompletionShell};
use crate::{Error, Result};

pub fn completions(shell: CompletionShell) -> Result<()> {
    let mut command = Cli::command();
    let mut out = Vec::new();
    let shell = match shell {
        CompletionShell::Bash => clap_complete::Shell::Bash,
        CompletionShell::Zsh => clap_complete::Shell::Zsh,
        CompletionShell::Fish => clap_complete::Shell::Fish,
    };
    clap_complete::generate(shell, &mut command, "tikwire", &mut out);
    super::output::document(&String::from_utf8_lossy(&out))
}

/// Writes `tikwire.1` and one page per subcommand (`tikwire-router-add.1`, ...) into `dir`.
pub fn man_pages(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    let mut command = Cli::command();
    command.build();
    write_pages(&command, dir)
}

fn write_pages(command: &clap::Command, dir: &Path) -> Result<()> {
    let name = command
        .get_bin_name()
        .unwrap_or(command.get_name())
        .replace(' ', "-");
    let file = dir.join(format!("{name}.1"));
    let mut page = Vec::new();
    clap_mangen::Man::new(command.clone())
        .title(name.clone())
        .render(&mut page)
        .map_err(|e| Error::io(format!("rendering {}", file.display()), e))?;
    std::fs::write(&file, page).map_err(|e| Error::io(format!("writing {}", file.display()), e))?;
    for sub in command
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
    {
        write_pages(sub, dir)?;
    }
    Ok(())
}
