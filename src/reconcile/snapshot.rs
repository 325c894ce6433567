//! The realtime snapshot's lifecycle, pure: whether one read before a run can be carried
//! on ([`check`]), what it keeps from `--prune` ([`keep_served`]), and the next one a run
//! writes ([`next`]), each app's entry made from the state its apply ended in.
//!
//! For every message key a rule answers with, in every locale the manifest localizes it:
//! 1. the manifest's current version, when Apple lists the message AND every image it
//!    uses as APPROVED (`current: true`);
//! 2. else the version the previous snapshot served for that key × locale, when it is
//!    still the kind of message the rule needs (the snapshot records each version's kind
//!    and images in `versions`), Apple still lists that message APPROVED and every image
//!    it uses APPROVED (`current: false`: create-before-destroy at runtime, while the new
//!    version is in review or was rejected). A version whose facts were not recorded is
//!    not carried;
//! 3. else nothing: the rule falls through at runtime.
//!
//! An app the run could not read keeps its previous entry whole (rules, appAppleId,
//! offerSigning, locales and approved content, as served before), less any version that
//! is not the kind its rule needs.

use std::collections::{BTreeMap, HashMap};

use uuid::Uuid;

use super::apply::EndState;
use super::planner::ContentKind;
use crate::apple::model::ReviewState;
use crate::desired::DesiredApp;
use crate::manifest::{EnvironmentName, Manifest, MessageKind};
use crate::realtime::{
    AppRealtime, ApprovedVersion, Snapshot, SnapshotSource, VersionFacts, rules,
};

/// One app's snapshot entry and the facts of every version it serves.
#[derive(Debug, Clone, PartialEq)]
pub struct AppSnapshot {
    pub entry: AppRealtime,
    pub versions: BTreeMap<Uuid, VersionFacts>,
}

/// Drops every served version that is not (recorded as) the kind its key's rules need,
/// and returns the facts of those kept.
fn consistent(mut entry: AppRealtime, facts: &BTreeMap<Uuid, VersionFacts>) -> AppSnapshot {
    let mut needs: HashMap<String, MessageKind> = HashMap::new();
    for rule in &entry.rules {
        if let (Some(key), Some(kind)) = (rule.answer.message_key(), rule.answer.kind()) {
            needs.insert(key.to_string(), kind);
        }
    }
    let mut versions = BTreeMap::new();
    entry.approved.retain(|key, by_locale| {
        by_locale.retain(
            |_, v| match (facts.get(&v.message_id), needs.get(key.as_str())) {
                (Some(f), Some(kind)) if f.kind == *kind => {
                    versions.insert(v.message_id, f.clone());
                    true
                }
                _ => false,
            },
        );
        !by_locale.is_empty()
    });
    AppSnapshot { entry, versions }
}

