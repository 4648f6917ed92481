//! One conformance run over each kind of store: a directory, object_store's
//! in-memory store, and Azurite when `CRASHDSR_TEST_AZURITE` is set.

use std::sync::Arc;

use crashdsr_emulator::testing::TempDir;
use crashdsr_store::{ErrorKind, Store};
use futures::TryStreamExt;

/// What every store must do. `versions`: whether it gives ETags (a
/// directory does not, so its conditional put is an overwrite).
async fn conformance(store: &Store, versions: bool) {
    let name = store.url().to_owned();
    store.put("a/1.json", &b"one"[..]).await.unwrap();
    store.put("a/b/2.json", &b"two"[..]).await.unwrap();
    store.put("c/3.json", vec![7u8; 300_000]).await.unwrap();

    let all = store.list_sorted(None).await.unwrap();
    assert_eq!(all, ["a/1.json", "a/b/2.json", "c/3.json"], "{name}");
    for prefix in ["a", "a/"] {
        let under = store.list_sorted(Some(prefix)).await.unwrap();
        assert_eq!(under, ["a/1.json", "a/b/2.json"], "{name} {prefix}");
    }
    let sizes: Vec<u64> = store
        .list(Some("c"))
        .map_ok(|l| l.size)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(sizes, [300_000], "{name}");
    assert!(store.list_sorted(Some("none")).await.unwrap().is_empty());

    assert_eq!(&store.read("a/1.json", 3).await.unwrap()[..], b"one");
    let big = store.read("c/3.json", 300_000).await.unwrap();
    assert_eq!(big.len(), 300_000, "{name}");
    let err = store.read("c/3.json", 299_999).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Other, "{name}: {err}");
    assert!(err.to_string().contains("c/3.json"), "{err}");

    // Ranged reads: near ranges (joined into one request by object_store)
    // and far ones, each given back as asked; past the end, an error.
    let bytes: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    store.put("r.bin", bytes.clone()).await.unwrap();
    let ranges = [10..20, 30..4_000, 150_000..150_001, 0..200_000];
    let got = store.get_ranges("r.bin", &ranges).await.unwrap().unwrap();
    for (r, b) in ranges.iter().zip(&got) {
        assert_eq!(
            &b[..],
            &bytes[r.start as usize..r.end as usize],
            "{name} {r:?}"
        );
    }
    let prefix = store.get_prefix("r.bin", 5).await.unwrap().unwrap();
    assert_eq!(&prefix[..], &bytes[..5], "{name}");
    assert!(
        store
            .get_ranges("r.bin", std::slice::from_ref(&(199_990..200_010)))
            .await
            .is_err(),
        "{name}"
    );
    assert!(
        store
            .get_ranges("none.bin", std::slice::from_ref(&(0..1)))
            .await
            .unwrap()
            .is_none(),
        "{name}"
    );
    store.delete("r.bin").await.unwrap();

    let err = store.read("missing.json", 10).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{name}: {err}");
    assert!(store.get("missing.json").await.unwrap().is_none());

    let got = store.get("a/1.json").await.unwrap().unwrap();
    assert_eq!(&got.bytes[..], b"one");
    assert_eq!(got.version.is_some(), versions, "{name}");
    store
        .put_if("a/1.json", &b"uno"[..], got.version.as_ref())
        .await
        .unwrap();
    assert_eq!(&store.read("a/1.json", 10).await.unwrap()[..], b"uno");
    if versions {
        // The object changed since `got` was read: the update is refused
        // and says so by its kind.
        let err = store
            .put_if("a/1.json", &b"eins"[..], got.version.as_ref())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Precondition, "{name}: {err}");
        assert_eq!(&store.read("a/1.json", 10).await.unwrap()[..], b"uno");
    }

    store.delete("a/1.json").await.unwrap();
    store.delete("a/1.json").await.unwrap();
    store.delete("never/was.json").await.unwrap();
    assert_eq!(
        store.list_sorted(None).await.unwrap(),
        ["a/b/2.json", "c/3.json"],
        "{name}"
    );
    store.delete("a/b/2.json").await.unwrap();
    store.delete("c/3.json").await.unwrap();
    assert!(store.list_sorted(None).await.unwrap().is_empty(), "{name}");

    // Every object once, and the objects under any folder one after
    // another (a purge judges an archived crash's folder as it is listed).
    let mut tree = Vec::new();
    for crash in ["e1", "e2", "e3", "e4"] {
        for file in ["download.json", "a/1.txt", "a/2.txt", "b/c/3.bin", "z.json"] {
            tree.push(format!("x/errors/{crash}/{file}"));
        }
    }
    tree.extend(["x/top.json".to_owned(), "y.json".to_owned()]);
    for path in &tree {
        store.put(path, &b"."[..]).await.unwrap();
    }
    let listed: Vec<String> = store.paths(None).try_collect().await.unwrap();
    let mut sorted = listed.clone();
    sorted.sort();
    tree.sort();
    assert_eq!(sorted, tree, "{name}");
    for folder in [
        "x/",
        "x/errors/",
        "x/errors/e1/",
        "x/errors/e3/",
        "x/errors/e2/a/",
    ] {
        let at: Vec<usize> = (0..listed.len())
            .filter(|&i| listed[i].starts_with(folder))
            .collect();
        assert_eq!(
            at.len(),
            at[at.len() - 1] - at[0] + 1,
            "{name}: {folder} in {listed:?}"
        );
    }
    for path in &tree {
        store.delete(path).await.unwrap();
    }
}

