//! validate + plan CPU time for many apps: 45 apps × 1,000 messages × 2 locales (2,000
//! messages per app, Apple's maximum), generated into a temporary folder.
//! Run: `cargo bench --bench plan`. Peak memory: `benches/measure.sh`.

use std::collections::BTreeMap;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use retainctl::apple::model::ReviewState;
use retainctl::loader;
use retainctl::manifest::EnvironmentName;
use retainctl::reconcile::observed::Observed;
use retainctl::reconcile::planner::{PlanOptions, plan};

pub fn generate(dir: &Path, apps: usize, messages: usize) {
    for a in 0..apps {
        let mut yaml = format!(
            "apiVersion: retainctl/v1\napp:\n  bundleId: com.bench.app{a}\n  locales: [en-US, de-DE]\n  products: [p.monthly, p.yearly]\nmessages:\n"
        );
        for m in 0..messages {
            yaml.push_str(&format!(
                "  m{m}:\n    localizations:\n      en-US: {{ header: \"Stay {m}\", body: \"Keep your plan number {m} of app {a}.\" }}\n      de-DE: {{ header: \"Bleib {m}\", body: \"Behalte Plan {m} der App {a}.\" }}\n"
            ));
        }
        yaml.push_str("defaults:\n  p.monthly: m0\n  p.yearly: m1\n");
        std::fs::write(dir.join(format!("app{a}.yaml")), yaml).unwrap();
    }
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path(), 45, 1000);
    let paths = vec![dir.path().to_path_buf()];
    let mut group = c.benchmark_group("45 apps x 2000 messages");
    group.sample_size(10);
    group.bench_function("load + validate + expand", |b| {
        b.iter(|| {
            let loaded = loader::load(&paths);
            assert_eq!(loaded.apps.len(), 45);
        })
    });
    let loaded = loader::load(&paths);
    // Apple holds every other message, half of them still PENDING.
    let observed: Vec<Observed> = loaded
        .apps
        .iter()
        .map(|app| Observed {
            messages: app
                .desired
                .messages
                .iter()
                .step_by(2)
                .enumerate()
                .map(|(i, m)| {
                    (
                        m.id.to_string(),
                        if i % 2 == 0 {
                            ReviewState::Approved
                        } else {
                            ReviewState::Pending
                        },
                    )
                })
                .collect(),
            defaults: BTreeMap::new(),
            ..Default::default()
        })
        .collect();
    group.bench_function("plan", |b| {
        b.iter(|| {
            for (app, o) in loaded.apps.iter().zip(&observed) {
                let p = plan(
                    &app.desired,
                    EnvironmentName::Production,
                    "bench",
                    o,
                    PlanOptions { prune: true },
                );
                assert!(!p.actions.is_empty());
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
