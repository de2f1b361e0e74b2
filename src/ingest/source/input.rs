//! Resolving what the user named (files, folders, globs, `-`) into input files,
//! each with the table it holds, and opening them with decompression.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use indicatif::ProgressBar;

use crate::model::Table;

/// One input file (or stdin) and the table it feeds.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct InputFile {
    /// `None` is standard input.
    pub path: Option<PathBuf>,
    pub table: Table,
    /// Named by the user, rather than found in a folder or by a glob: if it cannot
    /// be read the run stops; a found file that cannot be read is counted and skipped.
    pub explicit: bool,
    /// Not a regular file (stdin, a pipe, `<(…)`, a named FIFO): read once, front
    /// to back: never sampled first, cut into ranges or reopened.
    pub stream: bool,
}

impl InputFile {
    /// How the file is named in messages: its path, or `<stdin>`.
    pub fn display(&self) -> String {
        match &self.path {
            Some(p) => p.display().to_string(),
            None => "<stdin>".to_string(),
        }
    }

    /// Size on disk (or in object storage); 0 for stdin and other streams.
    pub fn size(&self) -> u64 {
        if let Some(url) = self.object() {
            return super::remote::size(url).unwrap_or(0);
        }
        self.seekable_path()
            .and_then(|p| std::fs::metadata(p).ok())
            .map_or(0, |m| m.len())
    }

    /// The path of a regular file, which can be reopened and read in parts;
    /// `None` for stdin, other streams and objects in storage.
    pub fn seekable_path(&self) -> Option<&Path> {
        self.path
            .as_deref()
            .filter(|_| !self.stream && self.object().is_none())
    }

    /// The URL of an object in storage (`s3://`, `gs://`, `az://`), whose
    /// path is that URL.
    pub fn object(&self) -> Option<&str> {
        let url = self.path.as_deref()?.to_str()?;
        super::remote::is_url(url).then_some(url)
    }

    /// The encoding, from the name first (ignoring a compression suffix), else `None`
    /// and the caller sniffs the content.
    pub fn encoding_from_name(&self) -> Option<Encoding> {
        let name = self
            .path
            .as_ref()?
            .file_name()?
            .to_str()?
            .to_ascii_lowercase();
        let name = strip_compression_suffix(&name);
        let ext = name.rsplit_once('.').map(|(_, e)| e)?;
        match ext {
            "jsonl" | "ndjson" | "json" | "log" => Some(Encoding::Json),
            "yaml" | "yml" => Some(Encoding::Yaml),
            "csv" => Some(Encoding::Csv),
            "parquet" => Some(Encoding::Parquet),
            _ => None,
        }
    }
}

/// How the records of a file are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// JSON Lines, or one JSON document holding an array of records.
    Json,
    Csv,
    Parquet,
    /// A YAML stream of documents (Kubernetes manifests and `-o yaml` dumps).
    Yaml,
}

/// Compression of a stream, recognised by its magic bytes rather than its name,
/// so a mis-named file still reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    /// The compression of a stream that starts with `head`: the one place
    /// magic bytes are read.
    pub fn sniff(head: &[u8]) -> Self {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }
}

/// The first bytes of a Parquet file.
pub const PARQUET_MAGIC: &[u8] = b"PAR1";

const LOG_EXTENSIONS: &[&str] = &[
    "jsonl", "ndjson", "json", "log", "csv", "parquet", "yaml", "yml",
];

fn strip_compression_suffix(name: &str) -> &str {
    name.strip_suffix(".gz")
        .or_else(|| name.strip_suffix(".zst"))
        .or_else(|| name.strip_suffix(".zstd"))
        .unwrap_or(name)
}

/// Which table a file holds, from its name: `tokens.*`, `role_snapshots.*`, `roles.*`,
/// `policies.*`; anything else is events.
pub fn table_from_name(path: &Path) -> Table {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let stem = strip_compression_suffix(&name);
    let stem = stem.split('.').next().unwrap_or_default();
    match stem {
        "tokens" => Table::Tokens,
        "role_snapshots" => Table::RoleSnapshots,
        "roles" => Table::Roles,
        "policies" => Table::Policies,
        "rbac" | "iam" => Table::Rbac,
        // A dated dump: `iam-2026-11-20T08-00-00Z.json`, `rbac_20261120.json`.
        s if ["rbac-", "rbac_", "iam-", "iam_"]
            .iter()
            .any(|prefix| s.starts_with(prefix)) =>
        {
            Table::Rbac
        }
        _ => Table::Events,
    }
}

