//! `crashdsr index`: build, update and verify a keyed-hash index of a
//! source, and make a key; and `--index` for search, request and erase.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use crashdsr_index::{BuildOptions, Index, Key, Narrowing};
use crashdsr_search::{IndexUse, Narrow, SearchReport};
use crashdsr_store::Store;

use crate::cli::{GlobalArgs, IndexAt, IndexBuildArgs, IndexCommand, UseIndexArgs};
use crashdsr_crawl::Progress as _;

use crate::progress::Bar;

fn key(file: Option<&std::path::Path>) -> anyhow::Result<Key> {
    let file = file.context(
        "the index needs its key: give --key-file FILE or set CRASHDSR_INDEX_KEY_FILE \
         (make one with `crashdsr index keygen FILE`)",
    )?;
    Ok(Key::from_file(file)?)
}

/// The narrowing `--index` asks for, if any.
pub(crate) fn narrowing(args: &UseIndexArgs) -> anyhow::Result<Option<Arc<dyn Narrow>>> {
    let Some(url) = &args.index else {
        return Ok(None);
    };
    let index = Index::open(url, key(args.key_file.as_deref())?)?;
    Ok(Some(Arc::new(
        Narrowing::new(index).trust_folder_times(args.trust_folder_times),
    )))
}

/// After an erasure or a purge changed `sources`: brings the index of
/// `args` up to date for the one it covers, so it no longer holds the
/// tokens of what was erased. Returns what the receipt says of it.
pub(crate) async fn after_change(
    global: &GlobalArgs,
    args: &UseIndexArgs,
    sources: &[String],
) -> anyhow::Result<Option<serde_json::Value>> {
    let Some(url) = &args.index else {
        return Ok(None);
    };
    let index = Index::open(url, key(args.key_file.as_deref())?)?;
    let Some(manifest) = index.manifest().await? else {
        anyhow::bail!("there is no index at {url} to bring up to date");
    };
    for s in sources {
        let source = Store::open(s)?;
        if crashdsr_index::source_identity(&source) != manifest.source {
            continue;
        }
        eprintln!("crashdsr: bringing the index {} up to date", index.url());
        let queue = crashdsr_index::Queue::new(super::crawl::open_store(global).await?);
        let report =
            crashdsr_index::update(&index, &source, &BuildOptions::default(), Some(&queue)).await?;
        return Ok(Some(serde_json::json!({
            "url": index.url(),
            "segments_rebuilt": report.segments_built,
            "segments_dropped": report.segments_dropped,
        })));
    }
    eprintln!(
        "crashdsr: warning: the index {} is of none of these sources; it was left as it is",
        index.url()
    );
    Ok(None)
}

/// One line per source an index answered for, on stderr: how much it
/// answered and what fell back to a scan.
pub(crate) fn tell(report: &SearchReport) {
    if let Some(why) = &report.narrow_refused {
        eprintln!("crashdsr: index not used: {why}; every object was read.");
    }
    for u in &report.narrowed {
        eprintln!("crashdsr: index: {}", summary(u));
        for w in &u.warnings {
            eprintln!("crashdsr: index: warning: {w}");
        }
    }
}

fn summary(u: &IndexUse) -> String {
    let by_times = if u.segments_by_folder_times > 0 {
        format!(" ({} trusted by folder times)", u.segments_by_folder_times)
    } else {
        String::new()
    };
    format!(
        "source {}: {} segments answered from the index{by_times}, {} scanned in full; {} objects vouched for, \
         {} of them read as candidates, {} read in full ({} passes)",
        u.source,
        u.segments,
        u.segments_scanned,
        u.objects_vouched,
        u.candidates,
        u.objects_scanned,
        u.passes
    )
}