/// The snapshot entry of one app. `end` is `None` when the run could not read Apple: the
/// previous entry is kept whole (everything it names was approved when written), or an
/// entry with no approved content is written (every request falls back).
/// `previous_versions` is the previous snapshot's `versions`.
pub fn app_realtime(
    manifest: &Manifest,
    desired: &DesiredApp,
    end: Option<&EndState>,
    previous: Option<&AppRealtime>,
    previous_versions: &BTreeMap<Uuid, VersionFacts>,
) -> AppSnapshot {
    let rules = rules::resolve(&manifest.realtime);
    let mut out = AppRealtime {
        bundle_id: desired.bundle_id.clone(),
        app_apple_id: manifest.app.app_apple_id,
        offer_signing: manifest.app.offer_signing.clone(),
        locales: manifest.app.locales.clone(),
        rules,
        approved: BTreeMap::new(),
    };
    let Some(end) = end else {
        return match previous {
            Some(previous) => consistent(previous.clone(), previous_versions),
            None => AppSnapshot {
                entry: out,
                versions: BTreeMap::new(),
            },
        };
    };
    let mut states: HashMap<&str, &ReviewState> = HashMap::new();
    let mut image_states: HashMap<&str, &ReviewState> = HashMap::new();
    for c in &end.content {
        if let Some(state) = &c.state {
            match c.kind {
                ContentKind::Message => states.insert(&c.id, state),
                ContentKind::Image => image_states.insert(&c.id, state),
            };
        }
    }
    for d in &end.drift {
        match d.kind {
            ContentKind::Message => states.entry(&d.id).or_insert(&d.state),
            ContentKind::Image => image_states.entry(&d.id).or_insert(&d.state),
        };
    }
    let approved = |states: &HashMap<&str, &ReviewState>, id: &Uuid| {
        states
            .get(id.to_string().as_str())
            .is_some_and(|s| **s == ReviewState::Approved)
    };
    let keys: std::collections::BTreeSet<&str> = out
        .rules
        .iter()
        .filter_map(|r| r.answer.message_key())
        .collect();
    let mut versions = BTreeMap::new();
    for message in &desired.messages {
        if !keys.contains(&*message.key) {
            continue;
        }
        let current_ok = approved(&states, &message.id)
            && message
                .image_ids
                .iter()
                .all(|image| approved(&image_states, image));
        let version = if current_ok {
            Some((
                ApprovedVersion {
                    message_id: message.id,
                    current: true,
                },
                VersionFacts {
                    kind: message.kind,
                    image_ids: message.image_ids.clone(),
                },
            ))
        } else {
            previous
                .and_then(|p| p.approved.get(&*message.key))
                .and_then(|by_locale| by_locale.get(&*message.locale))
                .filter(|v| v.message_id != message.id && approved(&states, &v.message_id))
                .and_then(|v| {
                    let facts = previous_versions.get(&v.message_id)?;
                    let still = facts.kind == message.kind
                        && facts
                            .image_ids
                            .iter()
                            .all(|image| approved(&image_states, image));
                    still.then(|| {
                        (
                            ApprovedVersion {
                                message_id: v.message_id,
                                current: false,
                            },
                            facts.clone(),
                        )
                    })
                })
        };
        if let Some((version, facts)) = version {
            versions.insert(version.message_id, facts);
            out.approved
                .entry(message.key.to_string())
                .or_default()
                .insert(message.locale.to_string(), version);
        }
    }
    AppSnapshot {
        entry: out,
        versions,
    }
}

/// Where the approvals of a run against `env` come from.
pub fn source_of(env: EnvironmentName) -> SnapshotSource {
    match env {
        EnvironmentName::Local => SnapshotSource::Simulator,
        _ => SnapshotSource::Apple,
    }
}

/// Why a snapshot read before a run cannot be carried on by it.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error(
        "{path} is not a realtime snapshot this retainctl can use: {reason}; move it away to start a new one"
    )]
    NotASnapshot { path: String, reason: String },
    #[error(
        "{path} is the realtime snapshot of {found}, not of {served}: give each environment its own file"
    )]
    OtherEnvironment {
        path: String,
        found: EnvironmentName,
        served: EnvironmentName,
    },
    #[error(
        "{path} was written from {} (source `{}`), and this run reads {}: approvals of the simulator never count for Apple, nor the other way round; give each its own file",
        source_words(*found), found.as_str(), source_words(*reads)
    )]
    OtherSource {
        path: String,
        found: SnapshotSource,
        reads: SnapshotSource,
    },
    #[error(
        "{path} does not record where its approvals come from (`source`, written by an earlier retainctl): move it away to start a new one"
    )]
    NoSource { path: String },
}

/// The snapshot read at `path`, refused when it is not one a run serving `served` from
/// `source` can carry on: not a snapshot, another environment's, or its approvals come
/// from elsewhere (the simulator's for a real environment, or the other way round).
pub fn check(
    text: &str,
    path: &dyn std::fmt::Display,
    served: EnvironmentName,
    source: SnapshotSource,
) -> Result<Snapshot, Refused> {
    let path = path.to_string();
    let snapshot = match Snapshot::from_json(text) {
        Ok(snapshot) => snapshot,
        Err(e) => {
            return Err(Refused::NotASnapshot {
                path,
                reason: e.to_string(),
            });
        }
    };
    if snapshot.environment != served {
        return Err(Refused::OtherEnvironment {
            path,
            found: snapshot.environment,
            served,
        });
    }
    match snapshot.source {
        Some(found) if found == source => Ok(snapshot),
        Some(found) => Err(Refused::OtherSource {
            path,
            found,
            reads: source,
        }),
        None => Err(Refused::NoSource { path }),
    }
}

fn source_words(source: SnapshotSource) -> &'static str {
    match source {
        SnapshotSource::Apple => "Apple",
        SnapshotSource::Simulator => "the simulator (--env local)",
    }
}

