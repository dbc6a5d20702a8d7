//! Starting Python: loads Pyodide, installs the helper package, and unpacks the author's archive.

use js_sys::{Function, Object, Promise};
use python_runner_protocol::js::describe_error as describe;
use python_runner_protocol::{ArchiveSpec, ErrorKind, ErrorPayload};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::channel::Channel;
use crate::js::{
    import_module, HelperModule, LoadOptions, PyCallable, Pyodide, PyodideModule, RunnerModule,
    UnpackOptions,
};
use crate::python;

/// Loads Pyodide, installs the helper package, and returns `run_code` (called as
/// `run_code(code, send_event)`), the Pyodide version and the Pyodide object.
pub async fn boot(
    pyodide_url: &str,
    python_files: &Object,
    channel: &Channel,
) -> Result<(PyCallable, String, Pyodide), ErrorPayload> {
    let load_error = |reason: String| {
        ErrorPayload::new(
            ErrorKind::PyodideLoad,
            python::load_error_message(pyodide_url, &reason),
        )
    };
    let module_url = python::module_url(pyodide_url);
    let module: PyodideModule = JsFuture::from(import_module(&module_url))
        .await
        .map_err(|error| load_error(describe(&error)))?
        .unchecked_into();
    let load_pyodide: Function = module
        .load_pyodide()
        .dyn_into()
        .map_err(|_| load_error(python::not_pyodide_reason(&module_url)))?;
    let promise: Promise = load_pyodide
        .call1(&JsValue::NULL, &LoadOptions::index_url(pyodide_url))
        .map_err(|error| load_error(describe(&error)))?
        .unchecked_into();
    let pyodide: Pyodide = JsFuture::from(promise)
        .await
        .map_err(|error| load_error(describe(&error)))?
        .unchecked_into();
    let helper: HelperModule = install_helper(&pyodide, python_files)
        .map_err(|reason| {
            ErrorPayload::new(
                ErrorKind::Internal,
                format!("could not install the python-runner helper package: {reason}"),
            )
        })?
        .unchecked_into();
    if let Channel::Atomics(reader) = channel {
        pyodide.set_interrupt_buffer(&reader.interrupt_buffer());
    }
    let version = pyodide.version().unwrap_or_default();
    Ok((helper.run_code(), version, pyodide))
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
