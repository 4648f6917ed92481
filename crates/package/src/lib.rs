/*!
The DSR package: a deterministic zip and its verification.

# Brief overview

A [`PackageBuilder`] collects named files (bytes, or files on disk that are
streamed) and [`PackageBuilder::write`]s a zip whose entries are sorted, carry
a fixed timestamp and mode 0600, and end with `SHA256SUMS`: the same inputs
give the same bytes. The zip is written to `PATH.partial`, synced and renamed,
and created with mode 0600. [`verify`] checks every file against
`SHA256SUMS` and reports what was changed, removed or added.
[`keyed_hash`] is how identifiers are recorded without their values.
*/
#![warn(missing_docs)]

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufReader, BufWriter, Read, Seek, Write};
use std::path::{Path, PathBuf};

use hmac::{KeyInit, Mac};
use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipArchive, ZipWriter};

/// The checksum file, last in every package.
pub const SUMS: &str = "SHA256SUMS";

/// An error writing or reading a package.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file name that cannot go into a package.
    #[error("refusing the package entry name {0:?}")]
    BadName(String),
    /// The output exists and overwriting was not asked for.
    #[error("{0} exists; pass --force to replace it")]
    Exists(PathBuf),
    /// Reading or writing failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// Encryption or decryption failed (bad recipient, wrong key).
    #[error("{0}")]
    Crypto(String),
    /// The zip could not be written or read.
    #[error("{context}: {source}")]
    Zip {
        /// What was being done.
        context: String,
        /// The error.
        #[source]
        source: zip::result::ZipError,
    },
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let context = context.into();
    move |source| Error::Io { context, source }
}

fn zerr(context: impl Into<String>) -> impl FnOnce(zip::result::ZipError) -> Error {
    let context = context.into();
    move |source| Error::Zip { context, source }
}

/// HMAC-SHA256 of an identifier's value under the controller's key, hex:
/// the same identifier gives the same hash, and the value cannot be read
/// back.
pub fn keyed_hash(key: &[u8], value: &str) -> String {
    let mut mac = hmac::Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(value.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

#[derive(Debug, Clone)]
enum Content {
    Bytes(Vec<u8>),
    File(PathBuf),
}

/// Collects the files of a package.
#[derive(Debug, Default, Clone)]
pub struct PackageBuilder {
    files: BTreeMap<String, Content>,
}

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The package's path.
    pub path: PathBuf,
    /// SHA-256 of the whole package, hex.
    pub sha256: String,
    /// Every entry with its SHA-256 (without `SHA256SUMS`).
    pub files: BTreeMap<String, String>,
}

fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name != SUMS
        && !name.starts_with('/')
        && name
            .split('/')
            .all(|p| !p.is_empty() && p != "." && p != "..")
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::BadName(name.to_owned()))
    }
}

fn sha256_of(content: &Content) -> Result<String> {
    match content {
        Content::Bytes(b) => Ok(hex::encode(Sha256::digest(b))),
        Content::File(p) => {
            let mut f =
                BufReader::new(File::open(p).map_err(io(format!("reading {}", p.display())))?);
            let mut h = Sha256::new();
            let mut buf = vec![0u8; 1 << 16];
            loop {
                let n = f
                    .read(&mut buf)
                    .map_err(io(format!("reading {}", p.display())))?;
                if n == 0 {
                    break;
                }
                h.update(&buf[..n]);
            }
            Ok(hex::encode(h.finalize()))
        }
    }
}

impl PackageBuilder {
    /// An empty package.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a file from memory.
    pub fn add_bytes(&mut self, name: &str, bytes: impl Into<Vec<u8>>) -> Result<()> {
        check_name(name)?;
        self.files
            .insert(name.to_owned(), Content::Bytes(bytes.into()));
        Ok(())
    }

    /// Adds a file from disk (streamed when written).
    pub fn add_file(&mut self, name: &str, path: &Path) -> Result<()> {
        check_name(name)?;
        self.files
            .insert(name.to_owned(), Content::File(path.to_owned()));
        Ok(())
    }

    /// The names of the files added so far, in order.
    pub fn names(&self) -> Vec<String> {
        self.files.keys().cloned().collect()
    }

