//! The projects under `examples/` run as their READMEs say: each is copied
//! from the repository into a test daemon's directory, brought up with
//! `compose up --wait`, asked across services by name and from the host
//! through its published port, and taken down with `compose down -v`,
//! after which nothing of it is left.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use support::{Daemon, Run};

/// An example project copied into the daemon's directory, run under a
/// project name of the test's own.
struct Example<'a> {
    daemon: &'a Daemon,
    /// The copied compose.yaml.
    file: PathBuf,
    /// The project name given with `-p`.
    project: String,
}

impl<'a> Example<'a> {
    /// Copies `examples/<name>` from the repository (permissions kept: the
    /// CGI scripts must stay executable) and names the project `project`.
    fn copy(daemon: &'a Daemon, name: &str, project: &str) -> Self {
        let source = support::repo_root().join("examples").join(name);
        assert!(
            source.join("compose.yaml").is_file(),
            "{} has no compose.yaml",
            source.display()
        );
        let target = daemon.dir.join("examples").join(name);
        copy_tree(&source, &target);
        Self {
            daemon,
            file: target.join("compose.yaml"),
            project: project.to_string(),
        }
    }

    /// `hoist compose -f FILE -p PROJECT ARGS...`.
    fn compose(&self, args: &[&str]) -> Run {
        let mut all = vec![
            "compose",
            "-f",
            self.file.to_str().unwrap(),
            "-p",
            &self.project,
        ];
        all.extend_from_slice(args);
        self.daemon.hoist(&all)
    }

    /// `compose ARGS...`, which must succeed; returns its stdout.
    fn compose_ok(&self, args: &[&str]) -> String {
        let run = self.compose(args);
        assert_eq!(
            run.code,
            0,
            "compose {args:?} failed:\nstdout: {}\nstderr: {}\ndaemon log:\n{}",
            run.stdout,
            run.stderr,
            self.daemon.log()
        );
        run.stdout
    }

    /// `compose up --wait`, which must succeed; returns its stderr (the
    /// progress lines).
    fn up(&self, extra: &[&str]) -> String {
        let mut args = extra.to_vec();
        args.extend(["up", "--wait", "--wait-timeout", "120"]);
        let run = self.compose(&args);
        assert_eq!(
            run.code,
            0,
            "up --wait failed:\nstdout: {}\nstderr: {}\nps -a:\n{}\nlogs:\n{}",
            run.stdout,
            run.stderr,
            self.daemon.hoist(&["ps", "-a"]).stdout,
            self.compose(&["logs", "--no-color"]).stdout
        );
        run.stderr
    }

    /// The container of replica `number` of `service`.
    fn container(&self, service: &str, number: u32) -> String {
        format!("{}-{service}-{number}", self.project)
    }

    /// `hoist exec CONTAINER ARGS...`.
    fn exec(&self, container: &str, args: &[&str]) -> Run {
        let mut all = vec!["exec", container];
        all.extend_from_slice(args);
        self.daemon.hoist(&all)
    }

    /// `wget -qO- URL` in `container`, which must succeed; returns the body.
    fn get(&self, container: &str, url: &str) -> String {
        let run = self.fetch(container, url, 10);
        assert_eq!(
            run.code,
            0,
            "wget {url} in {container} failed: {run:?}\ndaemon log:\n{}",
            self.daemon.log()
        );
        run.stdout
    }

    /// `wget -qO- URL` in `container`, given up after `seconds` (busybox
    /// `timeout`: the `-T` of Debian's static busybox wget crashes it).
    fn fetch(&self, container: &str, url: &str, seconds: u32) -> Run {
        let seconds = seconds.to_string();
        self.exec(container, &["timeout", &seconds, "wget", "-qO-", url])
    }

    /// `url` fetched from the test's host (the daemon's network namespace),
    /// as a user's browser would through the published port.
    fn get_from_host(&self, url: &str) -> Run {
        self.daemon.on_host(
            "wget",
            &["--no-proxy", "-q", "-O-", "-T", "5", "-t", "1", url],
        )
    }