fn is_log_file(path: &Path) -> bool {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if name.starts_with('.') {
        return false;
    }
    let name = strip_compression_suffix(&name);
    name.rsplit_once('.')
        .is_some_and(|(_, ext)| LOG_EXTENSIONS.contains(&ext))
}

/// Expands one argument into input files. `forced` sets the table for every file
/// (the `--tokens F` style flags); otherwise the table comes from each file's name.
///
/// A folder is read as a bundle: every log file in it, recursively, in path order,
/// each file once however many links lead to it. A pipe or FIFO is read once, as
/// a stream; a device or socket is refused (`/dev/zero` never ends).
pub fn resolve(arg: &str, forced: Option<Table>) -> Result<Vec<InputFile>> {
    if arg == "-" {
        return Ok(vec![InputFile {
            path: None,
            table: forced.unwrap_or(Table::Events),
            explicit: true,
            stream: true,
        }]);
    }
    if super::remote::is_url(arg) {
        // Under a prefix, as in a folder, only log files; a glob takes what it matches.
        let glob = arg.contains(['*', '?', '[']);
        let mut objects = super::remote::list(arg)?;
        objects.retain(|(url, named)| *named || glob || is_log_file(Path::new(url)));
        if objects.is_empty() {
            bail!(
                "nothing under {arg} is a log file (.jsonl, .json, .csv, .parquet, optionally .gz \
                 or .zst): check the URL"
            );
        }
        return Ok(objects
            .into_iter()
            .map(|(url, explicit)| InputFile {
                table: forced.unwrap_or_else(|| table_from_name(Path::new(&url))),
                path: Some(PathBuf::from(url)),
                explicit,
                stream: false,
            })
            .collect());
    }
    let classify = |p: PathBuf, explicit: bool, stream: bool| InputFile {
        table: forced.unwrap_or_else(|| table_from_name(&p)),
        path: Some(p),
        explicit,
        stream,
    };
    let path = Path::new(arg);
    if let Ok(meta) = std::fs::metadata(path) {
        use std::os::unix::fs::FileTypeExt;
        let kind = meta.file_type();
        if meta.is_dir() {
            let mut found = Found::default();
            walk(path, &mut found).with_context(|| format!("cannot list folder {arg}"))?;
            let mut files = found.files;
            files.sort();
            if files.is_empty() {
                bail!("folder {arg} holds no log files (.jsonl, .json, .csv, .parquet, optionally .gz or .zst)");
            }
            return Ok(files
                .into_iter()
                .map(|p| classify(p, false, false))
                .collect());
        }
        if kind.is_fifo() {
            return Ok(vec![classify(path.to_path_buf(), true, true)]);
        }
        if kind.is_char_device() || kind.is_block_device() || kind.is_socket() {
            bail!("input {arg} is a device or socket, not a log: give a file, a folder, a glob, or - for stdin");
        }
        return Ok(vec![classify(path.to_path_buf(), true, false)]);
    }
    if arg.contains(['*', '?', '[']) {
        let mut files: Vec<PathBuf> = glob::glob(arg)
            .with_context(|| format!("{arg} is not a valid glob pattern"))?
            .filter_map(|entry| entry.ok())
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        if files.is_empty() {
            bail!("no file matches {arg}: check the pattern and quote it so the shell does not expand it");
        }
        return Ok(files
            .into_iter()
            .map(|p| classify(p, false, false))
            .collect());
    }
    if std::fs::symlink_metadata(path).is_ok() {
        bail!("input {arg} is a link that leads nowhere or round in a loop: give the file it should name");
    }
    bail!("input {arg} does not exist: give a file, a folder, a glob or - for stdin")
}

/// What a walk of a folder found: its log files, and the folders and files
/// already seen (by device and inode), so that a link back up the tree
/// (`ln -s . again`) is not followed round and round, and a file reached by two
/// paths is read once.
#[derive(Default)]
struct Found {
    files: Vec<PathBuf>,
    seen: std::collections::HashSet<(u64, u64)>,
}

fn walk(dir: &Path, found: &mut Found) -> io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(dir)?;
    if !found.seen.insert((meta.dev(), meta.ino())) {
        return Ok(());
    }
    // In path order, so which of two links to one file is kept does not depend
    // on the order the folder lists them in.
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<io::Result<_>>()?;
    entries.sort();
    for path in entries {
        match std::fs::metadata(&path) {
            Ok(meta) if meta.is_dir() => {
                // A folder inside that cannot be listed is counted and skipped
                // like an unreadable file (ingest cannot open it), named in the
                // report, rather than ending the run.
                if walk(&path, found).is_err() {
                    found.files.push(path);
                }
            }
            Ok(meta) if meta.is_file() && is_log_file(&path) => {
                if found.seen.insert((meta.dev(), meta.ino())) {
                    found.files.push(path);
                }
            }
            // Devices, pipes and sockets found in a folder are not logs.
            Ok(_) => {}
            // A link that leads nowhere, or in a loop: unreadable, so counted.
            Err(_) if is_log_file(&path) => found.files.push(path),
            Err(_) => {}
        }
    }
    Ok(())
}

