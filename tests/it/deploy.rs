//! The Kubernetes base in `deploy/kubernetes/` (`kubectl apply -k deploy/kubernetes`):
//! kustomization.yaml lists every manifest of the folder and nothing else; each manifest
//! passes the official Kubernetes JSON schemas in strict mode (kubernetes-validate, which
//! bundles them: offline), run by the Python in RETAINCTL_PYTHON that `.ci/run` fills;
//! with a `kubectl` on the PATH the rendered base is the files and passes too; and the
//! Deployment matches the binary: `serve` with flags `serve --help` lists, the `--listen`
//! port behind the container port, the probes (`/readyz`, `/healthz`) and the scrape
//! annotations (`/metrics`). Without the validator (no RETAINCTL_PYTHON, no `.venv`) the
//! schema tests print a SKIPPED line that `cargo test` shows; under CI (`CI` set) or with
//! RETAINCTL_PYTHON set they fail instead.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Deserialize;
use serde_yaml::Value;

/// The kubernetes-validate release `.ci/run` installs into `.venv`.
const VALIDATOR_VERSION: &str = "1.37.0";
/// The Kubernetes versions whose schemas every manifest must pass: the newest the
/// validator bundles, and the oldest of the three minor releases supported upstream.
const KUBERNETES_VERSIONS: [&str; 2] = ["1.35.0", "1.37.0"];
/// How long serve waits for the requests in flight after SIGTERM (README, "Operating it").
const SERVE_DRAIN_SECONDS: u64 = 10;
/// The label every object carries (and the pods' selector).
const NAME_LABEL: &str = "app.kubernetes.io/name";
/// The image of the release the README names.
const IMAGE: &str = "ghcr.io/retainctl/retainctl:v0.1.0";

fn base() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/kubernetes")
}

/// The documents of a YAML stream, empty ones left out.
fn yaml_documents(text: &str, what: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(text)
        .map(|document| Value::deserialize(document).unwrap_or_else(|e| panic!("{what}: {e}")))
        .filter(|document| !document.is_null())
        .collect()
}

fn read_yaml(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    yaml_documents(&text, &path.display().to_string())
}

/// The value at `path` (Null where there is none).
fn at<'v>(value: &'v Value, path: &[&str]) -> &'v Value {
    path.iter().fold(value, |value, key| &value[*key])
}

fn text_at<'v>(value: &'v Value, path: &[&str]) -> &'v str {
    at(value, path)
        .as_str()
        .unwrap_or_else(|| panic!("{}: not a string: {:?}", path.join("."), at(value, path)))
}

fn number_at(value: &Value, path: &[&str]) -> u64 {
    at(value, path)
        .as_u64()
        .unwrap_or_else(|| panic!("{}: not a number: {:?}", path.join("."), at(value, path)))
}

/// kustomization.yaml's `resources:`, in its order.
fn resources() -> Vec<String> {
    let documents = read_yaml(&base().join("kustomization.yaml"));
    assert_eq!(documents.len(), 1, "kustomization.yaml holds one document");
    at(&documents[0], &["resources"])
        .as_sequence()
        .expect("kustomization.yaml has a resources: list")
        .iter()
        .map(|resource| {
            resource
                .as_str()
                .unwrap_or_else(|| panic!("resource {resource:?} is not a file name"))
                .to_string()
        })
        .collect()
}

/// Every object of the base with the file that holds it, in `resources:` order.
fn objects() -> Vec<(String, Value)> {
    resources()
        .into_iter()
        .flat_map(|file| {
            read_yaml(&base().join(&file))
                .into_iter()
                .map(move |object| (file.clone(), object))
        })
        .collect()
}

fn kind_name(object: &Value) -> (String, String) {
    (
        text_at(object, &["kind"]).to_string(),
        text_at(object, &["metadata", "name"]).to_string(),
    )
}

/// The one object of `kind` in the base.
fn the_object(kind: &str) -> Value {
    let mut found: Vec<Value> = objects()
        .into_iter()
        .map(|(_, object)| object)
        .filter(|object| object["kind"].as_str() == Some(kind))
        .collect();
    assert_eq!(found.len(), 1, "the base holds one {kind}");
    found.remove(0)
}

