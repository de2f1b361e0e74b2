//! A bounds check of a Parquet file's footer before polars reads it.
//!
//! polars' Parquet decoder trusts the footer's Thrift metadata: a damaged
//! 190-byte file whose metadata claims a list of billions of entries makes it
//! allocate 56 GB, and an allocation failure aborts the process (found by
//! fuzzing). It also reads each known field by its id, whatever type the bytes
//! say it has, so a field of the wrong type desynchronises it into reading a
//! list length out of other data (found next). No crate validates Thrift
//! without allocating what it claims, so this walks the metadata's
//! compact-protocol encoding the way polars will: every field polars reads must
//! have the type it expects, and every list, map and binary length must fit in
//! the bytes that remain. It decodes nothing: a file that passes is handed to
//! polars as it is.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use anyhow::{bail, ensure, Context, Result};

use super::input::PARQUET_MAGIC as MAGIC;

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
        .skip_struct(Kind::FileMetaData, 0)
        .context("the Parquet metadata is damaged")
}

/// The Parquet metadata structs polars decodes field by field (parquet.thrift);
/// `Any` is one it skips by the types the bytes give.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    FileMetaData,
    SchemaElement,
    RowGroup,
    ColumnChunk,
    ColumnMetaData,
    Statistics,
    KeyValue,
    SortingColumn,
    ColumnOrder,
    LogicalType,
    DecimalType,
    TimeType,
    IntType,
    TimeUnit,
    Any,
}

/// What polars reads at a field: a scalar of a wire type, a list, or a struct.
#[derive(Debug, Clone, Copy)]
enum Expect {
    Varint,
    Byte,
    Bool,
    Binary,
    List(Element),
    Struct(Kind),
}

#[derive(Debug, Clone, Copy)]
enum Element {
    Varint,
    Binary,
    Struct(Kind),
}

/// The field `id` of `kind` as polars reads it (polars-parquet 0.55,
/// `handwritten_thrift/file_metadata_thrift.rs`); `None`: skipped by its type.
fn expected(kind: Kind, id: i64) -> Option<Expect> {
    use Expect::{Binary, Bool, Byte, List, Struct, Varint};
    Some(match (kind, id) {
        (Kind::FileMetaData, 1 | 3) => Varint,
        (Kind::FileMetaData, 2) => List(Element::Struct(Kind::SchemaElement)),
        (Kind::FileMetaData, 4) => List(Element::Struct(Kind::RowGroup)),
        (Kind::FileMetaData, 5) => List(Element::Struct(Kind::KeyValue)),
        (Kind::FileMetaData, 6) => Binary,
        (Kind::FileMetaData, 7) => List(Element::Struct(Kind::ColumnOrder)),
        (Kind::SchemaElement, 1..=3 | 5..=9) => Varint,
        (Kind::SchemaElement, 4) => Binary,
        (Kind::SchemaElement, 10) => Struct(Kind::LogicalType),
        (Kind::RowGroup, 1) => List(Element::Struct(Kind::ColumnChunk)),
        (Kind::RowGroup, 2 | 3 | 5..=7) => Varint,
        (Kind::RowGroup, 4) => List(Element::Struct(Kind::SortingColumn)),
        (Kind::ColumnChunk, 1) => Binary,
        (Kind::ColumnChunk, 2 | 4..=7) => Varint,
        (Kind::ColumnChunk, 3) => Struct(Kind::ColumnMetaData),
        (Kind::ColumnMetaData, 1 | 4..=7 | 9..=11 | 14 | 15) => Varint,
        (Kind::ColumnMetaData, 2) => List(Element::Varint),
        (Kind::ColumnMetaData, 3) => List(Element::Binary),
        (Kind::ColumnMetaData, 12) => Struct(Kind::Statistics),
        (Kind::Statistics, 1 | 2 | 5 | 6) => Binary,
        (Kind::Statistics, 3 | 4) => Varint,
        (Kind::Statistics, 7 | 8) => Bool,
        (Kind::KeyValue, 1 | 2) => Binary,
        (Kind::SortingColumn, 1) => Varint,
        (Kind::SortingColumn, 2 | 3) => Bool,
        (Kind::ColumnOrder | Kind::TimeUnit, 1..=3) => Struct(Kind::Any),
        (Kind::LogicalType, 5) => Struct(Kind::DecimalType),
        (Kind::LogicalType, 7 | 8) => Struct(Kind::TimeType),
        (Kind::LogicalType, 10) => Struct(Kind::IntType),
        (Kind::LogicalType, 1..=4 | 6 | 11..=15) => Struct(Kind::Any),
        (Kind::DecimalType, 1 | 2) => Varint,
        (Kind::TimeType, 1) => Bool,
        (Kind::TimeType, 2) => Struct(Kind::TimeUnit),
        (Kind::IntType, 1) => Byte,
        (Kind::IntType, 2) => Bool,
        _ => return None,
    })
}

/// Thrift compact-protocol type codes.
const BOOL_TRUE: u8 = 1;
const BOOL_FALSE: u8 = 2;
const BYTE: u8 = 3;
const BINARY: u8 = 8;
const LIST: u8 = 9;
const SET: u8 = 10;
const STRUCT: u8 = 12;

