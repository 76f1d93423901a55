//! Building the shim's bundle for a container: the OCI runtime spec
//! (process, mounts, namespaces, masked paths) in Docker's defaults, plus
//! hoist's rootfs, cgroup, seccomp and log settings.

use std::path::{Path, PathBuf};

use hoist_api::spec::{ExecSpec, MountKind};
use hoist_runtime::bundle::{Bundle, ExecProcess, RootfsMount};
use hoist_runtime::cgroup::Hierarchy;
use hoist_runtime::container::security::{SeccompMode, effective_capabilities};
use hoist_runtime::container::user::{ResolvedUser, read_layered_file, resolve_user};
use hoist_runtime::image::ImageStore;
use hoist_runtime::logs::{DEFAULT_MAX_FILES, DEFAULT_MAX_SIZE, LogOptions};
use oci_spec::runtime::{
    Capability, LinuxBuilder, LinuxCapabilitiesBuilder, LinuxNamespace, LinuxNamespaceBuilder,
    LinuxNamespaceType, Mount, MountBuilder, PosixRlimit, PosixRlimitBuilder, PosixRlimitType,
    Process, ProcessBuilder, RootBuilder, SpecBuilder, UserBuilder,
};
use tonic::Status;

use super::create::{SecurityOption, security_option};
use super::devices;
use super::record::ContainerRecord;
use crate::config::DaemonConfig;
use crate::error::{internal, invalid};

/// Paths Docker hides from containers.
const MASKED_PATHS: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// Paths Docker makes read-only in containers.
const READONLY_PATHS: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// Docker's /dev/shm size when `--shm-size` is not given.
const DEFAULT_SHM_SIZE: u64 = 64 * 1024 * 1024;

fn spec_error(e: impl std::fmt::Display) -> Status {
    internal(format!("cannot build the container's runtime spec: {e}"))
}

/// Everything a bundle needs besides the record.
pub struct BundleContext<'a> {
    /// Daemon paths.
    pub config: &'a DaemonConfig,
    /// The image store (for layer paths).
    pub images: &'a ImageStore,
    /// The host's cgroup hierarchy.
    pub hierarchy: &'a Hierarchy,
    /// Existing namespaces the container joins instead of new ones.
    pub joined: Joined,
    /// Terminal size of the first attached client.
    pub console: Option<(u16, u16)>,
}

/// Namespaces a container joins rather than gets anew (paths under
/// `/proc/<pid>/ns/` or a sandbox file).
#[derive(Debug, Clone, Default)]
pub struct Joined {
    /// The network namespace: the container's sandbox on bridge networks,
    /// or another container's (`--network container:<x>`).
    pub net: Option<PathBuf>,
    /// Another container's PID namespace (`--pid container:<x>`).
    pub pid: Option<PathBuf>,
    /// Another container's IPC namespace (`--ipc container:<x>`).
    pub ipc: Option<PathBuf>,
}

/// The lower directories of a container's overlay, top first: the init
/// layer (absolute), then the image's layers (relative to the layers root).
/// Containers made before the init layer was shared keep their own.
pub fn lower_dirs(config: &DaemonConfig, record: &ContainerRecord) -> Vec<String> {
    let own = config.container_dir(&record.id).join(INIT_LAYER);
    let init = if own.is_dir() {
        own
    } else {
        config.init_layer()
    };
    let mut dirs = vec![init.display().to_string()];
    dirs.extend(
        record
            .layers
            .iter()
            .rev()
            .map(|c| ImageStore::layer_dir_name(c).to_string()),
    );
    dirs
}

/// The init layer: the mount points the runtime needs (/proc, /sys, /dev/…,
/// the generated /etc files) as a read-only layer under every container's
/// own, so they stay out of `diff` and `commit`, as Docker's init layer
/// does. Its content is the same for every container, so one copy (see
/// [`DaemonConfig::init_layer`]) serves all; this is the name of the
/// per-container copy that containers made by earlier versions have.
pub const INIT_LAYER: &str = "init";

/// Directories and (empty) files of the init layer.
const INIT_DIRS: &[&str] = &["proc", "sys", "dev/pts", "dev/shm", "dev/mqueue", "etc"];
const INIT_FILES: &[&str] = &["etc/hosts", "etc/hostname", "etc/resolv.conf"];

