//! The author's archive of Python code (`<python-runner src=… format=… extract-dir=…>`): its
//! spec as sent to the worker, and the rules for its format and folder.

use serde::{Deserialize, Serialize};

/// An archive to download, unpack and put on `sys.path` before code runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchiveSpec {
    /// Absolute URL of the archive.
    pub url: String,
    /// A format `pyodide.unpackArchive` accepts: `zip`, `tar`, `gztar`, `bztar`, `xztar`, `wheel`.
    pub format: String,
    /// Absolute folder it is unpacked into; put first on `sys.path`.
    pub extract_dir: String,
}

/// The formats `pyodide.unpackArchive` accepts, by the names `shutil.unpack_archive` uses.
pub const FORMATS: &[&str] = &["zip", "tar", "gztar", "bztar", "xztar", "wheel"];

/// Where an archive goes without `extract-dir`: Python's working directory, which is on
/// `sys.path` (as `''`) and against which relative file names in the archive's code resolve.
pub const DEFAULT_EXTRACT_DIR: &str = "/home/pyodide";

impl ArchiveSpec {
    /// The format for a `format` attribute (a name from [`FORMATS`], or a file extension such as
    /// `.tar.gz`), or else the one the URL's file name implies. `Err` says what to set.
    pub fn format_for(url: &str, attribute: Option<&str>) -> Result<String, String> {
        let given = attribute.map(str::trim).filter(|value| !value.is_empty());
        let name = match given {
            Some(value) => value.to_ascii_lowercase(),
            None => {
                let path = url.split(['?', '#']).next().unwrap_or_default();
                path.rsplit('/')
                    .next()
                    .unwrap_or_default()
                    .to_ascii_lowercase()
            }
        };
        if FORMATS.contains(&name.as_str()) {
            return Ok(name);
        }
        let by_extension = [
            (".tar.gz", "gztar"),
            (".tgz", "gztar"),
            (".tar.bz2", "bztar"),
            (".tbz2", "bztar"),
            (".tbz", "bztar"),
            (".tar.xz", "xztar"),
            (".txz", "xztar"),
            (".tar", "tar"),
            (".zip", "zip"),
            (".whl", "wheel"),
        ];
        if let Some((_, format)) = by_extension.iter().find(|(ext, _)| name.ends_with(ext)) {
            return Ok((*format).to_string());
        }
        Err(match given {
            Some(value) => format!(
                "format \"{value}\" is not one of {} (or a file extension such as .tar.gz)",
                FORMATS.join(", ")
            ),
            None => format!(
                "cannot tell the format of {url} from its name; set format to one of {}",
                FORMATS.join(", ")
            ),
        })
    }

    /// The folder for an `extract-dir` attribute: absolute as given, relative ones inside
    /// [`DEFAULT_EXTRACT_DIR`], without a trailing `/`; the default when absent.
    pub fn extract_dir_for(attribute: Option<&str>) -> String {
        let value = attribute.map(str::trim).unwrap_or_default();
        let path = if value.is_empty() {
            DEFAULT_EXTRACT_DIR.to_string()
        } else if value.starts_with('/') {
            value.to_string()
        } else {
            [DEFAULT_EXTRACT_DIR, "/", value].concat()
        };
        match path.trim_end_matches('/') {
            "" => "/".to_string(),
            trimmed => trimmed.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_comes_from_the_attribute_or_the_file_name() {
        let cases = [
            ("https://a.test/p.zip", None, "zip"),
            ("https://a.test/p.tar.gz?v=2", None, "gztar"),
            ("https://a.test/p.TGZ#x", None, "gztar"),
            ("https://a.test/p.tar.bz2", None, "bztar"),
            ("https://a.test/p.tar.xz", None, "xztar"),
            ("https://a.test/p.tar", None, "tar"),
            ("https://a.test/p-1.0-py3-none-any.whl", None, "wheel"),
            ("https://a.test/download?id=3", Some("zip"), "zip"),
            ("https://a.test/p.zip", Some(".tar.gz"), "gztar"),
            ("https://a.test/p.zip", Some(" TAR "), "tar"),
        ];
        for (url, attribute, expected) in cases {
            assert_eq!(
                ArchiveSpec::format_for(url, attribute).as_deref(),
                Ok(expected),
                "{url} {attribute:?}"
            );
        }
    }

    #[test]
    fn unknown_formats_say_what_to_set() {
        assert_eq!(
            ArchiveSpec::format_for("https://a.test/download?id=3", None),
            Err("cannot tell the format of https://a.test/download?id=3 from its name; set format to one of zip, tar, gztar, bztar, xztar, wheel".into())
        );
        assert_eq!(
            ArchiveSpec::format_for("https://a.test/p.zip", Some("rar")),
            Err("format \"rar\" is not one of zip, tar, gztar, bztar, xztar, wheel (or a file extension such as .tar.gz)".into())
        );
    }

    #[test]
    fn extract_dir_is_absolute_without_trailing_slash() {
        assert_eq!(ArchiveSpec::extract_dir_for(None), "/home/pyodide");
        assert_eq!(ArchiveSpec::extract_dir_for(Some("")), "/home/pyodide");
        assert_eq!(
            ArchiveSpec::extract_dir_for(Some("proj/")),
            "/home/pyodide/proj"
        );
        assert_eq!(ArchiveSpec::extract_dir_for(Some("/tmp/x/")), "/tmp/x");
        assert_eq!(ArchiveSpec::extract_dir_for(Some("/")), "/");
    }
}
