//! Static HTTP server for the browser tests and `cargo bundle serve`: mounts dist/, Pyodide, fixtures and the demo,
//! with or without cross-origin isolation (COOP/COEP), exact MIME types, and optional slow responses.
//!
//! Mounts (all below the workspace root):
//!
//! | URL prefix   | directory                 | `Cache-Control`          |
//! |--------------|---------------------------|--------------------------|
//! | `/dist/`     | `target/dist/`            | `no-cache`               |
//! | `/pyodide/`  | `node_modules/pyodide/`   | `public, max-age=86400`  |
//! | `/slow/pyodide/` | `node_modules/pyodide/`, each answer 1.5 s late | `no-store` |
//! | `/trickle/pyodide/` | `node_modules/pyodide/`, each file in 200 KB pieces 50 ms apart (4 MB/s) | `no-store` |
//! | `/stalled/pyodide/` | `node_modules/pyodide/`, each answer a minute late | `no-store` |
//! | `/fixtures/` | `tests/fixtures/`         | `no-cache`               |
//! | `/pypi/`     | `target/pypi/`            | `no-cache`               |
//! | `/node_modules/` | `node_modules/` (read by the bench's library part: the upstream npm packages; by scenario `a11y`: axe-core) | `no-cache` |
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

use anyhow::{Context, Result};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::fs;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

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
///
/// HTTP/1.1 with keep-alive, served by hyper on its own tokio runtime: every connection is a task, so any number of
/// connections (a browser opens six per host, and keeps them open) are served at once. (The tiny_http server used
/// before ran connections on a thread pool that lost a connection when several arrived together while its idle
/// threads were still waking: a request then waited, unanswered, until some kept-alive connection closed.)
pub struct Server {
    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub base_url: String,
    port: u16,
    isolated: bool,
    /// Runs the accept loop, the connections and the delays; `None` only during drop.
    runtime: Option<tokio::runtime::Runtime>,
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
    /// Binds 127.0.0.1:`options.port` and serves from a runtime of its own (two worker threads; file reads and
    /// listings run on its blocking pool).
    pub fn start(options: ServerOptions) -> Result<Server> {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, options.port));
        let listener = listener_without_nagle(addr)?;
        let port = listener
            .local_addr()
            .context("the server has no address")?
            .port();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name(format!("static-server-{port}"))
            .enable_all()
            .build()
            .context("could not start the server's runtime")?;
        let listener = {
            let _context = runtime.enter();
            tokio::net::TcpListener::from_std(listener)
                .with_context(|| format!("could not serve on {addr}"))?
        };
        let log = Arc::new(Mutex::new(Vec::new()));
        let isolated = options.isolated;
        let shared = Arc::new(Shared {
            options,
            log: Arc::clone(&log),
        });
        runtime.spawn(accept_loop(listener, shared));
        Ok(Server {
            base_url: format!("http://127.0.0.1:{port}"),
            port,
            isolated,
            runtime: Some(runtime),
            log,
        })
    }

    /// `base_url` + `path` (`path` should start with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
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
        // Cancels the accept loop and every connection; the listener closes with its task, so the port is free
        // when `drop` returns. File reads in flight on the blocking pool get a moment to end.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(Duration::from_secs(2));
        }
    }
}

/// A listening socket with TCP_NODELAY set, which Linux copies to every accepted connection, so the tail of a
/// response on a kept-alive connection is not held back ~44 ms for the client's delayed ACK (Nagle's algorithm).
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
    socket.set_nonblocking(true).context("O_NONBLOCK")?;
    Ok(socket.into())
}

/// Accepts connections until the runtime shuts down; each connection is served by a task of its own.
async fn accept_loop(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors and the like: say so, and keep serving the connections there are.
                eprintln!("static server: accept error: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let shared = Arc::clone(&shared);
                async move { Ok::<_, Infallible>(handle(request, shared).await) }
            });
            // A browser that navigates away closes connections mid-response; that is not an error worth reporting.
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// The directory a mount serves and the cache policy of that mount.
struct Mount {
    prefix: &'static str,
    dir: &'static str,
    cache: &'static str,
    /// Every answer from this mount waits this long, ms.
    delay_ms: u64,
}

/// How long Python's files take from `/slow/pyodide/`, each: Python boots in seconds, so a test can act while
/// it boots.
const SLOW_PYODIDE_MS: u64 = 1500;

/// How long Python's files take from `/stalled/pyodide/`, each: an element there stays `loading` while a test
/// looks at it (scenario `a11y`).
const STALLED_PYODIDE_MS: u64 = 60_000;

/// Files under this prefix arrive in [`TRICKLE_PIECE`]-byte pieces, [`TRICKLE_PAUSE`] apart: a download whose
/// progress a page can watch (scenario `progress`).
const TRICKLE_PREFIX: &str = "/trickle/";
const TRICKLE_PIECE: usize = 200_000;
const TRICKLE_PAUSE: Duration = Duration::from_millis(50);

