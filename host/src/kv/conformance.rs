//! The behaviour every [`Backend`] must have, as one suite: the embedded store's
//! unit tests and the Redis end-to-end tests run it, and so can a new backend's.
//! It panics (as a test does) at the first behaviour that differs.

#![allow(
    clippy::unwrap_used,
    reason = "a test suite: a panic is how it reports"
)]

use std::time::Duration;

use super::{Backend, KvError, Namespace, Quota};

const ROOMY: Quota = Quota {
    total_bytes: 1 << 20,
    keys: 1000,
};

fn one(key: &str, value: &[u8]) -> Vec<(String, Vec<u8>)> {
    vec![(key.to_owned(), value.to_vec())]
}

/// Run every check on `b`. Namespaces are unique per run, so a shared server works.
pub async fn run(b: &dyn Backend) {
    let run = format!(
        "{}-{}",
        std::process::id(),
        crate::clock::Clock::default().now_ms()
    );
    let ns = Namespace::new(&run, "p");
    let other = Namespace::new(&run, "q");

    set_get_delete(b, &ns).await;
    namespaces_never_cross(b, &ns, &other).await;
    ttls_hide_keys_at_once(b, &Namespace::new(&run, "ttl")).await;
    listing_pages_in_order(b, &Namespace::new(&run, "list")).await;
    increments_count(b, &Namespace::new(&run, "inc")).await;
    compare_and_swap(b, &Namespace::new(&run, "cas")).await;
    many_at_once(b, &Namespace::new(&run, "many")).await;
    quotas_refuse_without_change(b, &Namespace::new(&run, "quota")).await;
}

async fn set_get_delete(b: &dyn Backend, ns: &Namespace) {
    assert_eq!(b.get(ns.clone(), "k".into()).await.unwrap(), None);
    b.set(ns.clone(), one("k", b"v1"), None, ROOMY)
        .await
        .unwrap();
    b.set(ns.clone(), one("k", b"v2"), None, ROOMY)
        .await
        .unwrap();
    assert_eq!(
        b.get(ns.clone(), "k".into()).await.unwrap(),
        Some(b"v2".to_vec())
    );
    b.set(ns.clone(), one("empty", b""), None, ROOMY)
        .await
        .unwrap();
    assert_eq!(
        b.get(ns.clone(), "empty".into()).await.unwrap(),
        Some(Vec::new())
    );
    let binary: Vec<u8> = (0..=255).collect();
    b.set(ns.clone(), one("bin", &binary), None, ROOMY)
        .await
        .unwrap();
    assert_eq!(b.get(ns.clone(), "bin".into()).await.unwrap(), Some(binary));
    assert!(b.delete(ns.clone(), "k".into()).await.unwrap());
    assert!(!b.delete(ns.clone(), "k".into()).await.unwrap());
    assert_eq!(b.get(ns.clone(), "k".into()).await.unwrap(), None);
}

async fn namespaces_never_cross(b: &dyn Backend, ns: &Namespace, other: &Namespace) {
    b.set(ns.clone(), one("shared", b"mine"), None, ROOMY)
        .await
        .unwrap();
    assert_eq!(b.get(other.clone(), "shared".into()).await.unwrap(), None);
    assert!(!b.delete(other.clone(), "shared".into()).await.unwrap());
    let page = b
        .list(other.clone(), String::new(), None, 100)
        .await
        .unwrap();
    assert!(page.keys.is_empty(), "{page:?}");
    let tight = Quota {
        total_bytes: 1 << 20,
        keys: 1,
    };
    b.set(other.clone(), one("x", b"1"), None, tight)
        .await
        .unwrap();
    assert_eq!(
        b.get(ns.clone(), "shared".into()).await.unwrap(),
        Some(b"mine".to_vec())
    );
}

