//! The cost of signing a fresh ES256 token for every request, as Apple asks.
//! Run: `cargo bench --bench token`.

use std::time::SystemTime;

use criterion::{Criterion, criterion_group, criterion_main};
use retainctl::apple::credentials::{Credentials, generate_key_pair};
use retainctl::apple::token::TokenSigner;

fn token(c: &mut Criterion) {
    let (key, _) = generate_key_pair();
    let credentials = Credentials {
        key_id: "BENCHKEY01".into(),
        issuer_id: "57246542-96fe-1a63-e053-0824d011072a".into(),
        private_key: key,
    };
    let signer = TokenSigner::new(&credentials, "com.bench.app").expect("a P-256 key");
    c.bench_function("sign one ES256 token", |b| {
        b.iter(|| signer.token(SystemTime::now()))
    });
}

criterion_group!(benches, token);
criterion_main!(benches);
