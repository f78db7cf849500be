//! Generates the C header from the Rust source (the `#[no_mangle]` functions of `src/ffi/` and
//! the types they use) with cbindgen, into `$OUT_DIR/stateful_executor.h`.
//!
//! The committed `include/stateful_executor.h` is a copy of it: `make header` refreshes the copy
//! and `make check-header` fails when the copy differs from what the source generates.

use std::env;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-changed=build.rs");

    // A SONAME, so that programs linked against the shared library record a plain name.
    if env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libstateful_executor.so");
    }

    let crate_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("cbindgen.toml is readable and valid");
    match cbindgen::generate_with_config(&crate_dir, config) {
        Ok(bindings) => {
            bindings.write_to_file(out_dir.join("stateful_executor.h"));
        }
        Err(err) => panic!("cbindgen could not generate the C header: {err}"),
    }
}
