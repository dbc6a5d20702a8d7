//! Static HTTP server for the browser tests and `cargo bundle serve`: mounts dist/, Pyodide, fixtures and the demo,
//! with or without cross-origin isolation (COOP/COEP), exact MIME types, and optional slow responses.
//!
//! Mounts (all below the workspace root):
//!
//! | URL prefix   | directory                 | `Cache-Control`          |
//! |--------------|---------------------------|--------------------------|
//! | `/dist/`     | `target/dist/`            | `no-cache`               |
//! | `/pyodide/`  | `node_modules/pyodide/`   | `public, max-age=86400`  |
//! | `/fixtures/` | `tests/fixtures/`         | `no-cache`               |
//! | `/pypi/`     | `target/pypi/`            | `no-cache`               |
//! | `/node_modules/` | `node_modules/` (read by the bench's library part: the upstream npm packages) | `no-cache` |
//! | `/`          | `demo/`                   | `no-cache`               |
//!
//! Every response carries `Access-Control-Allow-Origin: *` (files: unless the query has `no_cors=1`) and
//! `Cross-Origin-Resource-Policy: cross-origin`, so
//! pages on other origins (a wasm-bindgen-test page, the other test server) can load Pyodide. An isolated server
//! also sends `Cross-Origin-Opener-Policy: same-origin` and `Cross-Origin-Embedder-Policy: require-corp`.
//!
//! `/favicon.ico` answers 204 No Content when demo/ has none, so pages get no 404 console error for it.
//!
//! Query parameters understood on any file:
//! - `delay_ms=N`: wait N ms (at most 60 s) before answering.
//! - `pause_ms=N`: for a file that contains the marker [`PAUSE_MARKER`], send everything before the marker, flush,
//!   wait N ms, then send the rest (simulates a document whose tail arrives late, while the parser already ran the
//!   part before it).

use anyhow::{anyhow, Context, Result};
use std::fs;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;
use tiny_http::{Header, Method, Request, Response, StatusCode};

/// Marker at which `?pause_ms=N` pauses a response (the marker itself is sent too; it is an HTML comment).
pub const PAUSE_MARKER: &str = "<!--pause-->";

/// Longest delay accepted from `delay_ms` / `pause_ms`.
const MAX_DELAY: Duration = Duration::from_secs(60);

/// The workspace root (parent of the `tests/` crate), found at compile time from `CARGO_MANIFEST_DIR`.
/// The environment variable `PYTHON_RUNNER_ROOT` overrides it at run time.
pub fn workspace_root() -> PathBuf {
    if let Some(root) = std::env::var_os("PYTHON_RUNNER_ROOT") {
        return PathBuf::from(root);
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .map_or_else(|| manifest.to_path_buf(), Path::to_path_buf)
}

/// How to start a [`Server`].
#[derive(Clone, Debug)]
pub struct ServerOptions {
    /// Send `Cross-Origin-Opener-Policy: same-origin` and `Cross-Origin-Embedder-Policy: require-corp`.
    pub isolated: bool,
    /// Port on 127.0.0.1; 0 picks a free ephemeral port.
    pub port: u16,
    /// Workspace root holding `target/dist`, `node_modules/pyodide`, `tests/fixtures` and `demo`.
    pub root: PathBuf,
    /// Extra delay before answering any request whose path starts with the given prefix (e.g. `/pyodide/`).
    pub delays: Vec<(String, Duration)>,
}

impl Default for ServerOptions {
    /// Isolated, ephemeral port, [`workspace_root`], no delays.
    fn default() -> Self {
        ServerOptions {
            isolated: true,
            port: 0,
            root: workspace_root(),
            delays: Vec::new(),
        }
    }
}

impl ServerOptions {
    /// Cross-origin isolated (COOP/COEP), ephemeral port.
    pub fn isolated() -> Self {
        ServerOptions::default()
    }

    /// No COOP/COEP, ephemeral port.
    pub fn not_isolated() -> Self {
        ServerOptions {
            isolated: false,
            ..ServerOptions::default()
        }
    }

    /// Same options on a fixed port.
    pub fn with_port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Same options with another workspace root.
    pub fn with_root(mut self, root: impl Into<PathBuf>) -> Self {
        self.root = root.into();
        self
    }

    /// Delay every request whose path starts with `prefix` by `delay`.
    pub fn with_delay(mut self, prefix: impl Into<String>, delay: Duration) -> Self {
        self.delays.push((prefix.into(), delay));
        self
    }
}

/// One request as the server saw it (for assertions such as "exactly one 404, for /nope/pyodide.mjs").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestRecord {
    /// `GET`, `HEAD`, ...
    pub method: String,
    /// Path and query as requested, e.g. `/pyodide/pyodide.mjs?delay_ms=10`.
    pub url: String,
    /// Status code sent.
    pub status: u16,
}

