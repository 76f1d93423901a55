//! `hoist-shim <runtime-dir>`: the per-container shim, started by the
//! daemon for each container. A binary of its own, linking only the
//! runtime, so each running container costs as little memory as possible.

fn main() {
    let Some(dir) = std::env::args_os().nth(1) else {
        eprintln!("usage: hoist-shim <runtime-dir> (started by the hoist daemon)");
        std::process::exit(2);
    };
    std::process::exit(hoist_runtime::shim::server::main(std::path::Path::new(
        &dir,
    )));
}
