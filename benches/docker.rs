//! Cost of keeping container stats and events current: parsing one stats
//! sample (CPU % included) and one event line, as the source does for each.

use criterion::{Criterion, criterion_group, criterion_main};
use opscockpit::sources::docker::api::{self, EngineEvent, LineSplitter, Stats};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/docker/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("fixture")
}

fn parse(c: &mut Criterion) {
    let mut stats_line = fixture("stats_once.json");
    stats_line.push(b'\n');
    let events = fixture("events_sample.ndjson");
    let event_line = events
        .split(|b| *b == b'\n')
        .next()
        .expect("an event")
        .to_vec();
    let previous: Stats = serde_json::from_slice(&stats_line).expect("stats");
    c.bench_function("stats sample: split + parse + cpu%", |b| {
        b.iter(|| {
            let mut splitter = LineSplitter::default();
            let line = splitter.push(&stats_line).pop().expect("line");
            let sample: Stats = serde_json::from_slice(&line).expect("parse");
            std::hint::black_box(api::cpu_percent(
                api::CpuFormula::Podman,
                &previous,
                &sample,
            ));
            std::hint::black_box(sample.memory_stats.used());
        })
    });
    c.bench_function("event line: parse", |b| {
        b.iter(|| {
            let e: EngineEvent = serde_json::from_slice(&event_line).expect("event");
            std::hint::black_box(e.changes_container());
        })
    });
}

criterion_group!(benches, parse);
criterion_main!(benches);
