//! The Lua scripts of `lua/`, embedded in the binary with their SHA1 computed once.

use std::sync::OnceLock;

/// One embedded script: `lua/prelude.lua` followed by the operation's own file.
pub(crate) struct Script {
    pub(crate) name: &'static str,
    pub(crate) source: &'static str,
    sha1: OnceLock<String>,
}

impl Script {
    const fn new(name: &'static str, source: &'static str) -> Self {
        Script {
            name,
            source,
            sha1: OnceLock::new(),
        }
    }

    /// The hex SHA1 that EVALSHA takes, computed on first use.
    pub(crate) fn sha1(&self) -> &str {
        self.sha1
            .get_or_init(|| redis::Script::new(self.source).get_hash().to_string())
    }
}

macro_rules! embed {
    ($file:literal) => {
        Script::new(
            $file,
            concat!(
                include_str!("../lua/prelude.lua"),
                include_str!(concat!("../lua/", $file, ".lua"))
            ),
        )
    };
}

pub(crate) static SET_LINKED_POD: Script = embed!("set_linked_pod");
pub(crate) static TRY_SET_LINKED_POD: Script = embed!("try_set_linked_pod");
pub(crate) static SET_LINKED_POD_IF_ABSENT: Script = embed!("set_linked_pod_if_absent");
pub(crate) static GET_LINKED_POD_IF_PERSIST: Script = embed!("get_linked_pod_if_persist");
pub(crate) static REMOVE_LINKED_POD: Script = embed!("remove_linked_pod");
pub(crate) static TOUCH_LINKED_POD: Script = embed!("touch_linked_pod");
/// The client cache's reads (loaded only when the cache is on, so not in [`ALL`]).
pub(crate) static READ_WITH_TTL: Script = embed!("read_with_ttl");

/// Every script, for loading them all when an executor opens.
pub(crate) static ALL: [&Script; 6] = [
    &SET_LINKED_POD,
    &TRY_SET_LINKED_POD,
    &SET_LINKED_POD_IF_ABSENT,
    &GET_LINKED_POD_IF_PERSIST,
    &REMOVE_LINKED_POD,
    &TOUCH_LINKED_POD,
];
