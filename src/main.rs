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
use opscockpit::transport::ssh;

fn main() {
    if let Err(report) = real_main() {
        // Only a terminal can hold the TUI; piped output (`cost --json | jq`)
        // must not get escape sequences.
        if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
            opscockpit::tui::restore();
        }
        eprintln!("opscockpit: {report:#}");
        std::process::exit(1);
    }
}

fn real_main() -> Result<()> {
    color_eyre::config::HookBuilder::default()
        .display_env_section(false)
        .install()?;
    let cli = Cli::parse();
    if let Some(Command::Hook { agent }) = &cli.command {
        hook::run(&cli, agent);
    }
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
    // Every subcommand refuses a missing or broken config as the TUI does.
    let paths = Paths::resolve(cli.config.as_deref());
    let config = match Config::load(&paths, cli.config.is_some()) {
        Ok(config) => config,
        // Inside `opscockpit agent` the config dir is out of reach on
        // purpose; `mcp` finds the cockpits by their sockets.
        Err(e) if confined_mcp(&cli) => {
            eprintln!(
                "opscockpit mcp: config not readable inside the sandbox ({e}); listing running cockpits only"
            );
            Config::default()
        }
        // So is it for `propose` and the other gate clients, which need no
        // config: an unreadable default file is no reason to refuse them
        // (one that is there and broken, or a missing --config, is).
        Err(_)
            if gate::is_client_command(&cli)
                && cli.config.is_none()
                && std::fs::File::open(&paths.config_file).is_err() =>
        {
            Config::default()
        }
        Err(e) => return Err(eyre!("config error: {e}")),
    };
    if let Some(code) = gate::client_command(&cli) {
        std::process::exit(code);
    }
    if let Some(Command::Secret { command }) = &cli.command {
        use opscockpit::cli::SecretCommand;
        use opscockpit::secrets::store::{self, Op};
        let (op, host) = match command {
            SecretCommand::Set { host } => (Op::Set, host),
            SecretCommand::Delete { host } => (Op::Delete, host),
        };
        return store::run(op, host, &config).map_err(|e| eyre!(e));
    }
    if let Some(Command::Notify { command }) = &cli.command {
        std::process::exit(notify_command(&cli, command, &config)?);
    }
    if let Some(Command::Agent { .. }) = &cli.command {
        std::process::exit(agent_command(&cli, &config, &paths));
    }
    if let Some(Command::Mcp { agent }) = &cli.command {
        let hosts: Vec<String> = config.hosts.keys().cloned().collect();
        let repos = hosts
            .iter()
            .filter_map(|h| config.runbooks_dir(h).map(|d| (h.clone(), d)))
            .collect();
        let tools = opscockpit::mcp::GateTools::new(config::data_dir(), hosts, agent.clone())
            .with_runbooks(repos, config.default_runbooks_dir());
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        return runtime
            .block_on(opscockpit::mcp::serve_stdio(tools))
            .map_err(|e| eyre!(e));
    }
    let runtime = opscockpit::event_loop::runtime()?;
    // Connections (and their questions) happen on the plain terminal, before
    // any TUI; the transport lives on this runtime.
    if let Some(Command::GateServe { host }) = &cli.command {
        // The gate serves HOST's socket; it executes on the machine named by
        // the global HOST argument (none: this machine), as a cockpit would.
        let transport = transport_for(cli.host_name(), &cli, &config, &runtime)?;
        return gate::serve(host, &paths, &config, transport, runtime);
    }
    if let Some(Command::Cost {
        host,
        period,
        json,
        plans,
    }) = &cli.command
    {
        let host = host.as_deref().unwrap_or("local");
        if *plans {
            return plans_command(host, *json, &config, &paths);
        }
        let transport = transport_for(host, &cli, &config, &runtime)?;
        return cost_command(host, *period, *json, &config, &paths, transport, &runtime);
    }
    let mut state = initial_state(&cli, &config, &paths)?;
    // Channel secrets are resolved now, on the plain terminal: a missing
    // token is an error here, not a silent phone later.
    let notify = runtime
        .block_on(opscockpit::notify::Setup::resolve(&config))
        .map_err(|e| eyre!("notify: {e}"))?;
    state.notify = opscockpit::app::notify::NotifyState::from_config(&config.notify);
    state.cost = opscockpit::app::cost::CostState::new(
        opscockpit::cost::CostSettings::from_config(&config, cli.host_name(), &paths.config_file)
            .map_err(|e| eyre!("config error: {e}"))?,
    );
    let transport = transport_for(cli.host_name(), &cli, &config, &runtime)?;
    let mut gate_config = config.gate.clone();
    gate_config.runbooks_dir = config.runbooks_dir(cli.host_name());
    gate_config.runbooks_remote = config.runbooks_remote(cli.host_name());
    let gate = opscockpit::gate::start(
        cli.host_name(),
        &config::data_dir(),
        &paths.config_dir,
        gate_config,
        transport.clone(),
    )
    .map_err(|e| eyre!("{e}"))?;
    let host_config = config
        .hosts
        .get(cli.host_name())
        .cloned()
        .unwrap_or_default();
    // Connected, back-filled and drawn well within this: give back what
    // only the start-up needed (its code pages, freed heap).
    runtime.spawn(async {
        tokio::time::sleep(SETTLED_AFTER).await;
        let advised = opscockpit::settle::release_start_up_memory();
        tracing::debug!("settled: {advised} bytes of code advised out, heap trimmed");
    });
    // The loop runs on the worker too, with the transport and the sources,
    // so an SSH packet becomes a drawn line without waking another thread.
    let event_loop = runtime.spawn(opscockpit::event_loop::run(
        state,
        transport,
        Some(gate),
        host_config,
        notify,
    ));
    match runtime.block_on(event_loop) {
        Ok(result) => result?,
        // The panic hook has restored the terminal and said what happened.
        Err(join) if join.is_panic() => std::panic::resume_unwind(join.into_panic()),
        Err(join) => return Err(eyre!("the event loop ended: {join}")),
    }
    // Source tasks may be blocked in I/O: do not wait for them.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    Ok(())
}

