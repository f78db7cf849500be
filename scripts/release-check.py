#!/usr/bin/env python3
"""make release-check: every place that carries the version agrees with Cargo.toml's.

The version is set in one place, [package] version in Cargo.toml. What follows it:
  - Cargo.lock's entry for the crate (cargo rewrites it on the next build without --locked);
  - the header's SF_VERSION_MAJOR/MINOR/PATCH/STRING (generated from the crate: make header);
  - bindings/java/pom.xml's <version> (Maven cannot read Cargo.toml: it is compared here);
  - the CMake package and the pkg-config files (templates filled from Cargo.toml by make install:
    they must use @VERSION@ and hold no version of their own);
  - the Go module's tag, vX.Y.Z (make go-dist takes the version from Cargo.toml): a dist already
    built under target/go-dist must be of this version.

    release-check.py [--root DIR]   check DIR (default: this checkout); exit 1 naming each mismatch
    release-check.py --self-test    for each place above, a copy with that one place changed must fail
"""

import json
import os
import re
import shutil
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEMVER = r"\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?"
TEMPLATES = [
    "packaging/stateful_executor.pc.in",
    "packaging/stateful_executor-static.pc.in",
    "packaging/stateful_executorConfigVersion.cmake.in",
]


def read(root, rel):
    with open(os.path.join(root, rel), encoding="utf-8") as f:
        return f.read()


def cargo_version(root):
    manifest = read(root, "Cargo.toml")
    package = re.search(r"^\[package\]\n(.*?)(?=^\[)", manifest, re.S | re.M)
    m = package and re.search(r'^version = "([^"]+)"$', package.group(1), re.M)
    if not m:
        raise SystemExit("release-check: Cargo.toml has no [package] version")
    return m.group(1)


def problems(root):
    """Each disagreement with Cargo.toml's version, as a line of text."""
    version = cargo_version(root)
    found = []
    if not re.fullmatch(SEMVER, version):
        found.append("Cargo.toml: version %s is not MAJOR.MINOR.PATCH[-PRERELEASE]" % version)
        return version, found
    core = version.split("-")[0].split(".")

    lock = re.search(r'\[\[package\]\]\nname = "stateful-executor"\nversion = "([^"]+)"', read(root, "Cargo.lock"))
    if not lock or lock.group(1) != version:
        found.append("Cargo.lock: stateful-executor %s (a cargo build without --locked updates it)"
                     % (lock.group(1) if lock else "missing"))

    # sfctl ships with the library (make install) and reports the same version.
    tool = re.search(r'^\[package\]\nname = "sfctl"\nversion = "([^"]+)"$', read(root, "sfctl/Cargo.toml"), re.M)
    if not tool or tool.group(1) != version:
        found.append("sfctl/Cargo.toml: version %s, not %s" % (tool.group(1) if tool else "missing", version))

    header = read(root, "include/stateful_executor.h")
    expected = {"SF_VERSION_MAJOR": core[0], "SF_VERSION_MINOR": core[1], "SF_VERSION_PATCH": core[2],
                "SF_VERSION_STRING": '"%s"' % version}
    for name, value in expected.items():
        m = re.search(r"^#define %s (\S+)$" % name, header, re.M)
        if not m or m.group(1) != value:
            found.append("include/stateful_executor.h: %s is %s, not %s (make header)"
                         % (name, m.group(1) if m else "missing", value))

    pom = read(root, "bindings/java/pom.xml")
    # The project's own <version>: the first one after its artifactId, before <dependencies>.
    m = re.search(r"<artifactId>stateful-executor</artifactId>\s*<version>([^<]+)</version>", pom)
    if not m or m.group(1) != version:
        found.append("bindings/java/pom.xml: <version>%s</version>, not %s"
                     % (m.group(1) if m else "missing", version))

    for rel in TEMPLATES:
        text = read(root, rel)
        if "@VERSION@" not in text:
            found.append("%s: does not take the version from make install (@VERSION@)" % rel)
        for literal in re.findall(r"\b\d+\.\d+\.\d+\b", text):
            found.append("%s: holds a version of its own, %s (use @VERSION@)" % (rel, literal))

    info_files = []
    proxy = os.path.join(root, "target", "go-dist", "proxy")
    for dirpath, _, files in os.walk(proxy):
        info_files += [os.path.join(dirpath, f) for f in files if f.endswith(".info")]
    for info in info_files:
        with open(info, encoding="utf-8") as f:
            tag = json.load(f).get("Version")
        if tag != "v" + version:
            found.append("%s: Go module %s, not v%s (make go-dist)" % (os.path.relpath(info, root), tag, version))
    return version, found