/// Makes the init layer at `path` unless it is there: built beside it and
/// renamed into place, so it is either whole or absent.
pub fn make_init_layer(path: &Path) -> std::io::Result<()> {
    if path.is_dir() {
        return Ok(());
    }
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = path.with_file_name(format!(
        ".{name}.tmp-{}",
        hoist_runtime::fsutil::random_hex(4)
    ));
    let result = (|| {
        for sub in INIT_DIRS {
            std::fs::create_dir_all(tmp.join(sub))?;
        }
        for file in INIT_FILES {
            std::fs::File::create(tmp.join(file))?;
        }
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = hoist_runtime::fsutil::remove_all(&tmp);
    }
    match result {
        Err(_) if path.is_dir() => Ok(()),
        other => other,
    }
}

/// Resolves the container's user against its own files.
pub fn resolve_container_user(
    ctx: &BundleContext<'_>,
    record: &ContainerRecord,
    user: &str,
    group_add: &[String],
) -> Result<ResolvedUser, Status> {
    let upper = ctx.config.upper_dir(&record.id);
    let lowers: Vec<PathBuf> = lower_dirs(ctx.config, record)
        .iter()
        .map(|d| ctx.images.layers_root().join(d))
        .collect();
    let read = |path| {
        read_layered_file(&upper, &lowers, path).map(|b| String::from_utf8_lossy(&b).into_owned())
    };
    resolve_user(
        user,
        group_add,
        read("/etc/passwd").as_deref(),
        read("/etc/group").as_deref(),
    )
    .map_err(invalid)
}

/// Whether processes get no_new_privs (hoist's default: yes).
fn no_new_privileges(security_opt: &[String]) -> Result<bool, Status> {
    let mut value = true;
    for opt in security_opt {
        if let SecurityOption::NoNewPrivileges(v) = security_option(opt)? {
            value = v;
        }
    }
    Ok(value)
}

fn seccomp_mode(privileged: bool, security_opt: &[String]) -> Result<SeccompMode, Status> {
    if privileged {
        return Ok(SeccompMode::Unconfined);
    }
    for opt in security_opt {
        if security_option(opt)? == SecurityOption::SeccompUnconfined {
            return Ok(SeccompMode::Unconfined);
        }
    }
    Ok(SeccompMode::Default)
}

/// The capability names a container's processes get. On a cgroup v2 host
/// where hoist cannot load the eBPF device filter, CAP_MKNOD is held back:
/// a device node made there could otherwise be opened.
fn capabilities(record: &ContainerRecord, hierarchy: &Hierarchy) -> Result<Vec<String>, Status> {
    let spec = &record.spec;
    let mut caps = effective_capabilities(spec.privileged, &spec.cap_add, &spec.cap_drop)
        .map_err(|e| invalid(e.to_string()))?;
    if !hierarchy.limits_devices && !spec.privileged {
        caps.retain(|c| c != "CAP_MKNOD");
    }
    Ok(caps)
}

/// What a container or exec process is made of.
struct ProcessParams<'a> {
    args: Vec<String>,
    env: Vec<String>,
    cwd: &'a str,
    user: &'a ResolvedUser,
    caps: &'a [String],
    terminal: bool,
    console: Option<(u16, u16)>,
    rlimits: Vec<PosixRlimit>,
    no_new_privileges: bool,
    /// The container's `--oom-score-adj`, set whatever the daemon's own is,
    /// as Docker does: a daemon kept safe from the OOM killer must not pass
    /// that on.
    oom_score_adj: i64,
}

fn process(p: ProcessParams<'_>) -> Result<Process, Status> {
    let ProcessParams {
        args,
        env,
        cwd,
        user,
        caps,
        terminal,
        console,
        rlimits,
        no_new_privileges,
        oom_score_adj,
    } = p;
    let caps: Vec<Capability> = caps
        .iter()
        .filter_map(|c| serde_json::from_value(serde_json::Value::String(c.clone())).ok())
        .collect();
    let set: oci_spec::runtime::Capabilities = caps.into_iter().collect();
    let capabilities = LinuxCapabilitiesBuilder::default()
        .bounding(set.clone())
        .effective(set.clone())
        .permitted(set.clone())
        .inheritable(set)
        .ambient(oci_spec::runtime::Capabilities::new())
        .build()
        .map_err(spec_error)?;
    let mut env = env;
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!("HOME={}", user.home));
    }
    let mut builder = ProcessBuilder::default()
        .terminal(terminal)
        .user(
            UserBuilder::default()
                .uid(user.uid)
                .gid(user.gid)
                .additional_gids(user.additional_gids.clone())
                .build()
                .map_err(spec_error)?,
        )
        .args(args)
        .env(env)
        .cwd(PathBuf::from(cwd))
        .capabilities(capabilities)
        .rlimits(rlimits)
        .no_new_privileges(no_new_privileges)
        .oom_score_adj(oom_score_adj as i32);
    if let (true, Some((rows, cols))) = (terminal, console) {
        builder = builder.console_size(
            oci_spec::runtime::BoxBuilder::default()
                .height(u64::from(rows))
                .width(u64::from(cols))
                .build()
                .map_err(spec_error)?,
        );
    }
    builder.build().map_err(spec_error)
}

