//! The Logs pane's buffer: ingest throughput (target ≥ 200 000 lines/s),
//! the container follower's demux + ingest path on synthetic podman-style
//! frames (`storm ingest`: frames → lines → pane state, current and
//! skipping),
//! memory per 100 000 buffered lines (target ≤ 40 MB, measured with a
//! counting allocator and printed before the timings), and the cost of
//! drawing a full pane while following and with wrap on.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use criterion::{Criterion, Throughput, criterion_group};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use opscockpit::action::Action;
use opscockpit::app::event::AppEvent;
use opscockpit::app::update;
use opscockpit::logs::{Level, LogBuffer, LogEvent, LogLine};
use opscockpit::sources::docker::follow::Ingest;
use opscockpit::testing::fixture_state;

/// Counts live heap bytes so the memory figure is measured, not guessed.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size, Ordering::Relaxed);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// A typical line: ~110 bytes of text, like an access or app log.
fn raw_line(i: usize) -> String {
    format!(
        "{{\"level\":\"info\"}} GET /api/v1/orders/{i} 200 {}ms ua=\"Mozilla/5.0 (X11; Linux x86_64)\" req={i:08x}",
        i % 97
    )
}

fn lines(n: usize, sources: &[Arc<str>]) -> Vec<LogLine> {
    (0..n)
        .map(|i| {
            LogLine::from_raw(
                1_795_442_400_000_000_000 + i as i64 * 1_000_000,
                sources[i % sources.len()].clone(),
                None,
                raw_line(i).as_bytes(),
            )
        })
        .collect()
}

fn sources() -> Vec<Arc<str>> {
    ["betterstack", "journal", "container:web"]
        .into_iter()
        .map(Arc::from)
        .collect()
}

fn memory_report() {
    let sources = sources();
    let before = LIVE.load(Ordering::Relaxed);
    let mut buffer = LogBuffer::new(100_000);
    // `extend` frees the Vec of prepared lines; what stays live is the
    // buffer's ring and each line's text.
    buffer.extend(lines(100_000, &sources));
    let after = LIVE.load(Ordering::Relaxed);
    let measured = after as f64 - before as f64;
    println!(
        "logs memory: 100000 lines ≈ {:.1} MB measured by allocator ({:.1} MB by capacity accounting, {} B per line struct)",
        measured / 1e6,
        buffer.approx_bytes() as f64 / 1e6,
        std::mem::size_of::<LogLine>()
    );
}

fn ingest(c: &mut Criterion) {
    let sources = sources();
    let batch = lines(10_000, &sources);
    let mut group = c.benchmark_group("logs ingest");
    group.throughput(Throughput::Elements(batch.len() as u64));
    // Steady state: a full 50 000-line buffer, every push drops the oldest.
    let mut full = LogBuffer::new(50_000);
    full.extend(lines(50_000, &sources));
    let mut t = 2_000_000_000_000_000_000i64;
    group.bench_function("push 10k lines into a full 50k buffer", |b| {
        b.iter_batched(
            || {
                t += 10_000_000_000;
                batch
                    .iter()
                    .cloned()
                    .map(|mut l| {
                        l.t += t;
                        l
                    })
                    .collect::<Vec<_>>()
            },
            |fresh| full.extend(fresh),
            criterion::BatchSize::SmallInput,
        )
    });
    // The whole path a source pays per line: inert text + level detection.
    let raws: Vec<String> = (0..10_000).map(raw_line).collect();
    group.bench_function("make 10k lines from raw bytes", |b| {
        b.iter(|| {
            raws.iter()
                .enumerate()
                .map(|(i, r)| LogLine::from_raw(i as i64, sources[0].clone(), None, r.as_bytes()))
                .collect::<Vec<_>>()
        })
    });
    // And through the update function, as the event loop applies it.
    let mut state = fixture_state("dark");
    group.bench_function("apply 10k lines to the pane state", |b| {
        b.iter_batched(
            || {
                t += 10_000_000_000;
                batch
                    .iter()
                    .cloned()
                    .map(|mut l| {
                        l.t += t;
                        l
                    })
                    .collect::<Vec<_>>()
            },
            |fresh| update::apply_event(&mut state, AppEvent::Log(LogEvent::Lines(fresh))),
            criterion::BatchSize::SmallInput,
        )
    });
    group.finish();
}

fn draw(c: &mut Criterion) {
    let sources = sources();
    let mut state = fixture_state("dark");
    update::resize(&mut state, 200, 60);
    update::apply_action(&mut state, Action::FocusLogs);
    update::apply_action(&mut state, Action::Maximise);
    let mut many = lines(50_000, &sources);
    for (i, l) in many.iter_mut().enumerate() {
        l.level = [Some(Level::Info), Some(Level::Warn), None][i % 3];
    }
    update::apply_event(&mut state, AppEvent::Log(LogEvent::Lines(many)));
    let mut terminal = Terminal::new(TestBackend::new(200, 60)).expect("backend");
    c.bench_function("draw logs pane 200x60, 50k lines, following", |b| {
        b.iter(|| {
            terminal
                .draw(|f| opscockpit::ui::draw(f, &state))
                .expect("draw");
        })
    });
    update::apply_action(&mut state, Action::LevelFilter); // errors only: none match
    c.bench_function(
        "draw logs pane 200x60, 50k lines, level filter matching none",
        |b| {
            b.iter(|| {
                terminal
                    .draw(|f| opscockpit::ui::draw(f, &state))
                    .expect("draw");
            })
        },
    );
    for _ in 0..4 {
        update::apply_action(&mut state, Action::LevelFilter); // back to all
    }
    update::apply_action(&mut state, Action::Wrap);
    c.bench_function("draw logs pane 200x60, 50k lines, wrap", |b| {
        b.iter(|| {
            terminal
                .draw(|f| opscockpit::ui::draw(f, &state))
                .expect("draw");
        })
    });
}