def self_test():
    """Changes each place in a scratch copy and expects the check to name it."""
    files = ["Cargo.toml", "Cargo.lock", "include/stateful_executor.h", "bindings/java/pom.xml",
             "sfctl/Cargo.toml"] + TEMPLATES
    version = cargo_version(ROOT)
    other = "%d.%s" % (int(version.split(".")[0]) + 7, version.split(".", 1)[1])

    def mutations():
        yield "Cargo.lock", lambda t: t.replace('name = "stateful-executor"\nversion = "%s"' % version,
                                                'name = "stateful-executor"\nversion = "%s"' % other)
        yield "include/stateful_executor.h", lambda t: t.replace(
            '#define SF_VERSION_STRING "%s"' % version, '#define SF_VERSION_STRING "%s"' % other)
        yield "include/stateful_executor.h", lambda t: re.sub(
            r"#define SF_VERSION_MINOR \d+", "#define SF_VERSION_MINOR 99", t)
        yield "bindings/java/pom.xml", lambda t: t.replace(
            "<artifactId>stateful-executor</artifactId>\n  <version>%s</version>" % version,
            "<artifactId>stateful-executor</artifactId>\n  <version>%s</version>" % other)
        yield "sfctl/Cargo.toml", lambda t: t.replace(
            'name = "sfctl"\nversion = "%s"' % version, 'name = "sfctl"\nversion = "%s"' % other)
        yield "Cargo.toml", lambda t: re.sub(r'^version = "[^"]+"', 'version = "%s"' % other, t, count=1, flags=re.M)
        for rel in TEMPLATES:
            yield rel, lambda t: t.replace("@VERSION@", version)
        yield "target/go-dist/proxy/m/@v/v%s.info" % other, lambda t: json.dumps({"Version": "v" + other})

    with tempfile.TemporaryDirectory(prefix="sf-release-check-") as scratch:
        for rel in files:
            os.makedirs(os.path.dirname(os.path.join(scratch, rel)), exist_ok=True)
            shutil.copyfile(os.path.join(ROOT, rel), os.path.join(scratch, rel))
        _, clean = problems(scratch)
        if clean:
            raise SystemExit("release-check self-test: the unchanged copy fails: %s" % clean)
        count = 0
        for rel, change in mutations():
            path = os.path.join(scratch, rel)
            original = open(path, encoding="utf-8").read() if os.path.exists(path) else None
            os.makedirs(os.path.dirname(path), exist_ok=True)
            changed = change(original or "")
            if changed == original:
                raise SystemExit("release-check self-test: the change of %s did not apply" % rel)
            with open(path, "w", encoding="utf-8") as f:
                f.write(changed)
            _, found = problems(scratch)
            if not found:
                raise SystemExit("release-check self-test: a changed %s went unnoticed" % rel)
            if original is None:
                os.remove(path)
            else:
                with open(path, "w", encoding="utf-8") as f:
                    f.write(original)
            count += 1
    print("release-check self-test: each of %d changed versions was caught" % count)


def main():
    if sys.argv[1:] == ["--self-test"]:
        self_test()
        return
    root = ROOT
    if sys.argv[1:2] == ["--root"]:
        root = os.path.abspath(sys.argv[2])
    version, found = problems(root)
    for line in found:
        print("release-check: " + line, file=sys.stderr)
    if found:
        print("release-check: the version is set in Cargo.toml (%s); make the above agree" % version, file=sys.stderr)
        sys.exit(1)
    print("release-check: %s everywhere (Cargo.toml, Cargo.lock, sfctl, header, pom, CMake and pkg-config "
          "templates, Go dist)" % version)


if __name__ == "__main__":
    main()
