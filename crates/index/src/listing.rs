//! Listing the source: every object by segment with its size and version
//! (what a segment is trusted by), and, for a directory, the modification
//! times of the folders of each export segment (what `--trust-folder-times`
//! trusts a segment by without listing its files).
//!
//! A folder's modification time changes when an entry is added to it,
//! removed from it or renamed in or out of it, and so when a file is
//! replaced by writing a new one and renaming it over the old (as
//! `object_store`, and so crashdsr's erasure, does). It does not change
//! when a file is rewritten in place: that is what trusting folder times
//! gives up, and why it is an option.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crashdsr_store::{Listed, Store};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::segment::{segment_of, segment_prefix};

/// A folder changed less than this before it was listed is not stamped:
/// a change in the same tick of the file system's clock would leave its
/// time as listed.
const SETTLE: Duration = Duration::from_secs(2);

/// Files listed, and folders with their modification times (relative
/// paths; nanoseconds since the epoch).
type Walked = (Vec<Listed>, Vec<(String, u128)>);

/// The source's objects by segment.
#[derive(Debug, Default)]
pub(crate) struct Listing {
    /// Every segment's objects, sorted by path.
    pub segments: BTreeMap<String, Vec<Listed>>,
    /// The newest minute folder of the export (`yyyyMMddHHmm`).
    pub newest: Option<String>,
    /// For a directory, each export segment's folders.
    pub folders: BTreeMap<String, Folders>,
}

/// The folders of one export segment: its hour folder and every folder
/// under it, empty ones too.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Folders {
    /// Their paths under the hour folder (`""` for the hour folder),
    /// sorted.
    pub paths: Vec<String>,
    /// Their stamp ([`stamp`]), `None` when one changed too recently to
    /// be trusted by its time, or when they hold objects of another
    /// segment.
    pub stamp: Option<String>,
}

/// The stamp of a segment's folders: the SHA-256 of their paths (under the
/// hour folder) and modification times.
fn stamp<'a>(folders: impl IntoIterator<Item = (&'a str, u128)>) -> String {
    let mut h = Sha256::new();
    for (path, mtime) in folders {
        h.update(path.as_bytes());
        h.update(b"\t");
        h.update(mtime.to_string().as_bytes());
        h.update(b"\n");
    }
    hex::encode(h.finalize())
}

fn nanos(t: std::io::Result<SystemTime>) -> u128 {
    t.ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos())
}

/// Lists the source (a directory's folders' times too, when `folders`).
pub(crate) async fn list_segments(source: &Store, folders: bool) -> Result<Listing> {
    let started = SystemTime::now();
    let (objects, dirs) = list_source(source, None, folders, HashSet::new()).await?;
    let mut listing = group(objects);
    if folders {
        listing.folders = folders_of(&listing.segments, dirs, started);
    }
    Ok(listing)
}

/// Objects by segment, and the newest minute.
fn group(objects: Vec<Listed>) -> Listing {
    let mut listing = Listing::default();
    for l in objects {
        if let Some(t) = crashdsr_store::export::classify(&l.path).and_then(|b| b.time()) {
            let digits: String = t.chars().filter(char::is_ascii_digit).collect();
            if listing.newest.as_ref().is_none_or(|n| digits > *n) {
                listing.newest = Some(digits);
            }
        }
        listing
            .segments
            .entry(segment_of(&l.path))
            .or_default()
            .push(l);
    }
    for objects in listing.segments.values_mut() {
        objects.sort_by(|a, b| a.path.cmp(&b.path));
    }
    listing
}

/// Each export segment's folders, from every folder listed with its time.
fn folders_of(
    segments: &BTreeMap<String, Vec<Listed>>,
    dirs: Vec<(String, u128)>,
    started: SystemTime,
) -> BTreeMap<String, Folders> {
    let by_prefix: BTreeMap<String, &str> = segments
        .keys()
        .filter(|name| name.starts_with("export/"))
        .filter_map(|name| segment_prefix(name).map(|p| (p, name.as_str())))
        .collect();
    // The nearest folder at or above `path` that is an hour of the export.
    let hour_of = |path: &str| {
        let mut at = path;
        loop {
            if let Some(name) = by_prefix.get(at) {
                return Some((at.len(), *name));
            }
            at = at.rsplit_once('/')?.0;
        }
    };
    // An hour folder that holds objects of another segment (a file the
    // export does not write) is not stamped: a search that trusted it
    // would not list them.
    let mixed: HashSet<&str> = segments
        .iter()
        .filter(|(name, _)| !name.starts_with("export/"))
        .flat_map(|(_, objects)| objects)
        .filter_map(|l| hour_of(l.path.rsplit_once('/')?.0).map(|(_, name)| name))
        .collect();
    let settled = nanos(Ok(started - SETTLE));
    let mut found: BTreeMap<&str, Vec<(String, u128)>> = BTreeMap::new();
    for (dir, mtime) in dirs {
        if let Some((len, name)) = hour_of(&dir) {
            let rel = dir[len..].trim_start_matches('/').to_owned();
            found.entry(name).or_default().push((rel, mtime));
        }
    }
    found
        .into_iter()
        .map(|(name, mut dirs)| {
            dirs.sort();
            let recent = mixed.contains(name) || dirs.iter().any(|(_, m)| *m >= settled);
            let folders = Folders {
                stamp: (!recent).then(|| stamp(dirs.iter().map(|(p, m)| (p.as_str(), *m)))),
                paths: dirs.into_iter().map(|(p, _)| p).collect(),
            };
            (name.to_owned(), folders)
        })
        .collect()
}

