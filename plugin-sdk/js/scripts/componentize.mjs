// Turn a bundled ES module into a plugin component with componentize-js.
//
//   node scripts/componentize.mjs <node_modules> <bundle.js> <wit dir> <out.wasm>
//
// `fetch` stays (the host links wasi:http and checks every request against the
// plugin's grant); the incoming-HTTP event loop is not a plugin's business.
//
// componentize-js reads the WIT through jco's WASI shim, which since preview2-shim
// 0.26 opens no folder unless told: the WIT folder is the one it gets.
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const [modules, source, wit, out] = process.argv.slice(2);
const fs = join(modules, "@bytecodealliance/preview2-shim/dist/nodejs/filesystem.js");
const { _setPreopens } = await import(pathToFileURL(fs).href);
_setPreopens({ [resolve(wit)]: resolve(wit) });
const api = join(modules, "@bytecodealliance/componentize-js/src/componentize.js");
const { componentize } = await import(pathToFileURL(api).href);
const { component } = await componentize({
  sourcePath: source,
  witPath: resolve(wit),
  worldName: "plugin",
  disableFeatures: ["fetch-event"],
});
writeFileSync(out, component);
