//! The search on an object store with the network's latency, beside a
//! plain reader that only lists and downloads every object with 64
//! requests in flight.
//!
//! The export (the small-objects shape: .NET style, one to four records a
//! log blob, no padding) sits in memory behind object_store's
//! `ThrottledStore`, which holds each GET and each LIST call back by the
//! latency: a deterministic stand-in for Azure's 10–30 ms per small GET
//! (Azurite serves ~170 requests/s here whatever the client does, and the
//! kernel has no netem). Each figure is one run, printed as objects/s with
//! the search's time over the reader's.
//!
//! Then the listing an index's search makes to vouch for every object
//! (`Store::list_parallel`, folders side by side) beside a plain listing,
//! on 2,903,040 names in an export's folders (the 10 GB export's count),
//! where each LIST request (a
//! page of up to 5,000 names, or one delimited folder) takes the latency.
//!
//! Run: `cargo bench -p crashdsr-search --bench remote`
//! (`CRASHDSR_BENCH_ERRORS`, default 4000: about 16k objects).

use std::sync::Arc;
use std::time::{Duration, Instant};

use crashdsr_emulator::testing::{export_in_memory, throttled};
use crashdsr_search::{SearchOptions, Subject, search};
use crashdsr_store::Store;
use futures::StreamExt;
use futures::TryStreamExt;
use futures::stream::BoxStream;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    ObjectStoreExt, PutMultipartOptions, PutOptions, PutPayload, PutResult,
};

/// Names a LIST page holds (Azure's and S3's most).
const PAGE: usize = 5000;

/// A store whose LIST requests take `latency` each: a page of a listing
/// (5,000 names), or a delimited listing of one folder.
#[derive(Debug)]
struct Paged {
    inner: Arc<dyn ObjectStore>,
    latency: Duration,
}

impl std::fmt::Display for Paged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Paged({})", self.inner)
    }
}

#[async_trait::async_trait]
impl ObjectStore for Paged {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        let latency = self.latency;
        self.inner
            .list(prefix)
            .chunks(PAGE)
            .then(move |page| async move {
                tokio::time::sleep(latency).await;
                futures::stream::iter(page)
            })
            .flatten()
            .boxed()
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        let r = self.inner.list_with_delimiter(prefix).await?;
        let pages = (r.objects.len() + r.common_prefixes.len())
            .div_ceil(PAGE)
            .max(1);
        tokio::time::sleep(self.latency * pages as u32).await;
        Ok(r)
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}

/// The listing of 2,903,040 names in an export's folders (90 days, 24
/// hours, 1,344 objects an hour, about the 10 GB export's count), plain
/// and folder by folder, at 20 ms a request.
async fn listing() {
    let memory: Arc<dyn ObjectStore> = Arc::new(object_store::memory::InMemory::new());
    let mut n = 0usize;
    for day in 0..90 {
        let (month, d) = (9 + day / 30, 1 + day % 30);
        for hour in 0..24 {
            for i in 0..1344 {
                let minute = i * 60 / 1344;
                let path = format!("2026/{month:02}/{d:02}/{hour:02}/{minute:02}/crashes/{i}.json");
                memory
                    .put(&Path::from(path), PutPayload::from_static(b"{}"))
                    .await
                    .unwrap();
                n += 1;
            }
        }
    }
    let store = Arc::new(Paged {
        inner: memory,
        latency: Duration::from_millis(20),
    });
    let source = Store::from_object_store(store, "paged");
    let t = Instant::now();
    let plain: Vec<_> = source.list(None).try_collect().await.unwrap();
    let plain_secs = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let parallel = source.list_parallel(None, 64).await.unwrap();
    let parallel_secs = t.elapsed().as_secs_f64();
    assert_eq!((plain.len(), parallel.len()), (n, n));
    println!("listing {n} names at 20 ms a LIST request:");
    println!(
        "  plain listing (pages in a row)        {plain_secs:>6.2} s  {:>8.0} names/s",
        n as f64 / plain_secs
    );
    println!(
        "  Store::list_parallel, 64 in flight    {parallel_secs:>6.2} s  {:>8.0} names/s  {:.1}× faster",
        n as f64 / parallel_secs,
        plain_secs / parallel_secs
    );
}

/// Lists and downloads every object, `in_flight` at a time; returns the
/// objects and bytes read.
async fn plain_reader(store: &Arc<dyn ObjectStore>, in_flight: usize) -> (u64, u64) {
    store
        .list(None)
        .map_ok(|m| {
            let store = store.clone();
            async move { store.get(&m.location).await?.bytes().await }
        })
        .try_buffer_unordered(in_flight)
        .try_fold((0u64, 0u64), |(n, b), bytes| async move {
            Ok((n + 1, b + bytes.len() as u64))
        })
        .await
        .unwrap()
}

#[tokio::main]
async fn main() {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    println!("machine: {threads} cores");
    let errors = std::env::var("CRASHDSR_BENCH_ERRORS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4000);
    let (memory, objects, jane) = export_in_memory(errors).await;
    let subject = Subject::from_specs("jane", &jane).unwrap();
    println!("export: {objects} objects in memory, {errors} errors; one subject");

    for ms in [0u64, 20] {
        let latency = Duration::from_millis(ms);
        let store = throttled(&memory, latency, false);
        let t = Instant::now();
        let (n, bytes) = plain_reader(&store, 64).await;
        let plain = t.elapsed().as_secs_f64();
        println!(
            "{ms:>2} ms  plain reader, 64 in flight        {plain:>6.2} s  {:>6.0} objects/s  ({n} objects, {:.0} MB)",
            n as f64 / plain,
            bytes as f64 / 1e6
        );
        // The search with its default reads in flight, then with what the
        // remote path kept in flight before (two per thread).
        for (name, io) in [
            ("crashdsr search, --io default (64)", None),
            ("crashdsr search, --io 2×threads   ", Some(2 * threads)),
        ] {
            let source = Store::from_object_store(store.clone(), "throttled");
            let opts = SearchOptions {
                io,
                ..Default::default()
            };
            let t = Instant::now();
            let report = search(&[source], vec![subject.clone()], &opts)
                .await
                .unwrap();
            let secs = t.elapsed().as_secs_f64();
            assert_eq!(report.objects, n, "the search read every object");
            assert!(!report.evidence.is_empty(), "jane is found");
            println!(
                "{ms:>2} ms  {name}  {secs:>6.2} s  {:>6.0} objects/s  {:.2}× the plain reader's time",
                n as f64 / secs,
                secs / plain
            );
        }
    }
    listing().await;
}
