"""Where the host's CPU goes per message, by stage, from a `perf record` of it:

    target/dist/sim bench -n 60000 -w 64 -- target/dist/host run --admin 127.0.0.1:0 calcbot.wasm &
    perf record -F 1999 --call-graph dwarf,8192 -p "$(pgrep -f '^target/dist/host run')" -- sleep 5
    python3 bench/profile_buckets.py perf.data [--us-per-message 95]

Each sample's call chain goes to the first stage (in the order below) with a frame
matching its pattern, so a sample inside the reply's HTTP request made from a host
call counts as the request, not as guest code. Samples no stage claims are listed by
their innermost frame. With --us-per-message (the host's CPU per message, from
`sim bench`), shares are also shown in microseconds.
"""

import argparse
import collections
import re
import subprocess

STAGES = [
    ("reply body JSON, answer check", r"webhook::text_body|webhook::send|openapi::check|serde_json::ser"),
    ("reply request: client, pool, response", r"hyper_util::client::legacy|openapi::direct|reqwest::|openapi::Http::send|hyper::client::conn"),
    ("reply request: hyper connection task", r"hyper::proto::h1::dispatch"),
    ("instance teardown", r"drop_in_place<wasmtime::runtime::store|StoreOpaque as core::ops::drop"),
    ("instantiation", r"instantiate_async|PoolingInstanceAllocator|allocate_instance"),
    ("reply host call: its own work", r"dingtalk::bot::reply"),
    ("log host call", r"dingtalk::bot::log"),
    ("fiber entry and switches, host-call glue", r"fiber|catch_unwind|HostFn|wasmtime::runtime::func"),
    # JIT code has no unwind info for perf: its samples are [unknown] frames of the
    # perf map wasmtime writes (perf-PID.map).
    ("guest code", r"call_handle|JIT|perf-"),
    ("frame read, decode, dispatch", r"connection::handle_text|FrameSink>::deliver|frame::decode"),
    ("ACK: dedup record, encode, queue", r"Recorder::send|Dedup::|Ack::encode|AckWriter"),
    ("ACK socket writes", r"write_loop"),
    ("socket reads", r"tokio_tungstenite|tungstenite::protocol"),
    ("handler task: spawn, deadline, metrics", r"dispatch::run_one|host::dispatch::"),
    ("tokio: scheduling, parking, wake-ups", r"tokio::runtime::scheduler|tokio::runtime::park|futex|schedule|try_to_wake_up"),
    ("metrics", r"prometheus|metrics::"),
]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("perf_data")
    p.add_argument("--us-per-message", type=float, help="the host's CPU per message, in microseconds")
    args = p.parse_args()
    script = subprocess.run(
        ["perf", "script", "-i", args.perf_data, "-F", "comm,ip,sym,dso"],
        capture_output=True, text=True, check=True,
    ).stdout
    counts = collections.Counter()
    total = 0
    for sample in script.split("\n\n"):
        lines = sample.strip().split("\n")
        if len(lines) < 2:
            continue
        total += 1
        stack = "\n".join(lines[1:])
        for name, pattern in STAGES:
            if re.search(pattern, stack):
                counts[name] += 1
                break
        else:
            top = lines[1].strip().split(" ", 1)[-1]
            counts["other: " + ("kernel" if "kernel" in top else top[:60])] += 1
    for name, n in counts.most_common(30):
        share = n / total
        us = f"  {share * args.us_per_message:5.1f} us" if args.us_per_message else ""
        print(f"{100 * share:5.1f}%{us}  {name}")
    print(f"{total} samples")


if __name__ == "__main__":
    main()
