//! End-to-end tests: whole Dockerfiles through [`parse`], stages, targets,
//! global ARGs, expansion and exact error messages.

use std::collections::BTreeMap;

use super::*;

fn parsed(text: &str) -> Dockerfile {
    match parse("Dockerfile", text) {
        Ok(d) => d,
        Err(e) => panic!("{e}"),
    }
}

fn error(text: &str) -> String {
    match parse("Dockerfile", text) {
        Ok(d) => panic!("parsed: {d:?}"),
        Err(e) => e.to_string(),
    }
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

const MULTI_STAGE: &str = r#"# syntax=docker/dockerfile:1
# check=skip=JSONArgsRecommended

ARG GO_VERSION=1.22
ARG BASE=alpine:3.19 EXTRA
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-alpine AS Build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN --network=none \
    go build -o /out/app \
    # comment inside a continuation
    ./cmd/app

FROM build AS test
RUN go test ./...

FROM ${BASE}
ARG GO_VERSION
COPY --from=build /out/app /usr/local/bin/app
COPY --from=0 /src/LICENSE /
EXPOSE 8080/tcp
ENTRYPOINT ["/usr/local/bin/app"]
"#;

#[test]
fn multi_stage_structure() {
    let d = parsed(MULTI_STAGE);
    assert_eq!(d.directives.syntax.as_deref(), Some("docker/dockerfile:1"));
    assert_eq!(
        d.directives.check.as_deref(),
        Some("skip=JSONArgsRecommended")
    );
    let globals: Vec<(&str, Option<&str>, usize)> = d
        .global_args
        .iter()
        .map(|a| (a.value.name.as_str(), a.value.default.as_deref(), a.line))
        .collect();
    assert_eq!(
        globals,
        [
            ("GO_VERSION", Some("1.22"), 4),
            ("BASE", Some("alpine:3.19"), 5),
            ("EXTRA", None, 5)
        ]
    );
    let stages: Vec<(Option<&str>, &str, usize, usize)> = d
        .stages
        .iter()
        .map(|s| {
            (
                s.name.as_deref(),
                s.base.as_str(),
                s.line,
                s.instructions.len(),
            )
        })
        .collect();
    assert_eq!(
        stages,
        [
            (Some("build"), "golang:${GO_VERSION}-alpine", 6, 5),
            (Some("test"), "build", 16, 1),
            (None, "${BASE}", 19, 5),
        ]
    );
    assert_eq!(d.stages[0].platform.as_deref(), Some("$BUILDPLATFORM"));
    let run = &d.stages[0].instructions[4];
    assert_eq!(run.line, 11);
    assert_eq!(
        run.text,
        "RUN --network=none     go build -o /out/app     ./cmd/app"
    );
    let Instruction::Run(r) = &run.value else {
        panic!()
    };
    assert_eq!(r.network, RunNetwork::None);
    assert_eq!(
        r.command,
        CommandForm::Shell("go build -o /out/app     ./cmd/app".into())
    );
    let Instruction::Copy(c) = &d.stages[2].instructions[1].value else {
        panic!()
    };
    assert_eq!(c.from.as_deref(), Some("build"));
    assert_eq!(
        d.stage_index(c.from.as_deref().unwrap_or_default()),
        Some(0)
    );
}

#[test]
fn stage_lookup_and_targets() {
    let d = parsed(MULTI_STAGE);
    assert_eq!(d.stage_index("build"), Some(0));
    assert_eq!(d.stage_index("BUILD"), Some(0));
    assert_eq!(d.stage_index("1"), Some(1));
    assert_eq!(d.stage_index("3"), None);
    assert_eq!(d.stage_index("nope"), None);
    assert_eq!(d.stage("test").map(|s| s.line), Some(16));
    assert_eq!(d.target(None).unwrap(), 2);
    assert_eq!(d.target(Some("test")).unwrap(), 1);
    assert_eq!(d.target(Some("Build")).unwrap(), 0);
    assert_eq!(
        d.target(Some("prod")).unwrap_err().to_string(),
        "Dockerfile: target stage \"prod\" could not be found; expected one of: build, test"
    );
    let unnamed = parsed("FROM a\nFROM b\n");
    assert_eq!(
        unnamed.target(Some("x")).unwrap_err().to_string(),
        "Dockerfile: target stage \"x\" could not be found; this Dockerfile has no named stages \
         (name one with FROM <image> AS <name>)"
    );
}

#[test]
fn global_args_defaults_overrides_and_bases() {
    let d = parsed(MULTI_STAGE);
    let predefined = map(&[("BUILDPLATFORM", "linux/amd64")]);
    let globals = d
        .global_arg_values(predefined.clone(), &BTreeMap::new())
        .unwrap();
    assert_eq!(
        globals,
        map(&[
            ("BUILDPLATFORM", "linux/amd64"),
            ("GO_VERSION", "1.22"),
            ("BASE", "alpine:3.19")
        ])
    );
    assert_eq!(
        d.resolve_base(0, &globals).unwrap(),
        BaseImage::Image("golang:1.22-alpine".into())
    );
    assert_eq!(d.resolve_base(1, &globals).unwrap(), BaseImage::Stage(0));
    assert_eq!(
        d.resolve_base(2, &globals).unwrap(),
        BaseImage::Image("alpine:3.19".into())
    );

    let overrides = map(&[("GO_VERSION", "1.21"), ("BASE", "scratch"), ("EXTRA", "x")]);
    let globals = d.global_arg_values(predefined, &overrides).unwrap();
    assert_eq!(globals.get("EXTRA").map(String::as_str), Some("x"));
    assert_eq!(
        d.resolve_base(0, &globals).unwrap(),
        BaseImage::Image("golang:1.21-alpine".into())
    );
    assert_eq!(d.resolve_base(2, &globals).unwrap(), BaseImage::Scratch);

    // A bare ARG inside a stage re-imports the global value.
    let Instruction::Arg(decls) = &d.stages[2].instructions[0].value else {
        panic!()
    };
    let none = |_: &str| None;
    let value = decls[0]
        .resolve(&BTreeMap::new(), &globals, &none, '\\')
        .unwrap();
    assert_eq!(value.as_deref(), Some("1.21"));
}

#[test]
fn global_args_see_earlier_globals_and_report_blank_bases() {
    let d = parsed(
        "ARG REG=docker.io\nARG IMG=$REG/library/busybox\nARG EMPTY\nFROM $IMG\nFROM ${EMPTY}\n",
    );
    let globals = d
        .global_arg_values(BTreeMap::new(), &BTreeMap::new())
        .unwrap();
    assert_eq!(
        d.resolve_base(0, &globals).unwrap(),
        BaseImage::Image("docker.io/library/busybox".into())
    );
    assert_eq!(
        d.resolve_base(1, &globals).unwrap_err().to_string(),
        "Dockerfile:5: FROM: base name (${EMPTY}) should not be blank; declare the ARG before the \
         first FROM with a default, or pass --build-arg"
    );
    let bad = parsed("ARG X=${Y\nFROM a\n");
    let err = bad
        .global_arg_values(BTreeMap::new(), &BTreeMap::new())
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("Dockerfile:1: ARG: failed to expand \"${Y\""),
        "{err}"
    );
}

