"""Writes a PEP 503 package index over the wheels in `<dir>/files` (downloaded by bundle/run.sh).

`<dir>/simple/<project>/index.html` lists each project's wheels with their sha256, for
micropip's `index_urls`; `<dir>/lock-overrides.json` gives the test server the micropip wheel's
name and hash to put into Pyodide's lock file, since the npm package has no micropip and the
PyPI wheel's hash differs from the CDN's build. Usage: `python3 tests/pypi/make_index.py target/pypi`.
"""

import hashlib
import html
import json
import re
import sys
from pathlib import Path


def main(root: Path) -> None:
    files = sorted((root / "files").glob("*.whl"))
    projects: dict[str, list[Path]] = {}
    for wheel in files:
        name = re.sub(r"[-_.]+", "-", wheel.name.split("-")[0]).lower()
        projects.setdefault(name, []).append(wheel)
    overrides = {}
    for name, wheels in projects.items():
        folder = root / "simple" / name
        folder.mkdir(parents=True, exist_ok=True)
        links = []
        for wheel in wheels:
            digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
            href = f"../../files/{wheel.name}#sha256={digest}"
            links.append(f'<a href="{html.escape(href)}">{html.escape(wheel.name)}</a><br>')
            if name == "micropip":
                overrides["micropip"] = {"file_name": wheel.name, "sha256": digest}
        page = "<!doctype html>\n<html><body>\n" + "\n".join(links) + "\n</body></html>\n"
        (folder / "index.html").write_text(page)
    (root / "lock-overrides.json").write_text(json.dumps(overrides, indent=2) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
