//! Generates the gRPC code from proto/hoist.proto and proto/cluster.proto with a vendored protoc, so
//! building hoist needs no system protobuf compiler.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    // SAFETY: build scripts are single-threaded; nothing else reads the
    // environment while we set it.
    unsafe { std::env::set_var("PROTOC", protoc) };
    println!("cargo:rerun-if-changed=proto/hoist.proto");
    println!("cargo:rerun-if-changed=proto/cluster.proto");
    tonic_prost_build::configure()
        .compile_protos(&["proto/hoist.proto", "proto/cluster.proto"], &["proto"])?;
    Ok(())
}