    /// `compose down -v`, then asserts nothing of the project is left:
    /// containers, networks, volumes, nor any trace of a container.
    fn down_and_assert_gone(&self, extra: &[&str]) {
        let mut args = extra.to_vec();
        args.extend(["down", "-v"]);
        let run = self.compose(&args);
        assert_eq!(run.code, 0, "down -v failed: {run:?}");
        let daemon = self.daemon;
        let containers = daemon.ok(&["ps", "-aq"]);
        assert!(
            containers.trim().is_empty(),
            "containers left after down: {containers}"
        );
        let prefix = format!("{}_", self.project);
        let networks: Vec<String> = daemon
            .ok(&["network", "ls", "--format", "{{.Name}}"])
            .lines()
            .filter(|name| name.starts_with(&prefix))
            .map(str::to_string)
            .collect();
        assert!(
            networks.is_empty(),
            "networks left after down: {networks:?}"
        );
        let volumes = daemon.ok(&["volume", "ls", "-q"]);
        assert!(
            volumes.trim().is_empty(),
            "volumes left after down -v: {volumes}"
        );
        daemon.assert_no_container_leftovers();
    }
}

/// Copies a directory tree (files with their permissions).
fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A JSON document, or a failure that shows the text.
fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// The address of `container` on `network`.
fn address(daemon: &Daemon, container: &str, network: &str) -> String {
    let doc = daemon.inspect(container);
    doc["NetworkSettings"]["Networks"][network]["IPAddress"]
        .as_str()
        .filter(|ip| !ip.is_empty())
        .unwrap_or_else(|| panic!("{container} has no address on {network}: {doc:#}"))
        .to_string()
}

/// Polls `check` every 200 ms until it returns a value or `timeout` passes.
fn wait_for<T>(
    daemon: &Daemon,
    what: &str,
    timeout: Duration,
    check: impl FnMut() -> Option<T>,
) -> T {
    let mut check = check;
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}\ndaemon log:\n{}",
            daemon.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn site_api_worker_publishes_the_api_stats_through_the_shared_volume() {
    let daemon = Daemon::with_busybox();
    let example = Example::copy(&daemon, "site-api-worker", "ex-site");
    let services = example.compose_ok(&["config", "--services"]);
    let mut services: Vec<&str> = services.lines().collect();
    services.sort_unstable();
    assert_eq!(services, ["api", "web", "worker"]);

    let up = example.up(&[]);
    // The worker and web waited for the api's healthcheck, web for the
    // worker's first publication.
    let api_healthy = up.find("ex-site-api-1  Healthy");
    let worker_created = up.find("ex-site-worker-1  Created");
    let worker_healthy = up.find("ex-site-worker-1  Healthy");
    let web_created = up.find("ex-site-web-1  Created");
    assert!(
        api_healthy.is_some() && worker_healthy.is_some(),
        "no healthy api and worker in:\n{up}"
    );
    assert!(
        api_healthy < worker_created && worker_healthy < web_created,
        "the depends_on conditions were not waited for:\n{up}"
    );

    // Across services by name: web asks the api.
    let stats = json(&example.get(
        &example.container("web", 1),
        "http://api:8080/cgi-bin/stats",
    ));
    assert_eq!(stats["service"], "api");
    assert_eq!(stats["version"], "1.4", "API_VERSION from the environment");

    // From the host through the published port: the static page, and the
    // status the worker keeps publishing from the api.
    let page = example.get_from_host("http://127.0.0.1:8080/");
    assert_eq!(page.code, 0, "{page:?}");
    assert!(page.stdout.contains("<h1>Service status</h1>"), "{page:?}");
    let first = json(
        &example
            .get_from_host("http://127.0.0.1:8080/status.json")
            .stdout,
    );
    assert_eq!(first["api"]["service"], "api", "{first}");
    assert_eq!(first["api"]["version"], "1.4", "{first}");
    let first_sequence = first["sequence"].as_u64().expect("a sequence number");
    let later = wait_for(&daemon, "a newer status", Duration::from_secs(20), || {
        let status = json(
            &example
                .get_from_host("http://127.0.0.1:8080/status.json")
                .stdout,
        );
        (status["sequence"].as_u64()? > first_sequence).then_some(status)
    });
    assert!(
        later["api"]["requests"].as_u64() > first["api"]["requests"].as_u64(),
        "the worker did not ask the api again: {first} then {later}"
    );

    // The web server only reads the volume.
    let write = example.exec(&example.container("web", 1), &["touch", "/www/x"]);
    assert_ne!(write.code, 0, "web could write to its read-only volume");

    example.down_and_assert_gone(&[]);
}

