//! The examples validate, the schema file is in sync and agrees with `validate` on which
//! files are invalid, identifiers are pinned, the decoder agrees with serde's reading of
//! the same types, and no input panics.

use std::path::Path;
use std::process::Command;

use proptest::prelude::*;
use retainctl::loader;
use retainctl::manifest::Manifest;
use retainctl::validate::diagnostics::FileDiagnostics;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_retainctl"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

#[test]
fn every_example_validates() {
    let out = bin().args(["validate", "examples"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("4 files, 4 apps valid: 0 errors, 0 warnings"),
        "{text}"
    );
}

#[test]
fn examples_start_with_the_schema_modeline() {
    for file in [
        "simple/notes.yaml",
        "fitness/fitness.yaml",
        "accounts/photos.yaml",
        "accounts/video.yaml",
    ] {
        let text = std::fs::read_to_string(Path::new("examples").join(file)).unwrap();
        // The schema's stable, versioned URL (its `$id`), which resolves outside this
        // repository too.
        assert!(
            text.starts_with(&format!(
                "# yaml-language-server: $schema={}\n",
                retainctl::manifest::schema::SCHEMA_URL
            )),
            "{file}"
        );
    }
}

#[test]
fn schema_file_is_the_schema_command_output() {
    let out = bin().arg("schema").output().unwrap();
    assert!(out.status.success());
    let file = std::fs::read_to_string("schema/retainctl.schema.json").unwrap();
    assert!(
        String::from_utf8(out.stdout).unwrap() == file,
        "schema/retainctl.schema.json is stale: run `cargo run -- schema > schema/retainctl.schema.json`"
    );
}

/// Corpus files whose problem no JSON Schema can see, with the reason. Every other file
/// must be refused by both the schema and `validate`.
const BEYOND_A_SCHEMA: &[(&str, &str)] = &[
    (
        "missing-image.yaml",
        "the image file's existence and PNG contents are outside the document",
    ),
    (
        "escape-image.yaml",
        "whether `..` leads out of the folder tree depends on where the file sits",
    ),
];

/// The manifest as JSON, or why it is not one YAML document a schema could read
/// (syntax errors, tabs, duplicate keys, several documents, alias bombs).
fn as_json(text: &str) -> Result<serde_json::Value, String> {
    serde_yaml::from_str::<serde_json::Value>(text).map_err(|e| e.to_string())
}

fn validate_exit_code(file: &Path) -> i32 {
    let out = bin().arg("validate").arg(file).output().unwrap();
    out.status.code().unwrap_or(-1)
}

#[test]
fn schema_and_validate_agree_on_which_files_are_invalid() {
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string("schema/retainctl.schema.json").unwrap())
            .unwrap();
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("the schema is a valid JSON Schema");

    for file in [
        "simple/notes.yaml",
        "fitness/fitness.yaml",
        "accounts/photos.yaml",
        "accounts/video.yaml",
    ] {
        let path = Path::new("examples").join(file);
        let doc = as_json(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let errors: Vec<String> = validator.iter_errors(&doc).map(|e| e.to_string()).collect();
        assert!(
            errors.is_empty(),
            "{file}: the schema refuses an example: {errors:?}"
        );
        assert_eq!(validate_exit_code(&path), 0, "{file}");
    }

    // Valid edge cases: nothing written for an optional section or an environment, and
    // Apple's short codes.
    let dir = tempfile::tempdir().unwrap();
    for (i, text) in [
        "apiVersion: retainctl/v1\napp: { bundleId: a.b, locales: [ja, zh-Hans, no] }\nimages:\nmessages:\ndefaults:\nenvironments:\n",
        "apiVersion: retainctl/v1\napp: { bundleId: a.b, locales: [en-US] }\nenvironments:\n  production:\n",
    ]
    .iter()
    .enumerate()
    {
        let path = dir.path().join(format!("valid{i}.yaml"));
        std::fs::write(&path, text).unwrap();
        let doc = as_json(text).unwrap();
        let errors: Vec<String> = validator.iter_errors(&doc).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{text}: the schema refuses it: {errors:?}");
        assert_eq!(validate_exit_code(&path), 0, "{text}");
    }

    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/manifests");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut checked = 0;
    for path in files {
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        assert_eq!(validate_exit_code(&path), 1, "{name}: validate accepts it");
        let refused_by_schema = match as_json(&std::fs::read_to_string(&path).unwrap()) {
            Err(_) => true,
            Ok(doc) => !validator.is_valid(&doc),
        };
        match BEYOND_A_SCHEMA.iter().find(|(n, _)| *n == name) {
            Some((_, why)) => assert!(
                !refused_by_schema,
                "{name} is listed as beyond a schema ({why}), but the schema refuses it: drop it from the list"
            ),
            None => {
                assert!(
                    refused_by_schema,
                    "{name}: validate refuses it, the schema accepts it"
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 25, "only {checked} corpus files compared");
}

/// Vectors computed independently with Python's uuid.uuid5, hashlib.sha256 and
/// json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False) over the
/// example files (see src/desired/ids.rs for the recipe).
#[test]
fn ids_of_the_examples_are_pinned() {
    let out = bin().args(["ids", "examples"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for line in [
        "com.example.notes\tmessage\tkeep-your-notes\ten-US\t18914d85-981d-511c-baf6-a7d45f03aa85",
        "com.example.fitness\timage\thero\tFULL_SIZE\t1084d102-39b2-573d-8cd4-4d1abcc05545",
        "com.example.fitness\tmessage\tstay-premium\ten-US\tf686ffe7-74dc-5177-8a8e-61d7b3c3ff09",
    ] {
        assert!(text.lines().any(|l| l == line), "missing {line}\n{text}");
    }
    // one line per image and per message × locale
    assert_eq!(text.lines().count(), 5 + 18);
}

#[test]
fn decoder_agrees_with_serde_on_the_examples() {
    for file in [
        "simple/notes.yaml",
        "fitness/fitness.yaml",
        "accounts/photos.yaml",
        "accounts/video.yaml",
    ] {
        let path = Path::new("examples").join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        let by_serde: Manifest = serde_yaml::from_str(&text).unwrap();
        let mut d = FileDiagnostics::new(&path);
        let app = loader::load_file(&path, &mut d).expect("valid");
        assert_eq!(app.manifest, by_serde, "{file}");
    }
}

fn check_does_not_panic(text: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/fitness");
    let mut d = FileDiagnostics::new("fuzz.yaml");
    let _ = loader::check_source(text, &dir, &mut d);
    for diag in &d.report.diagnostics {
        assert!(diag.span.line >= 1 && diag.span.col >= 1);
    }
}

proptest! {
    // PROPTEST_CASES=100000 for a longer local run (recorded in BENCHMARKS.md).
    #![proptest_config(ProptestConfig { cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(400), .. ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,400}") {
        check_does_not_panic(&text);
    }

    #[test]
    fn yaml_like_text_never_panics(text in "[a-zA-Z0-9_:\\-\\[\\]{},&*!|>'\"#\\n ]{0,300}") {
        check_does_not_panic(&format!("apiVersion: retainctl/v1\n{text}"));
    }

    #[test]
    fn mutated_examples_never_panic(
        cut in 0usize..4000,
        len in 0usize..40,
        insert in "[ :\\-\\[\\]{}\\n'\"&*a-z0-9]{0,8}",
    ) {
        let source = include_str!("../../examples/fitness/fitness.yaml");
        let mut bytes = source.as_bytes().to_vec();
        let at = cut.min(bytes.len());
        let end = (at + len).min(bytes.len());
        bytes.splice(at..end, insert.bytes());
        check_does_not_panic(&String::from_utf8_lossy(&bytes));
    }
}