/// The Deployment's one container.
fn container(deployment: &Value) -> &Value {
    let containers = at(deployment, &["spec", "template", "spec", "containers"])
        .as_sequence()
        .expect("the Deployment has containers");
    assert_eq!(containers.len(), 1, "one container: {containers:?}");
    &containers[0]
}

fn pod_labels(deployment: &Value) -> &Value {
    at(deployment, &["spec", "template", "metadata", "labels"])
}

/// Whether every label of a non-empty `selector` is in `labels`.
fn selects(selector: &Value, labels: &Value) -> bool {
    selector
        .as_mapping()
        .filter(|selector| !selector.is_empty())
        .is_some_and(|selector| selector.iter().all(|(k, v)| labels.get(k) == Some(v)))
}

/// The container port a probe or Service names: a number, or a port's name.
fn port_number(port: &Value, container: &Value) -> Option<u64> {
    match port {
        Value::Number(number) => number.as_u64(),
        Value::String(name) => container["ports"]
            .as_sequence()?
            .iter()
            .find(|p| p["name"].as_str() == Some(name.as_str()))
            .and_then(|p| p["containerPort"].as_u64()),
        _ => None,
    }
}

/// The container's args after `serve` as (`--flag`, value): `--flag VALUE` or `--flag=VALUE`.
fn serve_flags(container: &Value) -> Vec<(String, Option<String>)> {
    let args: Vec<&str> = container["args"]
        .as_sequence()
        .expect("the container has args")
        .iter()
        .map(|arg| arg.as_str().expect("each arg is a string"))
        .collect();
    assert_eq!(
        args.first(),
        Some(&"serve"),
        "the container runs `retainctl serve` (the image's entrypoint is the binary): {args:?}"
    );
    assert!(
        container["command"].is_null(),
        "no command: the image's entrypoint is retainctl"
    );
    let mut flags: Vec<(String, Option<String>)> = Vec::new();
    for arg in &args[1..] {
        if arg.starts_with("--") {
            match arg.split_once('=') {
                Some((flag, value)) => flags.push((flag.to_string(), Some(value.to_string()))),
                None => flags.push((arg.to_string(), None)),
            }
        } else {
            let (_, value) = flags
                .last_mut()
                .filter(|last| last.1.is_none())
                .unwrap_or_else(|| panic!("{arg:?}: serve takes no positional argument"));
            *value = Some(arg.to_string());
        }
    }
    flags
}

fn flag_value<'f>(flags: &'f [(String, Option<String>)], flag: &str) -> &'f str {
    let values: Vec<&str> = flags
        .iter()
        .filter(|(name, _)| name == flag)
        .map(|(_, value)| {
            value
                .as_deref()
                .unwrap_or_else(|| panic!("{flag} has no value"))
        })
        .collect();
    assert_eq!(values.len(), 1, "{flag} given once: {flags:?}");
    values[0]
}

