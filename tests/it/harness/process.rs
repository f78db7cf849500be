//! Tests that need their process to themselves: the process-wide logger, counting the process's
//! threads. They stay in this one binary, but run in a child process of their own.

use std::process::Command;

use super::server::GateToken;

const OWN_PROCESS: &str = "SF_TEST_OWN_PROCESS";

/// For a test that needs its process to itself. Called first in the test with the test's path
/// (`"logging::records_reach_the_callback"`): in the test run, it runs this binary again with
/// only that test, checks that it ran and passed, and returns false (the test returns). In that
/// child process it returns true: the test's body runs there.
pub fn own_process(test: &str) -> bool {
    if std::env::var(OWN_PROCESS).as_deref() == Ok(test) {
        return true;
    }
    // The child's servers count as this test's for `alone`.
    let _share = GateToken::enter();
    let out = Command::new(std::env::current_exe().expect("the test binary"))
        .args([test, "--exact", "--nocapture", "--test-threads", "1"])
        .env(OWN_PROCESS, test)
        .output()
        .expect("run the test binary again");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    print!("{stdout}");
    eprint!("{stderr}");
    assert!(out.status.success(), "{test} failed in its own process");
    assert!(
        stdout.contains("1 passed"),
        "{test} did not run in its own process: is the path right?"
    );
    false
}