/// A running static server; stops (and frees its port) when dropped.
pub struct Server {
    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub base_url: String,
    port: u16,
    isolated: bool,
    /// `None` only during drop.
    http: Option<Arc<tiny_http::Server>>,
    stopping: Arc<AtomicBool>,
    accept_thread: Option<JoinHandle<()>>,
    log: Arc<Mutex<Vec<RequestRecord>>>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("base_url", &self.base_url)
            .field("isolated", &self.isolated)
            .finish_non_exhaustive()
    }
}

struct Shared {
    options: ServerOptions,
    log: Arc<Mutex<Vec<RequestRecord>>>,
}

impl Server {
    /// Binds 127.0.0.1:`options.port` and serves on background threads (one per request).
    pub fn start(options: ServerOptions) -> Result<Server> {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, options.port));
        let http = tiny_http::Server::from_listener(listener_without_nagle(addr)?, None)
            .map_err(|e| anyhow!("could not listen on {addr}: {e}"))?;
        let port = http
            .server_addr()
            .to_ip()
            .map(|a| a.port())
            .context("the server has no IP address")?;
        let http = Arc::new(http);
        let stopping = Arc::new(AtomicBool::new(false));
        let log = Arc::new(Mutex::new(Vec::new()));
        let isolated = options.isolated;
        let shared = Arc::new(Shared {
            options,
            log: Arc::clone(&log),
        });
        let accept_thread = {
            let http = Arc::clone(&http);
            let stopping = Arc::clone(&stopping);
            std::thread::Builder::new()
                .name(format!("static-server-{port}"))
                .spawn(move || accept_loop(&http, &stopping, &shared))
                .context("could not spawn the server thread")?
        };
        Ok(Server {
            base_url: format!("http://127.0.0.1:{port}"),
            port,
            isolated,
            http: Some(http),
            stopping,
            accept_thread: Some(accept_thread),
            log,
        })
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// `base_url` + `path` (`path` should start with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    /// The port actually bound.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether COOP/COEP are sent.
    pub fn is_isolated(&self) -> bool {
        self.isolated
    }

    /// All requests answered so far, oldest first.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Forget the requests recorded so far.
    pub fn clear_requests(&self) {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        if let Some(http) = &self.http {
            http.unblock();
        }
        if let Some(thread) = self.accept_thread.take() {
            // The accept loop only ends through `unblock`; a panic there has already been printed.
            let _ = thread.join();
        }
        // Dropping the last handle makes tiny_http close its listener, but from its own thread, a moment later.
        // Wait (bounded) until the port refuses connections, so the port is free when `drop` returns.
        drop(self.http.take());
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        while std::time::Instant::now() < deadline
            && std::net::TcpStream::connect((Ipv4Addr::LOCALHOST, self.port)).is_ok()
        {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// A listening socket with TCP_NODELAY set, which Linux copies to every accepted connection.
/// tiny_http never sets it, so each later request on a reused keep-alive connection waited
/// ~44 ms for the client's delayed ACK (Nagle's algorithm holding back the response's tail).
fn listener_without_nagle(addr: SocketAddr) -> Result<std::net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))
        .context("could not create a socket")?;
    socket.set_reuse_address(true).context("SO_REUSEADDR")?;
    socket.set_tcp_nodelay(true).context("TCP_NODELAY")?;
    socket
        .bind(&addr.into())
        .with_context(|| format!("could not listen on {addr}"))?;
    socket
        .listen(128)
        .with_context(|| format!("could not listen on {addr}"))?;
    Ok(socket.into())
}

