//! `hoist build`: Dockerfiles run in the embedded runtime, with a layer
//! cache, build args, targets, .dockerignore and located errors.

mod support;

use std::fs;
use std::path::Path;
use std::time::Duration;

use support::Daemon;

const DOCKERFILE: &str = r#"# syntax=docker/dockerfile:1
ARG BASE=busybox
FROM $BASE AS base
ARG V=1
ENV GREETING=hi
WORKDIR /app
COPY app.txt .
COPY sub/ ./sub/
RUN echo "v=$V $GREETING" > /app/run.txt && ls -a /app > /app/list.txt
RUN <<EOF
echo from a heredoc > /app/heredoc.txt
EOF
RUN cat > /app/fed.txt <<-DATA
	fed by a heredoc
	DATA
LABEL version=$V
CMD ["cat", "/app/run.txt"]

FROM base AS final
RUN echo final > /final
"#;

fn context(d: &Daemon) -> std::path::PathBuf {
    let dir = d.dir.join("ctx");
    fs::create_dir_all(dir.join("sub")).unwrap();
    fs::write(dir.join("Dockerfile"), DOCKERFILE).unwrap();
    fs::write(dir.join("app.txt"), "hello\n").unwrap();
    fs::write(dir.join("sub/a"), "A\n").unwrap();
    fs::write(dir.join("secret.txt"), "no\n").unwrap();
    fs::write(dir.join(".dockerignore"), "secret*\n").unwrap();
    dir
}

fn build(d: &Daemon, dir: &Path, extra: &[&str]) -> support::Run {
    let mut args = vec!["build"];
    args.extend(extra);
    args.push(dir.to_str().unwrap());
    d.hoist(&args)
}

/// A context directory holding `files` (name, content).
fn context_with(d: &Daemon, files: &[(&str, &str)]) -> std::path::PathBuf {
    let dir = d.dir.join("ctx");
    fs::create_dir_all(&dir).unwrap();
    for (name, content) in files {
        fs::write(dir.join(name), content).unwrap();
    }
    dir
}