/// How long after the start the cockpit counts as settled (see
/// [`opscockpit::settle`]).
const SETTLED_AFTER: std::time::Duration = std::time::Duration::from_secs(15);

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
    state.gate.bell = config.ui.bell;
    state.outcomes.window_secs = config.gate.outcome_window.as_secs();
    state.alerts.bell = config.ui.bell;
    state.metrics.window_secs = config.ui.chart_window.as_secs() as i64;
    state.containers.settings = opscockpit::containers::DockerSettings::for_socket(
        config.host(host).docker_socket.as_deref(),
    );
    state.containers.settings.log_max_lag = config.logs.max_lag;
    state.runbooks = load_runbooks(config, host);
    state.logs = opscockpit::app::logs::LogsPane::new(
        config.logs.buffer_lines,
        opscockpit::logs::LogsSetup::from_config(config, host),
    );
    Ok(state)
}

/// The host's runbooks: a local repo is read before the TUI (a repo that
/// cannot be read is said in the pane, not fatal: the cockpit is for
/// incidents); one on the host is read by the watcher over the connection
/// once the loop runs. The watcher keeps both current.
fn load_runbooks(config: &Config, host: &str) -> opscockpit::app::runbooks::RunbooksPane {
    use opscockpit::app::runbooks::RunbooksPane;
    use opscockpit::runbooks::watch::RepoSource;
    let Some(source) = RepoSource::for_host(config, host) else {
        return RunbooksPane::default();
    };
    let pane = match &source {
        RepoSource::Remote(path) => RunbooksPane::new(
            Vec::new(),
            host,
            format!("reading the runbook repo on the host ({path})…"),
        ),
        RepoSource::Local(dir) => match opscockpit::runbooks::load(dir) {
            Ok(all) => RunbooksPane {
                repo_dir: Some(dir.clone()),
                ..RunbooksPane::new(all, host, source.describe())
            },
            Err(e) => RunbooksPane::new(Vec::new(), host, e),
        },
    };
    RunbooksPane {
        source: Some(source),
        ..pane
    }
}