/// What a listing that trusts folder times makes of a directory: the
/// segments whose folders are exactly as stamped (not listed), and every
/// other object by segment.
pub(crate) async fn list_trusting(
    source: &Store,
    stamped: Vec<(String, String, Vec<String>)>,
) -> Result<(Vec<String>, Listing)> {
    let Some(root) = source.dir() else {
        return Ok((Vec::new(), list_segments(source, false).await?));
    };
    let root = root.to_owned();
    let (trusted, skip) = tokio::task::spawn_blocking(move || {
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        let next = std::sync::atomic::AtomicUsize::new(0);
        let same = |(name, want, paths): &(String, String, Vec<String>)| {
            let hour = root.join(segment_prefix(name).unwrap_or_default());
            let times = folder_times(&hour, paths)?;
            (stamp(times) == *want).then(|| (name.clone(), hour))
        };
        let found: Vec<(String, PathBuf)> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    scope.spawn(|| {
                        let mut mine = Vec::new();
                        loop {
                            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            let Some(s) = stamped.get(i) else { break mine };
                            mine.extend(same(s));
                        }
                    })
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|w| w.join().expect("a listing thread panicked"))
                .collect()
        });
        let names = found.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
        (
            names,
            found.into_iter().map(|(_, p)| p).collect::<HashSet<_>>(),
        )
    })
    .await
    .map_err(|e| Error::Index(format!("checking the folders ended: {e}")))?;
    let (objects, _) = list_source(source, None, false, skip).await?;
    Ok((trusted, group(objects)))
}

/// The modification times of the folders `paths` under `hour` (`""` for
/// `hour` itself), or `None` when one is missing or is not a folder. Each
/// is looked up from the hour folder, opened once: a path walked from the
/// root for every folder spends most of the check finding its way.
#[cfg(unix)]
fn folder_times<'a>(hour: &Path, paths: &'a [String]) -> Option<Vec<(&'a str, u128)>> {
    use rustix::fs::{AtFlags, FileType, fstat, statat};
    let dir = std::fs::File::open(hour).ok()?;
    paths
        .iter()
        .map(|p| {
            let st = if p.is_empty() {
                fstat(&dir)
            } else {
                statat(&dir, p.as_str(), AtFlags::empty())
            }
            .ok()?;
            if !FileType::from_raw_mode(st.st_mode as _).is_dir() {
                return None;
            }
            // As `SystemTime` since the epoch, which the update stamped.
            let nanos = u128::try_from(st.st_mtime)
                .map_or(0, |s| s * 1_000_000_000 + st.st_mtime_nsec as u128);
            Some((p.as_str(), nanos))
        })
        .collect()
}

#[cfg(not(unix))]
fn folder_times<'a>(hour: &Path, paths: &'a [String]) -> Option<Vec<(&'a str, u128)>> {
    paths
        .iter()
        .map(|p| match std::fs::metadata(hour.join(p)) {
            Ok(m) if m.is_dir() => Some((p.as_str(), nanos(m.modified()))),
            _ => None,
        })
        .collect()
}

/// The objects of segment `name` alone, sorted by path, as
/// [`list_segments`] gives them.
pub(crate) async fn list_segment(source: &Store, name: &str) -> Result<Vec<Listed>> {
    let prefix = segment_prefix(name);
    let (objects, _) = list_source(source, prefix.as_deref(), false, HashSet::new()).await?;
    let mut objects: Vec<Listed> = objects
        .into_iter()
        .filter(|l| segment_of(&l.path) == name)
        .collect();
    objects.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(objects)
}

/// Every object of `source` (under `prefix` only, when given) with its
/// size and version: a directory walked in parallel as a search walks it
/// (every file; the version is the modification time and size; with
/// `folders`, every folder's time too, taken before it is read; folders in
/// `skip` left out), an object store listed folder by folder in parallel
/// (the version is the ETag).
async fn list_source(
    source: &Store,
    prefix: Option<&str>,
    folders: bool,
    skip: HashSet<PathBuf>,
) -> Result<Walked> {
    let Some(root) = source.dir() else {
        let objects = source.list_parallel(prefix, source.default_io()).await?;
        return Ok((objects, Vec::new()));
    };
    let root = root.to_owned();
    let start = prefix.map_or_else(|| root.clone(), |p| root.join(p));
    tokio::task::spawn_blocking(move || walk_dir(&root, start, folders, &skip))
        .await
        .map_err(|e| Error::Index(format!("listing the source ended: {e}")))?
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}