/// A python with kubernetes-validate, or why there is none.
fn python() -> Result<String, String> {
    let Some(python) = crate::common::test_python() else {
        return Err(format!(
            "RETAINCTL_PYTHON is not set and there is no .venv: run .ci/run, or \
             `python3 -m venv .venv && .venv/bin/pip install kubernetes-validate=={VALIDATOR_VERSION}`"
        ));
    };
    let probe = Command::new(&python)
        .args([
            "-c",
            "import importlib.metadata as m, kubernetes_validate; print(m.version('kubernetes-validate'))",
        ])
        .output();
    match probe {
        Err(e) => Err(format!("cannot run {python}: {e}")),
        Ok(out) if !out.status.success() => Err(format!(
            "{python} has no kubernetes-validate (`{python} -m pip install \
             kubernetes-validate=={VALIDATOR_VERSION}`): {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        )),
        Ok(out) => {
            let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
            if version == VALIDATOR_VERSION {
                Ok(python)
            } else {
                Err(format!(
                    "{python} has kubernetes-validate {version}, not {VALIDATOR_VERSION}"
                ))
            }
        }
    }
}

/// The python to validate with; `None` after a visible SKIPPED line when there is none
/// outside CI. Under CI, or when RETAINCTL_PYTHON names a python, a missing one fails.
fn validator_or_skip(test: &str) -> Option<String> {
    match python() {
        Ok(p) => Some(p),
        Err(why)
            if crate::common::under_ci()
                || std::env::var("RETAINCTL_PYTHON").is_ok_and(|p| !p.is_empty()) =>
        {
            panic!("kubernetes-validate is required here (CI or RETAINCTL_PYTHON set): {why}")
        }
        Err(why) => {
            // Straight to the process's stderr: libtest captures eprintln! of passing tests.
            let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
            None
        }
    }
}

/// Runs `python -m kubernetes_validate --strict -k V…` on `files` in `dir` (files, not
/// `-`: it reads its standard input anew for each version). Ok only when it exits 0,
/// prints nothing but INFO lines, and reports each `expected` (file, kind, name) passed
/// for each of KUBERNETES_VERSIONS: an object whose kind or apiVersion has no schema is
/// only a WARN line to it, with exit 0.
fn validate(
    python: &str,
    dir: &Path,
    files: &[&str],
    expected: &[(String, String, String)],
) -> Result<String, String> {
    let mut command = Command::new(python);
    command.args(["-m", "kubernetes_validate", "--strict"]);
    for version in KUBERNETES_VERSIONS {
        command.args(["-k", version]);
    }
    command.args(files).current_dir(dir).stdin(Stdio::null());
    let out = command
        .output()
        .map_err(|e| format!("cannot run {python}: {e}"))?;
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let report = format!(
        "kubernetes-validate --strict -k {} {} ({}) said:\n{said}",
        KUBERNETES_VERSIONS.join(" -k "),
        files.join(" "),
        out.status
    );
    if !out.status.success() || said.lines().any(|line| !line.starts_with("INFO ")) {
        return Err(report);
    }
    for (file, kind, name) in expected {
        for version in KUBERNETES_VERSIONS {
            let minor = version.rsplit_once('.').map_or(version, |(minor, _)| minor);
            let line = format!(
                "INFO {file} passed for resource {}/{name} against version {minor}",
                kind.to_lowercase()
            );
            if !said.lines().any(|l| l == line) {
                return Err(format!("no line `{line}`: {report}"));
            }
        }
    }
    if said.lines().count() != expected.len() * KUBERNETES_VERSIONS.len() {
        return Err(format!(
            "{} objects × {} versions expected: {report}",
            expected.len(),
            KUBERNETES_VERSIONS.len()
        ));
    }
    Ok(said)
}

#[test]
fn kustomization_lists_every_manifest_of_the_folder_and_each_exists() {
    let documents = read_yaml(&base().join("kustomization.yaml"));
    let kustomization = &documents[0];
    assert_eq!(
        text_at(kustomization, &["apiVersion"]),
        "kustomize.config.k8s.io/v1beta1"
    );
    assert_eq!(text_at(kustomization, &["kind"]), "Kustomization");
    // Plain manifests only: without kustomize, the files are what the tests validate and
    // what `kubectl apply -k` applies (no generators, patches or labels to render).
    let keys: BTreeSet<&str> = kustomization
        .as_mapping()
        .expect("a mapping")
        .keys()
        .map(|k| k.as_str().expect("string keys"))
        .collect();
    assert_eq!(
        keys,
        BTreeSet::from(["apiVersion", "kind", "resources"]),
        "kustomization.yaml: only `resources:` (put changes into an overlay)"
    );

    let listed = resources();
    let unique: BTreeSet<&str> = listed.iter().map(String::as_str).collect();
    assert_eq!(
        unique.len(),
        listed.len(),
        "a resource listed twice: {listed:?}"
    );
    for resource in &listed {
        assert!(
            !resource.contains('/') && (resource.ends_with(".yaml") || resource.ends_with(".yml")),
            "{resource}: a YAML file of this folder (remote bases and folders belong in overlays)"
        );
        assert!(
            base().join(resource).is_file(),
            "kustomization.yaml lists {resource}, which is not in deploy/kubernetes/"
        );
    }
    let on_disk: BTreeSet<String> = std::fs::read_dir(base())
        .expect("deploy/kubernetes/")
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".yaml") || name.ends_with(".yml"))
        .filter(|name| name != "kustomization.yaml")
        .collect();
    let listed: BTreeSet<String> = listed.into_iter().collect();
    assert_eq!(
        on_disk, listed,
        "each YAML file of deploy/kubernetes/ is listed in kustomization.yaml's resources, and only those"
    );
}