/// The local package index (`bundle/run.sh` downloads the wheels from PyPI and
/// `tests/pypi/make_index.py` writes `simple/<project>/index.html` and `lock-overrides.json`).
const PYPI_DIR: &str = "target/pypi";

const MOUNTS: &[Mount] = &[
    Mount {
        prefix: "/dist/",
        dir: "target/dist",
        cache: "no-cache",
        delay_ms: 0,
    },
    Mount {
        prefix: "/pyodide/",
        dir: "node_modules/pyodide",
        cache: "public, max-age=86400",
        delay_ms: 0,
    },
    Mount {
        prefix: "/slow/pyodide/",
        dir: "node_modules/pyodide",
        cache: "no-store",
        delay_ms: SLOW_PYODIDE_MS,
    },
    Mount {
        prefix: "/trickle/pyodide/",
        dir: "node_modules/pyodide",
        cache: "no-store",
        delay_ms: 0,
    },
    Mount {
        prefix: "/stalled/pyodide/",
        dir: "node_modules/pyodide",
        cache: "no-store",
        delay_ms: STALLED_PYODIDE_MS,
    },
    Mount {
        prefix: "/fixtures/",
        dir: "tests/fixtures",
        cache: "no-cache",
        delay_ms: 0,
    },
    Mount {
        prefix: "/pypi/",
        dir: PYPI_DIR,
        cache: "no-cache",
        delay_ms: 0,
    },
    Mount {
        prefix: "/node_modules/",
        dir: "node_modules",
        cache: "no-cache",
        delay_ms: 0,
    },
    Mount {
        prefix: "/",
        dir: "demo",
        cache: "no-cache",
        delay_ms: 0,
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

/// A response body: Pyodide's files are a few MB, so whole bodies in memory are fine.
type Body = BoxBody<Bytes, Infallible>;

/// Response headers as (name, value), before they are checked and sent.
type Headers = Vec<(&'static str, String)>;

/// What to answer, decided off the runtime's threads (it reads files).
struct Reply {
    status: u16,
    headers: Headers,
    payload: Payload,
}

enum Payload {
    Whole(Vec<u8>),
    /// Each piece is sent and flushed, with `pause` between pieces: `?pause_ms=N` (the part up to the
    /// marker, then the rest), and every file of `/trickle/`.
    Paced {
        pieces: Vec<Vec<u8>>,
        pause: Duration,
    },
}

impl Reply {
    /// A text answer with the common headers and `no-store`.
    fn text(status: u16, isolated: bool, body: String) -> Reply {
        Reply {
            status,
            headers: common_headers(isolated, "text/plain; charset=utf-8", "no-store"),
            payload: Payload::Whole(body.into_bytes()),
        }
    }

    fn with_header(mut self, name: &'static str, value: String) -> Reply {
        self.headers.push((name, value));
        self
    }
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

fn common_headers(isolated: bool, content_type: &str, cache: &str) -> Headers {
    let mut headers: Headers = vec![
        ("Content-Type", content_type.to_owned()),
        ("Cache-Control", cache.to_owned()),
        ("Access-Control-Allow-Origin", "*".to_owned()),
        ("Cross-Origin-Resource-Policy", "cross-origin".to_owned()),
        // Lets a page register /dist/python-runner.js as the service worker for the whole origin.
        ("Service-Worker-Allowed", "/".to_owned()),
    ];
    if isolated {
        headers.push(("Cross-Origin-Opener-Policy", "same-origin".to_owned()));
        headers.push(("Cross-Origin-Embedder-Policy", "require-corp".to_owned()));
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

async fn handle(request: Request<Incoming>, shared: Arc<Shared>) -> Response<Body> {
    let method = request.method().clone();
    let url = request
        .uri()
        .path_and_query()
        .map_or_else(|| request.uri().to_string(), |pq| pq.as_str().to_owned());
    let (raw_path, query) = split_query(&url);
    let mut delay = query_ms(query, "delay_ms").unwrap_or_default();
    if let Some(mount) = MOUNTS.iter().find(|m| raw_path.starts_with(m.prefix)) {
        delay = delay.max(Duration::from_millis(mount.delay_ms));
    }
    for (prefix, extra) in &shared.options.delays {
        if raw_path.starts_with(prefix.as_str()) {
            delay = delay.max(*extra);
        }
    }
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let reply = {
        let (method, url, task_shared) = (method.clone(), url.clone(), Arc::clone(&shared));
        tokio::task::spawn_blocking(move || reply(&method, &url, &task_shared.options))
            .await
            .unwrap_or_else(|e| {
                Reply::text(
                    500,
                    shared.options.isolated,
                    format!("the server failed: {e}\n"),
                )
            })
    };
    // Recorded before the response is written, so a client that has its answer finds it in the log.
    shared
        .log
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(RequestRecord {
            method: method.to_string(),
            url,
            status: reply.status,
        });
    build(reply)
}

/// The answer to `method` `url` (path and query).
fn reply(method: &Method, url: &str, options: &ServerOptions) -> Reply {
    let (raw_path, query) = split_query(url);
    let isolated = options.isolated;
    if !matches!(*method, Method::GET | Method::HEAD) {
        return Reply::text(405, isolated, "method not allowed\n".into())
            .with_header("Allow", "GET, HEAD".into());
    }
    let bad_path = || Reply::text(400, isolated, format!("bad path: {raw_path}\n"));
    match percent_decode(raw_path).map(|p| resolve(&options.root, &p)) {
        None | Some(Target::BadRequest) => bad_path(),
        // Browsers ask for it on every page; a 404 would be a SEVERE console entry in every test.
        Some(Target::NotFound) if raw_path == "/favicon.ico" => Reply {
            status: 204,
            headers: common_headers(isolated, "image/x-icon", "public, max-age=86400"),
            payload: Payload::Whole(Vec::new()),
        },
        Some(Target::NotFound) => Reply::text(404, isolated, format!("not found: {raw_path}\n")),
        Some(Target::AddSlash) => {
            let location = if query.is_empty() {
                format!("{raw_path}/")
            } else {
                format!("{raw_path}/?{query}")
            };
            // The path came from the request line: it may not be a valid header value.
            if HeaderValue::from_str(&location).is_err() {
                return bad_path();
            }
            Reply::text(301, isolated, format!("see {location}\n"))
                .with_header("Location", location)
        }
        Some(Target::Listing { dir, cache }) => Reply {
            status: 200,
            headers: common_headers(isolated, "text/html; charset=utf-8", cache),
            payload: Payload::Whole(listing(&dir, raw_path).into_bytes()),
        },
        Some(Target::File { path, cache })
            if is_lock_file(&path) && lock_overrides(&options.root).is_some() =>
        {
            Reply {
                status: 200,
                headers: common_headers(isolated, "application/json", cache),
                payload: Payload::Whole(patched_lock(&path, &options.root).into_bytes()),
            }
        }
        Some(Target::File { path, cache }) => {
            let mut headers = common_headers(isolated, mime_type(&path), cache);
            if query.split('&').any(|pair| pair == "no_cors=1") {
                // Lets a test see what a cross-origin page gets from a server without CORS.
                headers.retain(|(name, _)| *name != "Access-Control-Allow-Origin");
            }
            let body = match fs::read(&path) {
                Ok(body) => body,
                Err(e) => {
                    return Reply::text(500, isolated, format!("cannot read {raw_path}: {e}\n"))
                }
            };
            let payload = match query_ms(query, "pause_ms") {
                Some(pause) if *method == Method::GET => {
                    let split = body
                        .windows(PAUSE_MARKER.len())
                        .position(|w| w == PAUSE_MARKER.as_bytes())
                        .map_or(body.len(), |i| i + PAUSE_MARKER.len());
                    let (head, tail) = body.split_at(split);
                    headers.push(("Content-Length", body.len().to_string()));
                    Payload::Paced {
                        pieces: vec![head.to_vec(), tail.to_vec()],
                        pause,
                    }
                }
                _ if raw_path.starts_with(TRICKLE_PREFIX) && *method == Method::GET => {
                    headers.push(("Content-Length", body.len().to_string()));
                    Payload::Paced {
                        pieces: body.chunks(TRICKLE_PIECE).map(<[u8]>::to_vec).collect(),
                        pause: TRICKLE_PAUSE,
                    }
                }
                _ => Payload::Whole(body),
            };
            Reply {
                status: 200,
                headers,
                payload,
            }
        }
    }
}

/// The hyper response for a reply. (hyper sends no body for HEAD, and sets `Content-Length` of whole bodies.)
fn build(reply: Reply) -> Response<Body> {
    let body = match reply.payload {
        Payload::Whole(bytes) => Full::new(Bytes::from(bytes)).boxed(),
        Payload::Paced { pieces, pause } => {
            let (mut sender, body) = http_body_util::channel::Channel::<Bytes>::new(2);
            tokio::spawn(async move {
                for (index, piece) in pieces.into_iter().enumerate() {
                    if index > 0 {
                        tokio::time::sleep(pause).await;
                    }
                    // The client may leave early; then there is nobody to send the rest to.
                    if sender.send_data(Bytes::from(piece)).await.is_err() {
                        break;
                    }
                }
            });
            body.boxed()
        }
    };
    let mut response = Response::new(body);
    *response.status_mut() = hyper::StatusCode::from_u16(reply.status)
        .unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in reply.headers {
        // Names are literals and values were checked (or are literals and MIME types): none is dropped here.
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            response.headers_mut().append(name, value);
        }
    }
    response
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