/// Counts the raw bytes read from a file into the progress bar, so progress is
/// measured on disk bytes whether or not the file is compressed.
pub struct Counted<R> {
    pub inner: R,
    pub progress: ProgressBar,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.inc(n as u64);
        Ok(n)
    }
}

/// A byte range of a plain file: mapped into memory ([`Mapped`]), or read with
/// `read` where mapping is turned off (`--no-mmap`) or fails.
pub enum PlainRange {
    Mapped(Mapped),
    Read(BufReader<Counted<io::Take<File>>>),
    /// A range of an object in storage, asked for as it is read.
    Object(super::remote::ObjectReader),
}

impl PlainRange {
    /// `file` from where it is positioned to its end, for a reader that stops
    /// at the first line starting past byte `end`.
    pub fn lines_from(
        mut file: File,
        end: u64,
        mmap: bool,
        progress: ProgressBar,
    ) -> io::Result<Self> {
        let offset = file.stream_position()?;
        let wanted = end.saturating_sub(offset).saturating_add(LAST_LINE_SLACK);
        Ok(Self::new(file, offset, None, wanted, mmap, progress))
    }

    /// `file` from where it is positioned up to byte `end`, and no more.
    pub fn up_to(mut file: File, end: u64, mmap: bool, progress: ProgressBar) -> io::Result<Self> {
        let offset = file.stream_position()?;
        let len = end.saturating_sub(offset);
        Ok(Self::new(file, offset, Some(len), len, mmap, progress))
    }

    fn new(
        file: File,
        offset: u64,
        len: Option<u64>,
        wanted: u64,
        mmap: bool,
        progress: ProgressBar,
    ) -> Self {
        if mmap {
            if let Ok(mapped) = Mapped::new(&file, offset, len, wanted, progress.clone()) {
                return PlainRange::Mapped(mapped);
            }
        }
        PlainRange::Read(BufReader::with_capacity(
            1 << 20,
            Counted {
                inner: file.take(len.unwrap_or(u64::MAX)),
                progress,
            },
        ))
    }
}

impl Read for PlainRange {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            PlainRange::Mapped(m) => m.read(buf),
            PlainRange::Read(r) => r.read(buf),
            PlainRange::Object(o) => o.read(buf),
        }
    }
}

impl BufRead for PlainRange {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        match self {
            PlainRange::Mapped(m) => m.fill_buf(),
            PlainRange::Read(r) => r.fill_buf(),
            PlainRange::Object(o) => o.fill_buf(),
        }
    }

    fn consume(&mut self, n: usize) {
        match self {
            PlainRange::Mapped(m) => m.consume(n),
            PlainRange::Read(r) => r.consume(n),
            PlainRange::Object(o) => o.consume(n),
        }
    }
}

/// Bytes of a plain file from an offset (to its end, or for a given length),
/// mapped into memory and read in place: the lines a worker parses are the
/// page cache's own pages.
///
/// Why not `read`: on this project's 2-core VM, copying pages out of the page
/// cache often runs at 0.35-0.7 GB/s (`dd bs=1M` of a cached 2 GB file; a copy
/// between two heap buffers runs at 8.5 GB/s: memory left idle is slow to touch
/// again there, see benches/README.md), and `_copy_to_iter` took 11-19% of a
/// 2 GB run's CPU. Faulting mapped pages in one at a time costs as
/// much (user time rose by what system time fell), so the pages are mapped in
/// a window at a time ahead of the reader (`MADV_POPULATE_READ`: 0.1 s of
/// system time for 2 GB); then neither a copy nor a fault follows.
pub struct Mapped {
    map: memmap2::Mmap,
    pos: usize,
    /// The first bytes of the map whose pages are mapped in.
    populated: usize,
    /// The bytes the reader is expected to read: mapped in a window at a time.
    wanted: usize,
    /// Bytes consumed and not yet counted into the progress bar.
    uncounted: usize,
    progress: ProgressBar,
}