    /// The bytes of a file added, if there is one of that name.
    pub fn read(&self, name: &str) -> Result<Option<Vec<u8>>> {
        match self.files.get(name) {
            None => Ok(None),
            Some(Content::Bytes(b)) => Ok(Some(b.clone())),
            Some(Content::File(p)) => std::fs::read(p)
                .map(Some)
                .map_err(io(format!("reading {}", p.display()))),
        }
    }

    /// Takes a file out again.
    pub fn remove(&mut self, name: &str) {
        self.files.remove(name);
    }

    /// The SHA-256 of every file added so far (for a manifest).
    pub fn digests(&self) -> Result<BTreeMap<String, String>> {
        self.files
            .iter()
            .map(|(n, c)| Ok((n.clone(), sha256_of(c)?)))
            .collect()
    }

    /// Writes the package to `path` (via `PATH.partial`, synced, then
    /// renamed; mode 0600). An existing `path` is refused unless `force`.
    pub fn write(&self, path: &Path, force: bool) -> Result<Written> {
        if path.exists() && !force {
            return Err(Error::Exists(path.to_owned()));
        }
        let mut partial = path.as_os_str().to_owned();
        partial.push(".partial");
        let partial = PathBuf::from(partial);
        let result = self.write_to(&partial);
        match result {
            Ok(files) => {
                std::fs::rename(&partial, path)
                    .map_err(io(format!("renaming {}", partial.display())))?;
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    // Make the rename itself durable.
                    let _ = File::open(dir).and_then(|d| d.sync_all());
                }
                let sha256 = sha256_of(&Content::File(path.to_owned()))?;
                Ok(Written {
                    path: path.to_owned(),
                    sha256,
                    files,
                })
            }
            Err(e) => {
                let _ = std::fs::remove_file(&partial);
                Err(e)
            }
        }
    }

    /// Writes the package to `out`, sealed with age when `seal` is given
    /// (the plain zip exists only until it is sealed, as `OUT.plain`).
    pub fn write_sealed(&self, out: &Path, seal: Option<&Seal>, force: bool) -> Result<Written> {
        let Some(how) = seal else {
            return self.write(out, force);
        };
        if out.exists() && !force {
            return Err(Error::Exists(out.to_owned()));
        }
        let plain = PathBuf::from(format!("{}.plain", out.display()));
        let w = self.write(&plain, true)?;
        let sealed = self::seal(&plain, out, how);
        let _ = std::fs::remove_file(&plain);
        sealed?;
        Ok(Written {
            path: out.to_owned(),
            sha256: sha256_file(out)?,
            files: w.files,
        })
    }

    fn write_to(&self, partial: &Path) -> Result<BTreeMap<String, String>> {
        let mut open = OpenOptions::new();
        open.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut open, 0o600);
        let file = open
            .open(partial)
            .map_err(io(format!("creating {}", partial.display())))?;
        let mut zip = ZipWriter::new(BufWriter::new(file));
        let opts = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Deflated)
            .last_modified_time(DateTime::default())
            .unix_permissions(0o600);
        let mut digests = BTreeMap::new();
        let mut buf = vec![0u8; 1 << 16];
        for (name, content) in &self.files {
            zip.start_file(name.as_str(), opts)
                .map_err(zerr(format!("adding {name}")))?;
            let mut h = Sha256::new();
            match content {
                Content::Bytes(b) => {
                    h.update(b);
                    zip.write_all(b).map_err(io(format!("writing {name}")))?;
                }
                Content::File(p) => {
                    let mut f = BufReader::new(
                        File::open(p).map_err(io(format!("reading {}", p.display())))?,
                    );
                    loop {
                        let n = f
                            .read(&mut buf)
                            .map_err(io(format!("reading {}", p.display())))?;
                        if n == 0 {
                            break;
                        }
                        h.update(&buf[..n]);
                        zip.write_all(&buf[..n])
                            .map_err(io(format!("writing {name}")))?;
                    }
                }
            }
            digests.insert(name.clone(), hex::encode(h.finalize()));
        }
        let sums: String = digests.iter().map(|(n, d)| format!("{d}  {n}\n")).collect();
        zip.start_file(SUMS, opts)
            .map_err(zerr("adding SHA256SUMS"))?;
        zip.write_all(sums.as_bytes())
            .map_err(io("writing SHA256SUMS"))?;
        let w = zip
            .finish()
            .map_err(zerr(format!("finishing {}", partial.display())))?;
        let file = w.into_inner().map_err(|e| Error::Io {
            context: format!("flushing {}", partial.display()),
            source: e.into_error(),
        })?;
        file.sync_all()
            .map_err(io(format!("syncing {}", partial.display())))?;
        Ok(digests)
    }
}

