// Run infra/bytecode_driver.py inside Pyodide (CPython 3.12 built to WebAssembly) over a host folder.
//
//   node infra/pyodide/compile.mjs PYODIDE_DIR DRIVER_PY ROOT
//
// PYODIDE_DIR is the installed npm package (build/bytecode-compiler/node_modules/pyodide, from
// `make bytecode-compiler`); ROOT is mounted read-write, so the driver writes each source's
// __pycache__/<stem>.cpython-312.pyc and its report next to the sources, as a native python3.12 would.
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const [pyodideDir, driverPath, root] = process.argv.slice(2);
if (!pyodideDir || !driverPath || !root) {
  console.error("usage: node compile.mjs PYODIDE_DIR DRIVER_PY ROOT");
  process.exit(2);
}
const { loadPyodide } = await import(pathToFileURL(join(resolve(pyodideDir), "pyodide.mjs")).href);
const pyodide = await loadPyodide({
  indexURL: resolve(pyodideDir) + "/",
  // Same bytes on every run: nothing in the compiler may depend on a random hash seed.
  env: { PYTHONHASHSEED: "0" },
  stdout: (line) => console.error(line),
});
pyodide.FS.mkdirTree("/tree");
pyodide.FS.mount(pyodide.FS.filesystems.NODEFS, { root: resolve(root) }, "/tree");
pyodide.globals.set("driver_source", readFileSync(driverPath, "utf8"));
pyodide.runPython(
  [
    "import sys",
    "sys.argv = ['bytecode_driver.py', '/tree']",
    "exec(compile(driver_source, 'bytecode_driver.py', 'exec'), {'__name__': '__main__'})",
  ].join("\n"),
);
