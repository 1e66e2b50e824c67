//! The compiled-artifact cache: a restart with unchanged plugins compiles nothing,
//! and a corrupt entry is detected, discarded and rebuilt.

use host::runtime::RuntimeConfig;
use host::runtime::cache::{CacheConfig, Source};
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
