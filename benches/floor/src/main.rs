//! Floors for reading JSON Lines: what each step costs at the least, with no
//! grantgap code, on every core (rayon's threads; set RAYON_NUM_THREADS).
//!
//! Usage: cargo run --release -- FILE.jsonl
//!
//! Steps, each over the whole file: reading it from the page cache through a
//! reused buffer; splitting the lines (memchr); checking their UTF-8; skipping
//! each line with a JSON parser (the least any reading by that parser costs);
//! and borrowing the eight fields grantgap's fast path reads.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::time::Instant;

use rayon::prelude::*;
use serde::de::IgnoredAny;
use serde::Deserialize;

/// The fields of an allowed request the fast path reads, borrowed: a copy of
/// those of `FlatRecord` in src/ingest/fold/fast.rs, as this crate measures without
/// grantgap's code.
#[derive(Deserialize)]
#[allow(dead_code)] // read, never used: parsing them is what is measured
struct Fields<'a> {
    ts: Option<&'a str>,
    principal: Option<&'a str>,
    method: Option<&'a str>,
    path: Option<&'a str>,
    status: Option<u64>,
    org: Option<&'a str>,
    object_id: Option<&'a str>,
    fields: Option<Vec<&'a str>>,
}

/// Byte ranges of `bytes` that end at line ends, about `n` of them.
fn line_ranges(bytes: &[u8], n: usize) -> Vec<&[u8]> {
    let step = bytes.len() / n + 1;
    let mut ranges = Vec::new();
    let mut start = 0;
    while start < bytes.len() {
        let cut = (start + step).min(bytes.len());
        let end = memchr::memchr(b'\n', &bytes[cut..]).map_or(bytes.len(), |at| cut + at + 1);
        ranges.push(&bytes[start..end]);
        start = end;
    }
    ranges
}

/// The lines of a range, cut with memchr, without their line ends.
fn lines(range: &[u8]) -> impl Iterator<Item = &[u8]> + '_ {
    let mut start = 0;
    let ends = memchr::memchr_iter(b'\n', range).chain(std::iter::once(range.len()));
    ends.filter_map(move |end| {
        let line = &range[start.min(end)..end];
        start = end + 1;
        (!line.is_empty()).then_some(line)
    })
}

/// Prints the time of one step over all lines and its rate.
fn report(step: &str, bytes: usize, lines: usize, seconds: f64) {
    let threads = rayon::current_num_threads() as f64;
    println!(
        "| {step} | {seconds:.2} s | {:.0} MB/s | {:.0} ns |",
        bytes as f64 / seconds / 1e6,
        seconds * threads * 1e9 / lines as f64
    );
}

fn main() {
    let path = std::env::args().nth(1).expect("usage: floor FILE.jsonl");
    let size = std::fs::metadata(&path).expect("readable file").len() as usize;

    // Reading through a reused 1 MiB buffer, a part of the file per thread.
    let threads = rayon::current_num_threads();
    let start = Instant::now();
    let read: usize = (0..threads)
        .into_par_iter()
        .map(|i| {
            let (from, to) = (size * i / threads, size * (i + 1) / threads);
            let mut file = File::open(&path).expect("opens");
            file.seek(SeekFrom::Start(from as u64)).expect("seeks");
            let mut buffer = vec![0u8; 1 << 20];
            let mut left = to - from;
            while left > 0 {
                let n = file.read(&mut buffer[..left.min(1 << 20)]).expect("reads");
                assert!(n > 0, "file shrank");
                left -= n;
            }
            to - from
        })
        .sum();
    let seconds = start.elapsed().as_secs_f64();
    let bytes = std::fs::read(&path).expect("fits in memory");
    let ranges = line_ranges(&bytes, threads * 16);
    let count = ranges.iter().map(|r| lines(r).count()).sum::<usize>();
    println!("{} bytes, {count} lines, {threads} threads\n", bytes.len());
    println!("| step | time | rate | per line, one core |\n| --- | ---: | ---: | ---: |");
    report(
        "read from the page cache (1 MiB buffer)",
        read,
        count,
        seconds,
    );

    let time = |step: &str, per_line: &(dyn Fn(&[u8]) -> bool + Sync)| {
        let start = Instant::now();
        let ok: usize = ranges
            .par_iter()
            .map(|r| lines(r).filter(|l| per_line(l)).count())
            .sum();
        assert_eq!(ok, count, "{step}: every line must pass");
        report(step, bytes.len(), count, start.elapsed().as_secs_f64());
    };
    time("split lines (memchr)", &|l| !l.is_empty());
    time("check UTF-8", &|l| std::str::from_utf8(l).is_ok());
    time("serde_json: skip each line", &|l| {
        serde_json::from_slice::<IgnoredAny>(l).is_ok()
    });
    time("serde_json: borrow the 8 fields", &|l| {
        std::str::from_utf8(l).is_ok_and(|s| serde_json::from_str::<Fields>(s).is_ok())
    });
    time("sonic-rs: skip each line", &|l| {
        sonic_rs::from_slice::<IgnoredAny>(l).is_ok()
    });
    time("sonic-rs: borrow the 8 fields", &|l| {
        sonic_rs::from_slice::<Fields>(l).is_ok()
    });
    // simd-json parses in place: each line is copied first, as a reader must.
    time("simd-json: borrow the 8 fields (line copied)", &|l| {
        let mut line = l.to_vec();
        simd_json::serde::from_slice::<Fields>(&mut line).is_ok()
    });
}