#[test]
fn the_base_holds_the_expected_objects_each_labelled_and_no_secret() {
    let objects = objects();
    for (file, object) in &objects {
        let (kind, name) = kind_name(object);
        assert_eq!(
            at(object, &["metadata", "labels", NAME_LABEL]).as_str(),
            Some("retainctl"),
            "{file}: {kind} {name} is labelled {NAME_LABEL}: retainctl"
        );
        assert!(
            at(object, &["metadata", "namespace"]).is_null(),
            "{file}: the base sets no namespace (`kubectl apply -n`, or an overlay's)"
        );
    }
    let kinds: BTreeSet<(&str, &str)> = objects
        .iter()
        .map(|(_, o)| (text_at(o, &["apiVersion"]), text_at(o, &["kind"])))
        .collect();
    assert_eq!(
        kinds,
        BTreeSet::from([
            ("apps/v1", "Deployment"),
            ("autoscaling/v2", "HorizontalPodAutoscaler"),
            ("policy/v1", "PodDisruptionBudget"),
            ("v1", "Service"),
            ("v1", "ServiceAccount"),
        ]),
        "the base's objects (no Secret: deploy/kubernetes/README.md says how to create them)"
    );
    let deployment = the_object("Deployment");
    assert_eq!(
        pod_labels(&deployment)[NAME_LABEL].as_str(),
        Some("retainctl"),
        "the pods are labelled {NAME_LABEL}: retainctl"
    );
}

#[test]
fn manifests_pass_the_kubernetes_schemas_in_strict_mode() {
    let Some(python) = validator_or_skip("the Kubernetes schemas of deploy/kubernetes") else {
        return;
    };
    let files = resources();
    let files: Vec<&str> = files.iter().map(String::as_str).collect();
    let expected: Vec<(String, String, String)> = objects()
        .iter()
        .map(|(file, object)| {
            let (kind, name) = kind_name(object);
            (file.clone(), kind, name)
        })
        .collect();
    if let Err(report) = validate(&python, &base(), &files, &expected) {
        panic!("{report}");
    }
}

/// The validator can fail: a probe port given as a list, a misspelt field and a misspelt
/// kind (only a WARN to the validator) are each refused, while the same Deployment
/// unbroken and written the same way passes.
#[test]
fn the_validator_refuses_a_broken_deployment() {
    let Some(python) = validator_or_skip("kubernetes-validate refusing a broken Deployment") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let good = the_object("Deployment");
    let expected = |file: &str| {
        vec![(
            file.to_string(),
            "Deployment".to_string(),
            "retainctl".to_string(),
        )]
    };
    let check = |file: &str, object: &Value| {
        std::fs::write(
            dir.path().join(file),
            serde_yaml::to_string(object).unwrap(),
        )
        .unwrap();
        validate(&python, dir.path(), &[file], &expected(file))
    };
    let containers = ["spec", "template", "spec", "containers"];

    if let Err(report) = check("unbroken.yaml", &good) {
        panic!("the Deployment as serde_yaml writes it: {report}");
    }

    let mut port_list = good.clone();
    at_mut(&mut port_list, &containers)[0]["readinessProbe"]["httpGet"]["port"] =
        Value::Sequence(vec![Value::from(8080)]);
    let report = check("port-list.yaml", &port_list).expect_err("a probe port given as a list");
    assert!(
        report.contains("readinessProbe.httpGet.port") && report.contains("ERROR"),
        "{report}"
    );

    let mut unknown_field = good.clone();
    at_mut(&mut unknown_field, &containers)[0]["imagePulPolicy"] = Value::from("Always");
    let report = check("unknown-field.yaml", &unknown_field).expect_err("an unknown field");
    assert!(
        report.contains("'imagePulPolicy' was unexpected"),
        "{report}"
    );

    let mut unknown_kind = good;
    unknown_kind["kind"] = Value::from("Deploymnet");
    let report = check("unknown-kind.yaml", &unknown_kind).expect_err("an unknown kind");
    assert!(report.contains("WARN"), "{report}");
}

