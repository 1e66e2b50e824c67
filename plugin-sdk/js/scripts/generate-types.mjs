// Generate the TypeScript declarations of the host's WIT imports (`types/`) with jco.
//
//   node scripts/generate-types.mjs <node_modules with @bytecodealliance/jco> <bot.wit> <out dir>
//
// jco's own `guest-types` command cannot read the WIT (since preview2-shim 0.26 its
// WASI shim opens no folder), so the WIT text is handed to jco's bindgen component
// directly; the output is the same.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";

const [modules, wit, out] = process.argv.slice(2);
const bindgen = join(modules, "@bytecodealliance/jco-transpile/vendor/js-component-bindgen-component.js");
const { $init, generateTypes } = await import(pathToFileURL(bindgen).href);
await $init;
const files = generateTypes("plugin", {
  wit: { tag: "source", val: readFileSync(wit, "utf8") },
  world: "plugin",
  guest: true,
  features: { tag: "all" },
});
for (const [name, bytes] of files) {
  const path = join(out, name);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, bytes);
}
