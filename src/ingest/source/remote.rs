//! Inputs in object storage: `s3://`, `gs://` and `az://` URLs (and Azure's
//! `azure://`, `abfs://`, `abfss://`, `adl://`), listed and read with the
//! object_store crate, the client polars is built on. Credentials and
//! endpoints come from the environment, as each cloud's SDKs read them
//! (`AWS_*`, `GOOGLE_*`, `AZURE_*`; see docs/input-formats.md).
//!
//! An object is read from an offset in ranges fetched as the reader needs
//! them, the next range fetched while the last is parsed; workers read
//! their units (whole objects, or ranges of a large plain one) at once.

use std::collections::HashMap;
use std::io::{self, BufRead, Read};
use std::sync::{Arc, Mutex, OnceLock};

use anyhow::{bail, Context, Result};
use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};
use tokio::runtime::Runtime;

/// The schemes read as object storage.
const SCHEMES: &[&str] = &["s3", "s3a", "gs", "az", "azure", "abfs", "abfss", "adl"];

/// Bytes fetched per request: large enough that a request's latency (tens of
/// ms) is small against its transfer, small enough that a unit's last
/// request fetches little past its end.
const CHUNK: u64 = 8 << 20;

/// Whether an input names object storage rather than a local path.
pub fn is_url(name: &str) -> bool {
    name.split_once("://")
        .is_some_and(|(scheme, _)| SCHEMES.contains(&scheme.to_ascii_lowercase().as_str()))
}

/// One runtime for every request of the run: object_store is async, the
/// readers are threads.
fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("grantgap-objects")
            .enable_all()
            .build()
            .expect("a runtime for object storage starts")
    })
}

/// A URL cut into its store (`s3://bucket`) and the path in it.
fn split(url: &str) -> Result<(&str, &str)> {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let bucket_end = rest.find('/').unwrap_or(rest.len());
    if bucket_end == 0 {
        bail!("{url} names no bucket or container: write {scheme}://BUCKET/PREFIX");
    }
    let store_len = scheme.len() + 3 + bucket_end;
    Ok((&url[..store_len], rest[bucket_end..].trim_matches('/')))
}

/// The client of a store, made once per bucket with the environment's
/// credentials.
fn store(url: &str) -> Result<(Arc<dyn ObjectStore>, ObjectPath)> {
    static STORES: OnceLock<Mutex<HashMap<String, Arc<dyn ObjectStore>>>> = OnceLock::new();
    let (root, key) = split(url)?;
    let mut stores = STORES
        .get_or_init(Default::default)
        .lock()
        .expect("no panic");
    let store = match stores.get(root) {
        Some(store) => store.clone(),
        None => {
            let scheme = root
                .split_once("://")
                .expect("a URL")
                .0
                .to_ascii_lowercase();
            let made: Arc<dyn ObjectStore> = match scheme.as_str() {
                "s3" | "s3a" => Arc::new(
                    object_store::aws::AmazonS3Builder::from_env()
                        .with_url(root)
                        .build()?,
                ),
                "gs" => Arc::new(
                    object_store::gcp::GoogleCloudStorageBuilder::from_env()
                        .with_url(root)
                        .build()?,
                ),
                _ => Arc::new(
                    object_store::azure::MicrosoftAzureBuilder::from_env()
                        .with_url(root)
                        .build()?,
                ),
            };
            stores.insert(root.to_string(), made.clone());
            made
        }
    };
    let path =
        ObjectPath::parse(key).with_context(|| format!("{url} is not a valid object path"))?;
    Ok((store, path))
}

/// Sizes of the objects listed so far, by URL: a listing says them, so no
/// object is asked again.
fn sizes() -> &'static Mutex<HashMap<String, u64>> {
    static SIZES: OnceLock<Mutex<HashMap<String, u64>>> = OnceLock::new();
    SIZES.get_or_init(Default::default)
}

/// The size of an object, from its listing or asked of the store.
pub fn size(url: &str) -> Result<u64> {
    if let Some(size) = sizes().lock().expect("no panic").get(url) {
        return Ok(*size);
    }
    let (store, path) = store(url)?;
    let meta = runtime().block_on(store.head(&path)).with_context(|| {
        format!("cannot read {url}: check the URL and the credentials in the environment")
    })?;
    sizes()
        .lock()
        .expect("no panic")
        .insert(url.to_string(), meta.size);
    Ok(meta.size)
}

