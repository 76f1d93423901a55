//! cgroup v2's device access control. v2 has no `devices.allow` file: a
//! `BPF_PROG_TYPE_CGROUP_DEVICE` program attached to a cgroup decides each
//! open and mknod of a device node by its processes. This module compiles
//! the same rule lines v1 takes (`c 1:3 rwm`, `b *:* m`, `a`) into such a
//! program, as runc and crun do, and loads and attaches it with bpf(2):
//! what a rule allows is allowed, everything else is refused with EPERM.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

/// One `devices.allow` line, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// `BPF_DEVCG_DEV_BLOCK` or `BPF_DEVCG_DEV_CHAR`; `None` for `a` (both).
    kind: Option<u32>,
    /// `None` for `*`.
    major: Option<u32>,
    /// `None` for `*`.
    minor: Option<u32>,
    /// `BPF_DEVCG_ACC_*` bits.
    access: u32,
}

// From <linux/bpf.h>: the context's device kinds and access bits.
const DEV_BLOCK: u32 = 1;
const DEV_CHAR: u32 = 2;
const ACC_MKNOD: u32 = 1;
const ACC_READ: u32 = 2;
const ACC_WRITE: u32 = 4;
const ACC_ALL: u32 = ACC_MKNOD | ACC_READ | ACC_WRITE;

impl Rule {
    /// Parses `TYPE MAJOR:MINOR ACCESS` (type `a`, `b` or `c`, numbers or
    /// `*`, access letters from `rwm`), or `a` alone, which v1 reads as
    /// every device with every access.
    pub fn parse(line: &str) -> io::Result<Self> {
        let bad = || {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "invalid device rule {line:?}: use TYPE MAJOR:MINOR ACCESS, like 'c 1:3 rwm'"
                ),
            )
        };
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (kind, numbers, access) = match fields.as_slice() {
            ["a"] => ("a", "*:*", "rwm"),
            [kind, numbers, access] => (*kind, *numbers, *access),
            _ => return Err(bad()),
        };
        let kind = match kind {
            "a" => None,
            "b" => Some(DEV_BLOCK),
            "c" => Some(DEV_CHAR),
            _ => return Err(bad()),
        };
        let number = |n: &str| match n {
            "*" => Ok(None),
            n => n.parse().map(Some).map_err(|_| bad()),
        };
        let (major, minor) = numbers.split_once(':').ok_or_else(bad)?;
        let access = access.chars().try_fold(0, |bits, letter| match letter {
            'r' => Ok(bits | ACC_READ),
            'w' => Ok(bits | ACC_WRITE),
            'm' => Ok(bits | ACC_MKNOD),
            _ => Err(bad()),
        })?;
        Ok(Self {
            kind,
            major: number(major)?,
            minor: number(minor)?,
            access,
        })
    }
}

/// One eBPF instruction, laid out as the kernel's `struct bpf_insn`
/// (destination register in the low nibble of `regs`, source in the high).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub struct Insn {
    code: u8,
    regs: u8,
    off: i16,
    imm: i32,
}

// Opcodes (class | operation | operand source), from <linux/bpf_common.h>
// and <linux/bpf.h>; an immediate operand (BPF_K) and a 32-bit load
// (BPF_W) are both 0.
const BPF_LDX: u8 = 0x01;
const BPF_ALU: u8 = 0x04;
const BPF_JMP: u8 = 0x05;
const BPF_JMP32: u8 = 0x06;
const BPF_ALU64: u8 = 0x07;
const BPF_MEM: u8 = 0x60;
const BPF_X: u8 = 0x08;
const LDX_MEM_W: u8 = BPF_LDX | BPF_MEM;
const ALU32_AND_K: u8 = BPF_ALU | 0x50;
const ALU32_RSH_K: u8 = BPF_ALU | 0x70;
const ALU32_MOV_X: u8 = BPF_ALU | 0xb0 | BPF_X;
const ALU64_MOV_K: u8 = BPF_ALU64 | 0xb0;
const JMP32_JNE_K: u8 = BPF_JMP32 | 0x50;
const JMP32_JNE_X: u8 = BPF_JMP32 | 0x50 | BPF_X;
const JMP_EXIT: u8 = BPF_JMP | 0x90;

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: (src << 4) | dst,
        off,
        imm,
    }
}