/// The gate's subcommands (see `opscockpit::gate::commands`).
mod gate {
    use super::*;
    use opscockpit::cli::AuditCommand;
    use opscockpit::gate::commands::{self, HistoryArgs, ProposeArgs};
    use opscockpit::gate::{Risk, Running};

    /// Whether the subcommand is one [`client_command`] runs.
    pub fn is_client_command(cli: &Cli) -> bool {
        matches!(
            cli.command,
            Some(
                Command::Propose { .. }
                    | Command::Actions { .. }
                    | Command::History { .. }
                    | Command::Audit { .. }
            )
        )
    }

    /// Runs a client subcommand; `None` when the command is not one.
    pub fn client_command(cli: &Cli) -> Option<i32> {
        let data_dir = config::data_dir();
        Some(match cli.command.as_ref()? {
            Command::Propose {
                host,
                title,
                reason,
                risk,
                agent,
                cwd,
                timeout,
                wait,
                wait_timeout,
                outcome,
                command,
                runbook,
            } => commands::propose(
                &data_dir,
                &ProposeArgs {
                    host: host.clone(),
                    title: title.clone(),
                    reason: reason.clone(),
                    risk: risk.as_deref().and_then(Risk::from_name),
                    agent: agent.clone(),
                    cwd: cwd.clone(),
                    timeout: *timeout,
                    wait: *wait,
                    wait_timeout: *wait_timeout,
                    outcome: *outcome,
                    command: command.clone(),
                    runbook: runbook.clone(),
                },
            ),
            Command::Actions { host } => commands::actions(&data_dir, host.as_deref()),
            Command::History {
                host,
                since,
                state,
                json,
                runbook,
            } => commands::history(
                &data_dir,
                &HistoryArgs {
                    host: host.clone(),
                    since: *since,
                    state: state.clone(),
                    json: *json,
                    runbook: runbook.clone(),
                },
            ),
            Command::Audit {
                command: AuditCommand::Verify { file, anchor },
            } => commands::audit_verify(&data_dir, file.as_deref(), anchor),
            Command::Audit {
                command: AuditCommand::Export { output },
            } => commands::audit_export(&data_dir, output.as_deref()),
            _ => return None,
        })
    }

    /// `gate-serve HOST`: the broker and executor without the TUI, until
    /// SIGTERM or SIGINT.
    pub fn serve(
        host: &str,
        paths: &Paths,
        config: &Config,
        transport: SharedTransport,
        runtime: tokio::runtime::Runtime,
    ) -> Result<()> {
        let running: Running = opscockpit::gate::start(
            host,
            &config::data_dir(),
            &paths.config_dir,
            config.gate.clone(),
            transport,
        )
        .map_err(|e| eyre!("{e}"))?;
        runtime.block_on(async move {
            use tokio::signal::unix::{SignalKind, signal};
            let cancel = tokio_util::sync::CancellationToken::new();
            let gate = running.spawn(&cancel);
            let (tx, mut rx) = tokio::sync::mpsc::channel::<opscockpit::gate::GateEvent>(1024);
            tokio::spawn(opscockpit::gate::core::run(gate, tx, cancel.clone()));
            tokio::spawn(async move { while rx.recv().await.is_some() {} });
            let mut term = signal(SignalKind::terminate())?;
            let mut int = signal(SignalKind::interrupt())?;
            eprintln!("opscockpit: serving the action gate for {host}");
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            cancel.cancel();
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            Ok::<(), color_eyre::eyre::Report>(())
        })?;
        runtime.shutdown_timeout(std::time::Duration::from_millis(200));
        Ok(())
    }
}

/// `opscockpit notify list|test`; returns the exit code.
fn notify_command(
    cli: &Cli,
    command: &opscockpit::cli::NotifyCommand,
    config: &Config,
) -> Result<i32> {
    use opscockpit::cli::NotifyCommand;
    match command {
        NotifyCommand::List => {
            print!("{}", opscockpit::notify::cli::list(config));
            Ok(0)
        }
        NotifyCommand::Test { channel } => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let (report, ok) = runtime.block_on(opscockpit::notify::cli::test(
                config,
                cli.host_name(),
                channel.as_deref(),
            ));
            print!("{report}");
            Ok(if ok { 0 } else { 1 })
        }
    }
}