/// Progress is counted in steps this large, not per line.
const PROGRESS_STEP: usize = 1 << 20;
/// Bytes past a range's end mapped in with it, for the line the end cuts.
const LAST_LINE_SLACK: u64 = 1 << 16;
/// Pages are mapped in this many bytes at a time, one window ahead of the
/// reader: a file not in the page cache is then read from disk (asked for
/// whole when the range opens) while the reader parses the window before.
/// Mapping the whole range in first left the core idle while the disk read
/// it (2 GB from a cold cache: 9.4-13.0 s, against 8.5 s with `read`).
const POPULATE_WINDOW: usize = 1 << 20;

impl Mapped {
    /// `len` bytes of `file` from byte `offset` (else all to its end), of
    /// which the reader is expected to read the first `wanted`.
    pub fn new(
        file: &File,
        offset: u64,
        len: Option<u64>,
        wanted: u64,
        progress: ProgressBar,
    ) -> io::Result<Self> {
        let mut options = memmap2::MmapOptions::new();
        options.offset(offset);
        if let Some(len) = len {
            options.len(usize::try_from(len).map_err(io::Error::other)?);
        }
        // SAFETY: the map is only read. If another process truncates the file
        // while it is read (logrotate's `copytruncate`), touching the lost pages
        // ends the run with SIGBUS: `--no-mmap` reads with `read` instead.
        // Appending is harmless: the map ends where the file did.
        let map = unsafe { options.map(file)? };
        let wanted = usize::try_from(wanted).map_or(map.len(), |w| w.min(map.len()));
        // Hints only: where one fails, pages are read and mapped as touched.
        // The disk starts reading the whole range now, without waiting.
        #[cfg(unix)]
        let _ = map.advise_range(memmap2::Advice::WillNeed, 0, wanted);
        let mut mapped = Mapped {
            map,
            pos: 0,
            populated: 0,
            wanted,
            uncounted: 0,
            progress,
        };
        mapped.populate_ahead();
        Ok(mapped)
    }

    /// Maps in the pages of the next window once the reader is within a
    /// window of the end of those mapped in.
    fn populate_ahead(&mut self) {
        while self.populated < self.wanted && self.pos + POPULATE_WINDOW > self.populated {
            let len = POPULATE_WINDOW.min(self.wanted - self.populated);
            #[cfg(target_os = "linux")]
            let _ = self
                .map
                .advise_range(memmap2::Advice::PopulateRead, self.populated, len);
            self.populated += len;
        }
    }
}

impl Read for Mapped {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = (&self.map[self.pos..]).read(buf)?;
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for Mapped {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        Ok(&self.map[self.pos..])
    }

    fn consume(&mut self, n: usize) {
        self.pos += n;
        if self.pos + POPULATE_WINDOW > self.populated {
            self.populate_ahead();
        }
        self.uncounted += n;
        if self.uncounted >= PROGRESS_STEP {
            self.progress.inc(self.uncounted as u64);
            self.uncounted = 0;
        }
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        self.progress.inc(self.uncounted as u64);
    }
}