/// The program for `rules`: it loads the device's kind (r2), the access
/// asked for (r3), major (r4) and minor (r5) from its context, then tries
/// each rule in turn; a rule that matches returns 1 (allow), a mismatch
/// jumps to the next rule, and after the last it returns 0 (deny).
pub fn program(rules: &[Rule]) -> Vec<Insn> {
    let mut code = vec![
        insn(LDX_MEM_W, 2, 1, 0, 0),
        insn(ALU32_AND_K, 2, 0, 0, 0xffff),
        insn(LDX_MEM_W, 3, 1, 0, 0),
        insn(ALU32_RSH_K, 3, 0, 0, 16),
        insn(LDX_MEM_W, 4, 1, 4, 0),
        insn(LDX_MEM_W, 5, 1, 8, 0),
    ];
    for rule in rules {
        let start = code.len();
        if let Some(kind) = rule.kind {
            code.push(insn(JMP32_JNE_K, 2, 0, 0, kind as i32));
        }
        if rule.access != ACC_ALL {
            // Every bit asked for must be one the rule grants.
            code.push(insn(ALU32_MOV_X, 1, 3, 0, 0));
            code.push(insn(ALU32_AND_K, 1, 0, 0, rule.access as i32));
            code.push(insn(JMP32_JNE_X, 1, 3, 0, 0));
        }
        if let Some(major) = rule.major {
            code.push(insn(JMP32_JNE_K, 4, 0, 0, major as i32));
        }
        if let Some(minor) = rule.minor {
            code.push(insn(JMP32_JNE_K, 5, 0, 0, minor as i32));
        }
        code.push(insn(ALU64_MOV_K, 0, 0, 0, 1));
        code.push(insn(JMP_EXIT, 0, 0, 0, 0));
        let next = code.len();
        if next - start == 2 {
            // A rule for every device and access: what follows could never
            // run, and the verifier refuses unreachable code.
            return code;
        }
        for (at, instruction) in code.iter_mut().enumerate().take(next).skip(start) {
            if instruction.code == JMP32_JNE_K || instruction.code == JMP32_JNE_X {
                // A jump's offset counts from the instruction after it.
                instruction.off = (next - at - 1) as i16;
            }
        }
    }
    code.push(insn(ALU64_MOV_K, 0, 0, 0, 0));
    code.push(insn(JMP_EXIT, 0, 0, 0, 0));
    code
}

// bpf(2) commands, program and attach types, flags (<linux/bpf.h>).
const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
/// Lets the host's own programs on parent cgroups (systemd's, for one)
/// keep running beside ours: a device must pass all of them.
const BPF_F_ALLOW_MULTI: u32 = 2;

/// The head of `union bpf_attr` that `BPF_PROG_LOAD` reads; the kernel
/// takes the fields it does not get as zero.
#[repr(C)]
struct ProgLoad {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

/// The part of `union bpf_attr` that `BPF_PROG_ATTACH` reads.
#[repr(C)]
struct ProgAttach {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

const LICENSE: &CStr = c"Apache-2.0";
const NAME: &[u8; 16] = b"hoist_devices\0\0\0";

/// Loads `code` as a device program. When the verifier refuses it, loads
/// it again with a log to say why.
fn load(code: &[Insn]) -> io::Result<OwnedFd> {
    let attempt = |log: &mut [u8]| {
        let attr = ProgLoad {
            prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
            insn_cnt: code.len() as u32,
            insns: code.as_ptr() as u64,
            license: LICENSE.as_ptr() as u64,
            log_level: u32::from(!log.is_empty()),
            log_size: log.len() as u32,
            log_buf: log.as_mut_ptr() as u64,
            kern_version: 0,
            prog_flags: 0,
            prog_name: *NAME,
            prog_ifindex: 0,
            expected_attach_type: BPF_CGROUP_DEVICE,
        };
        // SAFETY: `attr` is a valid bpf_attr head for BPF_PROG_LOAD whose
        // pointers (instructions, license, log) outlive the call; the kernel
        // reads `size_of` bytes of it and writes only into the log buffer.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_bpf,
                BPF_PROG_LOAD,
                &attr as *const ProgLoad,
                size_of::<ProgLoad>(),
            )
        };
        if fd < 0 {
            Err(io::Error::last_os_error())
        } else {
            // SAFETY: the kernel just gave us this descriptor; nothing else
            // owns it.
            Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
        }
    };
    attempt(&mut []).or_else(|first| {
        let mut log = vec![0u8; 1 << 16];
        match attempt(&mut log) {
            Ok(fd) => Ok(fd),
            Err(_) => {
                let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
                let said = String::from_utf8_lossy(&log[..end]);
                // The verifier's complaint comes before its statistics.
                let last = said
                    .lines()
                    .rev()
                    .find(|line| !line.starts_with("processed ") && !line.trim().is_empty())
                    .unwrap_or("")
                    .trim();
                Err(io::Error::new(
                    first.kind(),
                    format!("load the device filter (eBPF): {first} {last}")
                        .trim_end()
                        .to_string(),
                ))
            }
        }
    })
}

