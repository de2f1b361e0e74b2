//! A bounds check of a Parquet file's footer before polars reads it.
//!
//! polars' Parquet decoder trusts the lengths written in the footer's Thrift
//! metadata: a damaged 190-byte file whose metadata claims a list of billions
//! of entries makes it allocate 56 GB, and an allocation failure aborts the
//! process (found by fuzzing). No crate validates Thrift without allocating what
//! it claims, so this walks the metadata's compact-protocol encoding, checking
//! that every list, map and binary length fits in the bytes that remain. It
//! decodes nothing: a file that passes is handed to polars as it is.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use anyhow::{bail, ensure, Context, Result};

const MAGIC: &[u8; 4] = b"PAR1";
/// Deeper nesting than any real Parquet metadata (about 6 levels).
const MAX_DEPTH: usize = 64;

/// Checks the footer of the Parquet file at `path`.
pub fn check(path: &Path) -> Result<()> {
    let mut file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let size = file.metadata()?.len();
    ensure!(size >= 12, "too short to be a Parquet file ({size} bytes)");
    let mut tail = [0u8; 8];
    file.seek(SeekFrom::End(-8))?;
    file.read_exact(&mut tail)?;
    ensure!(
        &tail[4..] == MAGIC,
        "no Parquet footer (the file does not end with PAR1)"
    );
    let length = u64::from(u32::from_le_bytes(tail[..4].try_into().expect("4 bytes")));
    ensure!(
        length > 0 && length <= size - 12,
        "the footer claims {length} bytes of metadata in a file of {size} bytes"
    );
    let mut metadata = vec![0u8; length as usize];
    file.seek(SeekFrom::Start(size - 8 - length))?;
    file.read_exact(&mut metadata)?;
    let mut walker = Walker {
        bytes: &metadata,
        at: 0,
    };
    walker
        .skip_struct(0)
        .context("the Parquet metadata is damaged")
}

/// Reads Thrift's compact protocol without keeping anything.
struct Walker<'b> {
    bytes: &'b [u8],
    at: usize,
}

impl Walker<'_> {
    fn remaining(&self) -> usize {
        self.bytes.len() - self.at
    }

    fn byte(&mut self) -> Result<u8> {
        let b = *self.bytes.get(self.at).context("the metadata ends early")?;
        self.at += 1;
        Ok(b)
    }

    fn varint(&mut self) -> Result<u64> {
        let mut value = 0u64;
        for shift in (0..70).step_by(7) {
            let b = self.byte()?;
            value |= u64::from(b & 0x7f) << shift.min(63);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        bail!("a variable-length integer runs past 10 bytes")
    }

    fn advance(&mut self, n: u64) -> Result<()> {
        ensure!(
            n <= self.remaining() as u64,
            "a length of {n} bytes where {} remain",
            self.remaining()
        );
        self.at += n as usize;
        Ok(())
    }

    fn skip_struct(&mut self, depth: usize) -> Result<()> {
        ensure!(depth < MAX_DEPTH, "nested more than {MAX_DEPTH} levels");
        loop {
            let header = self.byte()?;
            if header == 0 {
                return Ok(());
            }
            if header >> 4 == 0 {
                self.varint()?; // the field id, written in full
            }
            self.skip_value(header & 0x0f, depth)?;
        }
    }

    fn skip_value(&mut self, kind: u8, depth: usize) -> Result<()> {
        match kind {
            1 | 2 => Ok(()), // booleans live in the field header
            3 => self.advance(1),
            4..=6 => self.varint().map(|_| ()),
            7 => self.advance(8),
            8 => {
                let length = self.varint()?;
                self.advance(length)
            }
            9 | 10 => {
                let header = self.byte()?;
                let mut count = u64::from(header >> 4);
                if count == 15 {
                    count = self.varint()?;
                }
                // Every element takes at least one byte.
                ensure!(
                    count <= self.remaining() as u64,
                    "a list of {count} elements in {} bytes",
                    self.remaining()
                );
                let element = header & 0x0f;
                for _ in 0..count {
                    if matches!(element, 1 | 2) {
                        self.advance(1)?; // booleans in a list take a byte each
                    } else {
                        self.skip_value(element, depth + 1)?;
                    }
                }
                Ok(())
            }
            11 => {
                let count = self.varint()?;
                if count == 0 {
                    return Ok(());
                }
                ensure!(
                    count.saturating_mul(2) <= self.remaining() as u64,
                    "a map of {count} entries in {} bytes",
                    self.remaining()
                );
                let types = self.byte()?;
                for _ in 0..count {
                    self.skip_value(types >> 4, depth + 1)?;
                    self.skip_value(types & 0x0f, depth + 1)?;
                }
                Ok(())
            }
            12 => self.skip_struct(depth + 1),
            other => bail!("unknown Thrift type {other}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use polars::prelude::{df, ParquetWriter};

    #[test]
    fn a_real_file_passes_and_damaged_ones_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.parquet");
        let mut frame = df!("principal" => ["svc-a", "svc-b"], "status" => [200i64, 403]).unwrap();
        ParquetWriter::new(File::create(&good).unwrap())
            .finish(&mut frame)
            .unwrap();
        check(&good).unwrap();

        let bytes = std::fs::read(&good).unwrap();
        let write = |name: &str, content: &[u8]| {
            let path = dir.path().join(name);
            std::fs::write(&path, content).unwrap();
            path
        };
        // Found by fuzzing: polars asked for 56 GB for this file's metadata.
        let huge = include_bytes!("../../tests/fixtures/damaged-huge-list.parquet");
        let e = check(&write("huge.parquet", huge)).unwrap_err();
        assert!(format!("{e:#}").contains("damaged"), "{e:#}");
        // Truncated: the footer is gone.
        assert!(check(&write("cut.parquet", &bytes[..bytes.len() - 3])).is_err());
        // A footer length beyond the file.
        let mut long = bytes.clone();
        let n = long.len();
        long[n - 8..n - 4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(check(&write("long.parquet", &long)).is_err());
        // Every truncation of the metadata is an error, not a panic.
        let length = u32::from_le_bytes(bytes[n - 8..n - 4].try_into().unwrap()) as usize;
        let metadata = &bytes[n - 8 - length..n - 8];
        for cut in 0..metadata.len() {
            let mut walker = Walker {
                bytes: &metadata[..cut],
                at: 0,
            };
            assert!(walker.skip_struct(0).is_err(), "cut at {cut}");
        }
    }
}