#[test]
fn stage_expansion_follows_env_order() {
    let d =
        parsed("FROM a\nENV DIR=/srv NAME=\"my app\"\nWORKDIR $DIR/${NAME:-x}\nUSER ${U:?set U}\n");
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    let stage = &d.stages[0];
    let lookup_env = env.clone();
    let Instruction::Env(pairs) = d
        .expand(&stage.instructions[0], &|n| lookup_env.get(n).cloned())
        .unwrap()
    else {
        panic!()
    };
    env.extend(pairs);
    let workdir = d
        .expand(&stage.instructions[1], &|n| env.get(n).cloned())
        .unwrap();
    assert_eq!(workdir, Instruction::Workdir("/srv/my app".into()));
    let err = d
        .expand(&stage.instructions[2], &|n| env.get(n).cloned())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Dockerfile:4: USER: failed to expand \"${U:?set U}\": U: set U"
    );
}

#[test]
fn windows_style_escape_directive() {
    let text = "# escape=`\n\nFROM mcr.microsoft.com/windows/servercore\nCOPY testfile.txt c:\\\nRUN dir c:\\ `\n    && echo done\nENV PATHX=C:\\tools `\n    PLAIN=a`$b\n";
    let d = parsed(text);
    assert_eq!(d.directives.escape, '`');
    let values: Vec<&Instruction> = d.stages[0].instructions.iter().map(|i| &i.value).collect();
    let Instruction::Copy(c) = values[0] else {
        panic!()
    };
    assert_eq!(
        (c.sources.as_slice(), c.dest.as_str()),
        (&["testfile.txt".to_string()][..], "c:\\")
    );
    assert_eq!(
        values[1],
        &Instruction::Run(Run {
            command: CommandForm::Shell("dir c:\\     && echo done".into()),
            network: RunNetwork::Default,
            insecure: false,
            mounts: vec![],
            heredocs: vec![],
        })
    );
    let expanded = d.expand(&d.stages[0].instructions[2], &|_| None).unwrap();
    assert_eq!(
        expanded,
        Instruction::Env(vec![
            ("PATHX".into(), "C:\\tools".into()),
            ("PLAIN".into(), "a$b".into())
        ])
    );
}

