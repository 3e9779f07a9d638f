//! The per-second cost of the Netdata pipeline on the cockpit's side: parse
//! one recorded `allmetrics` answer of the bed's Netdata 1.37 (gunzip
//! included, as it travels) and push its readings into the series store.
//! Bytes on the wire per request are printed once (compressed and plain).

use std::io::Write;

use criterion::{Criterion, criterion_group, criterion_main};
use opscockpit::metrics::SeriesStore;
use opscockpit::sources::netdata::parse;

fn fixture() -> Vec<u8> {
    std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/netdata/allmetrics-1.37.json"
    ))
    .expect("fixture")
}

fn gzip(body: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(body).expect("gzip");
    enc.finish().expect("gzip")
}

fn pipeline(c: &mut Criterion) {
    let body = fixture();
    let packed = gzip(&body);
    eprintln!(
        "allmetrics answer: {} bytes plain, {} bytes gzip",
        body.len(),
        packed.len()
    );
    let mut store = SeriesStore::default();
    let mut t = 0i64;
    c.bench_function("netdata allmetrics parse + series update", |b| {
        b.iter(|| {
            let all = parse::allmetrics(&body).expect("parse");
            t += 1;
            for (name, unit, value) in parse::readings(&all.charts) {
                store.push(&name, unit, t, value);
            }
        })
    });
    c.bench_function("netdata allmetrics gunzip + parse + series update", |b| {
        b.iter(|| {
            let mut plain = Vec::with_capacity(body.len());
            std::io::copy(&mut flate2::read::GzDecoder::new(&packed[..]), &mut plain)
                .expect("gunzip");
            let all = parse::allmetrics(&plain).expect("parse");
            t += 1;
            for (name, unit, value) in parse::readings(&all.charts) {
                store.push(&name, unit, t, value);
            }
        })
    });
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