fn at_mut<'v>(value: &'v mut Value, path: &[&str]) -> &'v mut Value {
    path.iter().fold(value, |value, key| &mut value[*key])
}

/// What `kubectl apply -k` applies is the files: `kubectl kustomize` renders the same
/// objects, and its output passes the schemas. Needs a `kubectl` (kustomize is not to
/// be had from the registries .ci/run reaches): without one it says it skipped.
#[test]
fn the_rendered_base_is_the_files_and_passes_the_schemas() {
    let rendered = match Command::new("kubectl")
        .arg("kustomize")
        .arg(base())
        .output()
    {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED rendering deploy/kubernetes: no kubectl on the PATH (each file is validated on its own)"
            );
            return;
        }
        Err(e) => panic!("cannot run kubectl: {e}"),
        Ok(out) => {
            assert!(
                out.status.success(),
                "kubectl kustomize deploy/kubernetes: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8(out.stdout).expect("UTF-8")
        }
    };
    let mut from_kustomize = yaml_documents(&rendered, "kubectl kustomize's output");
    let mut from_files: Vec<Value> = objects().into_iter().map(|(_, object)| object).collect();
    from_kustomize.sort_by_key(kind_name);
    from_files.sort_by_key(kind_name);
    assert_eq!(
        from_kustomize, from_files,
        "kubectl kustomize renders the files' objects unchanged"
    );

    let Some(python) = validator_or_skip("the Kubernetes schemas of the rendered base") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rendered.yaml"), &rendered).unwrap();
    let expected: Vec<(String, String, String)> = from_kustomize
        .iter()
        .map(|object| {
            let (kind, name) = kind_name(object);
            ("rendered.yaml".to_string(), kind, name)
        })
        .collect();
    if let Err(report) = validate(&python, dir.path(), &["rendered.yaml"], &expected) {
        panic!("kubectl kustomize deploy/kubernetes > rendered.yaml; {report}");
    }
}

#[test]
fn the_deployment_runs_serve_with_flags_ports_and_probes_the_binary_has() {
    let deployment = the_object("Deployment");
    let container = container(&deployment);
    assert_eq!(text_at(container, &["image"]), IMAGE);
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    assert!(
        readme.contains(IMAGE),
        "the README names the image the Deployment runs ({IMAGE})"
    );

    let flags = serve_flags(container);
    let help = Command::new(env!("CARGO_BIN_EXE_retainctl"))
        .args(["serve", "--help"])
        .env("NO_COLOR", "1")
        .output()
        .expect("run retainctl serve --help");
    assert!(help.status.success(), "retainctl serve --help: {help:?}");
    let help = String::from_utf8_lossy(&help.stdout);
    let listed: BTreeSet<&str> = help
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .filter(|word| word.starts_with("--"))
        .collect();
    for (flag, _) in &flags {
        assert!(
            listed.contains(flag.as_str()),
            "the Deployment passes {flag}, which `retainctl serve --help` does not list ({listed:?}):\n{help}"
        );
    }
    assert!(
        !flag_value(&flags, "--snapshot").is_empty(),
        "--snapshot names the snapshot"
    );
    assert!(
        !flags.iter().any(|(flag, _)| flag == "--env"),
        "`--env local` is for a developer's machine"
    );

    let listen: std::net::SocketAddr = flag_value(&flags, "--listen")
        .parse()
        .expect("--listen is ADDR:PORT");
    assert!(
        listen.ip().is_unspecified(),
        "--listen {listen}: on every address of the pod, or the kubelet's probes and the Service cannot reach it"
    );
    let port = u64::from(listen.port());

    let http = container["ports"]
        .as_sequence()
        .expect("the container has ports")
        .iter()
        .find(|p| p["name"].as_str() == Some("http"))
        .expect("a container port named http");
    assert_eq!(
        number_at(http, &["containerPort"]),
        port,
        "the container port named http is the --listen port"
    );

    for (probe, path) in [("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")] {
        assert_eq!(
            text_at(container, &[probe, "httpGet", "path"]),
            path,
            "{probe} GETs {path}"
        );
        let probe_port = at(container, &[probe, "httpGet", "port"]);
        assert_eq!(
            port_number(probe_port, container),
            Some(port),
            "{probe}'s port {probe_port:?} is the --listen port {port}"
        );
    }

    let annotations = at(
        &deployment,
        &["spec", "template", "metadata", "annotations"],
    );
    assert_eq!(annotations["prometheus.io/scrape"].as_str(), Some("true"));
    assert_eq!(annotations["prometheus.io/path"].as_str(), Some("/metrics"));
    assert_eq!(
        annotations["prometheus.io/port"].as_str(),
        Some(port.to_string().as_str()),
        "Prometheus scrapes the --listen port"
    );
}

