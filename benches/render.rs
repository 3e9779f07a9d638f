//! Cost of drawing the whole cockpit: the target is under 1 ms a frame at
//! 200×60 with every pane populated. Also the /proc sampler's per-second
//! parse + derive + series update.

use criterion::{Criterion, criterion_group, criterion_main};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use opscockpit::action::Action;
use opscockpit::app::update;
use opscockpit::sources::procfs;
use opscockpit::testing::{fixture_state, populated_state};

fn draw_full_frame(c: &mut Criterion) {
    // Every pane populated (containers, alerts, logs, actions, metrics).
    for (w, h) in [(200u16, 60u16), (80, 24)] {
        let mut state = populated_state("dark");
        update::resize(&mut state, w, h);
        let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("backend");
        c.bench_function(&format!("draw cockpit {w}x{h}"), |b| {
            b.iter(|| {
                terminal
                    .draw(|f| opscockpit::ui::draw(f, &state))
                    .expect("draw");
            })
        });
    }
    let mut state = fixture_state("dark");
    update::resize(&mut state, 200, 60);
    update::apply_action(&mut state, Action::Maximise);
    let mut terminal = Terminal::new(TestBackend::new(200, 60)).expect("backend");
    c.bench_function("draw metrics maximised 200x60", |b| {
        b.iter(|| {
            terminal
                .draw(|f| opscockpit::ui::draw(f, &state))
                .expect("draw");
        })
    });
}

fn sampler_pipeline(c: &mut Criterion) {
    // A real sample of this machine, read once.
    let files = [
        "/proc/uptime",
        "/proc/stat",
        "/proc/meminfo",
        "/proc/loadavg",
        "/proc/net/dev",
        "/proc/diskstats",
    ];
    let mut text = String::new();
    for f in files {
        text.push_str(&format!(
            "@@ {f}\n{}",
            std::fs::read_to_string(f).unwrap_or_default()
        ));
    }
    text.push_str("@@ end\n");
    let previous = procfs::parse_sample(&text);
    let mut store = opscockpit::metrics::SeriesStore::default();
    let mut t = 0i64;
    c.bench_function("procfs parse + derive + store one sample", |b| {
        b.iter(|| {
            let mut snap = procfs::parse_sample(&text);
            snap.uptime += 1.0;
            t += 1;
            for (name, unit, v) in procfs::derive(Some(&previous), &snap) {
                store.push(&name, unit, t, v);
            }
        })
    });
}

criterion_group!(benches, draw_full_frame, sampler_pipeline);
criterion_main!(benches);