/// The container's ulimits, clamped to what the daemon may grant (raising
/// a hard limit needs CAP_SYS_RESOURCE, which our hosts do not give).
/// Returns the limits and one warning per clamped value.
pub fn rlimits(
    ulimits: &[hoist_api::spec::Ulimit],
) -> Result<(Vec<PosixRlimit>, Vec<String>), Status> {
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    for u in ulimits {
        let resource = hoist_runtime::container::process::rlimit_by_name(&u.name)
            .ok_or_else(|| invalid(format!("unknown ulimit {:?}", u.name)))?;
        let mut current = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes into the struct we own.
        unsafe { libc::getrlimit(resource, &mut current) };
        let cap = |v: i64| -> u64 { if v < 0 { libc::RLIM_INFINITY } else { v as u64 } };
        let (mut soft, mut hard) = (cap(u.soft), cap(u.hard));
        if hard > current.rlim_max {
            warnings.push(format!(
                "ulimit {} hard limit {} is above the daemon's own hard limit {}: clamped to {} (raising it needs CAP_SYS_RESOURCE)",
                u.name, u.hard, current.rlim_max, current.rlim_max
            ));
            hard = current.rlim_max;
            soft = soft.min(hard);
        }
        let typ: PosixRlimitType = serde_json::from_value(serde_json::Value::String(format!(
            "RLIMIT_{}",
            u.name.to_uppercase()
        )))
        .map_err(|_| invalid(format!("unknown ulimit {:?}", u.name)))?;
        out.push(
            PosixRlimitBuilder::default()
                .typ(typ)
                .soft(soft)
                .hard(hard)
                .build()
                .map_err(spec_error)?,
        );
    }
    Ok((out, warnings))
}

fn mount(destination: &str, kind: &str, source: &str, options: &[&str]) -> Result<Mount, Status> {
    MountBuilder::default()
        .destination(PathBuf::from(destination))
        .typ(kind.to_string())
        .source(PathBuf::from(source))
        .options(options.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .build()
        .map_err(spec_error)
}

/// The mounts of a container, in Docker's order: system filesystems, then
/// the user's, then the generated /etc files (unless the user mounted over
/// them).
fn mounts(record: &ContainerRecord, etc_dir: &Path) -> Result<Vec<Mount>, Status> {
    let spec = &record.spec;
    let shm = if spec.shm_size > 0 {
        spec.shm_size
    } else {
        DEFAULT_SHM_SIZE
    };
    let sys_mode = if spec.privileged { "rw" } else { "ro" };
    let mut out = vec![
        mount("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"])?,
        mount(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        )?,
        mount(
            "/dev/pts",
            "devpts",
            "devpts",
            &[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
            ],
        )?,
        mount(
            "/sys",
            "sysfs",
            "sysfs",
            &["nosuid", "noexec", "nodev", sys_mode],
        )?,
        mount(
            "/dev/mqueue",
            "mqueue",
            "mqueue",
            &["nosuid", "noexec", "nodev"],
        )?,
        mount(
            "/dev/shm",
            "tmpfs",
            "shm",
            &[
                "nosuid",
                "noexec",
                "nodev",
                "mode=1777",
                &format!("size={shm}"),
            ],
        )?,
    ];
    for m in &record.mounts {
        let source = m.source.to_string_lossy();
        let mut options = vec!["rbind"];
        if m.read_only {
            options.push("ro");
        }
        let propagation = if m.propagation.is_empty() {
            "rprivate"
        } else {
            m.propagation.as_str()
        };
        match m.kind {
            MountKind::Bind | MountKind::Volume => {
                options.push(propagation);
                out.push(mount(&m.destination, "bind", &source, &options)?);
            }
            MountKind::Tmpfs => {
                let mut options: Vec<&str> = vec!["nosuid", "nodev", "noexec"];
                if m.read_only {
                    options.push("ro");
                }
                options.extend(m.options.iter().map(String::as_str));
                out.push(mount(&m.destination, "tmpfs", "tmpfs", &options)?);
            }
        }
    }
    for file in &record.files {
        out.push(mount(
            &file.target,
            "bind",
            &file.source.to_string_lossy(),
            &["rbind", "ro", "rprivate"],
        )?);
    }
    for file in ["resolv.conf", "hostname", "hosts"] {
        let destination = format!("/etc/{file}");
        let taken = record.mounts.iter().any(|m| m.destination == destination)
            || record.files.iter().any(|f| f.target == destination);
        if !taken {
            let source = etc_dir.join(file);
            out.push(mount(
                &destination,
                "bind",
                &source.to_string_lossy(),
                &["rbind", "rprivate"],
            )?);
        }
    }
    Ok(out)
}