#[test]
fn job_pipeline_runs_one_shots_then_replicated_workers_with_secrets_and_configs() {
    let daemon = Daemon::with_busybox();
    let example = Example::copy(&daemon, "job-pipeline", "ex-jobs");
    // .env's values over the file's ${VAR:-default}s.
    let config = example.compose_ok(&["config", "--format", "json"]);
    let model = json(&config);
    assert_eq!(model["services"]["worker"]["deploy"]["replicas"], 2);
    assert_eq!(
        model["services"]["seed"]["environment"]["SEED_JOBS"], "8",
        "{config}"
    );
    assert_eq!(
        model["services"]["status"]["environment"]["SCHEMA_VERSION"], "1",
        "the default of ${{SCHEMA_VERSION:-1}}: {config}"
    );

    let up = example.up(&[]);
    for line in [
        "ex-jobs-migrate-1  Exited",
        "ex-jobs-seed-1  Exited",
        "ex-jobs-worker-1  Started",
        "ex-jobs-worker-2  Started",
        "ex-jobs-status-1  Healthy",
    ] {
        assert!(up.contains(line), "no {line:?} in:\n{up}");
    }
    let seed_done = up.find("ex-jobs-seed-1  Exited").unwrap();
    let worker_created = up.find("ex-jobs-worker-1  Created").unwrap();
    assert!(
        seed_done < worker_created,
        "workers started before the seed completed:\n{up}"
    );
    for one_shot in ["migrate", "seed"] {
        let state = &daemon.inspect(&example.container(one_shot, 1))["State"];
        assert_eq!(state["Status"], "exited", "{one_shot}: {state}");
        assert_eq!(state["ExitCode"], 0, "{one_shot}: {state}");
    }

    // Secrets under /run/secrets, the config at its target, only where granted.
    let worker = example.container("worker", 1);
    let key = example.exec(&worker, &["cat", "/run/secrets/signing_key"]);
    assert_eq!(
        key.stdout,
        fs::read_to_string(
            support::repo_root().join("examples/job-pipeline/secrets/signing_key.txt")
        )
        .unwrap()
    );
    let conf = example.exec(&worker, &["cat", "/etc/pipeline/pipeline.conf"]);
    assert!(conf.stdout.contains("RESULT_PREFIX=invoice"), "{conf:?}");
    let status_container = example.container("status", 1);
    let no_key = example.exec(
        &status_container,
        &["test", "-e", "/run/secrets/signing_key"],
    );
    assert_ne!(no_key.code, 0, "status was given the signing key");

    // Across services by name: a worker asks the status service; every
    // job is done, by two registered workers, each result signed.
    let status = wait_for(&daemon, "all 8 jobs done", Duration::from_secs(60), || {
        let status = json(&example.get(&worker, "http://status:8080/cgi-bin/status"));
        (status["done"] == 8).then_some(status)
    });
    assert_eq!(status["pipeline"], "nightly-invoices", "{status}");
    assert_eq!(status["schema"], "1", "{status}");
    assert_eq!(status["queued"], 0, "{status}");
    assert_eq!(status["workers"], 2, "{status}");
    let hostnames: Vec<String> = (1..=2)
        .map(|n| {
            example
                .exec(&example.container("worker", n), &["hostname"])
                .stdout
                .trim()
                .to_string()
        })
        .collect();
    let results = status["results"].as_array().expect("results");
    assert_eq!(results.len(), 8, "{status}");
    for result in results {
        let result = result.as_str().unwrap_or_default();
        assert!(result.starts_with("invoice-job-"), "{result}");
        assert!(
            hostnames
                .iter()
                .any(|h| result.contains(&format!("worker={h} "))),
            "{result} not by one of {hostnames:?}"
        );
        let signature = result.rsplit("sig=").next().unwrap_or_default();
        assert!(
            signature.len() == 64 && signature.chars().all(|c| c.is_ascii_hexdigit()),
            "{result}"
        );
    }

    // From the host through the published port (STATUS_PORT from .env).
    let from_host = example.get_from_host("http://127.0.0.1:8081/cgi-bin/status");
    assert_eq!(from_host.code, 0, "{from_host:?}");
    assert_eq!(json(&from_host.stdout)["done"], 8, "{from_host:?}");

    // A second up keeps the state: migrate and seed find their work done.
    example.up(&[]);
    let logs = example.compose_ok(&["logs", "--no-color", "seed"]);
    assert!(logs.contains("already seeded: 8 jobs"), "{logs}");

    example.down_and_assert_gone(&[]);
}