/// Marks what the previous snapshot serves for this app as kept (never pruned): the
/// message versions it answers with and the images they use.
pub fn keep_served(desired: &mut DesiredApp, previous: Option<&Snapshot>) {
    if let Some(served) = previous.and_then(|p| p.served_ids(&desired.bundle_id)) {
        desired.served = served;
    }
}

/// The snapshot of this run: every applied app (its manifest and desired state) from the
/// state it ended in; apps of the previous snapshot that this run did not apply stay as
/// they were.
pub fn next(
    served: EnvironmentName,
    source: SnapshotSource,
    apps: &[(&Manifest, &DesiredApp)],
    ends: &[(&str, Option<&EndState>)],
    previous: Option<&Snapshot>,
) -> Snapshot {
    let mut snapshot = Snapshot::new(served);
    snapshot.source = Some(source);
    let no_versions = Default::default();
    let previous_versions = previous.map_or(&no_versions, |p| &p.versions);
    for (manifest, desired) in apps {
        let bundle = &desired.bundle_id;
        let end = ends
            .iter()
            .find(|(b, _)| b == bundle)
            .and_then(|(_, end)| *end);
        let before = previous.and_then(|p| p.app(bundle));
        let made = app_realtime(manifest, desired, end, before, previous_versions);
        snapshot.apps.push(made.entry);
        snapshot.versions.extend(made.versions);
    }
    if let Some(previous) = previous {
        for entry in &previous.apps {
            if snapshot.app(&entry.bundle_id).is_none() {
                snapshot.apps.push(entry.clone());
                for by_locale in entry.approved.values() {
                    for v in by_locale.values() {
                        if let Some(facts) = previous.versions.get(&v.message_id) {
                            snapshot.versions.insert(v.message_id, facts.clone());
                        }
                    }
                }
            }
        }
    }
    snapshot.apps.sort_by(|a, b| a.bundle_id.cmp(&b.bundle_id));
    snapshot
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apple::model::ReviewState::{Approved, Pending, Rejected};
    use crate::reconcile::planner::tests::{desired, u};
    use crate::reconcile::planner::{ContentState, Drift, RealtimeUrlState};

    const M1: &str = "00000000-0000-0000-0000-0000000000a1";
    const M2: &str = "00000000-0000-0000-0000-0000000000a2";
    const I1: &str = "00000000-0000-0000-0000-0000000000b1";
    const OLD: &str = "00000000-0000-0000-0000-0000000000c1";

    /// The planner tests' app (stay [en-US] uses hero; stay [de-DE]) with one rule.
    fn setup() -> (Manifest, DesiredApp) {
        let manifest: Manifest = serde_yaml::from_str(
            "apiVersion: retainctl/v1\napp: { bundleId: com.example.app, locales: [en-US, de-DE], appAppleId: 42 }\nrealtime:\n  - { product: '*', message: stay }\n",
        )
        .unwrap();
        let mut d = desired();
        d.messages[0].id = u(M1);
        d.messages[0].image_ids = vec![u(I1)];
        d.messages[1].id = u(M2);
        (manifest, d)
    }

    fn end(
        messages: &[(&str, ReviewState)],
        images: &[(&str, ReviewState)],
        drift: &[(&str, ReviewState)],
    ) -> EndState {
        let mut content = vec![];
        for (id, state) in messages {
            content.push(ContentState {
                kind: ContentKind::Message,
                key: "stay".into(),
                locale: None,
                id: id.to_string().into(),
                state: Some(state.clone()),
                apple_size: None,
            });
        }
        for (id, state) in images {
            content.push(ContentState {
                kind: ContentKind::Image,
                key: "hero".into(),
                locale: None,
                id: id.to_string().into(),
                state: Some(state.clone()),
                apple_size: None,
            });
        }
        EndState {
            content,
            defaults: vec![],
            drift: drift
                .iter()
                .map(|(id, state)| Drift {
                    kind: ContentKind::Message,
                    id: id.to_string(),
                    state: state.clone(),
                    kept_because: None,
                })
                .collect(),
            realtime_url: RealtimeUrlState::default(),
        }
    }

    fn served(a: &AppRealtime, locale: &str) -> Option<(String, bool)> {
        a.approved
            .get("stay")?
            .get(locale)
            .map(|v| (v.message_id.to_string(), v.current))
    }

    /// A previous entry serving `id` for stay [locale], recorded as a text message using
    /// `images`.
    fn previous_with(
        locale: &str,
        id: &str,
        kind: MessageKind,
        images: &[&str],
    ) -> (AppRealtime, BTreeMap<Uuid, VersionFacts>) {
        let (m, d) = setup();
        let mut p = app_realtime(&m, &d, Some(&end(&[], &[], &[])), None, &BTreeMap::new()).entry;
        p.approved.entry("stay".into()).or_default().insert(
            locale.into(),
            ApprovedVersion {
                message_id: u(id),
                current: true,
            },
        );
        let facts = VersionFacts {
            kind,
            image_ids: images.iter().map(|i| u(i)).collect(),
        };
        (p, [(u(id), facts)].into())
    }

    fn text_previous(locale: &str, id: &str) -> (AppRealtime, BTreeMap<Uuid, VersionFacts>) {
        previous_with(locale, id, MessageKind::Text, &[])
    }

    fn run(
        m: &Manifest,
        d: &DesiredApp,
        e: Option<&EndState>,
        previous: Option<&(AppRealtime, BTreeMap<Uuid, VersionFacts>)>,
    ) -> AppRealtime {
        let none = BTreeMap::new();
        let (p, facts) = match previous {
            Some((p, f)) => (Some(p), f),
            None => (None, &none),
        };
        app_realtime(m, d, e, p, facts).entry
    }

    #[test]
    fn approved_messages_with_approved_images_are_served() {
        let (m, d) = setup();
        let e = end(&[(M1, Approved), (M2, Approved)], &[(I1, Approved)], &[]);
        let a = run(&m, &d, Some(&e), None);
        assert_eq!(served(&a, "en-US"), Some((M1.into(), true)));
        assert_eq!(served(&a, "de-DE"), Some((M2.into(), true)));
        assert_eq!(a.app_apple_id, Some(42));
        assert_eq!(a.locales, vec!["en-US", "de-DE"]);
        assert_eq!(a.rules.len(), 1);
    }

    #[test]
    fn a_pending_image_or_message_is_not_served() {
        let (m, d) = setup();
        let e = end(&[(M1, Approved), (M2, Pending)], &[(I1, Pending)], &[]);
        let a = run(&m, &d, Some(&e), None);
        assert_eq!(served(&a, "en-US"), None);
        assert_eq!(served(&a, "de-DE"), None);
    }

    #[test]
    fn the_previous_approved_version_stays_while_the_new_one_is_pending() {
        let (m, d) = setup();
        let previous = text_previous("en-US", OLD);
        let e = end(&[(M1, Pending)], &[(I1, Approved)], &[(OLD, Approved)]);
        let a = run(&m, &d, Some(&e), Some(&previous));
        assert_eq!(served(&a, "en-US"), Some((OLD.into(), false)));
        // Once the new one is approved, it replaces the old one.
        let e = end(&[(M1, Approved)], &[(I1, Approved)], &[(OLD, Approved)]);
        let a = run(&m, &d, Some(&e), Some(&previous));
        assert_eq!(served(&a, "en-US"), Some((M1.into(), true)));
        // The old one deleted or no longer approved on Apple: nothing.
        for e in [
            end(&[(M1, Pending)], &[(I1, Approved)], &[]),
            end(&[(M1, Pending)], &[(I1, Approved)], &[(OLD, Rejected)]),
        ] {
            let a = run(&m, &d, Some(&e), Some(&previous));
            assert_eq!(served(&a, "en-US"), None);
        }
    }

    #[test]
    fn a_current_version_no_longer_approved_is_not_kept_as_previous() {
        let (m, d) = setup();
        let previous = text_previous("en-US", M1);
        let e = end(&[(M1, Rejected)], &[(I1, Approved)], &[]);
        let a = run(&m, &d, Some(&e), Some(&previous));
        assert_eq!(served(&a, "en-US"), None);
    }

    #[test]
    fn keys_no_rule_uses_are_left_out_and_an_unread_app_keeps_its_previous_content() {
        let (mut m, d) = setup();
        m.realtime.clear();
        let e = end(&[(M1, Approved), (M2, Approved)], &[(I1, Approved)], &[]);
        assert!(run(&m, &d, Some(&e), None).approved.is_empty());
        let (m, d) = setup();
        let previous = text_previous("en-US", OLD);
        let a = run(&m, &d, None, Some(&previous));
        assert_eq!(served(&a, "en-US"), Some((OLD.into(), true)));
        assert!(run(&m, &d, None, None).approved.is_empty());
    }

    #[test]
    fn an_older_version_of_another_kind_is_not_carried() {
        let (m, mut d) = setup();
        // `stay` [en-US] is now a promotional-offer message; the old version was text.
        d.messages[0].kind = MessageKind::PromotionalOffer;
        let e = end(&[(M1, Pending)], &[(I1, Approved)], &[(OLD, Approved)]);
        let previous = text_previous("en-US", OLD);
        assert_eq!(
            served(&run(&m, &d, Some(&e), Some(&previous)), "en-US"),
            None
        );
        let previous = previous_with("en-US", OLD, MessageKind::PromotionalOffer, &[]);
        assert_eq!(
            served(&run(&m, &d, Some(&e), Some(&previous)), "en-US"),
            Some((OLD.into(), false))
        );
        // A version whose facts were never recorded is not carried either.
        let (p, _) = text_previous("en-US", OLD);
        let a = app_realtime(&m, &d, Some(&e), Some(&p), &BTreeMap::new()).entry;
        assert_eq!(served(&a, "en-US"), None);
    }

    #[test]
    fn an_unread_app_keeps_its_whole_entry_less_versions_of_the_wrong_kind() {
        let (mut m, d) = setup();
        let mut previous = text_previous("en-US", OLD);
        previous.0.app_apple_id = Some(7);
        // The new manifest changes the app id and the rule's kind: not applied, not read.
        m.app.app_apple_id = Some(8);
        m.realtime[0].message = None;
        m.realtime[0].promotional_offer = Some(crate::manifest::PromotionalOfferAnswer {
            message: "stay".into(),
            offer_id: "x".into(),
        });
        let out = app_realtime(&m, &d, None, Some(&previous.0), &previous.1);
        assert_eq!(out.entry, previous.0, "the previous entry, whole");
        assert_eq!(out.versions, previous.1);
        // A previous entry whose text version sits under an offer rule (written by an
        // older retainctl) loses it.
        previous.0.rules = rules::resolve(&m.realtime);
        let out = app_realtime(&m, &d, None, Some(&previous.0), &previous.1);
        assert_eq!(served(&out.entry, "en-US"), None);
    }

    #[test]
    fn an_older_version_whose_image_is_no_longer_approved_is_not_carried() {
        const I2: &str = "00000000-0000-0000-0000-0000000000b2";
        let (m, d) = setup();
        let previous = previous_with("en-US", OLD, MessageKind::Text, &[I2]);
        for (state, kept) in [(Rejected, false), (Pending, false), (Approved, true)] {
            let e = end(
                &[(M1, Pending)],
                &[(I1, Approved), (I2, state)],
                &[(OLD, Approved)],
            );
            let a = run(&m, &d, Some(&e), Some(&previous));
            assert_eq!(served(&a, "en-US").is_some(), kept);
        }
        // The image gone from Apple: not carried.
        let e = end(&[(M1, Pending)], &[(I1, Approved)], &[(OLD, Approved)]);
        assert_eq!(
            served(&run(&m, &d, Some(&e), Some(&previous)), "en-US"),
            None
        );
    }

    #[test]
    fn a_snapshot_is_carried_on_only_by_a_run_of_its_environment_and_source() {
        let mut written = Snapshot::new(EnvironmentName::Production);
        written.source = Some(SnapshotSource::Apple);
        let text = written.to_json();
        let check = |text: &str, served, source| check(text, &"snap.json", served, source);
        assert!(check(&text, EnvironmentName::Production, SnapshotSource::Apple).is_ok());
        assert!(matches!(
            check(&text, EnvironmentName::Sandbox, SnapshotSource::Apple),
            Err(Refused::OtherEnvironment { .. })
        ));
        let err = check(
            &text,
            EnvironmentName::Production,
            SnapshotSource::Simulator,
        )
        .unwrap_err();
        assert!(matches!(err, Refused::OtherSource { .. }));
        assert!(err.to_string().starts_with("snap.json was written from Apple (source `apple`), and this run reads the simulator (--env local)"), "{err}");
        written.source = None;
        assert!(matches!(
            check(
                &written.to_json(),
                EnvironmentName::Production,
                SnapshotSource::Apple
            ),
            Err(Refused::NoSource { .. })
        ));
        assert!(matches!(
            check("{}", EnvironmentName::Production, SnapshotSource::Apple),
            Err(Refused::NotASnapshot { .. })
        ));
    }
}