/// Key-to-redraw while 10 000 lines/s arrive: each round applies the lines
/// of 10 ms (100), then a key (scroll up or back to follow) and one draw of
/// the 200×60 cockpit with the Logs pane maximised; prints the p50/p99 of
/// key + draw (target p99 under 50 ms).
fn latency_report() {
    let sources = sources();
    let mut state = fixture_state("dark");
    update::resize(&mut state, 200, 60);
    update::apply_action(&mut state, Action::FocusLogs);
    update::apply_action(&mut state, Action::Maximise);
    update::apply_event(
        &mut state,
        AppEvent::Log(LogEvent::Lines(lines(50_000, &sources))),
    );
    let mut terminal = Terminal::new(TestBackend::new(200, 60)).expect("backend");
    let batch = lines(100, &sources);
    let mut t = 2_000_000_000_000_000_000i64;
    let mut samples = Vec::with_capacity(2000);
    for round in 0..2000 {
        t += 10_000_000;
        let fresh: Vec<LogLine> = batch
            .iter()
            .cloned()
            .map(|mut l| {
                l.t += t;
                l
            })
            .collect();
        update::apply_event(&mut state, AppEvent::Log(LogEvent::Lines(fresh)));
        let start = std::time::Instant::now();
        let action = if round % 10 == 9 {
            Action::Bottom
        } else {
            Action::Up
        };
        update::apply_action(&mut state, action);
        terminal
            .draw(|f| opscockpit::ui::draw(f, &state))
            .expect("draw");
        samples.push(start.elapsed());
    }
    samples.sort();
    let pct = |p: usize| samples[(samples.len() * p / 100).min(samples.len() - 1)];
    println!(
        "logs key-to-redraw at 10k lines/s: p50 {:?}, p99 {:?}, max {:?}",
        pct(50),
        pct(99),
        samples[samples.len() - 1]
    );
}

/// A storm's log body as podman sends it: one frame per line, whole-second
/// UTC stamps, `lines` lines over `seconds` seconds ending at `end`.
fn storm_frames(lines: usize, end_second: i64) -> Vec<u8> {
    let mut body = Vec::with_capacity(lines * 72);
    for i in 0..lines {
        let second = end_second - 1 + (i * 2 / lines) as i64;
        let time = chrono::DateTime::from_timestamp(second, 0).expect("time");
        let payload = format!(
            "{} storm line {i} padding padding padding\n",
            time.format("%Y-%m-%dT%H:%M:%SZ")
        );
        body.extend_from_slice(&[1, 0, 0, 0]);
        body.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        body.extend_from_slice(payload.as_bytes());
    }
    body
}

/// The follower's whole per-line path on 10 000 framed lines cut into
/// SSH-sized (32 KiB) chunks: demux, stamps, overlap, pace, inert text,
/// then applied to the pane state. Once with every line current (kept), once
/// with every line too late (skipped and counted only).
fn storm_ingest(c: &mut Criterion) {
    let end = 1_795_442_400;
    let body = storm_frames(10_000, end);
    let mut group = c.benchmark_group("storm ingest");
    group.throughput(Throughput::Elements(10_000));
    let max_lag = std::time::Duration::from_secs(2);
    let mut state = fixture_state("dark");
    group.bench_function("10k framed lines: demux + ingest + apply (kept)", |b| {
        b.iter(|| {
            // Each round a new follower so the overlap starts afresh; `now`
            // is the end of the storm's second, so every line is current.
            let mut ingest = Ingest::new("tb-storm", false, max_lag);
            let now = (end + 1) * 1_000_000_000;
            let mut kept = 0;
            for chunk in body.chunks(32 * 1024) {
                let lines = ingest.chunk(chunk, now);
                kept += lines.len();
                update::apply_event(&mut state, AppEvent::Log(LogEvent::Lines(lines)));
            }
            assert_eq!(kept, 10_000);
        })
    });
    group.bench_function("10k framed lines: demux + skip (10 s behind)", |b| {
        b.iter(|| {
            let mut ingest = Ingest::new("tb-storm", false, max_lag);
            let now = (end + 10) * 1_000_000_000;
            let mut kept = 0;
            for chunk in body.chunks(32 * 1024) {
                kept += ingest.chunk(chunk, now).len() as u64;
            }
            // Until the storm's rate shows as a flood, its lines are kept.
            assert!(kept < opscockpit::logs::pace::FLOOD_RATE, "{kept} kept");
            assert_eq!(ingest.flow(now).skipped, 10_000 - kept);
        })
    });
    group.finish();
}

criterion_group!(benches, ingest, storm_ingest, draw);

fn main() {
    memory_report();
    latency_report();
    benches();
    criterion::Criterion::default()
        .configure_from_args()
        .final_summary();
}
