//! The ingest half of bench/log-ingest: one container's log through the
//! cockpit's own path — SSH transport (russh channel to the engine's socket)
//! → Docker API HTTP → log-frame parser → pace → the Logs pane's buffer
//! (`app::logs::apply_event`, as the event loop does) — with no screen.
//!
//! Two ways in:
//! - `--from-start --expect N`: a container that already wrote its log (and
//!   exited) is read from its first line until N lines were taken in; this
//!   is how fast the path can go when the engine has the lines ready.
//! - `--seconds S`: a running storm is followed from its tail, as the pane
//!   does, for S seconds after a warm-up second.
//!
//! It prints one line, `log-ingest: key=value ...`: lines taken in (kept
//! plus skipped in the reader), kept, skipped counted from the rate across a
//! re-open (never read), the window and this process's CPU (user + system)
//! over it. bench/log-ingest adds the engine's and sshd's share.
//!
//! Usage: log_ingest -F SSH_CONFIG HOST SOCKET CONTAINER [--from-start
//! --expect N | --seconds S] [--max-lag SECS]

use std::sync::Arc;
use std::time::{Duration, Instant};

use opscockpit::app::logs::{LogsPane, apply_event};
use opscockpit::logs::{Flow, LogEvent, LogsSetup, SourceHealth};
use opscockpit::sources::docker::client::DockerClient;
use opscockpit::sources::docker::follow::Follower;
use opscockpit::transport::ssh::{SshOptions, SshTransport};
use tokio::sync::mpsc;

/// The event loop's queue (`event_loop::EVENT_QUEUE`): a slow sink slows the
/// follower as it would in the cockpit.
const EVENT_QUEUE: usize = 1024;

struct Args {
    ssh_config: String,
    host: String,
    socket: String,
    container: String,
    from_start: bool,
    expect: u64,
    seconds: u64,
    max_lag: Duration,
}

fn parse_args() -> Result<Args, String> {
    let mut positional = Vec::new();
    let mut ssh_config = None;
    let (mut from_start, mut expect, mut seconds, mut max_lag) = (false, 0, 10, 2);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |what: &str| args.next().ok_or(format!("{arg} needs {what}"));
        match arg.as_str() {
            "-F" => ssh_config = Some(value("a file")?),
            "--from-start" => from_start = true,
            "--expect" => expect = number(&value("a count")?)?,
            "--seconds" => seconds = number(&value("seconds")?)?,
            "--max-lag" => max_lag = number(&value("seconds")?)?,
            _ => positional.push(arg),
        }
    }
    let [host, socket, container] = <[String; 3]>::try_from(positional)
        .map_err(|_| "needs HOST SOCKET CONTAINER".to_string())?;
    Ok(Args {
        ssh_config: ssh_config.ok_or("needs -F SSH_CONFIG")?,
        host,
        socket,
        container,
        from_start,
        expect,
        seconds,
        max_lag: Duration::from_secs(max_lag),
    })
}

fn number(text: &str) -> Result<u64, String> {
    text.parse().map_err(|_| format!("not a number: {text}"))
}

/// This process's CPU time so far (user + system), all threads.
fn cpu_time() -> Duration {
    // SAFETY: getrusage only writes the struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let micros = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    Duration::from_micros(micros(usage.ru_utime) + micros(usage.ru_stime))
}

/// What the sink saw over the measured window.
#[derive(Default)]
struct Window {
    kept: u64,
    first_flow: Option<Flow>,
    last_flow: Option<Flow>,
}

/// The cockpit's runtime (`event_loop::runtime`), and the consumer runs on
/// its worker as the event loop does, not on the main thread.
fn main() {
    let runtime = opscockpit::event_loop::runtime().expect("runtime");
    let run = runtime.spawn(ingest());
    let _ = runtime.block_on(run);
}