/// Opens an input as a buffered stream of decompressed bytes, and says which
/// compression it had.
pub fn open(
    input: &InputFile,
    progress: &ProgressBar,
) -> Result<(Box<dyn BufRead + Send>, Compression)> {
    let raw: Box<dyn Read + Send> = match &input.path {
        Some(_) if input.object().is_some() => {
            let url = input.object().expect("an object");
            Box::new(super::remote::ObjectReader::open(url, 0)?)
        }
        Some(path) => Box::new(File::open(path).with_context(|| {
            format!(
                "cannot open {}: check that it exists and is readable",
                path.display()
            )
        })?),
        None => Box::new(io::stdin()),
    };
    let mut reader = BufReader::with_capacity(
        1 << 20,
        Counted {
            inner: raw,
            progress: progress.clone(),
        },
    );
    let magic = reader
        .fill_buf()
        .with_context(|| format!("cannot read {}", input.display()))?;
    let compression = Compression::sniff(magic);
    let stream: Box<dyn BufRead + Send> = match compression {
        Compression::None => Box::new(reader),
        // Multi-member: concatenated gzip files (as CloudTrail and `cat a.gz b.gz` write) are one stream.
        Compression::Gzip => super::gunzip::decoder(reader),
        Compression::Zstd => Box::new(BufReader::with_capacity(
            1 << 20,
            zstd::Decoder::with_buffer(reader).context("cannot start zstd decoder")?,
        )),
    };
    Ok((stream, compression))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a range reads, line by line, mapped or not, and the bytes it
    /// counted into the progress bar once dropped.
    fn read_range(bytes: &[u8], offset: u64, mmap: bool) -> (Vec<String>, u64) {
        use std::io::{Seek, SeekFrom, Write};
        let mut tmp = tempfile::NamedTempFile::new().unwrap();
        tmp.write_all(bytes).unwrap();
        let mut file = File::open(tmp.path()).unwrap();
        file.seek(SeekFrom::Start(offset)).unwrap();
        let progress = ProgressBar::hidden();
        let mut range =
            PlainRange::lines_from(file, bytes.len() as u64, mmap, progress.clone()).unwrap();
        assert_eq!(matches!(range, PlainRange::Mapped(_)), mmap);
        let mut lines = Vec::new();
        let mut line = String::new();
        while range.read_line(&mut line).unwrap() > 0 {
            lines.push(std::mem::take(&mut line));
        }
        drop(range);
        (lines, progress.position())
    }

    #[test]
    fn a_mapped_range_reads_what_read_reads() {
        let text = "first\nsecond line\n\nlast, no newline";
        for offset in [0, 3, 6, text.len() as u64 - 1, text.len() as u64] {
            let mapped = read_range(text.as_bytes(), offset, true);
            let read = read_range(text.as_bytes(), offset, false);
            assert_eq!(mapped, read, "offset {offset}");
            assert_eq!(
                mapped.0.concat(),
                text[offset as usize..],
                "offset {offset}"
            );
            assert_eq!(mapped.1, text.len() as u64 - offset, "every byte counted");
        }
        // Past one progress step, and through `Read` as well as `BufRead`.
        let big = "x".repeat(3 * PROGRESS_STEP + 5);
        let (lines, counted) = read_range(big.as_bytes(), 1, true);
        assert_eq!(
            (lines.concat().len() as u64, counted),
            (big.len() as u64 - 1, big.len() as u64 - 1)
        );
        let mut tmp = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut tmp, b"abcdef").unwrap();
        let mut mapped = Mapped::new(
            &File::open(tmp.path()).unwrap(),
            2,
            None,
            4,
            ProgressBar::hidden(),
        )
        .unwrap();
        let mut buf = [0u8; 3];
        assert_eq!(mapped.read(&mut buf).unwrap(), 3);
        assert_eq!(&buf, b"cde");
        assert_eq!(mapped.fill_buf().unwrap(), b"f");
        // Exactly a range, mapped or read.
        for mmap in [true, false] {
            let mut file = File::open(tmp.path()).unwrap();
            std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(1)).unwrap();
            let progress = ProgressBar::hidden();
            let mut range = PlainRange::up_to(file, 4, mmap, progress.clone()).unwrap();
            let mut text = String::new();
            range.read_to_string(&mut text).unwrap();
            drop(range);
            assert_eq!(
                (text.as_str(), progress.position()),
                ("bcd", 3),
                "mmap {mmap}"
            );
        }
    }

    #[test]
    fn tables_come_from_file_names() {
        assert_eq!(table_from_name(Path::new("x/tokens.jsonl")), Table::Tokens);
        assert_eq!(
            table_from_name(Path::new("role_snapshots.csv.gz")),
            Table::RoleSnapshots
        );
        assert_eq!(table_from_name(Path::new("roles.parquet")), Table::Roles);
        assert_eq!(
            table_from_name(Path::new("policies.json.zst")),
            Table::Policies
        );
        assert_eq!(
            table_from_name(Path::new("gateway-2026-11-01.jsonl")),
            Table::Events
        );
    }

    #[test]
    fn folders_are_bundles_and_skip_non_logs() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["events.jsonl", "tokens.csv", "README.md", "roles.json.gz"] {
            std::fs::write(dir.path().join(name), "").unwrap();
        }
        let files = resolve(dir.path().to_str().unwrap(), None).unwrap();
        let tables: Vec<_> = files.iter().map(|f| f.table).collect();
        assert_eq!(tables, vec![Table::Events, Table::Roles, Table::Tokens]);
    }

    #[test]
    fn missing_input_is_a_clear_error() {
        let err = resolve("/nonexistent/file.jsonl", None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("does not exist"), "{err}");
    }

    #[test]
    fn compression_is_sniffed_from_content() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.jsonl"); // no .gz on purpose
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(b"{\"a\":1}\n").unwrap();
        std::fs::write(&path, gz.finish().unwrap()).unwrap();
        let input = InputFile {
            path: Some(path),
            table: Table::Events,
            explicit: true,
            stream: false,
        };
        let (mut stream, compression) = open(&input, &ProgressBar::hidden()).unwrap();
        let mut text = String::new();
        stream.read_to_string(&mut text).unwrap();
        assert_eq!(
            (compression, text.as_str()),
            (Compression::Gzip, "{\"a\":1}\n")
        );
    }
}