/// The `"kind": "index"` lines of `--json`.
pub(crate) fn json_lines(report: &SearchReport) -> Vec<serde_json::Value> {
    let mut out: Vec<serde_json::Value> = report
        .narrowed
        .iter()
        .map(|u| {
            let mut v = serde_json::to_value(u).expect("serialises");
            v["kind"] = "index".into();
            v["used"] = true.into();
            v
        })
        .collect();
    if let Some(why) = &report.narrow_refused {
        out.push(serde_json::json!({"kind": "index", "used": false, "why": why}));
    }
    out
}

pub(crate) async fn run(global: &GlobalArgs, cmd: IndexCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        IndexCommand::Build(a) => build(global, a, true).await,
        IndexCommand::Update(a) => build(global, a, false).await,
        IndexCommand::Verify(a) => verify(a).await,
        IndexCommand::Keygen { file } => {
            Key::generate(&file)?;
            eprintln!(
                "crashdsr: wrote a new index key to {}; keep it apart from the index",
                file.display()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn build(
    global: &GlobalArgs,
    args: IndexBuildArgs,
    rebuild: bool,
) -> anyhow::Result<ExitCode> {
    let (index, source) = open(&args.at)?;
    let mut opts = BuildOptions {
        rebuild,
        io: args.io.max(1),
        ..BuildOptions::default()
    };
    if let Some(t) = args.threads {
        opts.threads = t.max(1);
    }
    opts.limits.max_expand = args.max_expand;
    let bar = Bar::new("objects indexed", global.no_progress);
    let progress = opts.progress.clone();
    let watch = async {
        let mut shown = 0;
        loop {
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            let now = progress.load(std::sync::atomic::Ordering::Relaxed);
            bar.inc(now - shown);
            shown = now;
        }
    };
    let queue = crashdsr_index::Queue::new(super::crawl::open_store(global).await?);
    let started = std::time::Instant::now();
    let report = tokio::select! {
        r = crashdsr_index::update(&index, &source, &opts, Some(&queue)) => r,
        () = watch => unreachable!("the progress display never ends"),
        _ = tokio::signal::ctrl_c() => {
            // Others take this worker's segments over at once.
            bar.finish();
            for i in 0..opts.threads.max(1) {
                queue.state.release_segments(&queue.thread(i)).await?;
            }
            anyhow::bail!("interrupted; the segments this worker held are free for others");
        }
    };
    bar.finish();
    let report = report?;
    if args.at.json {
        let mut v = serde_json::to_value(&report)?;
        v["seconds"] = started.elapsed().as_secs_f64().into();
        println!("{v}");
    } else {
        println!(
            "Index {}: {} segments built, {} kept, {} dropped, {} still open (scanned by searches until sealed); \
             {} objects ({} bytes) read in {:.1} s, {} not vouched for; the index holds {} objects ({} bytes) in {} bytes.",
            index.url(),
            report.built,
            report.kept,
            report.dropped,
            report.open,
            report.objects_read,
            report.bytes_read,
            started.elapsed().as_secs_f64(),
            report.unvouched,
            report.objects,
            report.bytes,
            report.index_bytes
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The index and the source `at` names.
fn open(at: &IndexAt) -> anyhow::Result<(Index, Store)> {
    let index = Index::open(&at.index, key(at.key_file.as_deref())?)?;
    Ok((index, Store::open(&at.source)?))
}

async fn verify(args: IndexAt) -> anyhow::Result<ExitCode> {
    let (index, source) = open(&args)?;
    let report = crashdsr_index::verify(&index, &source).await?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!(
            "Index {}: {} segments current, {} stale, {} damaged or missing, {} segments of the source not indexed, {} stray files.",
            index.url(),
            report.current,
            report.stale.len(),
            report.damaged.len(),
            report.unindexed,
            report.strays.len()
        );
        for d in &report.damaged {
            println!("damaged: {d}");
        }
        for s in &report.stale {
            println!("stale: {s}");
        }
    }
    Ok(ExitCode::from(if !report.intact() {
        2
    } else if report.stale.is_empty() {
        0
    } else {
        1
    }))
}