/// Whether this kernel lets hoist load a device program (cgroup v2 hosts
/// without CONFIG_CGROUP_BPF, or hoist itself under a seccomp profile that
/// forbids bpf(2), do not). Loads the default program and drops it.
pub fn supported() -> io::Result<()> {
    let rules = super::DEFAULT_DEVICE_RULES
        .iter()
        .copied()
        .map(Rule::parse)
        .collect::<io::Result<Vec<_>>>()?;
    load(&program(&rules)).map(drop)
}

/// Limits the cgroup directory `dir` to Docker's default devices and the
/// `extra` rule lines: compiles them, loads the program and attaches it.
/// The attachment lives as long as the cgroup; the program's descriptor is
/// closed here.
pub fn restrict(dir: &Path, extra: &[String]) -> io::Result<()> {
    let rules = super::DEFAULT_DEVICE_RULES
        .iter()
        .copied()
        .chain(extra.iter().map(String::as_str))
        .map(Rule::parse)
        .collect::<io::Result<Vec<_>>>()?;
    let program = load(&program(&rules))?;
    let cgroup = std::fs::File::open(dir)
        .map_err(|e| io::Error::new(e.kind(), format!("open {}: {e}", dir.display())))?;
    let attr = ProgAttach {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: program.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
        replace_bpf_fd: 0,
    };
    // SAFETY: `attr` is a valid bpf_attr for BPF_PROG_ATTACH naming two
    // descriptors held open for the duration of the call.
    let result = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_ATTACH,
            &attr as *const ProgAttach,
            size_of::<ProgAttach>(),
        )
    };
    if result < 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(
            e.kind(),
            format!("attach the device filter to {}: {e}", dir.display()),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::process::Command;

    use super::*;

    fn rule(line: &str) -> Rule {
        Rule::parse(line).unwrap()
    }

    #[test]
    fn parses_v1_rule_lines() {
        assert_eq!(
            rule("c 1:3 rw"),
            Rule {
                kind: Some(DEV_CHAR),
                major: Some(1),
                minor: Some(3),
                access: ACC_READ | ACC_WRITE,
            }
        );
        assert_eq!(
            rule("b *:* m"),
            Rule {
                kind: Some(DEV_BLOCK),
                major: None,
                minor: None,
                access: ACC_MKNOD,
            }
        );
        let everything = Rule {
            kind: None,
            major: None,
            minor: None,
            access: ACC_ALL,
        };
        assert_eq!(rule("a"), everything);
        assert_eq!(rule("a *:* rwm"), everything);
        for bad in ["", "x 1:3 r", "c 1:3 rx", "c 1-3 r", "c a:3 r", "c 1:3"] {
            let error = Rule::parse(bad).unwrap_err();
            assert!(error.to_string().contains(&format!("{bad:?}")), "{error}");
        }
    }

    /// Where the unified hierarchy is mounted.
    fn unified_mount() -> PathBuf {
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        mountinfo
            .lines()
            .filter_map(|line| line.split_once(" - "))
            .find(|(_, right)| right.starts_with("cgroup2 "))
            .and_then(|(left, _)| left.split_whitespace().nth(4))
            .map(PathBuf::from)
            .expect(
                "this test needs the cgroup2 hierarchy mounted (the v2 tree, controllers or not)",
            )
    }

    /// A cgroup of the test's own under the unified mount, removed on drop.
    struct TestCgroup {
        parent: PathBuf,
    }

    impl TestCgroup {
        fn new(name: &str) -> Self {
            let parent = unified_mount().join(format!("hoist-test-{name}-{}", std::process::id()));
            std::fs::create_dir(&parent).unwrap();
            Self { parent }
        }
    }

    impl Drop for TestCgroup {
        fn drop(&mut self) {
            for child in ["allowed", "listed"] {
                let _ = std::fs::remove_dir(self.parent.join(child));
            }
            let _ = std::fs::remove_dir(&self.parent);
        }
    }

    /// Runs `script` in a shell that first moves itself into `dir` (or
    /// stays where it is, for `None`), with `$T` naming `scratch`: Ok, or
    /// the shell's complaint.
    fn sh(dir: Option<&Path>, scratch: &Path, script: &str) -> Result<(), String> {
        let enter = r#"[ -z "$0" ] || echo $$ > "$0/cgroup.procs" || exit 99; T=$1; eval "$2""#;
        let dir = dir.map_or(String::new(), |d| d.display().to_string());
        let out = Command::new("sh")
            .args(["-c", enter, &dir])
            .arg(scratch)
            .arg(script)
            .output()
            .unwrap();
        assert_ne!(out.status.code(), Some(99), "cannot move into {dir}");
        if out.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    #[test]
    fn the_kernel_accepts_every_kind_of_rule() {
        let rules: Vec<Rule> = ["a", "b *:* m", "c 1:3 r", "c *:5 w", "b 8:* rwm", "c 4:1 "]
            .iter()
            .filter_map(|line| Rule::parse(line).ok())
            .collect();
        assert_eq!(rules.len(), 5);
        load(&program(&rules)).unwrap();
        load(&program(&rules[1..])).unwrap();
        supported().unwrap();
    }

    #[test]
    fn a_cgroup_with_the_filter_reaches_only_the_devices_its_rules_allow() {
        let test = TestCgroup::new("devices");
        let scratch = tempfile::tempdir().unwrap();
        let t = scratch.path();
        // /dev/net/tun for reading only, /dev/kmsg for writing only.
        let extra = ["c 10:200 r".to_string(), "c 1:11 w".to_string()];
        let listed = test.parent.join("listed");
        let allowed = test.parent.join("allowed");
        std::fs::create_dir(&listed).unwrap();
        std::fs::create_dir(&allowed).unwrap();
        restrict(&listed, &extra).unwrap();
        let (listed, allowed) = (listed.as_path(), allowed.as_path());

        let denied = |script: &str| {
            let error = sh(Some(listed), t, script).expect_err(script);
            assert!(
                error.contains("Operation not permitted"),
                "{script}: {error}"
            );
            // Outside the filter the same access works: the filter refused it.
            sh(None, t, script).unwrap_or_else(|e| panic!("{script} outside: {e}"));
            sh(Some(allowed), t, script).unwrap_or_else(|e| panic!("{script} unfiltered: {e}"));
        };
        let fine = |script: &str| {
            sh(Some(listed), t, script).unwrap_or_else(|e| panic!("{script}: {e}"));
        };
        // Docker's defaults, and the extra rules with their access.
        fine(": </dev/null; : >/dev/null; : </dev/zero; : >/dev/full; : </dev/urandom");
        fine(": </dev/net/tun");
        denied(": >/dev/net/tun");
        fine(": >/dev/kmsg");
        denied(": </dev/kmsg");
        denied(": </dev/fuse");
        // Nodes may be made (c *:* m, b *:* m) but opened only if listed.
        fine("mknod $T/null c 1 3 && : <$T/null && : >$T/null");
        fine("mknod $T/kmsg c 1 11");
        denied(": <$T/kmsg");
        fine("mknod $T/loop b 7 200");
        let error = sh(Some(listed), t, ": <$T/loop").unwrap_err();
        assert!(error.contains("Operation not permitted"), "{error}");
    }
}