/// `opscockpit mcp` started by an agent that `opscockpit agent` confines.
fn confined_mcp(cli: &Cli) -> bool {
    matches!(cli.command, Some(Command::Mcp { .. }))
        && std::env::var_os("OPSCOCKPIT_SESSION").is_some_and(|v| !v.is_empty())
}

/// `opscockpit agent …` (see `opscockpit::agent`); returns the exit code.
#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
fn agent_command(cli: &Cli, config: &Config, paths: &Paths) -> i32 {
    let Some(Command::Agent {
        profile,
        allow_port,
        allow_path,
        unconfined,
        check,
        print_profile,
        command,
    }) = &cli.command
    else {
        return 2;
    };
    // Variables that hold secrets by the config's own account.
    let secret_vars = config
        .hosts
        .values()
        .flat_map(|h| {
            let bs = h.betterstack.as_ref();
            [
                bs.and_then(|b| b.password_env.clone()),
                bs.and_then(|b| b.team_token_env.clone()),
                h.hcloud_token_env.clone(),
            ]
        })
        .flatten()
        .collect();
    let args = opscockpit::agent::AgentArgs {
        profile: profile.clone(),
        allow_ports: allow_port.clone(),
        allow_paths: allow_path.clone(),
        unconfined: *unconfined,
        check: *check,
        print_profile: print_profile.clone(),
        command: command.clone(),
    };
    let ctx = opscockpit::agent::Context {
        config_dir: paths.config_dir.clone(),
        data_dir: config::data_dir(),
        secret_vars,
    };
    opscockpit::agent::run(&args, &ctx)
}

#[cfg(not(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
)))]
fn agent_command(_cli: &Cli, _config: &Config, _paths: &Paths) -> i32 {
    eprintln!(
        "opscockpit agent: confinement needs Linux on x86_64 or aarch64 (Landlock and seccomp)"
    );
    125
}

/// `opscockpit cost --plans [HOST]`: every plan, its source and date read
/// (regions as HOST would use them).
fn plans_command(host: &str, json: bool, config: &Config, paths: &Paths) -> Result<()> {
    use opscockpit::cost::report;
    let settings = opscockpit::cost::CostSettings::from_config(config, host, &paths.config_file)
        .map_err(|e| eyre!("config error: {e}"))?;
    let listing = report::plan_listing(&settings, chrono::Utc::now().timestamp());
    if json {
        let text = serde_json::to_string_pretty(&listing)
            .map_err(|e| eyre!("cannot encode the plans as JSON: {e}"))?;
        println!("{text}");
    } else {
        print!("{}", report::render_plans(&listing));
    }
    Ok(())
}

/// `opscockpit cost HOST`: one report on stdout.
fn cost_command(
    host: &str,
    period: opscockpit::cost::traffic::Period,
    json: bool,
    config: &Config,
    paths: &Paths,
    transport: SharedTransport,
    runtime: &tokio::runtime::Runtime,
) -> Result<()> {
    let settings = opscockpit::cost::CostSettings::from_config(config, host, &paths.config_file)
        .map_err(|e| eyre!("config error: {e}"))?;
    let text = runtime
        .block_on(opscockpit::cost::cli::run(
            host, transport, &settings, period, json,
        ))
        .map_err(|e| eyre!("{e}"))?;
    print!("{text}");
    Ok(())
}

fn transport_for(
    host: &str,
    cli: &Cli,
    config: &Config,
    runtime: &tokio::runtime::Runtime,
) -> Result<SharedTransport> {
    let host = match host {
        "local" => return Ok(Arc::new(LocalTransport)),
        host => host,
    };
    // `[hosts.NAME]` is keyed by the name without user@ and :port.
    let overrides = ssh::resolve::parse_destination(host).ok().and_then(|d| {
        config
            .hosts
            .get(host)
            .or(config.hosts.get(&d.host))
            .cloned()
    });
    let options = ssh::SshOptions {
        config_file: cli.ssh_config.clone(),
        overrides,
        prompter: Some(Arc::new(ssh::TerminalPrompter)),
        without_ssh_binary: false,
    };
    let (transport, warnings) = runtime
        .block_on(ssh::SshTransport::connect(host, options))
        .map_err(|e| eyre!("{}", opscockpit::text::inert(&e.message)))?;
    for warning in warnings {
        eprintln!("opscockpit: warning: {}", opscockpit::text::inert(&warning));
    }
    Ok(Arc::new(transport))
}