/// The objects a URL names, with whether it named each one itself: the
/// object; or, when it ends in `/` or names no object, every object under it;
/// or, with `*`, `?` or `[`, the objects whose URL the glob matches. In URL
/// order.
pub fn list(url: &str) -> Result<Vec<(String, bool)>> {
    let glob_at = url.find(['*', '?', '[']);
    // Listing goes by whole path segments: a glob lists the folder it is in.
    let prefix = glob_at.map_or(url, |at| &url[..url[..at].rfind('/').unwrap_or(at)]);
    let (root, _) = split(url)?;
    let (store, key) = store(prefix)?;
    if glob_at.is_none() && !url.ends_with('/') {
        if let Ok(meta) = runtime().block_on(store.head(&key)) {
            sizes()
                .lock()
                .expect("no panic")
                .insert(url.to_string(), meta.size);
            return Ok(vec![(url.to_string(), true)]);
        }
    }
    // A prefix lists what lies under it as a folder, not keys that merely
    // start with it (`logs/2026` must not take `logs/2026-old/`), unless a
    // glob cuts it mid-name.
    let listed: Vec<_> = runtime()
        .block_on(store.list(Some(&key)).try_collect::<Vec<_>>())
        .with_context(|| {
            format!("cannot list {url}: check the URL and the credentials in the environment")
        })?;
    let pattern = glob_at
        .map(|_| glob::Pattern::new(url))
        .transpose()
        .with_context(|| format!("{url} is not a valid glob pattern"))?;
    let mut found = Vec::new();
    let mut sizes = sizes().lock().expect("no panic");
    for meta in listed {
        let object = format!("{root}/{}", meta.location);
        if pattern.as_ref().is_none_or(|p| p.matches(&object)) {
            sizes.insert(object.clone(), meta.size);
            found.push((object, false));
        }
    }
    found.sort();
    Ok(found)
}

/// An object read from an offset, a range at a time, the next range asked
/// for while the last is read.
pub struct ObjectReader {
    store: Arc<dyn ObjectStore>,
    path: ObjectPath,
    url: String,
    /// The object's size.
    end: u64,
    /// Where the next range to ask for starts.
    next: u64,
    buffer: bytes::Bytes,
    at: usize,
    ahead: Option<tokio::task::JoinHandle<object_store::Result<bytes::Bytes>>>,
}

impl ObjectReader {
    /// The object at `url`, from byte `offset`.
    pub fn open(url: &str, offset: u64) -> Result<Self> {
        let (store, path) = store(url)?;
        let end = size(url)?;
        let mut reader = ObjectReader {
            store,
            path,
            url: url.to_string(),
            end,
            next: offset.min(end),
            buffer: bytes::Bytes::new(),
            at: 0,
            ahead: None,
        };
        reader.ask();
        Ok(reader)
    }

    /// The first `n` bytes of the object at `url` (fewer if it is shorter).
    pub fn head(url: &str, n: u64) -> Result<bytes::Bytes> {
        let (store, path) = store(url)?;
        let end = size(url)?.min(n);
        runtime()
            .block_on(store.get_range(&path, 0..end))
            .with_context(|| format!("cannot read {url}"))
    }

    /// Asks for the next range, if any is left.
    fn ask(&mut self) {
        if self.next >= self.end {
            return;
        }
        let range = self.next..(self.next + CHUNK).min(self.end);
        self.next = range.end;
        let (store, path) = (self.store.clone(), self.path.clone());
        self.ahead = Some(runtime().spawn(async move { store.get_range(&path, range).await }));
    }
}

impl Read for ObjectReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for ObjectReader {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.at == self.buffer.len() {
            if let Some(ahead) = self.ahead.take() {
                let fetched = runtime()
                    .block_on(ahead)
                    .map_err(io::Error::other)?
                    .map_err(|e| io::Error::other(format!("cannot read {}: {e}", self.url)))?;
                self.buffer = fetched;
                self.at = 0;
                self.ask();
            }
        }
        Ok(&self.buffer[self.at..])
    }

    fn consume(&mut self, n: usize) {
        self.at = (self.at + n).min(self.buffer.len());
    }
}
