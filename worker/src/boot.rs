//! Starting Python: loads Pyodide (telling the page how far its downloads have come), installs
//! the helper package, and unpacks the author's archive.

use js_sys::{Function, Object, Promise, Uint8Array};
use python_runner_protocol::js::describe_error as describe;
use python_runner_protocol::{ArchiveSpec, ErrorKind, ErrorPayload, FromWorker};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::channel::Channel;
use crate::js::{
    import_module, post, HelperModule, LoadOptions, PyCallable, Pyodide, PyodideModule,
    RunnerModule, UnpackOptions,
};
use crate::python;
use python_runner_protocol::snapshot;

/// Python as `boot` leaves it: `run_code` (called as `run_code(code, send_event)`), the Pyodide
/// version, the Pyodide object, and whether it was restored from the memory snapshot.
pub struct Booted {
    /// The helper's `run_code`.
    pub run_code: PyCallable,
    /// `pyodide.version`.
    pub version: String,
    /// The Pyodide object.
    pub pyodide: Pyodide,
    /// Whether it was restored from the memory snapshot.
    pub warm: bool,
}

#[wasm_bindgen(inline_js = r#"
export function watch_downloads(report) {
  const fetch = self.fetch;
  let received = 0, total = 0, last = 0, watching = true;
  const tell = (now) => {
    if (watching && (now || Date.now() - last >= 100)) {
      last = Date.now();
      report(received, total);
    }
  };
  self.fetch = async function (...args) {
    const response = await fetch.apply(this, args);
    const length = Number(response.headers.get("content-length")) || 0;
    if (!watching || !response.ok || !response.body || !length) return response;
    total += length;
    tell(false);
    let left = length;
    const counter = new TransformStream({
      transform(chunk, controller) {
        // A compressed answer's Content-Length counts fewer bytes than arrive.
        const counted = Math.min(chunk.byteLength, left);
        left -= counted;
        received += counted;
        tell(left === 0);
        controller.enqueue(chunk);
      },
    });
    return new Response(response.body.pipeThrough(counter), {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
  };
  return () => {
    watching = false;
    self.fetch = fetch;
  };
}
"#)]
extern "C" {
    /// Wraps `self.fetch` so every download with a `Content-Length` reports `(received, total)`
    /// bytes to `report`, at most every 100 ms and when a download ends; returns the function
    /// that unwraps it (later reports are dropped).
    fn watch_downloads(report: &Function) -> Function;
}

/// While alive, Python's downloads report their progress to the page ([`FromWorker::Loading`]).
struct Downloads {
    stop: Function,
    _report: Closure<dyn FnMut(f64, f64)>,
}

impl Downloads {
    fn watch() -> Self {
        let report = Closure::<dyn FnMut(f64, f64)>::new(|received, total| {
            post(&FromWorker::Loading { received, total });
        });
        Self {
            stop: watch_downloads(report.as_ref().unchecked_ref()),
            _report: report,
        }
    }
}

impl Drop for Downloads {
    fn drop(&mut self) {
        let _ = self.stop.call0(&JsValue::UNDEFINED);
    }
}

/// Loads Pyodide (from the cached memory snapshot when `use_snapshot` and there is a good one)
/// and installs the helper package; the page hears how far the downloads have come meanwhile.
pub async fn boot(
    pyodide_url: &str,
    python_files: &Object,
    channel: &Channel,
    use_snapshot: bool,
) -> Result<Booted, ErrorPayload> {
    let _downloads = Downloads::watch();
    let (module, load_pyodide) = import_pyodide(pyodide_url).await?;
    let restored = match use_snapshot {
        true => {
            let version = module.version().unwrap_or_default();
            let key = snapshot::key(pyodide_url, &version, python_files);
            restore(pyodide_url, &load_pyodide, &key).await
        }
        false => None,
    };
    let warm = restored.is_some();
    let pyodide = match restored {
        Some(pyodide) => pyodide,
        None => {
            load(
                pyodide_url,
                &load_pyodide,
                &LoadOptions::index_url(pyodide_url),
            )
            .await?
        }
    };
    let helper: HelperModule = install_helper(&pyodide, python_files)
        .map_err(|reason| {
            ErrorPayload::new(
                ErrorKind::Internal,
                format!("could not install the python-runner helper package: {reason}"),
            )
        })?
        .unchecked_into();
    if warm {
        // Every restore of one snapshot would draw the same random numbers.
        let _ = pyodide.run_python(python::AFTER_RESTORE);
    }
    if let Channel::Atomics(reader) = channel {
        pyodide.set_interrupt_buffer(&reader.interrupt_buffer());
    }
    Ok(Booted {
        run_code: helper.run_code(),
        version: pyodide.version().unwrap_or_default(),
        pyodide,
        warm,
    })
}

/// Python restored from the snapshot under `key`, if there is a good one and it restores; a
/// snapshot that fails is deleted, with one console note.
async fn restore(pyodide_url: &str, load_pyodide: &Function, key: &str) -> Option<Pyodide> {
    let bytes = snapshot::read(key).await?;
    let options = LoadOptions::index_url(pyodide_url);
    options.set_load_snapshot(&bytes);
    match load(pyodide_url, load_pyodide, &options).await {
        Ok(pyodide) => Some(pyodide),
        Err(error) => {
            web_sys::console::info_1(
                &[
                    "python-runner: the cached Python snapshot did not restore, so Python starts in full (",
                    &error.message,
                    ").",
                ]
                .concat()
                .into(),
            );
            snapshot::forget(key).await;
            None
        }
    }
}

/// Starts Python in full and makes its memory snapshot (helper package imported, no user code),
/// for the page to store: (the bytes, ms to make them, their cache key). This Python is
/// throwaway: Pyodide records the JS globals it touches, which breaks some of them.
pub async fn make_snapshot(
    pyodide_url: &str,
    python_files: &Object,
) -> Result<(Uint8Array, f64, String), ErrorPayload> {
    let (module, load_pyodide) = import_pyodide(pyodide_url).await?;
    let key = snapshot::key(
        pyodide_url,
        &module.version().unwrap_or_default(),
        python_files,
    );
    let options = LoadOptions::index_url(pyodide_url);
    options.set_make_snapshot(true);
    let pyodide = load(pyodide_url, &load_pyodide, &options).await?;
    let fail = |error: JsValue| {
        ErrorPayload::new(
            ErrorKind::Internal,
            ["could not make the Python snapshot: ", &describe(&error)].concat(),
        )
    };
    install_helper(&pyodide, python_files).map_err(|reason| fail(reason.into()))?;
    // Everything `run_code` needs, imported once for every later start.
    pyodide.pyimport(python::RUNNER_MODULE).map_err(fail)?;
    let started = js_sys::Date::now();
    let bytes = pyodide.make_memory_snapshot().map_err(fail)?;
    let make_ms = js_sys::Date::now() - started;
    Ok((bytes, make_ms, key))
}

/// Imports `pyodide.mjs` from `pyodide_url`: the module and its `loadPyodide`.
async fn import_pyodide(pyodide_url: &str) -> Result<(PyodideModule, Function), ErrorPayload> {
    let module_url = python::module_url(pyodide_url);
    let module: PyodideModule = JsFuture::from(import_module(&module_url))
        .await
        .map_err(|error| load_error(pyodide_url, describe(&error)))?
        .unchecked_into();
    let load_pyodide: Function = module
        .load_pyodide()
        .dyn_into()
        .map_err(|_| load_error(pyodide_url, python::not_pyodide_reason(&module_url)))?;
    Ok((module, load_pyodide))
}

/// `loadPyodide(options)`.
async fn load(
    pyodide_url: &str,
    load_pyodide: &Function,
    options: &LoadOptions,
) -> Result<Pyodide, ErrorPayload> {
    let promise: Promise = load_pyodide
        .call1(&JsValue::NULL, options)
        .map_err(|error| load_error(pyodide_url, describe(&error)))?
        .unchecked_into();
    Ok(JsFuture::from(promise)
        .await
        .map_err(|error| load_error(pyodide_url, describe(&error)))?
        .unchecked_into())
}

fn load_error(pyodide_url: &str, reason: String) -> ErrorPayload {
    ErrorPayload::new(
        ErrorKind::PyodideLoad,
        python::load_error_message(pyodide_url, &reason),
    )
}

/// Writes the helper package (`python_files`: relative path → text) into Pyodide's
/// site-packages and imports it; returns the module. Also makes Pyodide's interrupt buffer
/// lossless (`interrupts.rs`). Harmless to repeat on one Pyodide.
pub fn install_helper(pyodide: &JsValue, python_files: &Object) -> Result<JsValue, String> {
    crate::interrupts::make_interrupts_atomic(pyodide);
    let pyodide: &Pyodide = pyodide.unchecked_ref();
    let install_error = |error: JsValue| describe(&error);
    let fs = pyodide.fs();
    // Found in the file system: the first `runPython` of a fresh Pyodide costs ~25 ms.
    let site_packages = fs
        .readdir("/lib")
        .ok()
        .and_then(|entries| {
            entries
                .iter()
                .find_map(|entry| python::site_packages_in(&entry.as_string()?))
        })
        .unwrap_or_else(|| python::FALLBACK_INSTALL_FOLDER.to_string());
    for entry in Object::entries(python_files).iter() {
        let entry: js_sys::Array = entry.unchecked_into();
        let (Some(relative_path), Some(text)) =
            (entry.get(0).as_string(), entry.get(1).as_string())
        else {
            continue;
        };
        let (directory, path) = python::install_paths(&site_packages, &relative_path);
        fs.mkdir_tree(&directory).map_err(install_error)?;
        fs.write_file(&path, &text).map_err(install_error)?;
    }
    pyodide
        .pyimport(python::HELPER_MODULE)
        .map_err(install_error)
}

/// Unpacks the author's archive into its folder and puts the folder first on `sys.path`.
pub(crate) fn unpack(
    pyodide: &Pyodide,
    spec: &ArchiveSpec,
    bytes: &JsValue,
) -> Result<(), ErrorPayload> {
    let fail = |error: JsValue| {
        ErrorPayload::new(
            ErrorKind::Archive,
            python::unpack_error_message(
                &spec.url,
                &spec.format,
                &python::last_line(&describe(&error)),
            ),
        )
    };
    let options = UnpackOptions::extract_dir(&spec.extract_dir);
    pyodide
        .unpack_archive(bytes, &spec.format, &options)
        .map_err(fail)?;
    pyodide
        .pyimport(python::RUNNER_MODULE)
        .and_then(|module| {
            module
                .unchecked_into::<RunnerModule>()
                .add_to_path(&spec.extract_dir)
        })
        .map_err(fail)
}
