//! Entry point: parse the command line, load and check the configuration
//! (errors go to stderr before the TUI starts), then hand over to the loop.

use std::sync::Arc;

use clap::{CommandFactory, Parser};
use color_eyre::eyre::{Result, WrapErr, eyre};

use opscockpit::app::state::State;
use opscockpit::cli::{Cli, Command};
use opscockpit::config::{self, Config, Keymap, Paths, ThemeSet};
use opscockpit::transport::SharedTransport;
use opscockpit::transport::local::LocalTransport;

fn main() {
    if let Err(report) = real_main() {
        opscockpit::tui::restore();
        eprintln!("opscockpit: {report:#}");
        std::process::exit(1);
    }
}

fn real_main() -> Result<()> {
    color_eyre::config::HookBuilder::default()
        .display_env_section(false)
        .install()?;
    let cli = Cli::parse();
    if let Some(Command::Completions { shell }) = &cli.command {
        clap_complete::generate(
            *shell,
            &mut Cli::command(),
            "opscockpit",
            &mut std::io::stdout(),
        );
        return Ok(());
    }
    let _log_guard = init_logging(&cli)?;
    let paths = Paths::resolve(cli.config.as_deref());
    let config =
        Config::load(&paths, cli.config.is_some()).map_err(|e| eyre!("config error: {e}"))?;
    let state = initial_state(&cli, &config, &paths)?;
    let transport = transport_for(&cli)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(opscockpit::app::run(state, transport))?;
    // Source tasks may be blocked in I/O: do not wait for them.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    Ok(())
}

fn initial_state(cli: &Cli, config: &Config, paths: &Paths) -> Result<State> {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let themes = ThemeSet::load(Some(&paths.themes_dir()), no_color)
        .map_err(|e| eyre!("theme error: {e}"))?;
    let theme_name = cli
        .theme
        .clone()
        .or(config.theme.clone())
        .unwrap_or_else(|| config::theme::DEFAULT_THEME.into());
    let theme = themes
        .get(&theme_name)
        .map_err(|e| eyre!("theme error: {e}"))?;
    let keymap_name = cli
        .keymap
        .clone()
        .or(config.keymap.clone())
        .unwrap_or_else(|| config::keymap::DEFAULT_KEYMAP.into());
    let keymap = Keymap::load(&keymap_name, Some(&paths.keymaps_dir()))
        .map_err(|e| eyre!("keymap error: {e}"))?;
    let host = cli.host_name();
    let mut state = State::new(host, host, themes, theme, keymap);
    state.utc = config.ui.utc;
    state.mouse_captured = config.ui.mouse;
    state.metrics.window_secs = config.ui.chart_window.as_secs() as i64;
    state.logs = opscockpit::logs::LogsPane::new(
        config.logs.buffer_lines,
        opscockpit::logs::LogsSetup::from_config(config, host),
    );
    Ok(state)
}

fn transport_for(cli: &Cli) -> Result<SharedTransport> {
    match cli.host_name() {
        "local" => Ok(Arc::new(LocalTransport)),
        other => Err(eyre!(
            "cannot reach `{}`: this build has no SSH transport yet; run `opscockpit local` on the host itself",
            opscockpit::text::inert(other)
        )),
    }
}

/// Tracing goes to `--log-file` only: never to the terminal the TUI owns.
fn init_logging(cli: &Cli) -> Result<Option<()>> {
    let Some(path) = &cli.log_file else {
        return Ok(None);
    };
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .wrap_err_with(|| format!("opening log file {}", path.display()))?;
    tracing_subscriber::fmt()
        .with_writer(std::sync::Mutex::new(file))
        .with_ansi(false)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("OPSCOCKPIT_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .init();
    tracing::info!(host = cli.host_name(), "opscockpit starting");
    Ok(Some(()))
}