#[test]
fn directives_only_at_the_top() {
    let d = parsed("FROM a\n# escape=`\nRUN echo \\\n  hi\n");
    assert_eq!(d.directives.escape, '\\');
    assert_eq!(d.stages[0].instructions[0].text, "RUN echo   hi");
    assert_eq!(
        error("# escape=`\n# escape=\\\nFROM a\n"),
        "Dockerfile:2: only one escape parser directive can be used; remove the repeated \
         `# escape=` line"
    );
}

#[test]
fn env_quoting_and_escapes() {
    let d = parsed(
        "FROM a\nENV A=\"x y\" B='$HOME' C=\\$HOME D=$HOME E=a\\ b\nENV LEGACY  value with $HOME\n",
    );
    let env = |n: &str| (n == "HOME").then(|| "/root".to_string());
    let got: Vec<Instruction> = d.stages[0]
        .instructions
        .iter()
        .map(|i| d.expand(i, &env).unwrap())
        .collect();
    let pairs = |items: &[(&str, &str)]| {
        Instruction::Env(
            items
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    };
    assert_eq!(
        got,
        [
            pairs(&[
                ("A", "x y"),
                ("B", "$HOME"),
                ("C", "$HOME"),
                ("D", "/root"),
                ("E", "a b")
            ]),
            pairs(&[("LEGACY", "value with /root")]),
        ]
    );
}

#[test]
fn heredocs_in_a_dockerfile() {
    let text = "\
FROM alpine
RUN <<EOF
apk add curl
# stays in the script
EOF
RUN <<-\"SCRIPT\" bash
\techo \"$HOME\"
\tSCRIPT
COPY <<CONF <<'RAW' /etc/app/
name=$NAME
CONF
name=$NAME
RAW
run echo after
";
    let d = parsed(text);
    let ins = &d.stages[0].instructions;
    let lines: Vec<usize> = ins.iter().map(|i| i.line).collect();
    assert_eq!(lines, [2, 6, 9, 14]);
    let Instruction::Run(r) = &ins[0].value else {
        panic!()
    };
    assert_eq!(r.command, CommandForm::Shell("<<EOF".into()));
    assert_eq!(
        r.heredocs[0].content,
        "apk add curl\n# stays in the script\n"
    );
    let Instruction::Run(r) = &ins[1].value else {
        panic!()
    };
    assert_eq!(r.command, CommandForm::Shell("<<-\"SCRIPT\" bash".into()));
    assert_eq!(
        (r.heredocs[0].body().as_str(), r.heredocs[0].expand),
        ("echo \"$HOME\"\n", false)
    );
    let env = |n: &str| (n == "NAME").then(|| "demo".to_string());
    let Instruction::Copy(c) = d.expand(&ins[2], &env).unwrap() else {
        panic!()
    };
    assert!(c.sources.is_empty());
    assert_eq!(c.dest, "/etc/app/");
    let files: Vec<(&str, &str)> = c
        .inline
        .iter()
        .map(|f| (f.name.as_str(), f.content.as_str()))
        .collect();
    assert_eq!(files, [("CONF", "name=demo\n"), ("RAW", "name=$NAME\n")]);
}

#[test]
fn onbuild_and_triggers() {
    let d = parsed("FROM a\nONBUILD COPY . /src\nONBUILD RUN make \\\n  install\n");
    let Instruction::OnBuild(o) = &d.stages[0].instructions[1].value else {
        panic!()
    };
    assert_eq!(o.expression, "RUN make   install");
    let trigger = parse_trigger("ONBUILD trigger", &o.expression).unwrap();
    assert_eq!(trigger.value, *o.trigger);
    assert_eq!(
        parse_trigger("ONBUILD trigger", "FROM x")
            .unwrap_err()
            .to_string(),
        "ONBUILD trigger:1: FROM: FROM isn't allowed as an ONBUILD trigger"
    );
}

#[test]
fn exact_error_messages() {
    let cases = [
        ("", "Dockerfile: file with no instructions"),
        (
            "\n# only a comment\n\n",
            "Dockerfile: file with no instructions",
        ),
        (
            "FROM a\n\nRUNN echo hi\n",
            "Dockerfile:3: unknown instruction: RUNN (did you mean RUN?)",
        ),
        (
            "FROM a\nRUN x\nRUN y\nRUN z\nWORKDIR /\nENV A=1\nCOPY only-one\n",
            "Dockerfile:7: COPY: requires at least two arguments (a source and a destination), as in \
             COPY src /dst",
        ),
        (
            "FROM a\nSHELL /bin/bash -c\n",
            "Dockerfile:2: SHELL: requires the arguments to be in JSON form, as in \
             SHELL [\"/bin/bash\", \"-c\"]",
        ),
        (
            "FROM a\nONBUILD ONBUILD RUN x\n",
            "Dockerfile:2: ONBUILD: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed; give \
             ONBUILD one ordinary instruction",
        ),
        (
            "ARG X=1\nRUN echo hi\nFROM a\n",
            "Dockerfile:2: RUN: no build stage in current context: only ARG may come before the \
             first FROM; start a stage with FROM <image> first",
        ),
        (
            "ARG X=1\n",
            "Dockerfile: no build stage: the file has only ARG instructions; add a FROM <image> line",
        ),
        (
            "FROM a AS x\nFROM b AS X\n",
            "Dockerfile:2: FROM: duplicate stage name \"x\" (already used on line 1); give each \
             stage its own name",
        ),
        (
            "FROM a\nRUN <<EOF\necho\n",
            "Dockerfile:2: RUN: unterminated heredoc <<EOF: the file ended before a line holding \
             only \"EOF\"",
        ),
        (
            "FROM a\nRUN echo \\\n  a \\\n  b\nEXPOSE\n",
            "Dockerfile:5: EXPOSE: requires at least one argument, as in EXPOSE 80 53/udp",
        ),
        (
            "FROM a\nONBUILD COPY x\n",
            "Dockerfile:2: ONBUILD COPY: requires at least two arguments (a source and a \
             destination), as in COPY src /dst",
        ),
    ];
    for (text, want) in cases {
        assert_eq!(error(text), want, "{text:?}");
    }
}

#[test]
fn case_insensitive_keywords_and_maintainer() {
    let d = parsed("from a as B\nmaintainer someone\nExPoSe 80\nstopsignal 9\n");
    assert_eq!(d.stages[0].name.as_deref(), Some("b"));
    let keywords: Vec<&str> = d.stages[0]
        .instructions
        .iter()
        .map(|i| i.value.keyword())
        .collect();
    assert_eq!(keywords, ["MAINTAINER", "EXPOSE", "STOPSIGNAL"]);
}

#[test]
fn expose_specs_after_expansion() {
    let d = parsed("FROM a\nEXPOSE $PORTS 9000-9001/udp\n");
    let env = |n: &str| (n == "PORTS").then(|| "80 443".to_string());
    let Instruction::Expose(specs) = d.expand(&d.stages[0].instructions[0], &env).unwrap() else {
        panic!()
    };
    let keys: Vec<String> = specs
        .iter()
        .map(|s| ExposedPorts::parse(s))
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
        .iter()
        .flat_map(ExposedPorts::keys)
        .collect();
    assert_eq!(keys, ["80/tcp", "443/tcp", "9000/udp", "9001/udp"]);
}

#[test]
fn builder_errors_are_located() {
    let d = parsed("FROM a\nCOPY x /y\n");
    let at = &d.stages[0].instructions[0];
    assert_eq!(
        d.error(
            at.line,
            at.value.keyword(),
            "x: no such file in the build context"
        )
        .to_string(),
        "Dockerfile:2: COPY: x: no such file in the build context"
    );
}

#[test]
fn run_mounts_are_parsed_and_their_options_expanded() {
    let d = parsed(
        "FROM python:3.12\n\
         ARG CACHE=/root/.cache\n\
         RUN --mount=type=cache,target=$CACHE/pip \\\n\
         \x20   --mount=type=bind,source=requirements.txt,target=requirements.txt \\\n\
         \x20   --mount=type=secret,id=pypi \\\n\
         \x20   pip install -r requirements.txt\n",
    );
    let lookup = |name: &str| (name == "CACHE").then(|| "/root/.cache".to_string());
    let Instruction::Run(run) = d.expand(&d.stages[0].instructions[1], &lookup).unwrap() else {
        panic!()
    };
    let targets: Vec<Option<&str>> = run.mounts.iter().map(RunMount::target).collect();
    assert_eq!(
        targets,
        [
            Some("/root/.cache/pip"),
            Some("requirements.txt"),
            Some("/run/secrets/pypi")
        ]
    );
    assert!(matches!(
        &run.mounts[0],
        RunMount::Cache { id, sharing: CacheSharing::Shared, .. } if id == "/root/.cache/pip"
    ));
    assert_eq!(
        run.command,
        CommandForm::Shell("pip install -r requirements.txt".into())
    );
    assert_eq!(
        error("FROM x\nRUN --mount=type=bind,target=/x,size=1 true\n"),
        "Dockerfile:2: RUN: size does not apply to a bind mount (--mount=type=bind,target=/x,size=1)"
    );
}
