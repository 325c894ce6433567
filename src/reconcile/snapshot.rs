//! The realtime snapshot of one app from the state an apply ended in. Pure.
//!
//! For every message key a rule answers with, in every locale the manifest localizes it:
//! 1. the manifest's current version, when Apple lists the message AND every image it
//!    uses as APPROVED (`current: true`);
//! 2. else the version the previous snapshot served for that key × locale, when Apple
//!    still lists that message APPROVED (`current: false`: create-before-destroy at
//!    runtime, while the new version is in review or was rejected). Its images are not
//!    re-checked: a version enters a snapshot only as a current one, with its images
//!    approved, and Apple refuses to delete an image a message uses (ImageInUse);
//! 3. else nothing: the rule falls through at runtime.

use std::collections::{BTreeMap, HashMap};

use uuid::Uuid;

use super::apply::EndState;
use super::planner::ContentKind;
use crate::apple::model::ReviewState;
use crate::desired::DesiredApp;
use crate::manifest::Manifest;
use crate::realtime::{AppRealtime, ApprovedVersion, rules};

/// The snapshot entry of one app. `end` is `None` when the run could not read Apple: the
/// previous entry is kept as it was (everything it names was approved when written), or
/// an entry with no approved content is written (every request falls back).
pub fn app_realtime(
    manifest: &Manifest,
    desired: &DesiredApp,
    end: Option<&EndState>,
    previous: Option<&AppRealtime>,
) -> AppRealtime {
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
        if let Some(previous) = previous {
            out.approved = previous.approved.clone();
        }
        return out;
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
    let keys: std::collections::BTreeSet<&str> =
        out.rules.iter().map(|r| r.answer.message_key()).collect();
    for message in &desired.messages {
        if !keys.contains(message.key.as_str()) {
            continue;
        }
        let current_ok = approved(&states, &message.id)
            && message
                .image_ids
                .iter()
                .all(|image| approved(&image_states, image));
        let version = if current_ok {
            Some(ApprovedVersion {
                message_id: message.id,
                current: true,
            })
        } else {
            previous
                .and_then(|p| p.approved.get(&message.key))
                .and_then(|by_locale| by_locale.get(&message.locale))
                .filter(|v| v.message_id != message.id && approved(&states, &v.message_id))
                .map(|v| ApprovedVersion {
                    message_id: v.message_id,
                    current: false,
                })
        };
        if let Some(version) = version {
            out.approved
                .entry(message.key.clone())
                .or_default()
                .insert(message.locale.clone(), version);
        }
    }
    out
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
                id: id.to_string(),
                state: Some(state.clone()),
                apple_size: None,
            });
        }
        for (id, state) in images {
            content.push(ContentState {
                kind: ContentKind::Image,
                key: "hero".into(),
                locale: None,
                id: id.to_string(),
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

    fn previous_with(locale: &str, id: &str) -> AppRealtime {
        let (m, d) = setup();
        let mut p = app_realtime(&m, &d, Some(&end(&[], &[], &[])), None);
        p.approved.entry("stay".into()).or_default().insert(
            locale.into(),
            ApprovedVersion {
                message_id: u(id),
                current: true,
            },
        );
        p
    }

    #[test]
    fn approved_messages_with_approved_images_are_served() {
        let (m, d) = setup();
        let e = end(&[(M1, Approved), (M2, Approved)], &[(I1, Approved)], &[]);
        let a = app_realtime(&m, &d, Some(&e), None);
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
        let a = app_realtime(&m, &d, Some(&e), None);
        assert_eq!(served(&a, "en-US"), None);
        assert_eq!(served(&a, "de-DE"), None);
    }

    #[test]
    fn the_previous_approved_version_stays_while_the_new_one_is_pending() {
        let (m, d) = setup();
        let previous = previous_with("en-US", OLD);
        let e = end(&[(M1, Pending)], &[(I1, Approved)], &[(OLD, Approved)]);
        let a = app_realtime(&m, &d, Some(&e), Some(&previous));
        assert_eq!(served(&a, "en-US"), Some((OLD.into(), false)));
        // Once the new one is approved, it replaces the old one.
        let e = end(&[(M1, Approved)], &[(I1, Approved)], &[(OLD, Approved)]);
        let a = app_realtime(&m, &d, Some(&e), Some(&previous));
        assert_eq!(served(&a, "en-US"), Some((M1.into(), true)));
        // The old one deleted or no longer approved on Apple: nothing.
        for e in [
            end(&[(M1, Pending)], &[(I1, Approved)], &[]),
            end(&[(M1, Pending)], &[(I1, Approved)], &[(OLD, Rejected)]),
        ] {
            let a = app_realtime(&m, &d, Some(&e), Some(&previous));
            assert_eq!(served(&a, "en-US"), None);
        }
    }

    #[test]
    fn a_current_version_no_longer_approved_is_not_kept_as_previous() {
        let (m, d) = setup();
        let previous = previous_with("en-US", M1);
        let e = end(&[(M1, Rejected)], &[(I1, Approved)], &[]);
        let a = app_realtime(&m, &d, Some(&e), Some(&previous));
        assert_eq!(served(&a, "en-US"), None);
    }

    #[test]
    fn keys_no_rule_uses_are_left_out_and_an_unread_app_keeps_its_previous_content() {
        let (mut m, d) = setup();
        m.realtime.clear();
        let e = end(&[(M1, Approved), (M2, Approved)], &[(I1, Approved)], &[]);
        assert!(app_realtime(&m, &d, Some(&e), None).approved.is_empty());
        let (m, d) = setup();
        let previous = previous_with("en-US", OLD);
        let a = app_realtime(&m, &d, None, Some(&previous));
        assert_eq!(served(&a, "en-US"), Some((OLD.into(), true)));
        assert!(app_realtime(&m, &d, None, None).approved.is_empty());
    }
}
