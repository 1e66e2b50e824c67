//! What verifying a publisher's signature costs at load, per MB of component: the
//! tool-conventions check (`trust::verify`: parse every section, SHA-256 over all of
//! them, Ed25519) on calcbot and on calcbot grown by a custom section to 1, 8 and
//! 32 MiB (a JS or Python component is 8-40 MB). Prints figures; asserts nothing.
//!
//! Run with `cargo bench -p host --bench trust`.

use std::path::Path;
use std::time::Instant;

use host::trust::{SigningKey, keygen, sign, verify};

/// `bytes` with a custom section of `n` bytes appended (a component may end with one).
fn grown(bytes: &[u8], n: usize) -> Vec<u8> {
    let name = b"padding";
    let mut payload = vec![name.len() as u8];
    payload.extend_from_slice(name);
    payload.resize(payload.len() + n, 0x5a);
    let mut out = bytes.to_vec();
    out.push(0);
    let mut len = payload.len();
    loop {
        let byte = (len & 0x7f) as u8;
        len >>= 7;
        if len == 0 {
            out.push(byte);
            break;
        }
        out.push(byte | 0x80);
    }
    out.extend_from_slice(&payload);
    out
}

fn main() -> anyhow::Result<()> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace");
    let out = workspace.join("target/bench-fixtures");
    let built = host::cli::build::build_components(workspace, &["calcbot".into()], &out)?;
    let calcbot = std::fs::read(&built[0])?;
    let key = SigningKey::parse(&keygen().0).map_err(anyhow::Error::msg)?;
    let trusted = [key.public().clone()];
    for extra in [0, 1 << 20, 8 << 20, 32 << 20] {
        let file = sign(&grown(&calcbot, extra), &key).map_err(anyhow::Error::msg)?;
        let rounds = 10;
        let started = Instant::now();
        for _ in 0..rounds {
            verify(std::hint::black_box(&file), &trusted).map_err(anyhow::Error::msg)?;
        }
        let each = started.elapsed() / rounds;
        let mb = file.len() as f64 / (1 << 20) as f64;
        println!(
            "verify {:>6.2} MiB: {each:>10.2?} ({:.2} ms per MiB)",
            mb,
            each.as_secs_f64() * 1000.0 / mb
        );
    }
    Ok(())
}