/// What [`verify`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verification {
    /// Files checked against `SHA256SUMS`.
    pub checked: usize,
    /// One line per problem: which file, and what is wrong.
    pub problems: Vec<String>,
}

impl Verification {
    /// True when nothing is wrong.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Checks a package read from `reader`: every entry against `SHA256SUMS`,
/// no entry missing, none added, and, when present, `manifest.json`'s
/// `files` map against the same sums.
pub fn verify_reader<R: Read + Seek>(reader: R) -> Result<Verification> {
    let mut zip = ZipArchive::new(reader).map_err(zerr("reading the package"))?;
    let mut v = Verification::default();
    let mut sums_text = String::new();
    match zip.by_name(SUMS) {
        Ok(mut f) => {
            f.read_to_string(&mut sums_text)
                .map_err(io("reading SHA256SUMS"))?;
        }
        Err(_) => {
            v.problems.push("SHA256SUMS: missing".into());
            return Ok(v);
        }
    }
    let mut listed: BTreeMap<String, String> = BTreeMap::new();
    for (n, line) in sums_text.lines().enumerate() {
        match line.split_once("  ") {
            Some((d, name)) if d.len() == 64 => {
                listed.insert(name.to_owned(), d.to_owned());
            }
            _ => v
                .problems
                .push(format!("SHA256SUMS: line {} is malformed", n + 1)),
        }
    }
    let mut present = BTreeMap::new();
    let mut buf = vec![0u8; 1 << 16];
    for i in 0..zip.len() {
        let mut f = zip
            .by_index(i)
            .map_err(zerr(format!("reading entry {i}")))?;
        let name = f
            .name()
            .map_err(zerr(format!("reading the name of entry {i}")))?
            .into_owned();
        if name == SUMS {
            continue;
        }
        let mut h = Sha256::new();
        loop {
            let n = match f.read(&mut buf) {
                Ok(n) => n,
                Err(e) => {
                    v.problems.push(format!("{name}: unreadable ({e})"));
                    break;
                }
            };
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
        present.insert(name, hex::encode(h.finalize()));
    }
    for (name, digest) in &present {
        match listed.get(name) {
            None => v
                .problems
                .push(format!("{name}: not listed in SHA256SUMS (added)")),
            Some(d) if d != digest => v
                .problems
                .push(format!("{name}: checksum does not match (changed)")),
            Some(_) => v.checked += 1,
        }
    }
    for name in listed.keys() {
        if !present.contains_key(name) {
            v.problems.push(format!(
                "{name}: listed in SHA256SUMS but missing (removed)"
            ));
        }
    }
    if let Ok(mut m) = zip.by_name("manifest.json") {
        let mut text = String::new();
        m.read_to_string(&mut text)
            .map_err(io("reading manifest.json"))?;
        match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(manifest) => {
                if let Some(files) = manifest.get("files").and_then(|f| f.as_object()) {
                    for (name, d) in files {
                        if listed.get(name).map(String::as_str) != d.as_str() {
                            v.problems
                                .push(format!("manifest.json: {name} does not match SHA256SUMS"));
                        }
                    }
                    for name in listed.keys().filter(|n| *n != "manifest.json") {
                        if !files.contains_key(name) {
                            v.problems
                                .push(format!("manifest.json: does not list {name}"));
                        }
                    }
                }
            }
            Err(e) => v.problems.push(format!("manifest.json: not JSON ({e})")),
        }
    }
    Ok(v)
}

/// The entry names of a package, in order.
pub fn entries(path: &Path) -> Result<Vec<String>> {
    let f = File::open(path).map_err(io(format!("opening {}", path.display())))?;
    let mut zip = ZipArchive::new(BufReader::new(f)).map_err(zerr("reading the package"))?;
    (0..zip.len())
        .map(|i| {
            let f = zip
                .by_index(i)
                .map_err(zerr(format!("reading entry {i}")))?;
            Ok(f.name()
                .map_err(zerr(format!("reading the name of entry {i}")))?
                .into_owned())
        })
        .collect()
}

/// [`verify_reader`] on a file.
pub fn verify(path: &Path) -> Result<Verification> {
    let f = File::open(path).map_err(io(format!("opening {}", path.display())))?;
    verify_reader(BufReader::new(f))
}

/// How a package is encrypted for its recipient with age.
#[derive(Clone)]
pub enum Seal {
    /// X25519 recipients (`age1…`).
    Recipients(Vec<String>),
    /// A passphrase (age's scrypt mode), to be sent by another channel.
    Passphrase(String),
}

impl std::fmt::Debug for Seal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Recipients(r) => f.debug_tuple("Recipients").field(r).finish(),
            Self::Passphrase(_) => f.write_str("Passphrase(REDACTED)"),
        }
    }
}