fn accept_loop(http: &tiny_http::Server, stopping: &AtomicBool, shared: &Arc<Shared>) {
    loop {
        match http.recv() {
            Ok(request) => {
                let shared = Arc::clone(shared);
                let spawned = std::thread::Builder::new()
                    .name("static-server-request".into())
                    .spawn(move || handle(request, &shared));
                if let Err(e) = spawned {
                    eprintln!("static server: could not spawn a request thread: {e}");
                }
            }
            Err(e) => {
                if stopping.load(Ordering::SeqCst) {
                    return;
                }
                eprintln!("static server: accept error: {e}");
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

/// The directory a mount serves and the cache policy of that mount.
struct Mount {
    prefix: &'static str,
    dir: &'static str,
    cache: &'static str,
}

/// The local package index (`bundle/run.sh` downloads the wheels from PyPI and
/// `tests/pypi/make_index.py` writes `simple/<project>/index.html` and `lock-overrides.json`).
const PYPI_DIR: &str = "target/pypi";

const MOUNTS: &[Mount] = &[
    Mount {
        prefix: "/dist/",
        dir: "target/dist",
        cache: "no-cache",
    },
    Mount {
        prefix: "/pyodide/",
        dir: "node_modules/pyodide",
        cache: "public, max-age=86400",
    },
    Mount {
        prefix: "/fixtures/",
        dir: "tests/fixtures",
        cache: "no-cache",
    },
    Mount {
        prefix: "/pypi/",
        dir: PYPI_DIR,
        cache: "no-cache",
    },
    Mount {
        prefix: "/node_modules/",
        dir: "node_modules",
        cache: "no-cache",
    },
    Mount {
        prefix: "/",
        dir: "demo",
        cache: "no-cache",
    },
];

/// MIME type sent for a file name (by extension; `application/octet-stream` when unknown).
pub fn mime_type(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" | "cjs" => "text/javascript; charset=utf-8",
        "wasm" => "application/wasm",
        "json" | "map" => "application/json",
        "css" => "text/css; charset=utf-8",
        "py" | "txt" | "ts" | "md" | "toml" => "text/plain; charset=utf-8",
        "zip" | "whl" => "application/zip",
        "tar" => "application/x-tar",
        "gz" | "tgz" => "application/gzip",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        _ => "application/octet-stream",
    }
}

/// A header from constant, ASCII name and value (only used with literals and MIME types from [`mime_type`]).
fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name.as_bytes(), value.as_bytes())
        .expect("header names and values built here are ASCII literals")
}

fn split_query(url: &str) -> (&str, &str) {
    match url.split_once('?') {
        Some((path, query)) => (path, query),
        None => (url, ""),
    }
}

fn query_ms(query: &str, key: &str) -> Option<Duration> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == key)
        .and_then(|(_, v)| v.parse::<u64>().ok())
        .map(|ms| Duration::from_millis(ms).min(MAX_DELAY))
}

/// Decodes `%XX` escapes; `None` for malformed escapes, non-UTF-8 results or NUL bytes.
fn percent_decode(path: &str) -> Option<String> {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = path.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    if out.contains(&0) {
        return None;
    }
    String::from_utf8(out).ok()
}

/// What a request path resolves to.
enum Target {
    File {
        path: PathBuf,
        cache: &'static str,
    },
    /// A directory requested without its trailing slash: redirect so relative URLs work.
    AddSlash,
    /// A directory without index.html.
    Listing {
        dir: PathBuf,
        cache: &'static str,
    },
    NotFound,
    BadRequest,
}

fn resolve(root: &Path, decoded_path: &str) -> Target {
    // "/dist" → the "/dist/" mount's root, like "/dist/".
    let Some(mount) = MOUNTS.iter().find(|m| {
        decoded_path.starts_with(m.prefix) || decoded_path == m.prefix.trim_end_matches('/')
    }) else {
        return Target::NotFound;
    };
    let rel = decoded_path.get(mount.prefix.len()..).unwrap_or("");
    if rel.contains('\\') {
        return Target::BadRequest;
    }
    let rel_path = Path::new(rel);
    if !rel_path
        .components()
        .all(|c| matches!(c, Component::Normal(_)))
    {
        return Target::BadRequest;
    }
    let mut path = root.join(mount.dir).join(rel_path);
    if mount.prefix == "/pyodide/" && !path.exists() && rel.ends_with(".whl") && !rel.contains('/')
    {
        // Wheels the npm package lacks (micropip) come from the local package index.
        path = root.join(PYPI_DIR).join("files").join(rel_path);
    }
    if path.is_dir() {
        if !decoded_path.ends_with('/') {
            return Target::AddSlash;
        }
        let index = path.join("index.html");
        if index.is_file() {
            return Target::File {
                path: index,
                cache: mount.cache,
            };
        }
        return Target::Listing {
            dir: path,
            cache: mount.cache,
        };
    }
    if path.is_file() {
        Target::File {
            path,
            cache: mount.cache,
        }
    } else {
        Target::NotFound
    }
}

fn is_lock_file(path: &Path) -> bool {
    path.ends_with("node_modules/pyodide/pyodide-lock.json")
}

