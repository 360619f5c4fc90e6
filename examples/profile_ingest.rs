//! Phase timings of the core on a file, for perf work (`perf record`, `valgrind --tool=callgrind`):
//! `cargo run --release --example profile_ingest -- FILE [parse|e2e]`.
//! The user-facing figures come from `uxtop bench` and benchmarks/.

use _core::batch::Batch;
use _core::ingest::{IngestConfig, Ingestor};
use _core::parse::{LineOutcome, LineParser, ParsedEvent};
use std::time::Instant;

/// This thread's CPU time in seconds (Linux schedstat), so figures hold on a busy machine.
fn thread_cpu_s() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(f64::NAN, |ns| ns / 1e9)
}

fn parse_only(data: &[u8]) -> usize {
    let mut p = LineParser::default();
    let mut ev = ParsedEvent::default();
    let mut ok = 0usize;
    let mut start = 0;
    for nl in memchr::memchr_iter(b'\n', data) {
        if let LineOutcome::Event = p.parse(&data[start..nl], &mut ev) {
            ok += 1;
        }
        start = nl + 1;
    }
    ok
}

fn end_to_end(data: &[u8], chunk: usize) -> usize {
    let mut ing = Ingestor::new(IngestConfig::default()).unwrap();
    let mut n = 0;
    for c in data.chunks(chunk) {
        let mut b = Batch::default();
        ing.feed(c, &mut b).unwrap();
        n += b.events.len();
    }
    let mut b = Batch::default();
    ing.finish(&mut b).unwrap();
    n + b.events.len()
}

fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: profile_ingest FILE [parse|e2e]");
    let mode = std::env::args().nth(2).unwrap_or_default();
    let chunk: usize = std::env::var("CHUNK")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4 << 20);
    let data = std::fs::read(&path).expect("read");
    let mb = data.len() as f64 / 1e6;
    // ROUNDS=N repeats the chosen phase (the best round is the steadiest figure on a shared host)
    let rounds = std::env::var("ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if mode.is_empty() { 3 } else { 1 });
    if mode.is_empty() {
        let t = Instant::now();
        let n = memchr::memchr_iter(b'\n', &data).count();
        println!(
            "memchr count: {:.0} MB/s ({n} lines)",
            mb / t.elapsed().as_secs_f64()
        );
    }
    if mode != "e2e" {
        for _ in 0..rounds {
            let (t, c) = (Instant::now(), thread_cpu_s());
            let n = parse_only(&data);
            let (dt, dc) = (t.elapsed().as_secs_f64(), thread_cpu_s() - c);
            println!(
                "parse only: {:.2} M ev/s, {:.0} MB/s; per CPU-second {:.2} M ev/s",
                n as f64 / dt / 1e6,
                mb / dt,
                n as f64 / dc / 1e6
            );
        }
    }
    if mode != "parse" {
        for _ in 0..rounds {
            let (t, c) = (Instant::now(), thread_cpu_s());
            let n = end_to_end(&data, chunk);
            let (dt, dc) = (t.elapsed().as_secs_f64(), thread_cpu_s() - c);
            println!(
                "end to end: {:.2} M ev/s, {:.0} MB/s; per CPU-second {:.2} M ev/s",
                n as f64 / dt / 1e6,
                mb / dt,
                n as f64 / dc / 1e6
            );
        }
    }
}