/// Every file under `start` (in `root`, paths relative to `root`), on
/// every core: each thread takes a folder, reads it, stats its files
/// through the folder (no path lookup per file) and queues its subfolders.
fn walk_dir(root: &Path, start: PathBuf, folders: bool, skip: &HashSet<PathBuf>) -> Result<Walked> {
    struct Work {
        dirs: Vec<PathBuf>,
        busy: usize,
        failed: Option<String>,
    }
    let work = Mutex::new(Work {
        dirs: vec![start],
        busy: 0,
        failed: None,
    });
    let wake = Condvar::new();
    let found = Mutex::new((Vec::new(), Vec::new()));
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let one_dir = |dir: &Path,
                   files: &mut Vec<Listed>,
                   dirs: &mut Vec<(String, u128)>,
                   subdirs: &mut Vec<PathBuf>|
     -> std::io::Result<()> {
        if folders {
            dirs.push((
                relative(root, dir),
                nanos(std::fs::metadata(dir)?.modified()),
            ));
        }
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                let path = entry.path();
                if !skip.contains(&path) {
                    subdirs.push(path);
                }
            } else if kind.is_file() {
                let meta = entry.metadata()?;
                let mtime = nanos(meta.modified());
                files.push(Listed {
                    path: relative(root, &entry.path()),
                    size: meta.len(),
                    version: Some(format!("{mtime:x}-{:x}", meta.len())),
                });
            }
        }
        Ok(())
    };
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                let (mut files, mut dirs) = (Vec::new(), Vec::new());
                loop {
                    let dir = {
                        let mut w = work.lock().expect("lock");
                        loop {
                            if w.failed.is_some() {
                                break None;
                            }
                            if let Some(d) = w.dirs.pop() {
                                w.busy += 1;
                                break Some(d);
                            }
                            if w.busy == 0 {
                                break None;
                            }
                            w = wake.wait(w).expect("lock");
                        }
                    };
                    let Some(dir) = dir else { break };
                    let mut subdirs = Vec::new();
                    let outcome = match one_dir(&dir, &mut files, &mut dirs, &mut subdirs) {
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound && dir != root => Ok(()),
                        other => other,
                    };
                    let mut w = work.lock().expect("lock");
                    w.busy -= 1;
                    if let Err(e) = outcome {
                        w.failed.get_or_insert(format!("{}: {e}", dir.display()));
                    }
                    w.dirs.append(&mut subdirs);
                    wake.notify_all();
                }
                let mut all = found.lock().expect("lock");
                all.0.append(&mut files);
                all.1.append(&mut dirs);
            });
        }
    });
    if let Some(e) = work.into_inner().expect("lock").failed {
        return Err(Error::Index(format!("listing the source: {e}")));
    }
    Ok(found.into_inner().expect("lock"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_fall_to_their_hour_and_recent_ones_are_not_stamped() {
        let listed = |p: &str| Listed {
            path: p.into(),
            size: 1,
            version: None,
        };
        let listing = group(vec![
            listed("2026/12/05/10/59/logs.v1.data"),
            listed("2026/12/05/11/00/crashes/e.json"),
            listed("apps/o/a/errors/AB12/download.json"),
            listed("2026/12/05/12/00/logs.v1.data"),
            listed("2026/12/05/12/notes.txt"),
        ]);
        let now = SystemTime::now();
        let old = nanos(Ok(now - Duration::from_secs(3600)));
        let dirs = |hour11: u128| {
            vec![
                (String::new(), old),
                ("2026/12/05".into(), old),
                ("2026/12/05/10".into(), old),
                ("2026/12/05/10/59".into(), old),
                ("2026/12/05/10/59/empty".into(), old),
                ("2026/12/05/11".into(), old),
                ("2026/12/05/11/00/crashes".into(), hour11),
                ("2026/12/05/11/00".into(), old),
                ("apps/o/a/errors/AB12".into(), old),
                ("2026/12/05/12".into(), old),
                ("2026/12/05/12/00".into(), old),
            ]
        };
        let f = folders_of(&listing.segments, dirs(old), now);
        assert_eq!(
            f.keys().collect::<Vec<_>>(),
            [
                "export/2026/12/05/10",
                "export/2026/12/05/11",
                "export/2026/12/05/12"
            ]
        );
        assert_eq!(f["export/2026/12/05/10"].paths, ["", "59", "59/empty"]);
        assert_eq!(f["export/2026/12/05/11"].paths, ["", "00", "00/crashes"]);
        assert!(f["export/2026/12/05/10"].stamp.is_some());
        assert!(f["export/2026/12/05/11"].stamp.is_some());
        // notes.txt is not the export's: a search trusting hour 12 would
        // not list it.
        assert_eq!(f["export/2026/12/05/12"].stamp, None);
        // A folder changed a moment ago: its hour is not stamped, the
        // other is, as before.
        let g = folders_of(&listing.segments, dirs(nanos(Ok(now))), now);
        assert_eq!(g["export/2026/12/05/11"].stamp, None);
        assert_eq!(g["export/2026/12/05/10"], f["export/2026/12/05/10"]);
        // Another time, another stamp.
        let h = folders_of(&listing.segments, dirs(old + 1), now);
        assert_ne!(
            h["export/2026/12/05/11"].stamp,
            f["export/2026/12/05/11"].stamp
        );
    }
}