/// `target/pypi/lock-overrides.json`: `{package: {field: value}}` for `pyodide-lock.json`.
fn lock_overrides(root: &Path) -> Option<serde_json::Value> {
    let text = fs::read_to_string(root.join(PYPI_DIR).join("lock-overrides.json")).ok()?;
    serde_json::from_str(&text).ok()
}

/// Pyodide's lock file with the local index's wheels in place of the CDN's: the npm package has no
/// micropip, and the PyPI wheel served instead has another hash than the CDN's build.
fn patched_lock(path: &Path, root: &Path) -> String {
    let lock = fs::read_to_string(path).unwrap_or_default();
    let (Ok(mut lock), Some(serde_json::Value::Object(overrides))) = (
        serde_json::from_str::<serde_json::Value>(&lock),
        lock_overrides(root),
    ) else {
        return lock;
    };
    for (package, fields) in overrides {
        if let (Some(entry), serde_json::Value::Object(fields)) =
            (lock["packages"].get_mut(&package), fields)
        {
            for (field, value) in fields {
                entry[field] = value;
            }
        }
    }
    lock.to_string()
}

fn common_headers(isolated: bool, content_type: &str, cache: &str) -> Vec<Header> {
    let mut headers = vec![
        header("Content-Type", content_type),
        header("Cache-Control", cache),
        header("Access-Control-Allow-Origin", "*"),
        header("Cross-Origin-Resource-Policy", "cross-origin"),
        // Lets a page register /dist/python-runner.js as the service worker for the whole origin.
        header("Service-Worker-Allowed", "/"),
    ];
    if isolated {
        headers.push(header("Cross-Origin-Opener-Policy", "same-origin"));
        headers.push(header("Cross-Origin-Embedder-Policy", "require-corp"));
    }
    headers
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn listing(dir: &Path, url_path: &str) -> String {
    let mut names: Vec<String> = fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    if e.path().is_dir() {
                        format!("{name}/")
                    } else {
                        name
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let items: String = names
        .iter()
        .map(|n| format!("<li><a href=\"{0}\">{0}</a></li>\n", escape_html(n)))
        .collect();
    let title = escape_html(url_path);
    format!("<!doctype html>\n<meta charset=\"utf-8\">\n<title>{title}</title>\n<h1>{title}</h1>\n<ul>\n{items}</ul>\n")
}

fn handle(request: Request, shared: &Shared) {
    let method = request.method().clone();
    let url = request.url().to_owned();
    let (raw_path, query) = split_query(&url);
    let isolated = shared.options.isolated;

    let mut delay = query_ms(query, "delay_ms").unwrap_or_default();
    for (prefix, extra) in &shared.options.delays {
        if raw_path.starts_with(prefix.as_str()) {
            delay = delay.max(*extra);
        }
    }
    if !delay.is_zero() {
        std::thread::sleep(delay);
    }

    // Recorded before the response is written, so a client that has its answer finds it in the log.
    let record = |status: u16| {
        shared
            .log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(RequestRecord {
                method: method.to_string(),
                url: url.clone(),
                status,
            });
    };
    let text = |status: u16, body: String| {
        Response::from_string(body)
            .with_status_code(StatusCode(status))
            .with_chunked_threshold(usize::MAX)
    };
    let plain = "text/plain; charset=utf-8";

    let (status, result) = if !matches!(method, Method::Get | Method::Head) {
        let mut response = text(405, "method not allowed\n".into());
        for h in common_headers(isolated, plain, "no-store") {
            response.add_header(h);
        }
        response.add_header(header("Allow", "GET, HEAD"));
        {
            record(405);
            (405, request.respond(response))
        }
    } else {
        match percent_decode(raw_path).map(|p| resolve(&shared.options.root, &p)) {
            None | Some(Target::BadRequest) => {
                let mut response = text(400, format!("bad path: {raw_path}\n"));
                for h in common_headers(isolated, plain, "no-store") {
                    response.add_header(h);
                }
                {
                    record(400);
                    (400, request.respond(response))
                }
            }
            Some(Target::NotFound) if raw_path == "/favicon.ico" => {
                // Browsers ask for it on every page; a 404 would be a SEVERE console entry in every test.
                let mut response = text(204, String::new());
                for h in common_headers(isolated, "image/x-icon", "public, max-age=86400") {
                    response.add_header(h);
                }
                {
                    record(204);
                    (204, request.respond(response))
                }
            }
            Some(Target::NotFound) => {
                let mut response = text(404, format!("not found: {raw_path}\n"));
                for h in common_headers(isolated, plain, "no-store") {
                    response.add_header(h);
                }
                {
                    record(404);
                    (404, request.respond(response))
                }
            }
            Some(Target::AddSlash) => {
                let location = if query.is_empty() {
                    format!("{raw_path}/")
                } else {
                    format!("{raw_path}/?{query}")
                };
                // The path came from the request line: it may not be a valid header value.
                match Header::from_bytes(&b"Location"[..], location.as_bytes()) {
                    Ok(location_header) => {
                        let mut response = text(301, format!("see {location}\n"));
                        for h in common_headers(isolated, plain, "no-store") {
                            response.add_header(h);
                        }
                        response.add_header(location_header);
                        {
                            record(301);
                            (301, request.respond(response))
                        }
                    }
                    Err(()) => {
                        let mut response = text(400, format!("bad path: {raw_path}\n"));
                        for h in common_headers(isolated, plain, "no-store") {
                            response.add_header(h);
                        }
                        {
                            record(400);
                            (400, request.respond(response))
                        }
                    }
                }
            }
            Some(Target::Listing { dir, cache }) => {
                let mut response = text(200, listing(&dir, raw_path));
                for h in common_headers(isolated, "text/html; charset=utf-8", cache) {
                    response.add_header(h);
                }
                {
                    record(200);
                    (200, request.respond(response))
                }
            }
            Some(Target::File { path, cache })
                if is_lock_file(&path) && lock_overrides(&shared.options.root).is_some() =>
            {
                let mut response = text(200, patched_lock(&path, &shared.options.root));
                for h in common_headers(isolated, "application/json", cache) {
                    response.add_header(h);
                }
                {
                    record(200);
                    (200, request.respond(response))
                }
            }
            Some(Target::File { path, cache }) => {
                let mut headers = common_headers(isolated, mime_type(&path), cache);
                if query.split('&').any(|pair| pair == "no_cors=1") {
                    // Lets a test see what a cross-origin page gets from a server without CORS.
                    headers.retain(|h| !h.field.equiv("Access-Control-Allow-Origin"));
                }
                match query_ms(query, "pause_ms") {
                    Some(pause) if method == Method::Get => {
                        record(200);
                        (200, respond_paused(request, &path, headers, pause))
                    }
                    _ => match fs::File::open(&path) {
                        Ok(file) => {
                            let mut response =
                                Response::from_file(file).with_chunked_threshold(usize::MAX);
                            for h in headers {
                                response.add_header(h);
                            }
                            {
                                record(200);
                                (200, request.respond(response))
                            }
                        }
                        Err(e) => {
                            let mut response = text(500, format!("cannot read {raw_path}: {e}\n"));
                            for h in common_headers(isolated, plain, "no-store") {
                                response.add_header(h);
                            }
                            {
                                record(500);
                                (500, request.respond(response))
                            }
                        }
                    },
                }
            }
        }
    };
    // A browser that navigates away closes connections mid-response; that is not an error worth reporting.
    let _ = (status, result);
}

/// Writes the response by hand so the part before [`PAUSE_MARKER`] is flushed before the pause.
fn respond_paused(
    request: Request,
    path: &Path,
    headers: Vec<Header>,
    pause: Duration,
) -> std::io::Result<()> {
    let body = fs::read(path)?;
    let split = body
        .windows(PAUSE_MARKER.len())
        .position(|w| w == PAUSE_MARKER.as_bytes())
        .map_or(body.len(), |i| i + PAUSE_MARKER.len());
    let mut head = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for h in headers {
        head.push_str(&format!("{}: {}\r\n", h.field, h.value));
    }
    head.push_str("\r\n");
    let mut writer = request.into_writer();
    writer.write_all(head.as_bytes())?;
    writer.write_all(&body[..split])?;
    writer.flush()?;
    std::thread::sleep(pause);
    writer.write_all(&body[split..])?;
    writer.flush()
}

/// A response read by [`http_get`].
#[derive(Clone, Debug)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Headers in order, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body bytes.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first header with this (lower-case) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (lossy UTF-8).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Reads a whole response with a bare HTTP/1.0 GET (for tests of the server itself; no client crate needed).
pub fn http_get(url: &str) -> Result<HttpResponse> {
    let rest = url
        .strip_prefix("http://")
        .with_context(|| format!("not an http:// URL: {url}"))?;
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let mut stream =
        std::net::TcpStream::connect(host).with_context(|| format!("connect {host}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(90)))?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n")?;
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .with_context(|| format!("read response of {url}"))?;
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .with_context(|| format!("no end of headers in the response of {url}"))?;
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let body = raw[end + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("bad status line {status_line:?} from {url}"))?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}