#[test]
fn gateway_networks_keep_the_catalog_behind_the_gateway() {
    let daemon = Daemon::with_busybox();
    let example = Example::copy(&daemon, "gateway-networks", "ex-gw");
    let services = example.compose_ok(&["config", "--services"]);
    assert!(
        !services.contains("toolbox"),
        "a profiled service is on by default: {services}"
    );
    let services = example.compose_ok(&["--profile", "debug", "config", "--services"]);
    assert!(services.contains("toolbox"), "{services}");

    example.up(&[]);
    assert!(
        daemon
            .hoist(&["inspect", &example.container("toolbox", 1)])
            .code
            != 0,
        "the debug toolbox runs without its profile"
    );
    let (storefront, gateway, catalog) = (
        example.container("storefront", 1),
        example.container("gateway", 1),
        example.container("catalog", 1),
    );
    let (frontend, backend) = ("ex-gw_frontend", "ex-gw_backend");

    // The gateway reaches the catalog by its service name and its alias.
    for host in ["catalog", "catalog.internal"] {
        let products =
            json(&example.get(&gateway, &format!("http://{host}:8080/cgi-bin/products")));
        assert_eq!(
            products["products"].as_array().map(Vec::len),
            Some(4),
            "{products}"
        );
    }
    // The storefront reaches the gateway, and through it the catalog.
    let via_gateway = json(&example.get(
        &storefront,
        "http://gateway:8080/cgi-bin/api/products?in_stock=1",
    ));
    assert_eq!(
        via_gateway["products"].as_array().map(Vec::len),
        Some(3),
        "{via_gateway}"
    );

    // From the host, through the storefront's published port.
    let shop = example.get_from_host("http://127.0.0.1:8082/cgi-bin/shop");
    assert_eq!(shop.code, 0, "{shop:?}");
    for line in [
        "<h1>Busybox Hardware</h1>",
        "<li>Claw hammer (BB-003): 18.00 EUR</li>",
        "served by catalog@",
    ] {
        assert!(shop.stdout.contains(line), "no {line:?} in {shop:?}");
    }
    assert!(
        !shop.stdout.contains("Screwdriver set"),
        "a sold-out product is listed: {shop:?}"
    );

    // The storefront cannot reach the catalog: no name, and no route to
    // its address on the backend network.
    let catalog_ip = address(&daemon, &catalog, backend);
    for url in [
        "http://catalog:8080/cgi-bin/health".to_string(),
        "http://catalog.internal:8080/cgi-bin/health".to_string(),
        format!("http://{catalog_ip}:8080/cgi-bin/health"),
    ] {
        let reach = example.fetch(&storefront, &url, 3);
        assert_ne!(
            reach.code, 0,
            "the storefront reached the catalog at {url}: {reach:?}"
        );
    }
    let lookup = example.exec(&storefront, &["nslookup", "catalog"]);
    assert_ne!(
        lookup.code, 0,
        "the storefront resolves catalog: {lookup:?}"
    );
    // Nor can the catalog reach out of its internal network: not the
    // storefront's address, not the host's published port.
    let storefront_ip = address(&daemon, &storefront, frontend);
    let out = example.fetch(
        &catalog,
        &format!("http://{storefront_ip}:8080/cgi-bin/health"),
        3,
    );
    assert_ne!(out.code, 0, "the catalog reached the frontend: {out:?}");
    let route = example.exec(&catalog, &["ip", "route"]);
    assert_eq!(route.code, 0, "{route:?}");
    assert!(
        !route.stdout.contains("default"),
        "the internal network has a default route: {route:?}"
    );
    let backend_gateway =
        daemon.inspect(&catalog)["NetworkSettings"]["Networks"][backend]["Gateway"]
            .as_str()
            .unwrap_or_default()
            .to_string();
    let host = example.fetch(
        &catalog,
        &format!("http://{backend_gateway}:8082/cgi-bin/shop"),
        3,
    );
    assert_ne!(
        host.code, 0,
        "the catalog reached the host's published port: {host:?}"
    );
    // The gateway's API refuses paths it does not route.
    let refused = example.fetch(&storefront, "http://gateway:8080/cgi-bin/api/health", 3);
    assert_ne!(refused.code, 0, "{refused:?}");

    // The debug profile adds the toolbox on both networks.
    example.up(&["--profile", "debug"]);
    let toolbox = example.container("toolbox", 1);
    let from_toolbox =
        json(&example.get(&toolbox, "http://catalog.internal:8080/cgi-bin/products"));
    assert!(
        from_toolbox["served_by"].as_str().is_some(),
        "{from_toolbox}"
    );
    assert!(
        example
            .get(&toolbox, "http://storefront:8080/")
            .contains("Storefront")
    );

    example.down_and_assert_gone(&["--profile", "debug"]);
}