fn private_file(path: &Path) -> Result<File> {
    let mut open = OpenOptions::new();
    open.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut open, 0o600);
    open.open(path)
        .map_err(io(format!("creating {}", path.display())))
}

/// Encrypts the package at `plain` into `out` (via `OUT.partial`, synced,
/// renamed; mode 0600).
pub fn seal(plain: &Path, out: &Path, how: &Seal) -> Result<()> {
    let encryptor = match how {
        Seal::Recipients(list) => {
            let recipients = list
                .iter()
                .map(|r| {
                    r.trim().parse::<age::x25519::Recipient>().map_err(|e| {
                        Error::Crypto(format!("{r:?} is not an age X25519 recipient: {e}"))
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            if recipients.is_empty() {
                return Err(Error::Crypto("no recipient".into()));
            }
            age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient))
                .map_err(|e| Error::Crypto(format!("setting up encryption: {e}")))?
        }
        Seal::Passphrase(p) => {
            if p.is_empty() {
                return Err(Error::Crypto("the passphrase is empty".into()));
            }
            age::Encryptor::with_user_passphrase(age::secrecy::SecretString::from(p.clone()))
        }
    };
    let partial = PathBuf::from(format!("{}.partial", out.display()));
    let result = (|| {
        let file = private_file(&partial)?;
        let mut w = encryptor
            .wrap_output(BufWriter::new(file))
            .map_err(io("encrypting the package"))?;
        let mut input =
            BufReader::new(File::open(plain).map_err(io(format!("reading {}", plain.display())))?);
        std::io::copy(&mut input, &mut w).map_err(io("encrypting the package"))?;
        let file = w.finish().map_err(io("encrypting the package"))?;
        let file = file.into_inner().map_err(|e| Error::Io {
            context: "flushing the package".into(),
            source: e.into_error(),
        })?;
        file.sync_all().map_err(io("syncing the package"))?;
        std::fs::rename(&partial, out).map_err(io(format!("renaming {}", partial.display())))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result
}

/// SHA-256 of a file, hex, streamed.
pub fn sha256_file(path: &Path) -> Result<String> {
    sha256_of(&Content::File(path.to_owned()))
}

/// Whether a file is age-encrypted.
pub fn is_sealed(path: &Path) -> bool {
    let mut head = [0u8; 21];
    File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok()
        && &head == b"age-encryption.org/v1"
}

/// What opens a sealed package.
#[derive(Clone)]
pub enum Key {
    /// An identity file's `AGE-SECRET-KEY-…` lines.
    Identities(String),
    /// The passphrase.
    Passphrase(String),
}

/// Decrypts a sealed package into a private temporary file and verifies it.
pub fn verify_sealed(path: &Path, key: &Key) -> Result<Verification> {
    let input =
        BufReader::new(File::open(path).map_err(io(format!("opening {}", path.display())))?);
    let decryptor = age::Decryptor::new(input)
        .map_err(|e| Error::Crypto(format!("{}: not an age file: {e}", path.display())))?;
    let mut reader = match key {
        Key::Identities(text) => {
            let ids = text
                .lines()
                .map(str::trim)
                .filter(|l| l.starts_with("AGE-SECRET-KEY-"))
                .map(|l| {
                    l.parse::<age::x25519::Identity>()
                        .map_err(|e| Error::Crypto(format!("a bad identity: {e}")))
                })
                .collect::<Result<Vec<_>>>()?;
            if ids.is_empty() {
                return Err(Error::Crypto(
                    "the identity file holds no AGE-SECRET-KEY line".into(),
                ));
            }
            decryptor.decrypt(ids.iter().map(|i| i as &dyn age::Identity))
        }
        Key::Passphrase(p) => {
            let id = age::scrypt::Identity::new(age::secrecy::SecretString::from(p.clone()));
            decryptor.decrypt(std::iter::once(&id as &dyn age::Identity))
        }
    }
    .map_err(|e| Error::Crypto(format!("{}: cannot decrypt: {e}", path.display())))?;
    let tmp = std::env::temp_dir().join(format!(
        "crashdsr-verify-{}-{:x}",
        std::process::id(),
        sha2::Sha256::digest(path.as_os_str().as_encoded_bytes())[0]
    ));
    let result = (|| {
        let mut file = private_file(&tmp)?;
        std::io::copy(&mut reader, &mut file)
            .map_err(io(format!("decrypting {}", path.display())))?;
        verify(&tmp)
    })();
    let _ = std::fs::remove_file(&tmp);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("crashdsr-package-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn sample(dir: &Path) -> PackageBuilder {
        let big = dir.join("big.bin");
        std::fs::write(&big, vec![7u8; 300_000]).unwrap();
        let mut b = PackageBuilder::new();
        b.add_bytes("manifest.json", br#"{"format": 1}"#.to_vec())
            .unwrap();
        b.add_bytes("crashes/1-a/details.json", b"{}".to_vec())
            .unwrap();
        b.add_file("crashes/1-a/attachments/x", &big).unwrap();
        b.add_bytes("evidence.jsonl", b"{}\n".to_vec()).unwrap();
        b
    }

    #[test]
    fn same_inputs_same_bytes_and_private_mode() {
        let d = tmp("det");
        let b = sample(&d);
        let one = b.write(&d.join("a.zip"), false).unwrap();
        let two = b.write(&d.join("b.zip"), false).unwrap();
        assert_eq!(one.sha256, two.sha256);
        assert_eq!(
            std::fs::read(d.join("a.zip")).unwrap(),
            std::fs::read(d.join("b.zip")).unwrap()
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(d.join("a.zip"))
                    .unwrap()
                    .permissions()
                    .mode()
                    & 0o777,
                0o600
            );
        }
        assert!(!d.join("a.zip.partial").exists());
        assert!(matches!(
            b.write(&d.join("a.zip"), false),
            Err(Error::Exists(_))
        ));
        assert!(b.write(&d.join("a.zip"), true).is_ok());
        let v = verify(&d.join("a.zip")).unwrap();
        assert!(v.ok(), "{:?}", v.problems);
        assert_eq!(v.checked, 4);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_failure_mid_write_leaves_nothing_behind() {
        // An input that cannot be read once the zip is half written stands
        // in for a disk that fills up: the same error path.
        let d = tmp("midwrite");
        let mut b = sample(&d);
        b.add_file("zzz/unreadable", &d).unwrap();
        let out = d.join("p.zip");
        assert!(b.write(&out, false).is_err());
        assert!(!out.exists() && !d.join("p.zip.partial").exists());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn refuses_unsafe_names() {
        let mut b = PackageBuilder::new();
        for bad in [
            "",
            "/etc/passwd",
            "a/../b",
            "a//b",
            "SHA256SUMS",
            "name with space",
            "é",
        ] {
            assert!(b.add_bytes(bad, vec![]).is_err(), "{bad}");
        }
    }

    /// Rewrites a package, letting `edit` change, drop or add entries.
    fn tamper(
        src: &Path,
        dst: &Path,
        edit: impl Fn(&str, Vec<u8>) -> Option<Vec<u8>>,
        add: Option<(&str, &[u8])>,
    ) {
        let mut zin = ZipArchive::new(File::open(src).unwrap()).unwrap();
        let mut zout = ZipWriter::new(File::create(dst).unwrap());
        for i in 0..zin.len() {
            let mut f = zin.by_index(i).unwrap();
            let name = f.name().unwrap().into_owned();
            let mut data = Vec::new();
            f.read_to_end(&mut data).unwrap();
            if let Some(data) = edit(&name, data) {
                zout.start_file(name.as_str(), SimpleFileOptions::default())
                    .unwrap();
                zout.write_all(&data).unwrap();
            }
        }
        if let Some((name, data)) = add {
            zout.start_file(name, SimpleFileOptions::default()).unwrap();
            zout.write_all(data).unwrap();
        }
        zout.finish().unwrap();
    }

    #[test]
    fn catches_a_changed_byte_a_removed_file_and_an_added_file() {
        let d = tmp("tamper");
        let good = d.join("good.zip");
        sample(&d).write(&good, false).unwrap();
        let bad = d.join("bad.zip");

        tamper(
            &good,
            &bad,
            |n, mut data| {
                if n == "crashes/1-a/attachments/x" {
                    data[1234] ^= 1;
                }
                Some(data)
            },
            None,
        );
        let v = verify(&bad).unwrap();
        assert_eq!(
            v.problems,
            vec!["crashes/1-a/attachments/x: checksum does not match (changed)"]
        );

        tamper(
            &good,
            &bad,
            |n, data| (n != "evidence.jsonl").then_some(data),
            None,
        );
        let v = verify(&bad).unwrap();
        assert_eq!(
            v.problems,
            vec!["evidence.jsonl: listed in SHA256SUMS but missing (removed)"]
        );

        tamper(
            &good,
            &bad,
            |_, data| Some(data),
            Some(("crashes/2-b/details.json", b"{}")),
        );
        let v = verify(&bad).unwrap();
        assert_eq!(
            v.problems,
            vec!["crashes/2-b/details.json: not listed in SHA256SUMS (added)"]
        );

        tamper(&good, &bad, |n, data| (n != SUMS).then_some(data), None);
        assert_eq!(verify(&bad).unwrap().problems, vec!["SHA256SUMS: missing"]);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn sealed_packages_open_with_the_right_key_only() {
        let d = tmp("seal");
        let plain = d.join("p.zip");
        sample(&d).write(&plain, false).unwrap();
        let id = age::x25519::Identity::generate();
        let recipient = id.to_public().to_string();
        let secret = age::secrecy::ExposeSecret::expose_secret(&id.to_string()).to_owned();
        let sealed = d.join("p.zip.age");
        seal(&plain, &sealed, &Seal::Recipients(vec![recipient])).unwrap();
        assert!(is_sealed(&sealed) && !is_sealed(&plain));
        assert!(
            verify_sealed(&sealed, &Key::Identities(format!("# key\n{secret}\n")))
                .unwrap()
                .ok()
        );
        let other = age::secrecy::ExposeSecret::expose_secret(
            &age::x25519::Identity::generate().to_string(),
        )
        .to_owned();
        assert!(verify_sealed(&sealed, &Key::Identities(other)).is_err());
        let by_pass = d.join("q.zip.age");
        seal(&plain, &by_pass, &Seal::Passphrase("correct horse".into())).unwrap();
        assert!(
            verify_sealed(&by_pass, &Key::Passphrase("correct horse".into()))
                .unwrap()
                .ok()
        );
        assert!(verify_sealed(&by_pass, &Key::Passphrase("wrong".into())).is_err());
        assert!(
            seal(
                &plain,
                &d.join("r.age"),
                &Seal::Recipients(vec!["age1nope".into()])
            )
            .is_err()
        );
        assert!(!d.join("r.age.partial").exists());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn keyed_hashes_hide_values() {
        let h = keyed_hash(b"controller key", "jane@example.com");
        assert_eq!(h.len(), 64);
        assert_eq!(h, keyed_hash(b"controller key", "jane@example.com"));
        assert_ne!(h, keyed_hash(b"another key", "jane@example.com"));
        assert!(!h.contains("jane"));
    }
}
