/**
 * The build-time warm-up's gate on host calls.
 *
 * componentize-js snapshots the component after running the bundle's top level, and
 * `Plugin.export()` (run there) puts synthetic messages through the message handlers
 * so that their code is already compiled in every fresh instance. The host is not
 * there at build: every `dingtalk:bot` function (each module reaches them through
 * `gated`) and `fetch` throw `WarmingUp` while the warm-up runs, so it reaches no
 * network and no state.
 */

let warming = false;

/** A host call made by the warm-up, which makes none. */
export class WarmingUp extends Error {
  constructor() {
    super("no host calls while the component is warmed up at build");
    this.name = "WarmingUp";
  }
}

/** The functions of an imported interface, each refused during the warm-up. */
export function gated<T extends object>(iface: T): T {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(iface)) {
    out[name] =
      typeof value === "function"
        ? (...args: unknown[]) => {
            if (warming) throw new WarmingUp();
            return (value as (...a: unknown[]) => unknown)(...args);
          }
        : value;
  }
  return out as T;
}

/** Run `f` with every host call and `fetch` refused. */
export function whileWarming(f: () => void): void {
  const fetch = globalThis.fetch;
  globalThis.fetch = () => Promise.reject(new WarmingUp());
  warming = true;
  try {
    f();
  } finally {
    warming = false;
    globalThis.fetch = fetch;
  }
}