async fn ingest() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("log_ingest: {e}");
            std::process::exit(2);
        }
    };
    let options = SshOptions {
        config_file: Some(args.ssh_config.clone().into()),
        overrides: None,
        prompter: None,
        without_ssh_binary: false,
    };
    let transport = match SshTransport::connect(&args.host, options).await {
        Ok((transport, _)) => transport,
        Err(e) => {
            eprintln!("log_ingest: ssh: {}", e.message);
            std::process::exit(1);
        }
    };
    let mut client = DockerClient::new(Arc::new(transport), &args.socket);
    if let Err(e) = client.negotiate().await {
        eprintln!("log_ingest: engine: {e}");
        std::process::exit(1);
    }
    let (tx, mut rx) = mpsc::channel::<LogEvent>(EVENT_QUEUE);
    let follower = if args.from_start {
        Follower::spawn_from_start(&args.container, args.max_lag, tx)
    } else {
        Follower::spawn(&args.container, args.max_lag, tx)
    };
    follower.attach(&args.container, &client);

    let mut pane = LogsPane::new(
        opscockpit::logs::buffer::DEFAULT_CAPACITY,
        LogsSetup::default(),
    );
    let mut window = Window::default();
    // From-start: the window opens with the first line and closes with the
    // expected count. Storm: it opens a second in and lasts `seconds`.
    let mut opened: Option<(Instant, Duration)> = None;
    let started = Instant::now();
    let give_up = Duration::from_secs(if args.from_start {
        300
    } else {
        args.seconds + 30
    });
    let deadline = tokio::time::Instant::now() + give_up;
    let mut ended = None;
    loop {
        let event = tokio::select! {
            event = rx.recv() => event,
            _ = tokio::time::sleep_until(deadline) => None,
        };
        let Some(event) = event else { break };
        let lines = match &event {
            LogEvent::Lines(lines) => lines.len() as u64,
            _ => 0,
        };
        match &event {
            LogEvent::Flow { flow, .. } if opened.is_some() => {
                window.first_flow.get_or_insert(*flow);
                window.last_flow = Some(*flow);
            }
            LogEvent::Status {
                health: SourceHealth::Unavailable,
                message,
                ..
            } => ended = Some(message.clone()),
            _ => {}
        }
        if opened.is_none() && lines > 0 && (args.from_start || started.elapsed().as_secs() >= 1) {
            opened = Some((Instant::now(), cpu_time()));
        }
        if opened.is_some() {
            window.kept += lines;
        }
        apply_event(&mut pane, event);
        let done = match opened {
            _ if ended.is_some() => true,
            Some(_) if args.from_start => window.kept >= args.expect,
            Some((at, _)) => at.elapsed() >= Duration::from_secs(args.seconds),
            None => false,
        };
        if done {
            break;
        }
    }
    let Some((at, cpu0)) = opened else {
        eprintln!(
            "log_ingest: no line came in ({})",
            ended.unwrap_or_default()
        );
        std::process::exit(1);
    };
    let secs = at.elapsed().as_secs_f64();
    let cpu = (cpu_time() - cpu0).as_secs_f64();
    drop(follower);
    let flow = |f: Option<Flow>| f.unwrap_or_default();
    let (first, last) = (flow(window.first_flow), flow(window.last_flow));
    // Flows come once a second: the reader's skips of the window are the
    // difference of the first and last report in it (storm mode only).
    let skipped = last.skipped.saturating_sub(first.skipped);
    let gap = last.gap_skipped.saturating_sub(first.gap_skipped);
    let read_skipped = skipped.saturating_sub(gap);
    let taken = window.kept + read_skipped;
    println!(
        "log-ingest: taken={taken} kept={} read_skipped={read_skipped} gap_skipped={gap} \
         taken_per_s={:.0} kept_per_s={:.0} rate={} secs={secs:.2} cpu_s={cpu:.2} cpu_pct={:.1} \
         buffer={} ended={}",
        window.kept,
        taken as f64 / secs,
        window.kept as f64 / secs,
        last.lines_per_s,
        100.0 * cpu / secs,
        pane.buffer.len(),
        ended.is_some(),
    );
}
