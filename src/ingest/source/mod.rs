//! Where bytes come from: the input files and folders, the ranges workers
//! share a file by, memory maps, compression (sniffed once), and the decoders
//! that cut bytes into records (JSON, YAML, CSV, Parquet).

pub mod decode;
mod document;
pub mod gunzip;
pub mod input;
pub mod parquet_footer;
pub mod remote;
pub mod units;

use std::io::BufRead;

use anyhow::{Context, Result};
use indicatif::ProgressBar;

use self::decode::{CsvSource, JsonSource, ParquetSource, RecordSource, SizeLimits, YamlSource};
use self::input::{Compression, Encoding, InputFile, PARQUET_MAGIC};

/// Opens one input as a record source, whatever its encoding and compression.
pub(crate) fn open_source(
    input: &InputFile,
    progress: &ProgressBar,
    limits: SizeLimits,
) -> Result<Box<dyn RecordSource>> {
    let (mut stream, compression) = input::open(input, progress)?;
    let encoding = match input.encoding_from_name() {
        Some(encoding) => encoding,
        None => sniff_encoding(&mut stream)
            .with_context(|| format!("cannot read {}", input.display()))?,
    };
    let context = || format!("cannot read {}", input.display());
    Ok(match encoding {
        Encoding::Json => Box::new(JsonSource::with_limits(stream, limits).with_context(context)?),
        Encoding::Yaml => Box::new(YamlSource::with_limits(stream, limits).with_context(context)?),
        Encoding::Csv => Box::new(CsvSource::with_limits(stream, limits).with_context(context)?),
        Encoding::Parquet => match (input.seekable_path(), compression) {
            (Some(path), Compression::None) => Box::new(ParquetSource::new(path.to_path_buf())?),
            _ => Box::new(ParquetSource::from_stream(stream, limits).with_context(context)?),
        },
    })
}

/// The encoding of a stream whose name does not say: JSON starts with `{` or `[`,
/// Parquet with `PAR1`, YAML with `---`, `apiVersion:` or `kind:`, anything else
/// is taken for CSV.
/// Whether a line is an RFC 3339 timestamp, a space and a JSON object.
fn timestamped_json(line: &str) -> bool {
    let bytes = line.as_bytes();
    bytes.len() > 12
        && bytes[..4].iter().all(u8::is_ascii_digit)
        && bytes[4] == b'-'
        && bytes[10] == b'T'
        && line
            .split_once(' ')
            .is_some_and(|(_, rest)| rest.starts_with('{'))
}

fn sniff_encoding(stream: &mut dyn BufRead) -> std::io::Result<Encoding> {
    let head = stream.fill_buf()?;
    if head.starts_with(PARQUET_MAGIC) {
        return Ok(Encoding::Parquet);
    }
    let text = String::from_utf8_lossy(&head[..head.len().min(256)]);
    let text = text.trim_start();
    Ok(match text.as_bytes().first() {
        Some(b'{' | b'[') => Encoding::Json,
        // `2026-11-20T08:00:00.000Z {…}`: a CloudWatch Logs export to S3.
        _ if timestamped_json(text) => Encoding::Json,
        // A YAML document marker, or a manifest's first key.
        _ if text.starts_with("---")
            || text.starts_with("apiVersion:")
            || text.starts_with("kind:") =>
        {
            Encoding::Yaml
        }
        _ => Encoding::Csv,
    })
}
