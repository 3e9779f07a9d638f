//! Command-line interface.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "opscockpit",
    version,
    about = "A terminal cockpit for your own servers, with a human gate for your AI agent's actions."
)]
#[command(
    after_help = "HOST is resolved like `ssh HOST` (~/.ssh/config, ssh-agent, known_hosts). No HOST, or `local`, watches this machine without SSH."
)]
pub struct Cli {
    /// The host to watch; `local` (the default) is this machine, no SSH.
    pub host: Option<String>,

    /// Config file (default: $OPSCOCKPIT_CONFIG, else the platform config dir).
    #[arg(long, value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,

    /// Theme name (dark, light, high-contrast, or one in the config dir's themes/).
    #[arg(long, value_name = "NAME", global = true)]
    pub theme: Option<String>,

    /// Keymap name (default, vim, or one in the config dir's keymaps/).
    #[arg(long, value_name = "NAME", global = true)]
    pub keymap: Option<String>,

    /// Write diagnostics to this file (nothing is ever printed over the TUI).
    #[arg(long, value_name = "FILE", global = true)]
    pub log_file: Option<PathBuf>,

    /// Another ssh config file, as with `ssh -F`.
    #[arg(short = 'F', value_name = "FILE", global = true)]
    pub ssh_config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print shell completions.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print traffic, its projection and its cost on each plan, then exit.
    Cost {
        /// The host (`local` is this machine).
        host: String,
        /// month, last-month, 7d, today or YYYY-MM-DD..YYYY-MM-DD (UTC days).
        #[arg(long, default_value = "month", value_parser = parse_period)]
        period: crate::cost::traffic::Period,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

fn parse_period(text: &str) -> Result<crate::cost::traffic::Period, String> {
    crate::cost::traffic::Period::parse(text)
}

impl Cli {
    pub fn host_name(&self) -> &str {
        self.host.as_deref().unwrap_or("local")
    }
}