/// Tracing goes to `--log-file` only: never to the terminal the TUI owns.
fn init_logging(cli: &Cli) -> Result<Option<()>> {
    let Some(path) = &cli.log_file else {
        // The MCP server's stdout is the protocol: its diagnostics go to
        // stderr (warnings and errors unless OPSCOCKPIT_LOG says more).
        if matches!(cli.command, Some(Command::Mcp { .. })) {
            tracing_subscriber::fmt()
                .with_writer(std::io::stderr)
                .with_ansi(false)
                .with_env_filter(opscockpit::secrets::log_filter::from_env("warn"))
                .init();
        }
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
        .with_env_filter(opscockpit::secrets::log_filter::from_env("info"))
        .init();
    tracing::info!(host = cli.host_name(), "opscockpit starting");
    Ok(Some(()))
}

/// `opscockpit hook …`. Claude Code lets a tool call through when a hook
/// fails any way but exit 2, so every failure here is exit 2: a panic, a
/// broken config, a deadline passed.
mod hook {
    use std::io::Read;

    use super::*;
    use opscockpit::cli::HookAgent;
    use opscockpit::hook::{Context, DEADLINE, Decision, claude};

    pub fn run(cli: &Cli, agent: &HookAgent) -> ! {
        std::panic::set_hook(Box::new(|info| {
            eprintln!("opscockpit hook: internal error ({info}); denied");
            std::process::exit(2);
        }));
        std::thread::spawn(|| {
            std::thread::sleep(DEADLINE);
            eprintln!("opscockpit hook: no decision within {DEADLINE:?}; denied");
            std::process::exit(2);
        });
        let binary = std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| "opscockpit".into());
        let HookAgent::Claude { print_settings } = agent;
        if *print_settings {
            print!("{}", claude::settings_text(&binary));
            std::process::exit(0);
        }
        match decide(cli, binary) {
            Ok(Decision::Passthrough) => std::process::exit(0),
            Ok(Decision::Allow {
                updated_input,
                reason,
            }) => {
                println!("{}", claude::allow_output(&updated_input, &reason));
                std::process::exit(0);
            }
            Ok(Decision::Deny(reason)) | Err(reason) => {
                eprintln!("{reason}");
                std::process::exit(2);
            }
        }
    }

    fn decide(cli: &Cli, binary: String) -> std::result::Result<Decision, String> {
        let mut input = String::new();
        std::io::stdin()
            .take(claude::MAX_INPUT as u64 + 1)
            .read_to_string(&mut input)
            .map_err(|e| format!("opscockpit hook: reading the hook input: {e}"))?;
        if input.len() > claude::MAX_INPUT {
            return Err("opscockpit hook: the hook input is larger than 1 MiB".into());
        }
        let paths = Paths::resolve(cli.config.as_deref());
        let config = Config::load(&paths, cli.config.is_some())
            .map_err(|e| format!("opscockpit hook: config error: {e}"))?;
        let data_dir = config::data_dir();
        let running = running_hosts(&data_dir);
        let mut managed: Vec<String> = config.hosts.keys().cloned().collect();
        managed.extend(running.iter().cloned());
        managed.sort();
        managed.dedup();
        let ctx = Context {
            managed,
            running,
            config,
            binary: binary.into(),
        };
        Ok(claude::decide(&input, &ctx))
    }

    /// Hosts whose cockpit socket accepts a connection.
    fn running_hosts(data_dir: &std::path::Path) -> Vec<String> {
        let dir = opscockpit::gate::socket_dir(data_dir);
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Vec::new();
        };
        entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "sock"))
            .filter(|p| std::os::unix::net::UnixStream::connect(p).is_ok())
            .filter_map(|p| p.file_stem().and_then(|s| s.to_str()).map(str::to_string))
            .collect()
    }
}
