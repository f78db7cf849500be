//! The C header, include/stateful_executor.h, is generated from the Rust source by cbindgen and
//! committed. This test regenerates it and fails when the committed copy differs;
//! `SF_WRITE_HEADER=1` writes it instead (`make header`). Running cbindgen here rather than in
//! build.rs keeps it out of the build of every crate that depends on this one.
//!
//! The `#define`s cbindgen cannot derive are written here: the versions (from the crate's),
//! `SF_NO_POD`, and the status codes (from `ErrorKind`'s one table).

use std::fmt::Write;
use std::path::Path;

use stateful_executor::ErrorKind;

/// A doc comment in the header's style from lines of text.
fn doc(lines: &str) -> String {
    let mut out = String::from("/**\n");
    for line in lines.lines() {
        let line = line.trim();
        if line.is_empty() {
            out.push_str(" *\n");
        } else {
            writeln!(out, " * {line}").unwrap();
        }
    }
    out.push_str(" */\n");
    out
}

fn defines() -> String {
    let mut out = String::from("\n");
    out.push_str(&doc(
        "The version of the library this header belongs to (the Rust crate's version). Compare\n\
         with sf_version() at run time: the shared library's SONAME changes with the major\n\
         version only.",
    ));
    for (name, value) in [
        ("SF_VERSION_MAJOR", env!("CARGO_PKG_VERSION_MAJOR")),
        ("SF_VERSION_MINOR", env!("CARGO_PKG_VERSION_MINOR")),
        ("SF_VERSION_PATCH", env!("CARGO_PKG_VERSION_PATCH")),
    ] {
        writeln!(out, "#define {name} {value}").unwrap();
    }
    writeln!(
        out,
        "#define SF_VERSION_STRING \"{}\"\n",
        env!("CARGO_PKG_VERSION")
    )
    .unwrap();
    out.push_str(&doc(
        "\"No pod\": the value of a pod result when there is no link (with SF_OK), and of every pod\n\
         output parameter after a failed call. Never a valid pod ordinal as an argument.",
    ));
    out.push_str("#define SF_NO_POD (-1)\n\n");
    out.push_str(&doc(
        "sf_status codes (the type is int32_t, below; the values never change).\n\n\
         Success.",
    ));
    out.push_str("#define SF_OK 0\n");
    for &kind in ErrorKind::ALL {
        out.push_str(&doc(kind.description()));
        writeln!(out, "#define {} {}", kind.status_name(), kind.code()).unwrap();
    }
    out.pop();
    out
}

fn generate() -> String {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("cbindgen.toml is readable and valid");
    config.after_includes = Some(defines());
    let bindings = cbindgen::generate_with_config(crate_dir, config)
        .unwrap_or_else(|err| panic!("cbindgen could not generate the C header: {err}"));
    let mut header = Vec::new();
    bindings.write(&mut header);
    String::from_utf8(header).expect("the header is UTF-8")
}

#[test]
fn committed_header_matches_the_source() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("include/stateful_executor.h");
    let generated = generate();
    if std::env::var_os("SF_WRITE_HEADER").is_some_and(|v| v == "1") {
        std::fs::write(&path, &generated).expect("include/stateful_executor.h is writable");
        eprintln!("wrote {}", path.display());
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != generated {
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("stateful_executor.h");
        std::fs::write(&out, &generated).expect("the target tmpdir is writable");
        panic!(
            "include/stateful_executor.h differs from what the source generates ({}): run \
             'make header' and commit it",
            out.display()
        );
    }
}

#[test]
fn status_defines_follow_the_error_kinds() {
    let defines = defines() + "\n";
    assert!(defines.contains("#define SF_OK 0\n"));
    for &kind in ErrorKind::ALL {
        let line = format!("#define {} {}\n", kind.status_name(), kind.code());
        assert!(defines.contains(&line), "missing {line}");
    }
    let version = format!(
        "#define SF_VERSION_STRING \"{}\"",
        env!("CARGO_PKG_VERSION")
    );
    assert!(defines.contains(&version));
}
