//! Plugins through a real OCI registry (Debian's `docker-registry`, CNCF distribution
//! 2.8, on a loopback port): `host push`, `host pull` into `host.lock`, `host run`
//! serving what the lock names while the tag moves, `host pull --update` moving it,
//! and the attacker's moves: a valid old version replayed under the tag, a version
//! signed by another key, an unsigned one, a file planted in the store, a denied
//! repository. `host inspect` reads an artifact's manifest from its config blob.

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{WAIT, scratch};
use host::trust::{SigningKey, keygen, sign};
use sim::{MessageSpec, Sim};

/// A `docker-registry` serving on a free loopback port until dropped.
struct Registry {
    child: Child,
    host: String,
}

impl Registry {
    /// Start one, or `None` (printed) where it is not installed outside CI; with
    /// `htpasswd` lines, it requires basic auth.
    fn start(dir: &Path, htpasswd: Option<&str>) -> Option<Self> {
        if Command::new("docker-registry")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_err()
        {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "docker-registry is required under CI=true (the OCI tests)"
            );
            eprintln!("skipped: docker-registry is not installed (Debian package docker-registry)");
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let config = dir.join("registry.yml");
        let auth = match htpasswd {
            Some(lines) => {
                let file = dir.join("htpasswd");
                std::fs::write(&file, lines).expect("write htpasswd");
                format!(
                    "auth:\n  htpasswd:\n    realm: test\n    path: {}\n",
                    file.display()
                )
            }
            None => String::new(),
        };
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n{auth}http:\n  addr: 127.0.0.1:{port}\n",
                dir.join("registry-data").display()
            ),
        )
        .expect("write the registry config");
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start docker-registry");
        let host = format!("127.0.0.1:{port}");
        let deadline = Instant::now() + WAIT;
        while std::net::TcpStream::connect(&host).is_err() {
            assert!(Instant::now() < deadline, "docker-registry did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(Self { child, host })
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn host_in(dir: &Path, args: &[&str]) -> (bool, String) {
    host_with(dir, args, &[])
}

fn host_with(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_host"))
        .current_dir(dir)
        .envs(envs.iter().copied())
        .env("DINGTALK_HOST_CACHE_DIR", dir.join("cache"))
        .args(args)
        .output()
        .expect("run host");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The echo fixtures (versions 1.0.0 and 2.0.0 of one plugin), built once.
fn echoes() -> (PathBuf, PathBuf) {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace");
    let built = host::cli::build::build_components(
        workspace,
        &["echo1".into(), "echo2".into()],
        &scratch("oci-echoes"),
    )
    .expect("build the echo fixtures");
    (built[0].clone(), built[1].clone())
}

/// What `host run` answers to one message, serving `reference` from the lock.
async fn served(dir: &Path, reference: &str) -> Option<String> {
    let sim = Sim::builder().start().await.expect("start the simulator");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_host"))
        .current_dir(dir)
        .args([
            "run",
            "--config",
            "host.toml",
            "--client-id",
            sim.client_id(),
            "--client-secret",
            sim.client_secret(),
            reference,
        ])
        .env("DINGTALK_HOST_STATE_DIR", dir.join("state"))
        .env("DINGTALK_HOST_CACHE_DIR", dir.join("cache"))
        .env("DINGTALK_OPENAPI_ENDPOINT", sim.url())
        .env("DINGTALK_OAPI_ENDPOINT", sim.url())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn host run");
    let answer = if sim.wait_connections(1, WAIT).await {
        let pushed = sim
            .push_chatbot(MessageSpec::text("hi"))
            .await
            .expect("push");
        sim.wait_replies(&pushed.session, 1, WAIT)
            .await
            .first()
            .and_then(|r| r.text().map(str::to_owned))
    } else {
        None
    };
    let _ = child.kill().await;
    sim.shutdown().await;
    answer
}

#[tokio::test]
async fn a_pulled_plugin_runs_from_the_lock_until_an_update_the_rules_allow() {
    let dir = scratch("oci");
    let Some(registry) = Registry::start(&dir, None) else {
        return;
    };
    let (v1, v2) = echoes();
    let acme = SigningKey::parse(&keygen().0).unwrap();
    let mallory = SigningKey::parse(&keygen().0).unwrap();
    let put = |from: &Path, key: Option<&SigningKey>, as_name: &str| {
        let bytes = std::fs::read(from).unwrap();
        let bytes = match key {
            Some(k) => sign(&bytes, k).unwrap(),
            None => bytes,
        };
        std::fs::write(dir.join(as_name), bytes).unwrap();
    };
    put(&v1, Some(&acme), "v1-acme.wasm");
    put(&v2, Some(&acme), "v2-acme.wasm");
    put(&v2, Some(&mallory), "v2-mallory.wasm");
    put(&v2, None, "v2-unsigned.wasm");
    let config = format!(
        "[trust.publishers.acme]\nkeys = [\"{}\"]\n[plugins.echo]\npublisher = \"acme\"\n",
        acme.public().openssh()
    );
    std::fs::write(dir.join("host.toml"), &config).unwrap();
    let tag = format!("oci://{}/acme/echo:stable", registry.host);
    let push = |file: &str| {
        let (ok, out) = host_in(&dir, &["push", file, &tag]);
        assert!(ok, "{out}");
        assert!(out.contains("digest sha256:"), "{out}");
    };
    let pull = |extra: &[&str]| {
        let mut args = vec!["pull", "--config", "host.toml"];
        args.extend_from_slice(extra);
        args.push(&tag);
        host_in(&dir, &args)
    };

    push("v1-acme.wasm");
    // What it asks for is readable from the config blob, before the component.
    let (ok, out) = host_in(&dir, &["inspect", &tag]);
    assert!(ok && out.contains("echo 1.0.0"), "{out}");
    assert!(out.contains("imports:    dingtalk:bot/reply@"), "{out}");
    assert!(out.contains("layer:      not fetched"), "{out}");
    let (ok, out) = pull(&[]);
    assert!(
        ok && out.contains("pulled") && out.contains("echo 1.0.0"),
        "{out}"
    );
    let lock = std::fs::read_to_string(dir.join("host.lock")).unwrap();
    assert!(
        lock.contains("version = \"1.0.0\"") && lock.contains("sha256:"),
        "{lock}"
    );
    // `host grant` finds a pulled plugin by its name through the lock.
    let (ok, out) = host_in(&dir, &["grant", "--config", "host.toml", "--yes", "echo"]);
    assert!(ok && out.contains("nothing to write"), "{out}");

    // The tag moves; the host keeps running what the lock names.
    push("v2-acme.wasm");
    let (ok, out) = pull(&[]);
    assert!(ok && out.contains("locked"), "{out}");
    assert_eq!(served(&dir, &tag).await.as_deref(), Some("v1: hi"));

    let (ok, out) = pull(&["--update"]);
    assert!(ok && out.contains("echo 1.0.0 -> 2.0.0"), "{out}");
    assert_eq!(served(&dir, &tag).await.as_deref(), Some("v2: hi"));

    // The attacker's moves on the tag: each is refused and the lock keeps 2.0.0.
    for (file, why) in [
        ("v1-acme.wasm", "lower than the serving version 2.0.0"),
        ("v2-mallory.wasm", "but by none of the trusted keys"),
        ("v2-unsigned.wasm", "not signed"),
    ] {
        push(file);
        let (ok, out) = pull(&["--update"]);
        assert!(!ok && out.contains(why), "{file}: {out}");
        let lock = std::fs::read_to_string(dir.join("host.lock")).unwrap();
        assert!(lock.contains("version = \"2.0.0\""), "{file}: {lock}");
    }
    // A rollback the operator means is accepted explicitly.
    push("v1-acme.wasm");
    let (ok, out) = pull(&["--update", "--accept"]);
    assert!(ok && out.contains("2.0.0 -> 1.0.0"), "{out}");

    // A file planted in the store over the pulled one is refused, never run.
    let lock: toml::Table =
        toml::from_str(&std::fs::read_to_string(dir.join("host.lock")).unwrap()).unwrap();
    let sha = lock["plugin"][0]["sha256"].as_str().unwrap();
    let stored = dir
        .join(".host-oci")
        .join(format!("sha256-{sha}"))
        .join("echo.wasm");
    let original = std::fs::read(&stored).unwrap();
    std::fs::copy(dir.join("v2-mallory.wasm"), &stored).unwrap();
    assert_eq!(served(&dir, &tag).await, None);
    std::fs::write(&stored, original).unwrap();

    // A denied repository is refused before anything is fetched.
    std::fs::write(
        dir.join("host.toml"),
        format!(
            "[trust]\ndeny = [\"oci://{}/acme/echo\"]\n{config}",
            registry.host
        ),
    )
    .unwrap();
    let (ok, out) = pull(&["--update"]);
    assert!(!ok && out.contains("deny list"), "{out}");
    drop(registry);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `robot`'s bcrypt entry for the password [`PASSWORD`] (made once with libxcrypt).
const HTPASSWD: &str = "robot:$2b$12$36ozlTIs5IuQtJVetDfImOdNwP/xOO1IpBWV8d7IMn.aKzcqvNSwK\n";
const PASSWORD: &str = "s3cret";

#[tokio::test]
async fn a_registry_with_basic_auth_gets_the_credentials_from_secrets_and_never_shows_them() {
    let dir = scratch("oci-auth");
    let Some(registry) = Registry::start(&dir, Some(HTPASSWD)) else {
        return;
    };
    let (v1, _) = echoes();
    let acme = SigningKey::parse(&keygen().0).unwrap();
    std::fs::write(
        dir.join("echo.wasm"),
        sign(&std::fs::read(v1).unwrap(), &acme).unwrap(),
    )
    .unwrap();
    let tag = format!("oci://{}/acme/echo:1", registry.host);
    let (ok, out) = host_in(&dir, &["push", "echo.wasm", &tag]);
    assert!(!ok && out.contains("cannot push"), "anonymous: {out}");
    let config = |password_env: &str| {
        format!(
            "[secrets]\nregistry = {{ env = \"{password_env}\" }}\n[registries.\"{}\"]\nusername = \"robot\"\npassword = \"{{secret.registry}}\"\n[trust.publishers.acme]\nkeys = [\"{}\"]\n[plugins.echo]\npublisher = \"acme\"\n",
            registry.host,
            acme.public().openssh()
        )
    };
    std::fs::write(dir.join("host.toml"), config("REGISTRY_PASSWORD")).unwrap();
    let envs = [
        ("REGISTRY_PASSWORD", PASSWORD),
        ("WRONG_PASSWORD", "n0t-1t"),
    ];
    let (ok, out) = host_with(
        &dir,
        &["push", "--config", "host.toml", "echo.wasm", &tag],
        &envs,
    );
    assert!(ok, "{out}");
    let (ok, out) = host_with(&dir, &["pull", "--config", "host.toml", &tag], &envs);
    assert!(ok && out.contains("pulled"), "{out}");
    assert!(!out.contains(PASSWORD), "{out}");
    // A wrong password is refused by the registry, and not echoed either.
    std::fs::write(dir.join("host.toml"), config("WRONG_PASSWORD")).unwrap();
    let (ok, out) = host_with(
        &dir,
        &["pull", "--config", "host.toml", "--update", &tag],
        &envs,
    );
    assert!(!ok && !out.contains("n0t-1t"), "{out}");
    drop(registry);
    let _ = std::fs::remove_dir_all(&dir);
}