fn is_varint(wire: u8) -> bool {
    matches!(wire, 4..=6)
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

    fn skip_struct(&mut self, kind: Kind, depth: usize) -> Result<()> {
        ensure!(depth < MAX_DEPTH, "nested more than {MAX_DEPTH} levels");
        // Field ids as polars reads them: 16 bits, a full id truncated, a
        // delta that overflows an error; any header of type 0 ends the struct.
        let mut id: i16 = 0;
        loop {
            let header = self.byte()?;
            let wire = header & 0x0f;
            if wire == 0 {
                return Ok(());
            }
            id = match header >> 4 {
                0 => {
                    let zigzag = self.varint()?;
                    ((zigzag >> 1) as i64 ^ -((zigzag & 1) as i64)) as i16
                }
                delta => id
                    .checked_add(i16::from(delta))
                    .context("a field id overflows")?,
            };
            match expected(kind, i64::from(id)) {
                Some(expect) => self.skip_expected(kind, id, wire, expect, depth)?,
                None => self.skip_value(wire, depth)?,
            }
        }
    }

    /// A field polars reads as `expect`: its wire type must agree.
    fn skip_expected(
        &mut self,
        kind: Kind,
        id: i16,
        wire: u8,
        expect: Expect,
        depth: usize,
    ) -> Result<()> {
        let agrees = match expect {
            Expect::Varint => is_varint(wire),
            Expect::Byte => wire == BYTE,
            Expect::Bool => matches!(wire, BOOL_TRUE | BOOL_FALSE),
            Expect::Binary => wire == BINARY,
            Expect::List(_) => wire == LIST,
            Expect::Struct(_) => wire == STRUCT,
        };
        ensure!(
            agrees,
            "field {id} of {kind:?} has Thrift type {wire}, not {expect:?}"
        );
        match expect {
            Expect::List(element) => {
                let (count, wire_element) = self.list_header()?;
                let agrees = count == 0 // an empty list's element type means nothing
                    || match element {
                    Element::Varint => is_varint(wire_element),
                    Element::Binary => wire_element == BINARY,
                    Element::Struct(_) => wire_element == STRUCT,
                };
                ensure!(
                    agrees,
                    "the elements of field {id} of {kind:?} have Thrift type {wire_element}"
                );
                for _ in 0..count {
                    match element {
                        Element::Struct(inner) => self.skip_struct(inner, depth + 1)?,
                        _ => self.skip_value(wire_element, depth + 1)?,
                    }
                }
                Ok(())
            }
            Expect::Struct(inner) => self.skip_struct(inner, depth + 1),
            _ => self.skip_value(wire, depth),
        }
    }

    /// A list or set header: the element count (checked against the bytes left:
    /// every element takes at least one) and the elements' type.
    fn list_header(&mut self) -> Result<(u64, u8)> {
        let header = self.byte()?;
        let mut count = u64::from(header >> 4);
        if count == 15 {
            count = self.varint()?;
        }
        ensure!(
            count <= self.remaining() as u64,
            "a list of {count} elements in {} bytes",
            self.remaining()
        );
        Ok((count, header & 0x0f))
    }

    fn skip_value(&mut self, wire: u8, depth: usize) -> Result<()> {
        match wire {
            BOOL_TRUE | BOOL_FALSE => Ok(()), // in the field header
            BYTE => self.advance(1),
            4..=6 => self.varint().map(|_| ()),
            7 => self.advance(8),
            BINARY => {
                let length = self.varint()?;
                self.advance(length)
            }
            LIST => {
                let (count, element) = self.list_header()?;
                ensure!(
                    count == 0
                        || (1..=STRUCT).contains(&element) && element != SET && element != 11,
                    "a list of Thrift type {element}"
                );
                for _ in 0..count {
                    // polars skips a boolean element as it skips a boolean
                    // field: without reading a byte. Follow it, to stay where it is.
                    self.skip_value(element, depth + 1)?;
                }
                Ok(())
            }
            STRUCT => self.skip_struct(Kind::Any, depth + 1),
            // polars cannot skip sets or maps (Parquet has none): it stops there.
            other => bail!("Thrift type {other} in Parquet metadata"),
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
        // Found by fuzzing: polars asked for 56 GB, then (a field of the wrong
        // type) for 221 GB, then (a list of booleans, which polars skips
        // without reading a byte each) for 28 GB, for these files' metadata.
        for (name, damaged) in [
            (
                "bools.parquet",
                &include_bytes!("../../../tests/fixtures/damaged-bool-list.parquet")[..],
            ),
            (
                "huge.parquet",
                &include_bytes!("../../../tests/fixtures/damaged-huge-list.parquet")[..],
            ),
            (
                "mistyped.parquet",
                &include_bytes!("../../../tests/fixtures/damaged-mistyped-field.parquet")[..],
            ),
        ] {
            let e = check(&write(name, damaged)).unwrap_err();
            assert!(format!("{e:#}").contains("damaged"), "{e:#}");
        }
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
            assert!(
                walker.skip_struct(Kind::FileMetaData, 0).is_err(),
                "cut at {cut}"
            );
        }
    }
}
