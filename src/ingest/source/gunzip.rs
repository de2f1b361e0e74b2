//! Gzip streams: a small one inflated whole, in one call per member, by
//! libdeflate; a larger one, or one libdeflate refuses, streamed by flate2,
//! which also says what is wrong with a damaged one. Where flate2 reads a
//! stream, libdeflate reads the same bytes (the `gzip` fuzz target checks it).
//! It also reads a few that zlib calls corrupt (found by that target: one bit
//! flipped in a member's compressed data), each member's CRC-32 and length
//! still matching: what it reads is what was compressed.
//!
//! Why: a CloudTrail trail delivers one gzip file per account and region every
//! five minutes, a few hundred KB each. On the 681 files of the 1 GB
//! CloudTrail corpus, a run took 2-5% less CPU and 1-7% less time (two sets
//! of alternating runs against flate2 with zlib-rs), and one that only
//! inflates and cuts the lines 0.31 against 0.36 s. libdeflate inflates only
//! whole buffers, hence the size limits. It is called through its -sys crate: the safe wrapper
//! (libdeflater) reads only the first member of a concatenated file and does
//! not say where that member ended, so the members after it would be lost.

use std::cell::Cell;
use std::io::{self, BufRead, BufReader, Cursor, Read};
use std::ptr::NonNull;

use flate2::bufread::MultiGzDecoder;

/// Compressed streams longer than this are streamed.
const WHOLE_COMPRESSED_MAX: usize = 16 << 20;

/// Inflated streams longer than this are streamed, so the memory a worker
/// holds stays bounded by the line and document limits, not by the file.
const WHOLE_INFLATED_MAX: usize = 64 << 20;

/// The decompressed bytes of a gzip stream (one or more members).
pub fn decoder(mut reader: impl BufRead + Send + 'static) -> Box<dyn BufRead + Send> {
    let mut compressed = SPARE_COMPRESSED.take();
    compressed.clear();
    let read = (&mut reader)
        .take(WHOLE_COMPRESSED_MAX as u64 + 1)
        .read_to_end(&mut compressed);
    if read.is_ok() && compressed.len() <= WHOLE_COMPRESSED_MAX {
        let mut inflated = SPARE_INFLATED.take();
        inflated.clear();
        if inflate_whole(&compressed, &mut inflated).is_some() {
            if compressed.capacity() <= SPARE_MAX {
                SPARE_COMPRESSED.set(compressed);
            }
            return Box::new(Whole(Cursor::new(inflated)));
        }
    }
    // The bytes read so far, then the rest, or the error that stopped the
    // read where it stopped it.
    let rest: Box<dyn BufRead + Send> = match read {
        Ok(_) => Box::new(reader),
        Err(error) => Box::new(BufReader::new(Failed(Some(error)))),
    };
    Box::new(BufReader::with_capacity(
        1 << 20,
        MultiGzDecoder::new(Cursor::new(compressed).chain(rest)),
    ))
}

thread_local! {
    /// The buffers of the last stream inflated whole on this thread, for the
    /// next one: buffers of a few MB allocated anew for each file had their
    /// pages faulted in each time (zeroing pages: 9% of the run's samples,
    /// against 6.5% streamed).
    static SPARE_COMPRESSED: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
    static SPARE_INFLATED: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// A stream inflated whole; its buffer goes back to [`SPARE_INFLATED`].
struct Whole(Cursor<Vec<u8>>);

impl Read for Whole {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl BufRead for Whole {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.0.fill_buf()
    }
    fn consume(&mut self, n: usize) {
        self.0.consume(n);
    }
}

/// A larger buffer is not kept once its stream is read.
const SPARE_MAX: usize = 16 << 20;

impl Drop for Whole {
    fn drop(&mut self) {
        let buffer = std::mem::take(self.0.get_mut());
        if buffer.capacity() <= SPARE_MAX {
            SPARE_INFLATED.set(buffer);
        }
    }
}

/// A read that fails once with the error it was given, then reads nothing.
struct Failed(Option<io::Error>);

impl Read for Failed {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        self.0.take().map_or(Ok(0), Err)
    }
}