async fn ttls_hide_keys_at_once(b: &dyn Backend, ns: &Namespace) {
    let ttl = Some(Duration::from_millis(150));
    b.set(ns.clone(), one("short", b"x"), ttl, ROOMY)
        .await
        .unwrap();
    b.set(ns.clone(), one("long", b"y"), None, ROOMY)
        .await
        .unwrap();
    assert_eq!(
        b.get(ns.clone(), "short".into()).await.unwrap(),
        Some(b"x".to_vec())
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(b.get(ns.clone(), "short".into()).await.unwrap(), None);
    let page = b.list(ns.clone(), String::new(), None, 10).await.unwrap();
    assert_eq!(page.keys, ["long"]);
    assert!(!b.delete(ns.clone(), "short".into()).await.unwrap());
    let absent = b
        .compare_and_swap(
            ns.clone(),
            "short".into(),
            None,
            b"new".to_vec(),
            None,
            ROOMY,
        )
        .await
        .unwrap();
    assert!(absent, "an expired key counts as not set");
    b.set(
        ns.clone(),
        one("count", b"5"),
        Some(Duration::from_secs(60)),
        ROOMY,
    )
    .await
    .unwrap();
    assert_eq!(
        b.increment(ns.clone(), "count".into(), 1, ROOMY)
            .await
            .unwrap(),
        6
    );
}

async fn listing_pages_in_order(b: &dyn Backend, ns: &Namespace) {
    for k in ["user:3", "user:1", "user:2", "users", "other", "user:10"] {
        b.set(ns.clone(), one(k, b"."), None, ROOMY).await.unwrap();
    }
    let first = b.list(ns.clone(), "user:".into(), None, 2).await.unwrap();
    assert_eq!(first.keys, ["user:1", "user:10"]);
    let cursor = first.cursor.clone();
    assert!(cursor.is_some());
    let rest = b
        .list(ns.clone(), "user:".into(), cursor, 10)
        .await
        .unwrap();
    assert_eq!(rest.keys, ["user:2", "user:3"]);
    assert_eq!(rest.cursor, None);
    let all = b.list(ns.clone(), String::new(), None, 100).await.unwrap();
    assert_eq!(all.keys.len(), 6);
}

async fn increments_count(b: &dyn Backend, ns: &Namespace) {
    assert_eq!(
        b.increment(ns.clone(), "n".into(), 1, ROOMY).await.unwrap(),
        1
    );
    assert_eq!(
        b.increment(ns.clone(), "n".into(), 41, ROOMY)
            .await
            .unwrap(),
        42
    );
    assert_eq!(
        b.increment(ns.clone(), "n".into(), -50, ROOMY)
            .await
            .unwrap(),
        -8
    );
    assert_eq!(
        b.get(ns.clone(), "n".into()).await.unwrap(),
        Some(b"-8".to_vec())
    );
    b.set(ns.clone(), one("text", b"abc"), None, ROOMY)
        .await
        .unwrap();
    let err = b
        .increment(ns.clone(), "text".into(), 1, ROOMY)
        .await
        .unwrap_err();
    assert!(matches!(err, KvError::Invalid(_)), "{err:?}");
    b.set(
        ns.clone(),
        one("big", i64::MAX.to_string().as_bytes()),
        None,
        ROOMY,
    )
    .await
    .unwrap();
    let err = b
        .increment(ns.clone(), "big".into(), 1, ROOMY)
        .await
        .unwrap_err();
    assert!(matches!(err, KvError::Invalid(_)), "{err:?}");
    assert_eq!(
        b.get(ns.clone(), "big".into()).await.unwrap(),
        Some(i64::MAX.to_string().into_bytes())
    );
}

async fn compare_and_swap(b: &dyn Backend, ns: &Namespace) {
    let cas = |expected: Option<&[u8]>, value: &[u8]| {
        b.compare_and_swap(
            ns.clone(),
            "c".into(),
            expected.map(<[u8]>::to_vec),
            value.to_vec(),
            None,
            ROOMY,
        )
    };
    assert!(cas(None, b"1").await.unwrap());
    assert!(!cas(None, b"2").await.unwrap(), "set only if absent");
    assert!(
        !cas(Some(b"0"), b"2").await.unwrap(),
        "wrong expected value"
    );
    assert!(cas(Some(b"1"), b"2").await.unwrap());
    assert_eq!(
        b.get(ns.clone(), "c".into()).await.unwrap(),
        Some(b"2".to_vec())
    );
}

async fn many_at_once(b: &dyn Backend, ns: &Namespace) {
    let entries = vec![
        ("a".to_owned(), b"1".to_vec()),
        ("b".to_owned(), b"2".to_vec()),
    ];
    b.set(ns.clone(), entries, None, ROOMY).await.unwrap();
    let got = b
        .get_many(
            ns.clone(),
            vec!["a".into(), "missing".into(), "b".into()],
            2,
        )
        .await
        .unwrap();
    assert_eq!(got, vec![Some(b"1".to_vec()), None, Some(b"2".to_vec())]);

    // The bound counts a repeated key each time.
    b.set(ns.clone(), one("big", &[7u8; 1000]), None, ROOMY)
        .await
        .unwrap();
    let repeated = vec!["big".to_owned(); 4];
    assert!(b.get_many(ns.clone(), repeated.clone(), 4000).await.is_ok());
    let err = b.get_many(ns.clone(), repeated, 3999).await.unwrap_err();
    assert!(
        matches!(&err, KvError::Limit(m) if m.contains("4000 bytes") && m.contains("at most 3999")),
        "{err:?}"
    );
}

async fn quotas_refuse_without_change(b: &dyn Backend, ns: &Namespace) {
    let quota = Quota {
        total_bytes: 20,
        keys: 2,
    };
    b.set(ns.clone(), one("a", b"123456789"), None, quota)
        .await
        .unwrap();
    let err = b
        .set(ns.clone(), one("b", b"1234567890123"), None, quota)
        .await
        .unwrap_err();
    assert!(
        matches!(err, KvError::Limit(ref m) if m.contains("bytes")),
        "{err:?}"
    );
    b.set(ns.clone(), one("a", b"12"), None, quota)
        .await
        .unwrap();
    b.set(ns.clone(), one("b", b"1"), None, quota)
        .await
        .unwrap();
    let err = b
        .set(ns.clone(), one("c", b"1"), None, quota)
        .await
        .unwrap_err();
    assert!(
        matches!(err, KvError::Limit(ref m) if m.contains("keys")),
        "{err:?}"
    );
    let both = vec![
        ("b".to_owned(), b"2".to_vec()),
        ("d".to_owned(), b"2".to_vec()),
    ];
    let err = b.set(ns.clone(), both, None, quota).await.unwrap_err();
    assert!(matches!(err, KvError::Limit(_)), "{err:?}");
    assert_eq!(
        b.get(ns.clone(), "b".into()).await.unwrap(),
        Some(b"1".to_vec()),
        "a refused batch changes nothing"
    );
    assert!(b.delete(ns.clone(), "a".into()).await.unwrap());
    b.set(ns.clone(), one("c", b"1"), None, quota)
        .await
        .unwrap();
    let err = b
        .compare_and_swap(ns.clone(), "e".into(), None, b"1".to_vec(), None, quota)
        .await
        .unwrap_err();
    assert!(matches!(err, KvError::Limit(_)), "{err:?}");
}
