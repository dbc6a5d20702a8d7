// Module worker of demo/library.html: loads Pyodide and the demo archive with python-runner.mjs (the library API,
// a drop-in for pyodide-worker-runner + comsync + sync-message) and exposes `runCode` to the page's PyodideClient.
import { expose, loadPyodideAndPackage, makeRunnerCallback, pyodideExpose } from "/dist/python-runner.mjs";

// Pyodide and the archive come from this server, never a CDN. They load as soon as the worker starts.
const loader = async () => (await import("/pyodide/pyodide.mjs")).loadPyodide({ indexURL: "/pyodide/" });
const pyodideReady = loadPyodideAndPackage({ url: "/project.zip", format: "zip" }, loader).then((pyodide) => {
  // `PyodideRunner` of our Python package `pyodide_worker_runner` (installed by loadPyodideAndPackage) batches
  // output and sends input() and time.sleep() to the callback made by makeRunnerCallback, which calls the page
  // through the channel; when the page interrupts, it raises KeyboardInterrupt (as python_runner's PyodideRunner).
  const runner = pyodide.pyimport("pyodide_worker_runner").PyodideRunner();
  return { pyodide, runner };
});
// Nobody may have asked for Python yet; runCode and ready report a failed load.
pyodideReady.catch(() => {});

// The local package index that bundle/run.sh prepares (install_imports installs from it, not from PyPI).
const indexUrls = [new URL("/pypi/simple/", self.location.href).href];

expose({
  /** Resolves to the Pyodide version once Python is ready. */
  async ready() {
    return (await pyodideReady).pyodide.version;
  },

  /** Runs `code`; output parts go to `output`, prompts to `input`; the typed line comes from client.writeMessage. */
  runCode: pyodideExpose(async (extras, code, output, input) => {
    const { pyodide, runner } = await pyodideReady;
    // Missing packages the code imports, e.g. `from tabulate import tabulate`; progress is shown as output.
    const installImports = pyodide.pyimport("pyodide_worker_runner").install_imports;
    await installImports.callKwargs(code, (type, data) => installMessage(output, type, data), {
      index_urls: pyodide.toPy(indexUrls),
    });
    installImports.destroy();
    // With SharedArrayBuffer, Stop also interrupts busy code (KeyboardInterrupt at Python's next check).
    if (extras.interruptBuffer) pyodide.setInterruptBuffer(extras.interruptBuffer);
    // Output travels on the callback's own port: await the last of it, so the page has it all when the call ends.
    let lastOutput;
    runner.set_callback(makeRunnerCallback(extras, { output: (parts) => (lastOutput = output(parts)), input }));
    runner.run(code);
    await lastOutput;
  }),
});

function installMessage(output, type, data) {
  const entry = data.toJs({ dict_converter: Object.fromEntries });
  if (type === "loading_one") output([{ type: "note", text: `Installing ${entry.package}…\n` }]);
  if (type === "failed_one") output([{ type: "stderr", text: `Could not install ${entry.package}: ${entry.error}\n` }]);
}
