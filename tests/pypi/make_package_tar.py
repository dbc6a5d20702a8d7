"""Writes `<dir>/package.tar`, the archive the `library_runner` end-to-end scenario loads.

It is pyodide-worker-runner's test package (`pip install -t package python-runner`, tarred
with no top-level folder) made from the python-runner 0.6.1 wheel that bundle/run.sh
downloads into `<dir>/files`: the wheel's files at the root of the tar, in name order, with
fixed timestamps and owners, so the archive is byte-for-byte reproducible. The test server
serves it as `/pypi/package.tar`. Usage: `python3 tests/pypi/make_package_tar.py target/pypi`.
"""

import io
import sys
import tarfile
import zipfile
from pathlib import Path

WHEEL = "python_runner-0.6.1-py3-none-any.whl"
STAMP = 1704067200  # 2024-01-01T00:00:00Z


def main(root: Path) -> None:
    raw = io.BytesIO()
    with (
        zipfile.ZipFile(root / "files" / WHEEL) as wheel,
        tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as archive,
    ):
        for name in sorted(n for n in wheel.namelist() if not n.endswith("/")):
            data = wheel.read(name)
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = STAMP
            info.mode = 0o644
            archive.addfile(info, io.BytesIO(data))
    (root / "package.tar").write_bytes(raw.getvalue())


if __name__ == "__main__":
    main(Path(sys.argv[1]))