#[tokio::test]
async fn a_directory() {
    let tmp = TempDir::new("store-dir");
    let root = tmp.path().join("src");
    let err = Store::open(root.to_str().unwrap()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
    assert!(err.to_string().contains("not a directory"), "{err}");
    let created = Store::create(root.to_str().unwrap()).unwrap();
    assert_eq!(created.dir(), Some(root.as_path()));
    let store = Store::open(&format!("file://{}", root.display())).unwrap();
    assert_eq!(store.dir(), Some(root.as_path()));
    assert_eq!(store.default_io(), crashdsr_store::LOCAL_IO);
    conformance(&store, false).await;
}

#[tokio::test]
async fn an_object_store() {
    let store = Store::from_object_store(Arc::new(object_store::memory::InMemory::new()), "memory");
    assert_eq!(store.dir(), None);
    assert_eq!(store.default_io(), crashdsr_store::REMOTE_IO);
    conformance(&store, true).await;
}

#[test]
fn bad_urls_are_config_errors_that_hold_no_secret() {
    for url in [
        "az://",
        "s3://user:SECRET@/x?sig=SECRET",
        "nope://bucket/x?sig=SECRET",
    ] {
        let err = Store::open(url).unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::Config | ErrorKind::Other),
            "{url}: {err:?}"
        );
        assert!(!err.to_string().contains("SECRET"), "{err}");
    }
}

#[tokio::test]
async fn azurite() {
    let Ok(endpoint) = std::env::var("CRASHDSR_TEST_AZURITE") else {
        println!(
            "skipped: set CRASHDSR_TEST_AZURITE, AZURE_STORAGE_ACCOUNT_NAME/_KEY and AZURE_STORAGE_USE_EMULATOR=true"
        );
        return;
    };
    let account = std::env::var("AZURE_STORAGE_ACCOUNT_NAME").unwrap();
    let key = std::env::var("AZURE_STORAGE_ACCOUNT_KEY").unwrap();
    let container = "store-conformance";
    crashdsr_emulator::export::open_container(&endpoint, &account, &key, container)
        .await
        .unwrap();
    let store = Store::open(&format!("az://{container}/under/a/prefix")).unwrap();
    assert_eq!(store.url(), format!("az://{container}/under/a/prefix"));
    // Start clean: a run killed midway may have left objects.
    for p in store.list_sorted(None).await.unwrap() {
        store.delete(&p).await.unwrap();
    }
    conformance(&store, true).await;
}
