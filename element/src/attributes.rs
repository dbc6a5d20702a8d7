//! Reads the host element's attributes into typed settings: where Pyodide comes from, the
//! transport asked for, the run options, and the archive.

use python_runner_protocol::{ArchiveSpec, RunOptions, Transport};
use web_sys::HtmlElement;

use crate::error::Error;
use crate::pool::Group;
use crate::InstanceId;

/// Attributes whose changes the element reacts to.
pub const OBSERVED: &[&str] = &["hide-code", "manual"];

/// Where Pyodide is loaded from when `pyodide-url` is absent: the official CDN, pinned.
pub const DEFAULT_PYODIDE_URL: &str = "https://cdn.jsdelivr.net/pyodide/v314.0.7/full/";

/// The archive named by `src`, and the `integrity` it must match.
pub struct ArchiveSource {
    /// URL (absolute), format and extract folder.
    pub spec: ArchiveSpec,
    /// The `integrity` attribute, if set.
    pub integrity: Option<String>,
}

/// A non-empty, trimmed attribute.
fn attribute(host: &HtmlElement, name: &str) -> Option<String> {
    host.get_attribute(name)
        .map(|value| value.trim().to_string())
        .filter(|value| !value.is_empty())
}

/// `url` resolved against the element's base URL.
fn resolve(host: &HtmlElement, url: &str) -> Option<String> {
    let base = host.base_uri().ok().flatten().unwrap_or_default();
    web_sys::Url::new_with_base(url, &base)
        .ok()
        .map(|url| url.href())
}

/// `pyodide-url` (or the pinned CDN) resolved against the page, ending in `/`.
pub fn pyodide_url(host: &HtmlElement) -> Result<String, Error> {
    let value = attribute(host, "pyodide-url").unwrap_or_else(|| DEFAULT_PYODIDE_URL.into());
    let mut href = resolve(host, &value).ok_or(Error::InvalidUrl {
        attribute: "pyodide-url",
        value,
    })?;
    if !href.ends_with('/') {
        href.push('/');
    }
    Ok(href)
}

/// The `transport` attribute: a transport to use instead of the best available one.
pub fn preferred_transport(host: &HtmlElement) -> Option<Transport> {
    Transport::from_wire(&attribute(host, "transport")?)
}

/// Whether Python waits until the element comes near the viewport: `loading="lazy"` or no
/// `loading` (the default, as for `<img loading>`); `loading="eager"` starts it at connect.
pub fn lazy(host: &HtmlElement) -> bool {
    !attribute(host, "loading").is_some_and(|loading| loading.eq_ignore_ascii_case("eager"))
}

/// Whether Python may start from the cached memory snapshot: not with `snapshot="off"` on the
/// element or `<meta name="python-runner-snapshot" content="off">` on the page.
pub fn snapshot(host: &HtmlElement) -> bool {
    let off = |value: Option<String>| value.is_some_and(|value| value.eq_ignore_ascii_case("off"));
    let page = host
        .owner_document()
        .and_then(|document| {
            document
                .query_selector("meta[name=python-runner-snapshot]")
                .ok()
        })
        .flatten()
        .and_then(|meta| meta.get_attribute("content"));
    !off(attribute(host, "snapshot")) && !off(page)
}

/// Whom the element shares Python with (`runtime`): the page (the default), a named group, or
/// nobody (`own`).
pub fn group(host: &HtmlElement, id: InstanceId) -> Group {
    match attribute(host, "runtime") {
        Some(name) if name.eq_ignore_ascii_case("own") => Group::Own(id),
        Some(name) if !name.is_empty() => Group::Named(name),
        _ => Group::Page,
    }
}

/// What makes the element's archive this archive (`src`, `format`, `extract-dir`, `integrity`),
/// if it names one: elements whose archives differ never share a Python.
pub fn archive_identity(host: &HtmlElement) -> Option<String> {
    let src = attribute(host, "src")?;
    let part = |name| attribute(host, name).unwrap_or_default();
    Some(
        [
            src.as_str(),
            &part("format"),
            &part("extract-dir"),
            &part("integrity"),
        ]
        .join("\n"),
    )
}

/// Whether the element names an archive (`src`).
pub fn has_archive(host: &HtmlElement) -> bool {
    attribute(host, "src").is_some()
}

/// The archive named by `src`, if any.
pub fn archive(host: &HtmlElement) -> Result<Option<ArchiveSource>, Error> {
    let Some(src) = attribute(host, "src") else {
        return Ok(None);
    };
    let url = resolve(host, &src).ok_or(Error::InvalidUrl {
        attribute: "src",
        value: src,
    })?;
    let format = ArchiveSpec::format_for(&url, host.get_attribute("format").as_deref()).map_err(
        |reason| Error::ArchiveFormat {
            url: url.clone(),
            reason,
        },
    )?;
    Ok(Some(ArchiveSource {
        spec: ArchiveSpec {
            extract_dir: ArchiveSpec::extract_dir_for(host.get_attribute("extract-dir").as_deref()),
            url,
            format,
        },
        integrity: attribute(host, "integrity"),
    }))
}

/// The run options: `entry`, `install-imports`, `package-index`.
pub fn run_options(host: &HtmlElement) -> RunOptions {
    RunOptions {
        entry: attribute(host, "entry"),
        install_imports: host.has_attribute("install-imports"),
        // micropip appends `/<project>/` itself.
        package_index: attribute(host, "package-index").map(|index| {
            resolve(host, &index)
                .unwrap_or(index)
                .trim_end_matches('/')
                .to_string()
        }),
        ..RunOptions::default()
    }
}