fn namespace(typ: LinuxNamespaceType, path: Option<PathBuf>) -> Result<LinuxNamespace, Status> {
    let mut builder = LinuxNamespaceBuilder::default().typ(typ);
    if let Some(path) = path {
        builder = builder.path(path);
    }
    builder.build().map_err(spec_error)
}

/// Builds the bundle for starting `record`.
pub fn bundle(
    ctx: &BundleContext<'_>,
    record: &ContainerRecord,
) -> Result<(Bundle, Vec<String>), Status> {
    let spec = &record.spec;
    let settings = &record.settings;
    let dir = ctx.config.container_dir(&record.id);
    let user = resolve_container_user(ctx, record, &settings.user, &spec.group_add)?;
    let caps = capabilities(record, ctx.hierarchy)?;
    let (limits, warnings) = rlimits(&spec.ulimits)?;
    let process = process(ProcessParams {
        args: settings.command(),
        env: settings.env.clone(),
        cwd: &settings.working_dir,
        user: &user,
        caps: &caps,
        terminal: spec.tty,
        console: ctx.console,
        rlimits: limits,
        no_new_privileges: no_new_privileges(&spec.security_opt)?,
        oom_score_adj: spec.oom_score_adj,
    })?;
    let own_uts = spec.uts_mode != "host";
    let mut namespaces = vec![namespace(LinuxNamespaceType::Mount, None)?];
    if own_uts {
        namespaces.push(namespace(LinuxNamespaceType::Uts, None)?);
    }
    if spec.cgroupns_mode != "host" {
        namespaces.push(namespace(LinuxNamespaceType::Cgroup, None)?);
    }
    if spec.pid_mode != "host" {
        namespaces.push(namespace(LinuxNamespaceType::Pid, ctx.joined.pid.clone())?);
    }
    if spec.ipc_mode != "host" {
        namespaces.push(namespace(LinuxNamespaceType::Ipc, ctx.joined.ipc.clone())?);
    }
    if spec.network_mode != "host" {
        namespaces.push(namespace(
            LinuxNamespaceType::Network,
            ctx.joined.net.clone(),
        )?);
    }
    devices::enforceable(spec, ctx.hierarchy.limits_devices)?;
    let devices = devices::devices(spec)?;
    let mut linux = LinuxBuilder::default()
        .namespaces(namespaces)
        .devices(devices.nodes);
    if !spec.privileged {
        linux = linux
            .masked_paths(
                MASKED_PATHS
                    .iter()
                    .map(|s| s.to_string())
                    .collect::<Vec<_>>(),
            )
            .readonly_paths(
                READONLY_PATHS
                    .iter()
                    .map(|s| s.to_string())
                    .collect::<Vec<_>>(),
            );
    }
    if !spec.sysctls.is_empty() {
        linux = linux.sysctl(
            spec.sysctls
                .clone()
                .into_iter()
                .collect::<std::collections::HashMap<_, _>>(),
        );
    }
    let mut builder = SpecBuilder::default()
        .version("1.2.0".to_string())
        .root(
            RootBuilder::default()
                .path(ctx.config.container_run_dir(&record.id).join("rootfs"))
                .readonly(spec.read_only)
                .build()
                .map_err(spec_error)?,
        )
        .process(process)
        .mounts(mounts(
            record,
            &ctx.config.etc_files_dir(&record.id, spec.auto_remove),
        )?)
        .linux(linux.build().map_err(spec_error)?);
    if !spec.annotations.is_empty() {
        builder = builder.annotations(
            spec.annotations
                .clone()
                .into_iter()
                .collect::<std::collections::HashMap<_, _>>(),
        );
    }
    // In the host's UTS namespace the container keeps the host's names.
    if own_uts {
        builder = builder.hostname(settings.hostname.clone());
        if let Some(domain) = spec.domainname.as_ref().filter(|d| !d.is_empty()) {
            builder = builder.domainname(domain.clone());
        }
    }
    let oci = builder.build().map_err(spec_error)?;
    let log = match spec.log_config.driver.as_str() {
        "none" => None,
        _ => Some(log_options(record, &dir)?),
    };
    let bundle = Bundle {
        id: record.id.clone(),
        spec: oci,
        rootfs: RootfsMount {
            layers_root: ctx.images.layers_root(),
            lower: lower_dirs(ctx.config, record),
            upper: dir.join("upper"),
            work: dir.join("work"),
            volatile: spec.auto_remove,
        },
        cgroup: ctx
            .hierarchy
            .cgroup(&ctx.config.cgroup_path(&spec.cgroup_parent, &record.id)),
        resources: spec.resources.clone(),
        all_devices: spec.privileged || !ctx.hierarchy.limits_devices,
        device_rules: devices.rules,
        seccomp: seccomp_mode(spec.privileged, &spec.security_opt)?,
        open_stdin: spec.open_stdin,
        stdin_once: spec.stdin_once,
        init: spec.init,
        log,
        copy_up: record
            .mounts
            .iter()
            .filter(|m| m.copy_up)
            .map(|m| PathBuf::from(&m.destination))
            .collect(),
    };
    Ok((bundle, warnings))
}