/// Appends the members of `compressed` to `inflated`, one after the other;
/// `None` where libdeflate finds one damaged or the whole would pass
/// [`WHOLE_INFLATED_MAX`]: the stream is then read by flate2.
fn inflate_whole(compressed: &[u8], inflated: &mut Vec<u8>) -> Option<()> {
    let mut inflater = Inflater::new()?;
    // The last member's size (modulo 4 GiB) ends the stream: exact for a file
    // of one member, a first guess for the others.
    let trailer_size = compressed
        .last_chunk::<4>()
        .map_or(0, |size| u32::from_le_bytes(*size) as usize);
    let mut rest = compressed;
    while !rest.is_empty() {
        let left = WHOLE_INFLATED_MAX.checked_sub(inflated.len())?;
        let mut room = trailer_size.max(rest.len() * 4).min(left);
        loop {
            inflated.reserve_exact(room);
            match inflater.member(rest, inflated, room) {
                Inflated::Member(read) => {
                    rest = &rest[read..];
                    break;
                }
                Inflated::TooLong if room < left => room = (room * 2).min(left),
                Inflated::TooLong | Inflated::Damaged => return None,
            }
        }
    }
    Some(())
}

/// What inflating one member did.
enum Inflated {
    /// It was inflated, from this many bytes of the input.
    Member(usize),
    /// It needs more room than the buffer had spare.
    TooLong,
    Damaged,
}

/// A libdeflate decompressor.
struct Inflater(NonNull<libdeflate_sys::libdeflate_decompressor>);

impl Inflater {
    /// `None` where libdeflate cannot allocate one.
    fn new() -> Option<Self> {
        // SAFETY: takes nothing; the result is checked for null.
        NonNull::new(unsafe { libdeflate_sys::libdeflate_alloc_decompressor() }).map(Inflater)
    }

    /// Inflates the gzip member at the start of `input` into at most `room`
    /// bytes of the spare capacity of `out`, and appends it there.
    fn member(&mut self, input: &[u8], out: &mut Vec<u8>, room: usize) -> Inflated {
        let spare = out.spare_capacity_mut();
        let room = room.min(spare.len());
        let spare = &mut spare[..room];
        let (mut read, mut written) = (0, 0);
        // SAFETY: the decompressor is live and used by one thread at a time
        // (`&mut self`); libdeflate reads at most `input.len()` bytes of
        // `input`, writes at most `spare.len()` bytes into `spare`, and writes
        // the two counts.
        let result = unsafe {
            libdeflate_sys::libdeflate_gzip_decompress_ex(
                self.0.as_ptr(),
                input.as_ptr().cast(),
                input.len(),
                spare.as_mut_ptr().cast(),
                spare.len(),
                &mut read,
                &mut written,
            )
        };
        match result {
            libdeflate_sys::libdeflate_result_LIBDEFLATE_SUCCESS => {
                // SAFETY: libdeflate initialised the first `written` bytes of
                // the spare capacity, `written <= spare.len()`.
                unsafe { out.set_len(out.len() + written) };
                Inflated::Member(read)
            }
            libdeflate_sys::libdeflate_result_LIBDEFLATE_INSUFFICIENT_SPACE => Inflated::TooLong,
            _ => Inflated::Damaged,
        }
    }
}

impl Drop for Inflater {
    fn drop(&mut self) {
        // SAFETY: allocated by libdeflate_alloc_decompressor, freed once.
        unsafe { libdeflate_sys::libdeflate_free_decompressor(self.0.as_ptr()) }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn gzip(text: &[u8]) -> Vec<u8> {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(text).unwrap();
        gz.finish().unwrap()
    }

    fn inflated(compressed: &[u8]) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        inflate_whole(compressed, &mut out).map(|()| out)
    }

