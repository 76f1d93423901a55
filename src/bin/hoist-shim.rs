//! `hoist-shim <runtime-dir>`: the per-container shim, started by the
//! daemon for each container. A binary of its own, linking only the
//! runtime, so each running container costs as little memory as possible.
//!
//! `hoist-shim --launcher …` is the daemon's shim launcher, which forks
//! shims instead (see `hoist_runtime::shim::launcher`).

use hoist_runtime::shim::{launcher, server};

fn main() {
    let Some(first) = std::env::args_os().nth(1) else {
        eprintln!("usage: hoist-shim <runtime-dir> (started by the hoist daemon)");
        std::process::exit(2);
    };
    let code = if first == launcher::LAUNCHER_FLAG {
        launcher::main()
    } else {
        server::main(std::path::Path::new(&first))
    };
    std::process::exit(code);
}
