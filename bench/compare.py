"""Compare host+calcbot.wasm with the official SDKs and the Rust crates, one command:

    python3 bench/compare.py                # 3 rounds, windows 1 and 64
    python3 bench/compare.py --rounds 5 --only host,dingtalk-stream

Builds the host and simulator with the `dist` profile (fat LTO, as deployed) and
installs the rest under $CARGO_TARGET_DIR/bench (or target/bench): the plugins, a
virtualenv with dingtalk-stream from PyPI, the dingtalk-stream package from npm, the
two Rust crates from crates.io, and a throw-away certificate authority for the crate
with hard-coded URLs. Then it runs
`sim bench` for every client and window, alternating clients inside each round so
that machine noise falls on all of them alike, and prints the medians and the
host/peer ratios of the same run. Raw results go to bench/results.json under the
install directory. Loopback only: every client talks to the simulator on 127.0.0.1.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
WORK = TARGET / "bench"
PYTHON_SDK = "dingtalk-stream==0.24.3"
NODE_SDK = "dingtalk-stream@2.1.5"
CLIENTS = ["host", "python-sdk", "node-sdk", "dingtalk-stream", "dingtalk-stream-sdk"]
# Slow clients get fewer messages so a round stays short; rates do not depend on N.
SLOW = {"python-sdk", "node-sdk"}


def run(cmd, **kw):
    """Run a setup step; its output goes to stderr so stdout is only the report."""
    print("+", " ".join(str(c) for c in cmd), file=sys.stderr)
    subprocess.run(cmd, check=True, stdout=sys.stderr, **kw)


def setup(clients):
    """Build or install every client; returns {name: command}."""
    WORK.mkdir(parents=True, exist_ok=True)
    # The `dist` profile (fat LTO) is the build operators deploy; the simulator gets it
    # too, so the driver takes as little of the shared cores as it can.
    run(["cargo", "build", "--profile", "dist", "-p", "host", "-p", "sim"], cwd=ROOT)
    host = TARGET / "dist" / "host"
    plugins = WORK / "plugins"
    run([host, "build", ROOT / "plugins/calcbot", ROOT / "plugins/cardbot", "--out", plugins])
    commands = {
        # Metrics on: the host is measured as operators run it.
        "host": [str(host), "run", "--admin", "127.0.0.1:0", "--config", str(ROOT / "bench/host.toml"), str(plugins / "calcbot.wasm")],
        # cardbot subscribes to chatbot messages too, so with it loaded every message
        # also gets its one-second card update: measured for memory only.
        "host+cardbot": [str(host), "run", "--config", str(ROOT / "bench/host.toml"), str(plugins / "calcbot.wasm"), str(plugins / "cardbot.wasm")],
    }
    if "python-sdk" in clients:
        venv = WORK / "python"
        if not (venv / "bin/python").exists():
            run([sys.executable, "-m", "venv", venv])
        run([venv / "bin/python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check", PYTHON_SDK])
        commands["python-sdk"] = [str(venv / "bin/python"), str(ROOT / "tests/python/calcbot.py")]
    if "node-sdk" in clients:
        if not (shutil.which("node") and shutil.which("npm")):
            sys.exit("the node-sdk peer needs node and npm on PATH (or leave it out with --only)")
        node = WORK / "node"
        node.mkdir(exist_ok=True)
        if not (node / "package.json").exists():
            (node / "package.json").write_text('{"private": true}\n')
        run(["npm", "install", "--prefix", node, "--no-audit", "--no-fund", "--silent", NODE_SDK])
        commands["node-sdk"] = ["env", f"NODE_PATH={node / 'node_modules'}", "node", str(ROOT / "bench/peers/node/calcbot.js")]
    if clients & {"dingtalk-stream", "dingtalk-stream-sdk"}:
        peers = WORK / "rust-peers"
        run(
            ["cargo", "build", "--release", "--manifest-path", ROOT / "bench/peers/rust/Cargo.toml"],
            cwd=ROOT,
            env=dict(os.environ, CARGO_TARGET_DIR=str(peers)),
        )
        commands["dingtalk-stream"] = [str(peers / "release/dingtalk-stream")]
        ca, cert, key = certificates()
        commands["dingtalk-stream-sdk"] = [
            sys.executable, str(ROOT / "bench/peers/tls_proxy.py"), ca, cert, key, "--",
            str(peers / "release/dingtalk-stream-sdk"),
        ]
    return {name: cmd for name, cmd in commands.items() if name in clients or name == "host+cardbot"}


def certificates():
    """A throw-away CA and a leaf for api/oapi.dingtalk.com it signed."""
    d = WORK / "certs"
    ca, cert, key = d / "ca.pem", d / "leaf.pem", d / "leaf.key"
    if cert.exists():
        return str(ca), str(cert), str(key)
    d.mkdir(exist_ok=True)
    ossl = shutil.which("openssl") or sys.exit("openssl is needed for the dingtalk-stream-sdk peer")
    run([ossl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30", "-subj", "/CN=bench throw-away CA",
         "-keyout", d / "ca.key", "-out", ca], stderr=subprocess.DEVNULL)
    run([ossl, "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=api.dingtalk.com",
         "-keyout", key, "-out", d / "leaf.csr"], stderr=subprocess.DEVNULL)
    (d / "ext").write_text("subjectAltName=DNS:api.dingtalk.com,DNS:oapi.dingtalk.com\nbasicConstraints=CA:FALSE\n")
    run([ossl, "x509", "-req", "-in", d / "leaf.csr", "-CA", ca, "-CAkey", d / "ca.key", "-CAcreateserial",
         "-days", "30", "-extfile", d / "ext", "-out", cert], stderr=subprocess.DEVNULL)
    return str(ca), str(cert), str(key)


def bench(name, command, window, messages, warmup, log):
    sim = TARGET / "dist" / "sim"
    cmd = [str(sim), "bench", "-n", str(messages), "-w", str(window), "--warmup", str(warmup), "--", *command]
    with open(log, "a") as err:
        err.write(f"\n== {name} w={window} {time.strftime('%H:%M:%S')}\n")
        err.flush()
        done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=err, text=True, env=dict(os.environ, RUST_LOG="warn"))
    if done.returncode != 0:
        print(f"  {name} w={window}: failed (exit {done.returncode}), see {log}", file=sys.stderr)
        return None
    # serde_json writes NaN (no ACK or reply arrived) as null.
    result = {k: float("nan") if v is None else v for k, v in json.loads(done.stdout.strip().splitlines()[-1]).items()}
    print(f"  {name:<20} w={window:<3} {result['messages_per_sec']:>9.0f} msg/s  ACK p99 {result['ack_p99_ms']:.2f} ms  "
          f"reply p50 {result['reply_p50_ms']:.2f} ms  RSS {result['client_peak_rss_mib']:.1f} MiB  errors {result['errors']}",
          file=sys.stderr)
    return result


FIELDS = [
    ("messages_per_sec", "msg/s", "{:.0f}"),
    ("ack_p50_ms", "ACK p50 ms", "{:.2f}"),
    ("ack_p99_ms", "ACK p99 ms", "{:.2f}"),
    ("reply_p50_ms", "reply p50 ms", "{:.2f}"),
    ("reply_p99_ms", "reply p99 ms", "{:.2f}"),
    ("errors", "errors", "{:.0f}"),
    ("client_peak_rss_mib", "peak RSS MiB", "{:.1f}"),
    ("cpu_per_1000", "CPU s/1000 msgs", "{:.3f}"),
    ("driver_per_1000", "driver CPU s/1000", "{:.3f}"),
]


def medians(results):
    out = {}
    for key, _, _ in FIELDS:
        values = [r[key] for r in results]
        out[key] = statistics.median(values) if values else float("nan")
    return out


def report(results, windows, clients, rounds):
    lines = [f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, medians of {rounds} rounds", ""]
    for w in windows:
        lines.append(f"### window {w}")
        lines.append("")
        lines.append("| client | " + " | ".join(h for _, h, _ in FIELDS) + " |")
        lines.append("|---" * (len(FIELDS) + 1) + "|")
        table = {}
        for name in clients:
            runs = [r for r in results[name][w] if r]
            if not runs:
                lines.append(f"| {name} | " + " | ".join("failed" for _ in FIELDS) + " |")
                continue
            table[name] = medians(runs)
            lines.append(f"| {name} | " + " | ".join(f.format(table[name][k]) for k, _, f in FIELDS) + " |")
        lines.append("")
        if "host" in table:
            host = table["host"]
            for name, peer in table.items():
                if name == "host":
                    continue
                lines.append(
                    f"- host/{name}: throughput x{host['messages_per_sec'] / peer['messages_per_sec']:.1f}, "
                    f"CPU per message x{host['cpu_per_1000'] / peer['cpu_per_1000']:.2f}, "
                    f"memory x{host['client_peak_rss_mib'] / peer['client_peak_rss_mib']:.2f}"
                )
            lines.append("")
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--windows", default="1,64", help="comma-separated windows")
    p.add_argument("--messages", type=int, default=20000, help="messages per run for fast clients")
    p.add_argument("--slow-messages", type=int, default=4000, help="messages per run for the Python and Node SDKs")
    p.add_argument("--warmup", type=int, default=500)
    p.add_argument("--only", default=",".join(CLIENTS), help="comma-separated clients: " + ", ".join(CLIENTS))
    args = p.parse_args()
    clients = [c for c in CLIENTS if c in set(args.only.split(","))]
    windows = [int(w) for w in args.windows.split(",")]
    commands = setup(set(clients))
    log = WORK / "clients.log"
    loaded = bench("host+cardbot", commands["host+cardbot"], 1, 20, 0, log)
    results = {name: {w: [] for w in windows} for name in clients}
    for r in range(args.rounds):
        print(f"round {r + 1}/{args.rounds}", file=sys.stderr)
        for w in windows:
            for name in clients:
                n = args.slow_messages if name in SLOW else args.messages
                result = bench(name, commands[name], w, n, args.warmup, log)
                if result:
                    result["cpu_per_1000"] = result["client_cpu_seconds"] * 1000 / result["messages"]
                    result["driver_per_1000"] = result["driver_cpu_seconds"] * 1000 / result["messages"]
                results[name][w].append(result)
    (WORK / "results.json").write_text(json.dumps(results, indent=1))
    print(report(results, windows, clients, args.rounds))
    if loaded:
        print(f"host with calcbot and cardbot loaded, after 20 messages at window 1: "
              f"peak RSS {loaded['client_peak_rss_mib']:.1f} MiB")


if __name__ == "__main__":
    main()
