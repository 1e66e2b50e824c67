//! The compiled-artifact cache: a restart with unchanged plugins compiles nothing,
//! and a corrupt entry is detected, discarded and rebuilt.

use host::runtime::RuntimeConfig;
use host::runtime::cache::{CacheConfig, Source};
use sha2::Digest;
use sim::{MessageSpec, Sim};
use tests::{WAIT, host_for, plugin, workspace};

#[tokio::test]
async fn a_restart_compiles_nothing_and_a_corrupt_entry_is_rebuilt() {
    tests::init_logging();
    let dir = workspace()
        .join("target")
        .join(format!("cache-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let config = RuntimeConfig {
        cache: CacheConfig {
            dir: Some(dir.clone()),
            ..CacheConfig::default()
        },
        ..RuntimeConfig::default()
    };
    let sim = Sim::builder().start().await.unwrap();
    let load = || async {
        host_for(&sim)
            .plugin(plugin("calcbot"))
            .runtime_config(config.clone())
            .build()
            .await
            .expect("load")
    };
    assert_eq!(load().await.plugins()[0].source, Source::Compiled);
    let warm = load().await;
    assert_eq!(
        warm.plugins()[0].source,
        Source::Cached,
        "the second start compiles nothing"
    );

    let artifact = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "cwasm"))
        .expect("an artifact was written");
    let mut bytes = std::fs::read(&artifact).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&artifact, bytes).unwrap();
    let rebuilt = load().await;
    assert_eq!(
        rebuilt.plugins()[0].source,
        Source::Compiled,
        "a corrupt entry is not loaded"
    );
    assert_eq!(
        load().await.plugins()[0].source,
        Source::Cached,
        "and it was rebuilt"
    );

    let running = rebuilt.start().await.unwrap();
    let pushed = sim.push_chatbot(MessageSpec::text("3*3")).await.unwrap();
    assert_eq!(
        sim.wait_replies(&pushed.session, 1, WAIT).await[0].text(),
        Some("Q: 3*3\nA: 9")
    );
    running.shutdown().await;
    drop(warm);
    sim.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// A cache folder under `target/` for one test, and a loader using it.
fn cache_config(name: &str) -> (std::path::PathBuf, RuntimeConfig) {
    let dir = workspace()
        .join("target")
        .join(format!("cache-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_file(dir.with_extension("key"));
    let config = RuntimeConfig {
        cache: CacheConfig {
            dir: Some(dir.clone()),
            ..CacheConfig::default()
        },
        ..RuntimeConfig::default()
    };
    (dir, config)
}

async fn load(sim: &Sim, name: &str, config: &RuntimeConfig) -> host::Host {
    host_for(sim)
        .plugin(plugin(name))
        .runtime_config(config.clone())
        .build()
        .await
        .expect("load")
}

fn hex_sha256(bytes: &[u8]) -> String {
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The entry files (artifact, sidecar) of plugin `name`: named by its SHA-256.
fn entry(dir: &std::path::Path, name: &str) -> Vec<std::path::PathBuf> {
    let sha = hex_sha256(&std::fs::read(plugin(name)).expect("component"));
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("the cache folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(&sha))
        })
        .collect();
    files.sort();
    files
}

fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::symlink_metadata(path)
        .expect("the file")
        .permissions()
        .mode()
        & 0o777
}

#[tokio::test]
async fn a_planted_entry_is_rejected_and_recompiled() {
    let (dir, config) = cache_config("planted");
    let sim = Sim::builder().start().await.unwrap();
    load(&sim, "calcbot", &config).await;
    load(&sim, "cardbot", &config).await;
    let calc_entry = entry(&dir, "calcbot");
    let card_artifact = entry(&dir, "cardbot")
        .into_iter()
        .find(|p| p.extension().is_some_and(|x| x == "cwasm"))
        .expect("cardbot's artifact");
    // Plant cardbot's native code under calcbot's name, with every digest an
    // attacker without the key can compute.
    let planted = std::fs::read(&card_artifact).unwrap();
    for path in &calc_entry {
        std::fs::remove_file(path).unwrap();
    }
    let stem = calc_entry[0].file_stem().unwrap().to_owned();
    let artifact = dir.join(&stem).with_extension("cwasm");
    std::fs::write(&artifact, &planted).unwrap();
    // The sidecar an attacker can compute: the planted bytes' plain SHA-256.
    let plain = hex_sha256(&planted);
    for ext in ["sha256", "hmac"] {
        std::fs::write(dir.join(&stem).with_extension(ext), &plain).unwrap();
    }
    let reloaded = load(&sim, "calcbot", &config).await;
    assert_eq!(
        reloaded.plugins()[0].source,
        Source::Compiled,
        "the planted entry was loaded"
    );
    assert_eq!(reloaded.plugins()[0].name, "calcbot");
    sim.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn the_cache_is_private_and_entries_anyone_else_could_write_are_refused() {
    let (dir, config) = cache_config("private");
    let sim = Sim::builder().start().await.unwrap();
    load(&sim, "calcbot", &config).await;
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.with_extension("key")), 0o600);
    let files = entry(&dir, "calcbot");
    assert_eq!(files.len(), 2, "{files:?}");
    for f in &files {
        assert_eq!(mode(f), 0o600, "{}", f.display());
    }
    let artifact = files[0].clone();
    let cached = || async { load(&sim, "calcbot", &config).await.plugins()[0].source };
    assert_eq!(cached().await, Source::Cached);

    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&artifact, std::fs::Permissions::from_mode(0o666)).unwrap();
    assert_eq!(
        cached().await,
        Source::Compiled,
        "a group/other-writable entry was loaded"
    );
    assert_eq!(
        cached().await,
        Source::Cached,
        "and it was rewritten privately"
    );

    let aside = dir.with_extension("aside");
    std::fs::rename(&artifact, &aside).unwrap();
    std::os::unix::fs::symlink(&aside, &artifact).unwrap();
    assert_eq!(
        cached().await,
        Source::Compiled,
        "an entry reached through a symlink was loaded"
    );
    assert_eq!(cached().await, Source::Cached);
    let _ = std::fs::remove_file(&aside);

    if running_as_root() {
        std::os::unix::fs::chown(&artifact, Some(12345), None).unwrap();
        assert_eq!(
            cached().await,
            Source::Compiled,
            "another user's entry was loaded"
        );
    } else {
        println!("skipped: chown to another user needs root");
    }

    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    assert_eq!(cached().await, Source::Compiled);
    assert_eq!(
        cached().await,
        Source::Compiled,
        "a world-writable cache folder is not used"
    );
    sim.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_file(dir.with_extension("key"));
}

fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| {
        use std::os::unix::fs::MetadataExt;
        m.uid() == 0
    })
}