/// Builds `dockerfile` in `dir`: it must fail with exit code 1 and every
/// one of `needles` in its error.
fn assert_build_fails(d: &Daemon, dir: &Path, dockerfile: &str, needles: &[&str]) {
    fs::write(dir.join("Dockerfile"), dockerfile).unwrap();
    let run = build(d, dir, &[]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    for needle in needles {
        assert!(
            run.stderr.contains(needle),
            "{needle:?} not in: {}",
            run.stderr
        );
    }
}

#[test]
fn build_runs_caches_and_targets() {
    let d = Daemon::with_busybox();
    let dir = context(&d);
    let first = build(&d, &dir, &["-t", "app:dev", "--build-arg", "V=2"]);
    assert_eq!(first.code, 0, "{}\n{}", first.stdout, first.stderr);
    assert!(
        first.stdout.contains("[base 2/6] COPY app.txt ."),
        "{}",
        first.stdout
    );
    assert!(!first.stdout.contains("CACHED"), "{}", first.stdout);
    assert!(
        first
            .stdout
            .contains("naming to docker.io/library/app:dev done"),
        "{}",
        first.stdout
    );
    assert_eq!(d.ok(&["run", "--rm", "app:dev"]), "v=2 hi\n");
    assert_eq!(
        d.ok(&[
            "run",
            "--rm",
            "app:dev",
            "cat",
            "/app/app.txt",
            "/app/sub/a",
            "/final"
        ]),
        "hello\nA\nfinal\n"
    );
    let listed = d.ok(&["run", "--rm", "app:dev", "cat", "/app/list.txt"]);
    assert!(
        !listed.contains("secret"),
        ".dockerignore not honoured: {listed}"
    );
    let inspect = d.inspect("app:dev");
    assert_eq!(inspect["Config"]["Labels"]["version"], "2");
    assert_eq!(inspect["Config"]["WorkingDir"], "/app");
    let id = d.image_id("app:dev");

    // Unchanged: every step from the cache, the very same image.
    let again = build(&d, &dir, &["-t", "app:dev", "--build-arg", "V=2"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(
        again.stdout.matches(" CACHED").count(),
        6,
        "{}",
        again.stdout
    );
    assert_eq!(d.image_id("app:dev"), id);

    // A changed file reruns its COPY and what follows, not what precedes.
    fs::write(dir.join("sub/a"), "B\n").unwrap();
    let changed = build(&d, &dir, &["-t", "app:dev", "--build-arg", "V=2"]);
    assert_eq!(changed.code, 0, "{}", changed.stderr);
    assert_eq!(
        changed.stdout.matches(" CACHED").count(),
        1,
        "{}",
        changed.stdout
    );
    assert_eq!(
        d.ok(&["run", "--rm", "app:dev", "cat", "/app/sub/a"]),
        "B\n"
    );

    let no_cache = build(
        &d,
        &dir,
        &["-t", "app:fresh", "--no-cache", "--build-arg", "V=2"],
    );
    assert_eq!(no_cache.code, 0, "{}", no_cache.stderr);
    assert!(!no_cache.stdout.contains("CACHED"), "{}", no_cache.stdout);

    let base = build(&d, &dir, &["-t", "app:base", "--target", "base", "-q"]);
    assert_eq!(base.code, 0, "{}", base.stderr);
    assert!(base.stdout.trim().starts_with("sha256:"), "{}", base.stdout);
    assert_eq!(d.ok(&["run", "--rm", "app:base"]), "v=1 hi\n");
    assert_ne!(
        d.hoist(&["run", "--rm", "app:base", "cat", "/final"]).code,
        0
    );
    assert!(
        d.hoist(&["ps", "-aq"]).stdout.trim().is_empty(),
        "build containers left"
    );

    // What was used a moment ago is younger than any `until` an hour back,
    // and all of it fits in a gigabyte: neither prune removes anything.
    for kept in [
        d.ok(&["builder", "prune", "-f", "--filter", "until=1h"]),
        d.ok(&["builder", "prune", "-f", "--keep-storage", "1GB"]),
    ] {
        assert!(!kept.contains("Deleted build cache objects:"), "{kept}");
    }
    d.assert_fails(
        &["builder", "prune", "-f", "--filter", "id=x"],
        "invalid filter 'id'",
    );
    let cached = d.ok(&["system", "df", "--format", "{{.Type}}={{.TotalCount}}"]);
    let entries: usize = cached
        .lines()
        .find_map(|l| l.strip_prefix("Build Cache="))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(entries >= 6, "{cached}");

    // builder prune empties the cache: the next build runs every step.
    let pruned = d.ok(&["builder", "prune", "-f"]);
    assert!(
        pruned.contains("Deleted build cache objects:")
            && pruned.contains("Total reclaimed space:"),
        "{pruned}"
    );
    let after = build(&d, &dir, &["-t", "app:dev", "--build-arg", "V=2"]);
    assert_eq!(after.code, 0, "{}", after.stderr);
    assert!(!after.stdout.contains("CACHED"), "{}", after.stdout);
    assert_eq!(d.ok(&["run", "--rm", "app:dev"]), "v=2 hi\n");
}

#[test]
fn build_failures_name_the_step_and_leave_nothing() {
    let d = Daemon::with_busybox();
    let dir = context_with(&d, &[]);
    fs::write(
        dir.join("Dockerfile"),
        "FROM busybox\nRUN echo start\nRUN echo broken >&2; exit 3\n",
    )
    .unwrap();
    let images_before = d.ok(&["images", "-q"]);
    let failed = build(&d, &dir, &["-t", "bad:1"]);
    assert_eq!(failed.code, 1, "{}", failed.stdout);
    assert!(
        failed.stderr.contains("Dockerfile:3: RUN") && failed.stderr.contains("exit code: 3"),
        "{}",
        failed.stderr
    );
    assert!(
        failed.stdout.contains("broken"),
        "the step's output is shown: {}",
        failed.stdout
    );
    assert!(
        d.hoist(&["ps", "-aq"]).stdout.trim().is_empty(),
        "containers left"
    );
    assert_eq!(d.ok(&["images", "-q"]), images_before, "images left");

    assert_build_fails(&d, &dir, "FROM busybox\nRUNN true\n", &["Dockerfile:2"]);
    assert_build_fails(
        &d,
        &dir,
        "FROM busybox\nCOPY missing.txt /\n",
        &["Dockerfile:2: COPY", "missing.txt"],
    );
}

#[test]
fn copy_from_an_earlier_stage_and_an_image() {
    let d = Daemon::with_busybox();
    let dir = context_with(&d, &[]);
    fs::write(
        dir.join("Dockerfile"),
        "FROM busybox AS builder\n\
         RUN mkdir /out && echo built > /out/artifact\n\
         FROM scratch\n\
         COPY --from=builder /out/artifact /artifact\n\
         COPY --from=busybox /bin/busybox /bin/busybox\n\
         CMD [\"/bin/busybox\", \"cat\", \"/artifact\"]\n",
    )
    .unwrap();
    let built = build(&d, &dir, &["-t", "multi:1"]);
    assert_eq!(built.code, 0, "{}\n{}", built.stdout, built.stderr);
    assert_eq!(d.ok(&["run", "--rm", "multi:1"]), "built\n");
    assert_eq!(
        d.inspect("multi:1")["RootFS"]["Layers"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let ours = d.dir.to_str().unwrap();
    assert!(
        !mounts
            .lines()
            .any(|l| l.contains(ours) && l.contains(".from-")),
        "a --from mount was left behind"
    );
    assert_build_fails(
        &d,
        &dir,
        "FROM busybox AS a\nCOPY --from=a /etc/passwd /x\n",
        &["Dockerfile:2: COPY", "earlier stage"],
    );
}

#[test]
fn onbuild_triggers_run_in_the_child_build() {
    let d = Daemon::with_busybox();
    let dir = context_with(&d, &[("app.txt", "hello\n")]);
    fs::write(
        dir.join("Dockerfile"),
        "FROM busybox\nONBUILD COPY app.txt /from-trigger.txt\nONBUILD RUN echo trig > /trig\n",
    )
    .unwrap();
    assert_eq!(build(&d, &dir, &["-t", "base:onbuild"]).code, 0);
    let base = d.inspect("base:onbuild");
    assert_eq!(
        base["Config"]["OnBuild"].as_array().map(Vec::len),
        Some(2),
        "{base}"
    );
    fs::write(
        dir.join("Dockerfile"),
        "FROM base:onbuild\nCMD [\"cat\", \"/from-trigger.txt\", \"/trig\"]\n",
    )
    .unwrap();
    let child = build(&d, &dir, &["-t", "child:1"]);
    assert_eq!(child.code, 0, "{}\n{}", child.stdout, child.stderr);
    assert_eq!(d.ok(&["run", "--rm", "child:1"]), "hello\ntrig\n");
    let inherited = &d.inspect("child:1")["Config"]["OnBuild"];
    assert!(
        inherited.is_null() || inherited.as_array().is_some_and(Vec::is_empty),
        "triggers are not inherited: {inherited}"
    );
}

#[test]
fn chown_names_come_from_the_images_passwd_and_group() {
    let d = Daemon::with_busybox();
    let dir = context_with(&d, &[("app.txt", "hello\n")]);
    fs::write(
        dir.join("Dockerfile"),
        "FROM busybox\n\
         RUN mkdir -p /etc && echo 'app:x:1234:1234::/:/bin/sh' >> /etc/passwd && echo 'grp:x:77:' >> /etc/group\n\
         COPY --chown=app:grp --chmod=640 app.txt /owned.txt\n\
         COPY --chown=app app.txt /user-only.txt\n\
         CMD [\"stat\", \"-c\", \"%u:%g %a\", \"/owned.txt\", \"/user-only.txt\"]\n",
    )
    .unwrap();
    let built = build(&d, &dir, &["-t", "owned:1"]);
    assert_eq!(built.code, 0, "{}\n{}", built.stdout, built.stderr);
    assert_eq!(
        d.ok(&["run", "--rm", "owned:1"]),
        "1234:77 640\n1234:1234 644\n"
    );
    fs::write(
        dir.join("Dockerfile"),
        "FROM busybox\nCOPY --chown=ghost app.txt /x\n",
    )
    .unwrap();
    let unknown = build(&d, &dir, &[]);
    assert_eq!(unknown.code, 1);
    assert!(
        unknown.stderr.contains("Dockerfile:2: COPY")
            && unknown.stderr.contains("no user named \"ghost\""),
        "{}",
        unknown.stderr
    );
}

#[test]
fn run_mounts_bind_cache_tmpfs_and_secrets_leave_nothing_in_the_image() {
    let d = Daemon::with_busybox();
    let dir = context_with(&d, &[("req.txt", "pkgs-v1\n")]);
    let secret = d.dir.join("token.txt");
    fs::write(&secret, "s3cret").unwrap();
    let secret_flag = format!("id=token,src={}", secret.display());
    fs::write(
        dir.join("Dockerfile"),
        "FROM busybox AS tools\n\
         RUN mkdir /tools && echo tool-v1 > /tools/version\n\
         FROM busybox\n\
         WORKDIR /app\n\
         ARG CACHE=/root/.cache\n\
         RUN --mount=type=bind,source=req.txt,target=req.txt \\\n\
         \x20   --mount=type=bind,from=tools,source=/tools,target=/opt/tools \\\n\
         \x20   --mount=type=cache,target=$CACHE/pkg \\\n\
         \x20   --mount=type=tmpfs,target=/scratch \\\n\
         \x20   --mount=type=secret,id=token \\\n\
         \x20   --mount=type=secret,id=token,env=TOKEN,target=/etc/token-copy \\\n\
         \x20   --mount=type=secret,id=absent \\\n\
         \x20   cat req.txt /opt/tools/version > /app/seen \\\n\
         \x20   && echo run >> /root/.cache/pkg/runs && wc -l < /root/.cache/pkg/runs > /app/cache-runs \\\n\
         \x20   && echo x > /scratch/x && grep -q tmpfs /proc/mounts \\\n\
         \x20   && [ \"$(cat /run/secrets/token)\" = \"$TOKEN\" ] && [ ${#TOKEN} = 6 ] \\\n\
         \x20   && [ \"$(cat /etc/token-copy)\" = \"$TOKEN\" ] \\\n\
         \x20   && [ ! -e /run/secrets/absent ] && echo secrets-ok >> /app/seen\n\
         RUN --mount=type=bind,target=/ctx,rw echo scribble > /ctx/req.txt && cat /ctx/req.txt > /app/rw\n\
         RUN --mount=type=bind,target=. cat req.txt > /dotbind\n",
    )
    .unwrap();
    let built = build(&d, &dir, &["-t", "mounts:1", "--secret", &secret_flag]);
    assert_eq!(built.code, 0, "{}\n{}", built.stdout, built.stderr);
    let show = |path: &str| d.ok(&["run", "--rm", "mounts:1", "cat", path]);
    assert_eq!(show("/app/seen"), "pkgs-v1\ntool-v1\nsecrets-ok\n");
    assert_eq!(show("/app/cache-runs").trim(), "1");
    assert_eq!(show("/app/rw"), "scribble\n");
    assert_eq!(show("/dotbind"), "pkgs-v1\n");
    // The mounts' writes and mount points are not in the image, nor is the
    // secret anywhere in it; a writable bind wrote on a copy.
    assert_eq!(
        d.ok(&[
            "run",
            "--rm",
            "mounts:1",
            "sh",
            "-c",
            "ls -A /app; for p in /opt /root/.cache /scratch /run/secrets /etc/token-copy /ctx; do [ -e $p ] && echo left $p; done; true",
        ]),
        "cache-runs\nrw\nseen\n"
    );
    assert_eq!(
        fs::read_to_string(dir.join("req.txt")).unwrap(),
        "pkgs-v1\n"
    );
    let saved = d.dir.join("mounts.tar");
    d.ok(&["save", "-o", saved.to_str().unwrap(), "mounts:1"]);
    let bytes = fs::read(&saved).unwrap();
    assert!(
        !bytes.windows(6).any(|w| w == b"s3cret"),
        "the secret is in the saved image"
    );

    // Unchanged: cached. A changed bind source reruns its step; the cache
    // mount kept what the first run left.
    let again = build(&d, &dir, &["-t", "mounts:1", "--secret", &secret_flag]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(
        again.stdout.matches(" CACHED").count(),
        4,
        "{}",
        again.stdout
    );
    fs::write(dir.join("req.txt"), "pkgs-v2\n").unwrap();
    let changed = build(&d, &dir, &["-t", "mounts:1", "--secret", &secret_flag]);
    assert_eq!(changed.code, 0, "{}", changed.stderr);
    assert_eq!(show("/app/seen"), "pkgs-v2\ntool-v1\nsecrets-ok\n");
    assert_eq!(show("/app/cache-runs").trim(), "2");

    // `builder prune` empties the cache mounts too.
    let pruned = d.ok(&["builder", "prune", "-f"]);
    assert!(pruned.contains("cache mount"), "{pruned}");
    let fresh = build(&d, &dir, &["-t", "mounts:1", "--secret", &secret_flag]);
    assert_eq!(fresh.code, 0, "{}", fresh.stderr);
    assert_eq!(show("/app/cache-runs").trim(), "1");

    // A required secret the build was not given, a missing bind source.
    assert_build_fails(
        &d,
        &dir,
        "FROM busybox\nRUN --mount=type=secret,id=npmrc,required true\n",
        &[
            "Dockerfile:2: RUN",
            "secret npmrc is required",
            "--secret id=npmrc",
        ],
    );
    assert_build_fails(
        &d,
        &dir,
        "FROM busybox\nRUN --mount=type=tmpfs,target=/tmp/.. true\n",
        &["Dockerfile:2: RUN", "cannot cover the whole filesystem"],
    );
    assert_build_fails(
        &d,
        &dir,
        "FROM busybox\nRUN --mount=source=nothere.txt,target=/x true\n",
        &[
            "Dockerfile:2: RUN",
            "\"nothere.txt\" is not in the build context",
        ],
    );
    let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let ours = d.dir.to_str().unwrap();
    assert!(
        !mounts
            .lines()
            .any(|l| l.contains(ours) && l.contains(".from-")),
        "a --from mount was left behind"
    );
}

#[test]
fn dockers_build_flags_for_ci() {
    let d = Daemon::with_busybox();
    let dir = context_with(&d, &[]);
    fs::write(
        dir.join("Dockerfile"),
        "FROM busybox\n\
         RUN grep -c : /proc/net/dev > /interfaces; grep db /etc/hosts > /hosts; true\n\
         RUN ulimit -n > /nofile && df -k /dev/shm | awk 'NR == 2 {print $2}' > /shm\n",
    )
    .unwrap();
    let iid = d.dir.join("iid");
    let arch = d.inspect("busybox")["Architecture"]
        .as_str()
        .unwrap()
        .to_string();
    let platform = format!("linux/{arch}");
    let built = build(
        &d,
        &dir,
        &[
            "-t",
            "ci:1",
            "--label",
            "org.opencontainers.image.revision=abc123",
            "--label",
            "flag",
            "--iidfile",
            iid.to_str().unwrap(),
            "--network",
            "none",
            "--add-host",
            "db:10.1.2.3",
            "--platform",
            &platform,
            "--progress=plain",
            "--cache-from",
            "type=registry,ref=x/y:cache",
            "--load",
            "--shm-size",
            "32m",
            "--ulimit",
            "nofile=1000:2000",
        ],
    );
    assert_eq!(built.code, 0, "{}\n{}", built.stdout, built.stderr);
    assert!(
        built.stderr.contains("--cache-from is ignored"),
        "{}",
        built.stderr
    );
    let id = d.image_id("ci:1");
    assert_eq!(fs::read_to_string(&iid).unwrap(), id);
    let labels = &d.inspect("ci:1")["Config"]["Labels"];
    assert_eq!(labels["org.opencontainers.image.revision"], "abc123");
    assert_eq!(labels["flag"], "");
    // --network none: only the loopback; --add-host: in the step's hosts.
    assert_eq!(d.ok(&["run", "--rm", "ci:1", "cat", "/interfaces"]), "1\n");
    assert_eq!(
        d.ok(&["run", "--rm", "ci:1", "cat", "/hosts"]),
        "10.1.2.3\tdb\n"
    );
    assert_eq!(
        d.ok(&["run", "--rm", "ci:1", "cat", "/nofile", "/shm"]),
        "1000\n32768\n"
    );
    // The step's network, hosts and limits are part of its cache key.
    let same = [
        "-t",
        "ci:1",
        "--network",
        "none",
        "--add-host",
        "db:10.1.2.3",
        "--shm-size",
        "32m",
        "--ulimit",
        "nofile=1000:2000",
    ];
    let again = build(&d, &dir, &same);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(again.stdout.contains(" CACHED"), "{}", again.stdout);
    let other = build(&d, &dir, &["-t", "ci:2", "--add-host", "db:10.9.9.9"]);
    assert_eq!(other.code, 0, "{}", other.stderr);
    assert!(!other.stdout.contains(" CACHED"), "{}", other.stdout);
    // --progress=quiet prints the ID alone.
    let quiet = build(&d, &dir, &[&same[..], &["--progress=quiet"]].concat());
    assert_eq!(quiet.stdout.trim(), d.image_id("ci:1"));

    for (flags, said) in [
        (&["--platform", "linux/s390x"][..], "this host's platform"),
        (&["--network", "bridge"][..], "invalid --network \"bridge\""),
        (
            &["--add-host", "db:nowhere"][..],
            "invalid IP address \"nowhere\"",
        ),
        (
            &["--progress", "rawjson"][..],
            "invalid --progress \"rawjson\"",
        ),
        (&["--push"][..], "--push needs a name"),
        (&["--ulimit", "nofile"][..], "invalid --ulimit \"nofile\""),
        (&["--shm-size", "lots"][..], "invalid --shm-size \"lots\""),
    ] {
        d.assert_fails(
            &[&["build"], flags, &[dir.to_str().unwrap()]].concat(),
            said,
        );
    }
}

#[test]
fn output_exports_the_files_of_the_last_stage() {
    let d = Daemon::with_busybox();
    let dir = context_with(&d, &[]);
    fs::write(
        dir.join("Dockerfile"),
        "FROM busybox AS build\n\
         RUN mkdir -p /out/lib && echo binary > /out/app && ln -s app /out/lib/link\n\
         FROM scratch AS artifacts\n\
         COPY --from=build /out /\n",
    )
    .unwrap();
    let images_before = d.ok(&["images", "-q"]);
    let dist = d.dir.join("dist");
    let local = build(
        &d,
        &dir,
        &["-o", &format!("type=local,dest={}", dist.display())],
    );
    assert_eq!(local.code, 0, "{}\n{}", local.stdout, local.stderr);
    assert_eq!(fs::read_to_string(dist.join("app")).unwrap(), "binary\n");
    assert_eq!(
        fs::read_link(dist.join("lib/link")).unwrap(),
        Path::new("app")
    );
    // Only the files were asked for: no image stays behind.
    assert_eq!(d.ok(&["images", "-q"]), images_before);

    let tarball = d.dir.join("fs.tar");
    let tar = build(
        &d,
        &dir,
        &[
            "-t",
            "artifacts:1",
            "-o",
            &format!("type=tar,dest={}", tarball.display()),
        ],
    );
    assert_eq!(tar.code, 0, "{}", tar.stderr);
    let mut names: Vec<String> = tar::Archive::new(fs::File::open(&tarball).unwrap())
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    names.sort();
    assert_eq!(names, ["app", "lib/", "lib/link"]);
    // Tagged, the image stays too.
    assert!(d.image_id("artifacts:1").starts_with("sha256:"));
}

#[test]
fn dockerfiles_and_contexts_from_standard_input() {
    let d = Daemon::with_busybox();
    let dir = context_with(
        &d,
        &[("app.txt", "from the context\n"), ("skip.txt", "no\n")],
    );
    fs::write(dir.join(".dockerignore"), "skip.txt\n").unwrap();
    let dockerfile = b"FROM busybox\nCOPY . /ctx/\nRUN ls /ctx > /listing\n";
    // -f -: the Dockerfile from stdin, the context from the directory (its
    // .dockerignore applies).
    let piped = d.hoist_with_input(
        &["build", "-t", "stdin:1", "-f", "-", dir.to_str().unwrap()],
        dockerfile,
    );
    assert_eq!(piped.code, 0, "{}\n{}", piped.stdout, piped.stderr);
    assert_eq!(
        d.ok(&["run", "--rm", "stdin:1", "cat", "/listing"]),
        "app.txt\n"
    );
    // `-` as the context: a Dockerfile alone (an empty context)…
    let alone = d.hoist_with_input(
        &["build", "-t", "stdin:2", "-"],
        b"FROM busybox\nRUN echo no context > /said\n",
    );
    assert_eq!(alone.code, 0, "{}\n{}", alone.stdout, alone.stderr);
    assert_eq!(
        d.ok(&["run", "--rm", "stdin:2", "cat", "/said"]),
        "no context\n"
    );
    // …or a gzipped tar of the context, its Dockerfile inside.
    fs::write(dir.join("Dockerfile"), dockerfile).unwrap();
    let tarball = d.dir.join("ctx.tar.gz");
    let packed = std::process::Command::new("tar")
        .args([
            "-czf",
            tarball.to_str().unwrap(),
            "-C",
            dir.to_str().unwrap(),
            ".",
        ])
        .status()
        .unwrap();
    assert!(packed.success());
    let tarred = d.hoist_with_input(
        &["build", "-t", "stdin:3", "-"],
        &fs::read(&tarball).unwrap(),
    );
    assert_eq!(tarred.code, 0, "{}\n{}", tarred.stdout, tarred.stderr);
    assert_eq!(
        d.ok(&["run", "--rm", "stdin:3", "cat", "/listing"]),
        "Dockerfile\napp.txt\n"
    );
    let both = d.hoist_with_input(&["build", "-f", "-", "-"], dockerfile);
    assert_ne!(both.code, 0);
    assert!(both.stderr.contains("cannot read both"), "{}", both.stderr);
}

/// `binary` and the shared libraries `ldd` lists for it, copied flat into
/// `dir`: a build step runs it as `dir/ld.so --library-path dir dir/NAME`.
fn host_tool(binary: &str, dir: &Path) {
    fs::create_dir_all(dir).unwrap();
    let listed = std::process::Command::new("ldd")
        .arg(binary)
        .output()
        .unwrap();
    for line in String::from_utf8_lossy(&listed.stdout).lines() {
        let path = line
            .rsplit("=>")
            .next()
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_default();
        if let Some(name) = Path::new(path)
            .file_name()
            .filter(|_| path.starts_with('/'))
        {
            let name = if path.contains("ld-linux") {
                "ld.so".into()
            } else {
                name.to_owned()
            };
            fs::copy(path, dir.join(name)).unwrap();
        }
    }
    fs::copy(binary, dir.join(Path::new(binary).file_name().unwrap())).unwrap();
}

#[test]
fn ssh_mounts_relay_the_agent_to_the_step_user() {
    use std::io::{BufRead, BufReader, Write};
    let d = Daemon::with_busybox();
    let dir = context_with(&d, &[]);
    host_tool("/usr/bin/socat", &dir.join("tools"));
    fs::write(
        dir.join("Dockerfile"),
        "FROM busybox\n\
         RUN mkdir /out && chown 1000 /out\n\
         USER 1000\n\
         RUN --mount=type=bind,source=tools,target=/tools --mount=type=ssh,uid=1000 \
         echo \"$SSH_AUTH_SOCK\" > /out/sock \
         && echo hello | /tools/ld.so --library-path /tools /tools/socat - UNIX-CONNECT:$SSH_AUTH_SOCK > /out/reply\n",
    )
    .unwrap();
    // A stand-in agent: it answers one line with what it heard.
    let socket = d.dir.join("agent.sock");
    let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let agent = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut line = String::new();
        BufReader::new(&stream).read_line(&mut line).unwrap();
        stream
            .write_all(format!("agent heard {line}").as_bytes())
            .unwrap();
    });
    let flag = format!("default={}", socket.display());
    let built = build(&d, &dir, &["-t", "ssh:1", "--ssh", &flag]);
    assert_eq!(built.code, 0, "{}\n{}", built.stdout, built.stderr);
    agent.join().unwrap();
    let show = |path: &str| d.ok(&["run", "--rm", "ssh:1", "cat", path]);
    assert_eq!(show("/out/sock"), "/run/buildkit/ssh_agent.0\n");
    assert_eq!(show("/out/reply"), "agent heard hello\n");
    assert_eq!(
        d.ok(&[
            "run",
            "--rm",
            "ssh:1",
            "sh",
            "-c",
            "ls -A /run /tools 2>&1; true"
        ]),
        "ls: /run: No such file or directory\nls: /tools: No such file or directory\n"
    );

    assert_build_fails(
        &d,
        &dir,
        "FROM busybox\nRUN --mount=type=ssh,required true\n",
        &[
            "Dockerfile:2: RUN",
            "ssh agent default is required",
            "--ssh default",
        ],
    );
    d.assert_fails(
        &[
            "build",
            "--ssh",
            "default=/etc/passwd",
            dir.to_str().unwrap(),
        ],
        "not an agent's socket",
    );
}

#[test]
fn named_build_contexts_stand_for_images_and_directories() {
    let d = Daemon::with_busybox();
    let dir = context_with(&d, &[]);
    let shared = d.dir.join("shared");
    fs::create_dir_all(&shared).unwrap();
    fs::write(shared.join("lib.txt"), "shared lib\n").unwrap();
    fs::write(shared.join("skip.txt"), "no\n").unwrap();
    fs::write(shared.join(".dockerignore"), "skip.txt\n").unwrap();
    fs::write(
        dir.join("Dockerfile"),
        "FROM base\n\
         COPY --from=shared lib.txt /lib.txt\n\
         RUN --mount=from=shared,target=/shared cat /shared/lib.txt > /from-mount && ls /shared > /listing\n",
    )
    .unwrap();
    let shared_flag = format!("shared={}", shared.display());
    let built = build(
        &d,
        &dir,
        &[
            "-t",
            "named:1",
            "--build-context",
            "base=docker-image://busybox",
            "--build-context",
            &shared_flag,
        ],
    );
    assert_eq!(built.code, 0, "{}\n{}", built.stdout, built.stderr);
    let show = |path: &str| d.ok(&["run", "--rm", "named:1", "cat", path]);
    assert_eq!(show("/lib.txt"), "shared lib\n");
    assert_eq!(show("/from-mount"), "shared lib\n");
    assert_eq!(show("/listing"), "lib.txt\n");

    // A directory as FROM: a stage of its files (its .dockerignore
    // applied), cached by their content.
    fs::write(
        dir.join("Dockerfile"),
        "FROM files\n\
         COPY --from=busybox /bin/busybox /bin/busybox\n\
         CMD [\"/bin/busybox\", \"ls\", \"/\"]\n",
    )
    .unwrap();
    let files_flag = format!("files={}", shared.display());
    let from_dir = build(&d, &dir, &["-t", "named:2", "--build-context", &files_flag]);
    assert_eq!(from_dir.code, 0, "{}\n{}", from_dir.stdout, from_dir.stderr);
    // (dev, etc, proc and sys are the running container's own mount points.)
    assert_eq!(
        d.ok(&["run", "--rm", "named:2"]),
        "bin\ndev\netc\nlib.txt\nproc\nsys\n"
    );
    let again = build(&d, &dir, &["-t", "named:2", "--build-context", &files_flag]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(
        again.stdout.matches(" CACHED").count(),
        1,
        "{}",
        again.stdout
    );
    // Other context kinds are refused.
    d.assert_fails(
        &[
            "build",
            "--build-context",
            "base=oci-layout:///srv/layout",
            dir.to_str().unwrap(),
        ],
        "oci-layout:// contexts are not supported",
    );
}

#[test]
fn copy_and_add_exclude_what_their_patterns_name() {
    let d = Daemon::with_busybox();
    let dir = context_with(
        &d,
        &[("home.txt", "t\n"), ("home.md", "m\n"), ("keep.md", "k\n")],
    );
    fs::create_dir_all(dir.join("homedir/deep")).unwrap();
    fs::write(dir.join("homedir/a.txt"), "a\n").unwrap();
    fs::write(dir.join("homedir/b.md"), "b\n").unwrap();
    fs::write(dir.join("homedir/deep/c.txt"), "c\n").unwrap();
    fs::write(
        dir.join("Dockerfile"),
        "FROM busybox\n\
         COPY --exclude=*.txt hom* /glob/\n\
         COPY --exclude=**/*.txt homedir /deep/\n\
         ADD --exclude=*.md --exclude=deep . /all/\n\
         RUN cd / && find glob deep all -type f | sort > /listing\n",
    )
    .unwrap();
    let built = build(&d, &dir, &["-t", "excluded:1"]);
    assert_eq!(built.code, 0, "{}\n{}", built.stdout, built.stderr);
    assert_eq!(
        d.ok(&["run", "--rm", "excluded:1", "cat", "/listing"]),
        "all/Dockerfile\nall/home.txt\nall/homedir/a.txt\nall/homedir/b.md\nall/homedir/deep/c.txt\n\
         deep/b.md\n\
         glob/b.md\nglob/deep/c.txt\nglob/home.md\n"
    );
    // What is left out is not part of the cache key: changing it hits.
    fs::write(dir.join("homedir/a.txt"), "changed\n").unwrap();
    let again = build(&d, &dir, &["-t", "excluded:1"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(again.stdout.contains("#3 CACHED"), "{}", again.stdout);
}

#[test]
fn insecure_run_steps_need_the_entitlement_and_run_privileged() {
    let d = Daemon::with_busybox();
    let dir = context_with(&d, &[]);
    let mount = "mkdir /m && mount -t tmpfs none /m && echo mounted > /out && umount /m";
    assert_build_fails(
        &d,
        &dir,
        &format!("FROM busybox\nRUN --security=insecure {mount}\n"),
        &["Dockerfile:2: RUN", "--allow security.insecure"],
    );
    let allowed = build(
        &d,
        &dir,
        &["-t", "insecure:1", "--allow", "security.insecure"],
    );
    assert_eq!(allowed.code, 0, "{}\n{}", allowed.stdout, allowed.stderr);
    assert_eq!(
        d.ok(&["run", "--rm", "insecure:1", "cat", "/out"]),
        "mounted\n"
    );
    // The same step in the sandbox may not mount.
    assert_build_fails(
        &d,
        &dir,
        &format!("FROM busybox\nRUN {mount}\n"),
        &["Dockerfile:2: RUN", "did not complete successfully"],
    );
    d.assert_fails(
        &["build", "--allow", "device", dir.to_str().unwrap()],
        "invalid --allow \"device\"",
    );
}

#[test]
fn a_new_cache_mount_starts_from_the_stage_it_names() {
    let d = Daemon::with_busybox();
    let dir = context_with(&d, &[]);
    fs::write(
        dir.join("Dockerfile"),
        "FROM busybox AS seed\n\
         RUN mkdir -p /deps && echo seeded > /deps/lock\n\
         FROM busybox\n\
         RUN --mount=type=cache,id=deps,target=/cache,from=seed,source=/deps \
         cat /cache/lock > /first && echo more >> /cache/lock\n\
         RUN --mount=type=cache,id=deps,target=/cache cat /cache/lock > /second\n",
    )
    .unwrap();
    let built = build(&d, &dir, &["-t", "seeded:1"]);
    assert_eq!(built.code, 0, "{}\n{}", built.stdout, built.stderr);
    let show = |path: &str| d.ok(&["run", "--rm", "seeded:1", "cat", path]);
    assert_eq!(show("/first"), "seeded\n");
    // Seeded once, when made: later uses see what earlier ones left.
    assert_eq!(show("/second"), "seeded\nmore\n");
}

#[test]
fn buildx_commands_ci_calls_reach_hoists_one_builder() {
    let d = Daemon::with_busybox();
    let dir = context_with(&d, &[]);
    fs::write(
        dir.join("Dockerfile"),
        "FROM busybox\nRUN echo bx > /said\n",
    )
    .unwrap();
    let built = d.hoist(&[
        "buildx",
        "build",
        "--load",
        "-t",
        "bx:1",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(built.code, 0, "{}\n{}", built.stdout, built.stderr);
    assert_eq!(d.ok(&["run", "--rm", "bx:1", "cat", "/said"]), "bx\n");
    assert!(d.ok(&["buildx", "version"]).starts_with("hoist buildx "));
    assert!(d.ok(&["buildx", "ls"]).contains("default*"));
    assert!(
        d.ok(&["buildx", "inspect", "--bootstrap"])
            .contains("Driver:        hoist")
    );
    d.ok(&["buildx", "use", "default"]);
    d.assert_fails(&["buildx", "use", "mybuilder"], "no builder \"mybuilder\"");
    d.assert_fails(
        &["buildx", "create", "--use", "--driver", "docker-container"],
        "makes no others",
    );
    assert!(
        d.ok(&["buildx", "prune", "-f"])
            .contains("Total reclaimed space")
    );
}

#[test]
fn builder_prune_until_keeps_what_a_build_used_since() {
    let d = Daemon::with_busybox();
    let dir = context_with(
        &d,
        &[(
            "Dockerfile",
            "FROM busybox\nRUN echo one > /one\nARG V\nRUN echo \"$V\" > /v\n",
        )],
    );
    let built = |v: &str| {
        let run = build(
            &d,
            &dir,
            &["--progress", "plain", "--build-arg", &format!("V={v}")],
        );
        assert_eq!(run.code, 0, "{}", run.stderr);
        format!("{}{}", run.stdout, run.stderr)
    };
    // The step a later build would rerun, by whether its lines say CACHED.
    let cached = |output: &str, step: &str| {
        let number = output
            .lines()
            .find(|l| l.contains(step))
            .and_then(|l| l.split_whitespace().next())
            .unwrap_or_else(|| panic!("no {step}: {output}"))
            .to_string();
        output
            .lines()
            .any(|l| l.starts_with(&format!("{number} ")) && l.contains("CACHED"))
    };
    built("1");
    std::thread::sleep(Duration::from_millis(1200));
    let between = unix_now().to_string();
    std::thread::sleep(Duration::from_millis(1200));
    // Uses the cached `echo one` again; `echo "$V"` with 2 is new.
    let second = built("2");
    assert!(cached(&second, "echo one"), "{second}");
    d.ok(&[
        "builder",
        "prune",
        "-f",
        "--filter",
        &format!("until={between}"),
    ]);
    // Only what no build used since `between` went: V=1's last step.
    let again = built("2");
    assert!(
        cached(&again, "echo one") && cached(&again, "$V"),
        "{again}"
    );
    let first_again = built("1");
    assert!(cached(&first_again, "echo one"), "{first_again}");
    assert!(!cached(&first_again, "$V"), "{first_again}");
}

/// Unix seconds now.
fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// `busybox httpd` serving `dir` on a free port of the host's loopback,
/// stopped when dropped.
struct FileServer {
    child: std::process::Child,
    port: u16,
}

impl FileServer {
    fn start(dir: &Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = std::process::Command::new("busybox")
            .args(["httpd", "-f", "-p", &format!("127.0.0.1:{port}"), "-h"])
            .arg(dir)
            .spawn()
            .unwrap();
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { child, port }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/{path}", self.port)
    }
}

impl Drop for FileServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs git in `dir` (as a test user), asserting it works.
fn git_in(dir: &Path, args: &[&str]) {
    let status = std::process::Command::new("git")
        .args([
            "-c",
            "user.name=hoist",
            "-c",
            "user.email=hoist@example.com",
        ])
        .args(args)
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "git {args:?}");
}

#[test]
fn remote_contexts_from_git_repositories_and_urls() {
    let d = Daemon::with_busybox();
    // A repository with a branch, a tag and a subdirectory context, served
    // over Git's plain HTTP protocol by a static file server.
    let work = d.dir.join("repo");
    fs::create_dir_all(work.join("sub")).unwrap();
    fs::write(work.join("Dockerfile"), "FROM busybox\nCOPY msg /msg\n").unwrap();
    fs::write(work.join("msg"), "main\n").unwrap();
    fs::write(
        work.join("sub/Dockerfile"),
        "FROM busybox\nCOPY here /here\n",
    )
    .unwrap();
    fs::write(work.join("sub/here"), "sub\n").unwrap();
    fs::write(
        work.join("Dockerfile.alt"),
        "FROM busybox\nCOPY sub/here /alt\n",
    )
    .unwrap();
    git_in(&work, &["init", "-q", "-b", "main"]);
    git_in(&work, &["add", "."]);
    git_in(&work, &["commit", "-q", "-m", "one"]);
    fs::write(work.join("msg"), "v2\n").unwrap();
    git_in(&work, &["commit", "-q", "-am", "two"]);
    git_in(&work, &["tag", "v2"]);
    git_in(&work, &["reset", "-q", "--hard", "HEAD~1"]);
    let served = d.dir.join("served");
    fs::create_dir_all(&served).unwrap();
    git_in(
        &d.dir,
        &["clone", "-q", "--bare", "repo", "served/repo.git"],
    );
    git_in(&served.join("repo.git"), &["update-server-info"]);
    // A context tarball and a lone Dockerfile.
    let tarred = d.dir.join("tarred");
    fs::create_dir_all(&tarred).unwrap();
    fs::write(tarred.join("Dockerfile"), "FROM busybox\nCOPY file /file\n").unwrap();
    fs::write(tarred.join("file"), "from a tarball\n").unwrap();
    let tar = std::process::Command::new("tar")
        .arg("czf")
        .arg(served.join("ctx.tar.gz"))
        .arg("-C")
        .arg(&tarred)
        .arg(".")
        .status()
        .unwrap();
    assert!(tar.success());
    fs::write(
        served.join("Dockerfile.txt"),
        "FROM busybox\nRUN echo alone > /alone\n",
    )
    .unwrap();
    let server = FileServer::start(&served);
    let repo = server.url("repo.git");

    let read = |image: &str, path: &str| d.ok(&["run", "--rm", image, "cat", path]);
    d.ok(&["build", "-q", "-t", "git:main", &repo]);
    assert_eq!(read("git:main", "/msg"), "main\n");
    d.ok(&["build", "-q", "-t", "git:v2", &format!("{repo}#v2")]);
    assert_eq!(read("git:v2", "/msg"), "v2\n");
    d.ok(&["build", "-q", "-t", "git:sub", &format!("{repo}#main:sub")]);
    assert_eq!(read("git:sub", "/here"), "sub\n");
    // `-f` names a file inside the fetched context.
    d.ok(&["build", "-q", "-t", "git:f", "-f", "Dockerfile.alt", &repo]);
    assert_eq!(read("git:f", "/alt"), "sub\n");
    d.assert_fails(
        &["build", &format!("{repo}#main:nosuch")],
        "has no directory \"nosuch\"",
    );
    d.assert_fails(
        &["build", &format!("{repo}#main:../up")],
        "leaves the repository",
    );
    d.assert_fails(&["build", &server.url("none.git")], "git clone");

    // A named context from the repository, and a compose service built
    // from it.
    let local = context_with(
        &d,
        &[(
            "Dockerfile",
            "FROM busybox\nCOPY --from=lib here /lib-here\n",
        )],
    );
    d.ok(&[
        "build",
        "-q",
        "-t",
        "named:git",
        "--build-context",
        &format!("lib={repo}#main:sub"),
        local.to_str().unwrap(),
    ]);
    assert_eq!(read("named:git", "/lib-here"), "sub\n");
    let project = d.dir.join("project");
    fs::create_dir_all(&project).unwrap();
    fs::write(
        project.join("compose.yaml"),
        format!("services:\n  web:\n    image: composed:git\n    build:\n      context: {repo}#v2\n      dockerfile: Dockerfile.alt\n"),
    )
    .unwrap();
    d.ok(&[
        "compose",
        "-f",
        project.join("compose.yaml").to_str().unwrap(),
        "build",
    ]);
    assert_eq!(read("composed:git", "/alt"), "sub\n");

    d.ok(&["build", "-q", "-t", "url:tar", &server.url("ctx.tar.gz")]);
    assert_eq!(read("url:tar", "/file"), "from a tarball\n");
    d.ok(&[
        "build",
        "-q",
        "-t",
        "url:text",
        &server.url("Dockerfile.txt"),
    ]);
    assert_eq!(read("url:text", "/alone"), "alone\n");
    d.assert_fails(&["build", &server.url("missing.tar")], "404");
    // Nothing of a fetched context is left in the temporary directory.
    let tmp = d.dir.join("tmp");
    fs::create_dir_all(&tmp).unwrap();
    for context in [format!("{repo}#v2"), server.url("ctx.tar.gz")] {
        let built = d
            .command(&["build", "-q", &context])
            .env("TMPDIR", &tmp)
            .output()
            .unwrap();
        assert!(
            built.status.success(),
            "{}",
            String::from_utf8_lossy(&built.stderr)
        );
    }
    assert_eq!(fs::read_dir(&tmp).unwrap().count(), 0);
}