/// The json-file log of a container and its rotation options.
pub fn log_options(record: &ContainerRecord, dir: &Path) -> Result<LogOptions, Status> {
    let config = &record.spec.log_config.config;
    let max_size = match config.get("max-size") {
        Some(v) => hoist_api::units::parse_bytes(v)
            .map_err(|e| invalid(format!("log opt max-size: {e}")))? as u64,
        None => DEFAULT_MAX_SIZE,
    };
    let max_files = match config.get("max-file") {
        Some(v) => v.parse::<u32>().ok().filter(|n| *n >= 1).ok_or_else(|| {
            invalid(format!(
                "log opt max-file {v:?}: use a number of files, at least 1"
            ))
        })?,
        None => DEFAULT_MAX_FILES,
    };
    Ok(LogOptions {
        path: dir.join(format!("{}-json.log", record.id)),
        max_size,
        max_files,
        attrs: super::log_attrs::attrs(record).map_err(invalid)?,
        compress: super::log_attrs::compress(config).map_err(invalid)?,
    })
}

/// The process for `hoist exec` (or a healthcheck) in `record`.
pub fn exec_process(
    ctx: &BundleContext<'_>,
    record: &ContainerRecord,
    exec: &ExecSpec,
) -> Result<ExecProcess, Status> {
    let spec = &record.spec;
    let settings = &record.settings;
    let user = resolve_container_user(
        ctx,
        record,
        exec.user.as_deref().unwrap_or(&settings.user),
        &spec.group_add,
    )?;
    let privileged = spec.privileged || exec.privileged;
    let caps = if exec.privileged {
        effective_capabilities(true, &[], &[]).map_err(|e| invalid(e.to_string()))?
    } else {
        capabilities(record, ctx.hierarchy)?
    };
    let mut env = settings.env.clone();
    for entry in &exec.env {
        let (key, value) = entry.split_once('=').unwrap_or((entry, ""));
        hoist_runtime::image::changes::set_env(&mut env, key, value);
    }
    let (limits, _) = rlimits(&spec.ulimits)?;
    let cwd = exec
        .working_dir
        .clone()
        .filter(|w| !w.is_empty())
        .unwrap_or_else(|| settings.working_dir.clone());
    let process = process(ProcessParams {
        args: exec.cmd.clone(),
        env,
        cwd: &cwd,
        user: &user,
        caps: &caps,
        terminal: exec.tty,
        console: ctx.console,
        rlimits: limits,
        no_new_privileges: no_new_privileges(&spec.security_opt)?,
        oom_score_adj: spec.oom_score_adj,
    })?;
    Ok(ExecProcess {
        process,
        seccomp: seccomp_mode(privileged, &spec.security_opt)?,
        open_stdin: exec.open_stdin,
    })
}
