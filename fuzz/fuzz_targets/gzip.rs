//! Gzip streams: one inflated whole (libdeflate, called through its C API)
//! reads what flate2 streams from it, the same bytes, wherever flate2 reads it.
//! libdeflate also reads a few streams zlib calls corrupt (found here: one bit
//! flipped in a member's compressed data); it checks each member's CRC-32 and
//! length, so what it reads is what was compressed.
#![no_main]

use std::io::{Cursor, Read, Write};

use flate2::bufread::MultiGzDecoder;
use grantgap::internals::ingest::gunzip;
use libfuzzer_sys::fuzz_target;

fn gzip(text: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(text).expect("writes to memory");
    gz.finish().expect("writes to memory")
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    // Bytes after a gzip magic, or the bytes gzipped in one member or two,
    // with one bit flipped or not.
    let stream = if mode & 1 == 0 {
        [&[0x1f, 0x8b][..], rest].concat()
    } else {
        let half = rest.len() / 2;
        let mut stream = gzip(&rest[..half]);
        if mode & 2 != 0 {
            stream.extend(gzip(&rest[half..]));
        }
        if mode & 4 != 0 {
            let at = (usize::from(mode) * 7919 + rest.len()) % stream.len();
            stream[at] ^= 1 << (mode >> 5);
        }
        stream
    };
    let mut whole = Vec::new();
    let whole_read = gunzip::decoder(Cursor::new(stream.clone())).read_to_end(&mut whole);
    let mut streamed = Vec::new();
    let streamed_read = MultiGzDecoder::new(&stream[..]).read_to_end(&mut streamed);
    if streamed_read.is_ok() {
        assert!(whole_read.is_ok(), "{whole_read:?}");
        assert_eq!(whole, streamed, "the same bytes inflated");
    }
});