#[test]
fn the_deployment_runs_locked_down_and_stops_gracefully() {
    let deployment = the_object("Deployment");
    let pod = at(&deployment, &["spec", "template", "spec"]);
    let container = container(&deployment);

    assert!(
        number_at(&deployment, &["spec", "replicas"]) >= 2,
        "at least 2 replicas"
    );
    let pre_stop = at(container, &["lifecycle", "preStop", "sleep", "seconds"])
        .as_u64()
        .unwrap_or(0);
    let grace = number_at(pod, &["terminationGracePeriodSeconds"]);
    assert!(
        grace >= 15 && grace >= pre_stop + SERVE_DRAIN_SECONDS + 5,
        "terminationGracePeriodSeconds {grace}: the preStop sleep ({pre_stop} s), serve's drain \
         ({SERVE_DRAIN_SECONDS} s) and time to exit"
    );

    assert_eq!(
        at(pod, &["securityContext", "runAsNonRoot"]).as_bool(),
        Some(true)
    );
    for user in [
        at(pod, &["securityContext", "runAsUser"]),
        at(container, &["securityContext", "runAsUser"]),
    ] {
        assert!(
            user.is_null() || user.as_u64().is_some_and(|u| u != 0),
            "runAsUser {user:?}"
        );
    }
    let security = &container["securityContext"];
    assert_eq!(security["readOnlyRootFilesystem"].as_bool(), Some(true));
    assert_eq!(security["allowPrivilegeEscalation"].as_bool(), Some(false));
    assert_ne!(security["privileged"].as_bool(), Some(true));
    assert!(
        security["capabilities"]["drop"]
            .as_sequence()
            .is_some_and(|dropped| dropped.iter().any(|c| c.as_str() == Some("ALL"))),
        "every capability dropped: {security:?}"
    );

    for bound in ["requests", "limits"] {
        for resource in ["cpu", "memory"] {
            assert!(
                !at(container, &["resources", bound, resource]).is_null(),
                "resources.{bound}.{resource} is set"
            );
        }
    }

    let labels = pod_labels(&deployment);
    let spread_over_nodes =
        pod["topologySpreadConstraints"]
            .as_sequence()
            .is_some_and(|constraints| {
                constraints.iter().any(|c| {
                    c["topologyKey"].as_str() == Some("kubernetes.io/hostname")
                        && selects(&c["labelSelector"]["matchLabels"], labels)
                })
            });
    assert!(
        spread_over_nodes || !pod["affinity"]["podAntiAffinity"].is_null(),
        "the pods are spread over nodes"
    );

    let env = container["env"]
        .as_sequence()
        .expect("the container has env");
    for name in ["OFFER_KEY_ID", "OFFER_ISSUER_ID", "OFFER_KEY"] {
        let var = env
            .iter()
            .find(|v| v["name"].as_str() == Some(name))
            .unwrap_or_else(|| panic!("{name} is set"));
        assert!(
            var["value"].is_null(),
            "{name} comes from a Secret, not the manifest"
        );
        let secret = &var["valueFrom"]["secretKeyRef"];
        assert_eq!(secret["key"].as_str(), Some(name), "{name}: {var:?}");
        assert_eq!(
            secret["optional"].as_bool(),
            Some(true),
            "{name}: optional, serve runs without offer rules"
        );
    }
    for source in container["envFrom"].as_sequence().into_iter().flatten() {
        assert_eq!(
            source["secretRef"]["optional"].as_bool(),
            Some(true),
            "envFrom {source:?}: optional (IRSA needs no Secret)"
        );
    }
    let account = the_object("ServiceAccount");
    assert_eq!(
        text_at(pod, &["serviceAccountName"]),
        text_at(&account, &["metadata", "name"]),
        "the pods run as the base's ServiceAccount"
    );
}