    fn read_all(compressed: Vec<u8>) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        decoder(Cursor::new(compressed)).read_to_end(&mut out)?;
        Ok(out)
    }

    /// What flate2 alone reads of a stream: the text, or the error.
    fn streamed(compressed: &[u8]) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        MultiGzDecoder::new(compressed).read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn every_member_of_a_concatenated_file_is_read() {
        let a = b"{\"Records\":[{\"eventName\":\"A\"}]}\n".repeat(50);
        let b = b"{\"b\":2}\n".repeat(3);
        let mut file = gzip(&a);
        file.extend(gzip(&b));
        file.extend(gzip(&a));
        let whole = inflated(&file).expect("inflated whole");
        assert_eq!(whole, [&a[..], &b[..], &a[..]].concat());
        assert_eq!(read_all(file).unwrap(), whole);
    }

    #[test]
    fn a_member_larger_than_its_guess_is_read() {
        // The first member inflates to far more than 4x its compressed size,
        // and the trailer is the small second member's.
        let big = vec![b'x'; 3 << 20];
        let mut file = gzip(&big);
        file.extend(gzip(b"y"));
        assert_eq!(inflated(&file).map(|v| v.len()), Some((3 << 20) + 1));
    }

    #[test]
    fn damaged_or_oversized_streams_read_as_flate2_reads_them() {
        let text = b"{\"a\":1}\n".repeat(10_000);
        let good = gzip(&text);
        let mut truncated = good.clone();
        truncated.truncate(good.len() / 2);
        let mut bad_crc = good.clone();
        let at = bad_crc.len() - 6;
        bad_crc[at] ^= 1;
        let mut trailing = good.clone();
        trailing.extend(b"\0\0\0\0");
        for file in [truncated, bad_crc, trailing] {
            assert_eq!(inflated(&file), None);
            let read = read_all(file.clone());
            let expected = streamed(&file);
            assert_eq!(read.is_ok(), expected.is_ok(), "{read:?}");
            if let (Ok(read), Ok(expected)) = (read, expected) {
                assert_eq!(read, expected);
            }
        }
        let huge = gzip(&vec![b' '; WHOLE_INFLATED_MAX + 1]);
        assert_eq!(inflated(&huge), None);
        assert_eq!(read_all(huge).unwrap().len(), WHOLE_INFLATED_MAX + 1);
    }

    /// A JSON source reads a stream inflated whole as it reads it streamed:
    /// the same records, the same skips, a first line of megabytes too.
    #[test]
    fn a_stream_inflated_whole_reads_as_streamed() {
        use crate::ingest::source::decode::{JsonSource, RecordSource};
        let record = r#"{"eventName":"GetObject","eventTime":"2026-11-20T08:00:00Z"}"#;
        let records = vec![record; 20_000].join(",");
        let texts = [
            // A CloudTrail file over 1 MB, cut short, with and without a newline.
            format!(r#"{{"Records":[{records}"#) + "\n",
            format!(r#"{{"Records":[{records}"#),
            format!(r#"{{"Records":[{records}]}}"#),
            format!("{record}\n{record}\n{{\n"),
            format!("{{\n  \"Records\": [{record}]\n}}\n"),
        ];
        let read = |stream: Box<dyn BufRead + Send>| -> String {
            let mut source = JsonSource::new(stream).map_err(|e| e.to_string());
            let records: Vec<_> = match &mut source {
                Ok(source) => std::iter::from_fn(|| source.next_record()).collect(),
                Err(error) => return error.clone(),
            };
            format!("{records:?}")
        };
        for text in texts {
            let compressed = gzip(text.as_bytes());
            let streamed = BufReader::with_capacity(
                1 << 20,
                MultiGzDecoder::new(Cursor::new(compressed.clone())),
            );
            assert_eq!(
                read(decoder(Cursor::new(compressed))),
                read(Box::new(streamed)),
                "{}",
                &text[text.len() - 20..]
            );
        }
    }

    #[test]
    fn a_read_error_comes_after_the_bytes_read_before_it() {
        let text = b"{\"a\":1}\n".repeat(100);
        let good = gzip(&text);
        let reader = BufReader::new(
            Cursor::new(good[..good.len() / 2].to_vec())
                .chain(Failed(Some(io::Error::other("disk gone")))),
        );
        let mut out = Vec::new();
        let error = decoder(reader).read_to_end(&mut out).unwrap_err();
        assert!(error.to_string().contains("disk gone"), "{error}");
    }
}
