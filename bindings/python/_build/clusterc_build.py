"""A PEP 517 build backend in the standard library only, so that
`pip install ./bindings/python` works offline: the package is pure Python,
and setuptools (with build isolation, fetched from an index) or `wheel`
(without it) are not always there. Builds a wheel, an sdist and an
editable wheel (PEP 660) from [project] in pyproject.toml.
"""
import base64
import hashlib
import io
import os
import re
import tarfile
import time
import zipfile

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = "clusterc"
TAG = "py3-none-any"


def _project():
    with open(os.path.join(HERE, "pyproject.toml"), "rb") as f:
        data = f.read()
    try:
        import tomllib
        return tomllib.loads(data.decode())["project"]
    except ImportError:   # Python < 3.11: the few flat keys used below
        text = data.decode()
        sect = text.split("[project]", 1)[1].split("\n[", 1)[0]
        out = {}
        for k in ("name", "version", "description", "requires-python"):
            m = re.search(r'^%s\s*=\s*"([^"]*)"' % re.escape(k), sect, re.M)
            if m:
                out[k] = m.group(1)
        return out


def _metadata():
    p = _project()
    lines = ["Metadata-Version: 2.1", "Name: %s" % p["name"], "Version: %s" % p["version"]]
    if p.get("description"):
        lines.append("Summary: %s" % p["description"])
    if p.get("requires-python"):
        lines.append("Requires-Python: %s" % p["requires-python"])
    for c in p.get("classifiers", []):
        lines.append("Classifier: %s" % c)
    readme = os.path.join(HERE, "README.md")
    body = ""
    if os.path.exists(readme):
        lines.append("Description-Content-Type: text/markdown")
        with open(readme, encoding="utf-8") as f:
            body = "\n" + f.read()
    return p, ("\n".join(lines) + "\n" + body).encode("utf-8")


def _dist_info(p):
    return "%s-%s.dist-info" % (p["name"].replace("-", "_"), p["version"])


def _wheel_name(p):
    return "%s-%s-%s.whl" % (p["name"].replace("-", "_"), p["version"], TAG)


def _digest(data):
    h = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return "sha256=" + h.decode()


def _package_files():
    root = os.path.join(HERE, PACKAGE)
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for fn in sorted(filenames):
            if fn.endswith((".pyc", ".pyo")):
                continue
            full = os.path.join(dirpath, fn)
            yield full, os.path.relpath(full, HERE).replace(os.sep, "/")


def _write_wheel(directory, files):
    """files: [(arcname, bytes)]; adds the dist-info and RECORD."""
    p, meta = _metadata()
    di = _dist_info(p)
    files = list(files) + [
        (di + "/METADATA", meta),
        (di + "/WHEEL", ("Wheel-Version: 1.0\nGenerator: clusterc_build\n"
                         "Root-Is-Purelib: true\nTag: %s\n" % TAG).encode()),
        (di + "/top_level.txt", (PACKAGE + "\n").encode()),
    ]
    record = "".join("%s,%s,%d\n" % (n, _digest(d), len(d)) for n, d in files)
    record += di + "/RECORD,,\n"
    files.append((di + "/RECORD", record.encode()))
    name = _wheel_name(p)
    with zipfile.ZipFile(os.path.join(directory, name), "w", zipfile.ZIP_DEFLATED) as z:
        for n, d in files:
            zi = zipfile.ZipInfo(n, date_time=(2020, 1, 1, 0, 0, 0))
            zi.external_attr = 0o644 << 16
            zi.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(zi, d)
    return name


# ------------------------------------------------------------ PEP 517 hooks

def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def get_requires_for_build_editable(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    p, meta = _metadata()
    di = os.path.join(metadata_directory, _dist_info(p))
    os.makedirs(di, exist_ok=True)
    with open(os.path.join(di, "METADATA"), "wb") as f:
        f.write(meta)
    with open(os.path.join(di, "WHEEL"), "w") as f:
        f.write("Wheel-Version: 1.0\nGenerator: clusterc_build\nRoot-Is-Purelib: true\n"
                "Tag: %s\n" % TAG)
    return _dist_info(p)


prepare_metadata_for_build_editable = prepare_metadata_for_build_wheel


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    files = []
    for full, arc in _package_files():
        with open(full, "rb") as f:
            files.append((arc, f.read()))
    return _write_wheel(wheel_directory, files)


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    # A .pth file putting the source directory on sys.path.
    return _write_wheel(wheel_directory, [("__editable__.%s.pth" % PACKAGE,
                                           (HERE + "\n").encode())])


def build_sdist(sdist_directory, config_settings=None):
    p, meta = _metadata()
    base = "%s-%s" % (p["name"], p["version"])
    name = base + ".tar.gz"
    paths = ["pyproject.toml", "README.md", "_build/clusterc_build.py"]
    paths += [arc for _, arc in _package_files()]
    tests = os.path.join(HERE, "tests")
    if os.path.isdir(tests):
        paths += ["tests/" + fn for fn in sorted(os.listdir(tests)) if fn.endswith(".py")]
    with tarfile.open(os.path.join(sdist_directory, name), "w:gz", format=tarfile.PAX_FORMAT) as t:
        for arc in paths:
            full = os.path.join(HERE, arc)
            if os.path.exists(full):
                t.add(full, arcname=base + "/" + arc, recursive=False)
        info = tarfile.TarInfo(base + "/PKG-INFO")
        info.size, info.mtime, info.mode = len(meta), int(time.time()), 0o644
        t.addfile(info, io.BytesIO(meta))
    return name