#[test]
fn the_service_autoscaler_and_disruption_budget_point_at_the_deployment() {
    let deployment = the_object("Deployment");
    let container = container(&deployment);
    let labels = pod_labels(&deployment);
    assert!(
        selects(
            at(&deployment, &["spec", "selector", "matchLabels"]),
            labels
        ),
        "the Deployment selects its own pods"
    );

    let service = the_object("Service");
    assert!(
        selects(at(&service, &["spec", "selector"]), labels),
        "the Service selects the Deployment's pods"
    );
    let ports = at(&service, &["spec", "ports"])
        .as_sequence()
        .expect("the Service has ports");
    let port = ports
        .iter()
        .find(|p| p["port"].as_u64() == Some(80))
        .expect("the Service listens on port 80");
    assert_eq!(
        port["targetPort"].as_str(),
        Some("http"),
        "port 80 → the port named http"
    );
    assert!(
        port_number(&port["targetPort"], container).is_some(),
        "the container has the port the Service targets"
    );

    let hpa = the_object("HorizontalPodAutoscaler");
    let target = at(&hpa, &["spec", "scaleTargetRef"]);
    assert_eq!(target["apiVersion"].as_str(), Some("apps/v1"));
    assert_eq!(target["kind"].as_str(), Some("Deployment"));
    assert_eq!(
        target["name"].as_str(),
        Some(text_at(&deployment, &["metadata", "name"])),
        "the autoscaler scales the Deployment"
    );
    let min = number_at(&hpa, &["spec", "minReplicas"]);
    let max = number_at(&hpa, &["spec", "maxReplicas"]);
    assert!(
        min >= 2 && max >= min,
        "minReplicas {min}, maxReplicas {max}"
    );
    let on_cpu = at(&hpa, &["spec", "metrics"])
        .as_sequence()
        .is_some_and(|metrics| {
            metrics.iter().any(|m| {
                m["resource"]["name"].as_str() == Some("cpu")
                    && m["resource"]["target"]["type"].as_str() == Some("Utilization")
            })
        });
    assert!(on_cpu, "the autoscaler follows CPU utilization");
    assert!(
        !at(container, &["resources", "requests", "cpu"]).is_null(),
        "utilization is of the CPU request"
    );

    let pdb = the_object("PodDisruptionBudget");
    assert!(
        selects(at(&pdb, &["spec", "selector", "matchLabels"]), labels),
        "the disruption budget covers the Deployment's pods"
    );
    let min_available = number_at(&pdb, &["spec", "minAvailable"]);
    let replicas = number_at(&deployment, &["spec", "replicas"]);
    assert!(
        min_available >= 1 && min_available < min.min(replicas),
        "minAvailable {min_available} keeps a pod up and still lets a drain evict one"
    );
}

#[test]
fn the_probe_and_scrape_paths_answer_on_the_real_binary() {
    let deployment = the_object("Deployment");
    let container = container(&deployment);
    let annotations = at(
        &deployment,
        &["spec", "template", "metadata", "annotations"],
    );
    let paths = [
        text_at(container, &["readinessProbe", "httpGet", "path"]).to_string(),
        text_at(container, &["livenessProbe", "httpGet", "path"]).to_string(),
        text_at(annotations, &["prometheus.io/path"]).to_string(),
    ];
    let s = crate::serve::setup();
    let server = s.serve();
    for path in paths {
        let (status, _) = crate::common::world::block_on(async {
            let r = reqwest::get(format!("{}{path}", server.url)).await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        });
        assert_eq!(status, 200, "GET {path}");
    }
}
