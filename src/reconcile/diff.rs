//! Text diffs of changed copy between a base manifest and the current one, for review in
//! pull requests: every localization whose content changed, as a unified diff (crate
//! `similar`) of header, body, alt texts and bullets, with character counts against
//! Apple's limits. Pure.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use similar::{ChangeTag, TextDiff};

use crate::manifest::{Localization, Manifest};
use crate::validate::{MAX_ALT_TEXT, MAX_BODY, MAX_BULLET_TEXT, MAX_HEADER};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    Added,
    Changed,
    Removed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiffLine {
    /// `equal`, `insert` or `delete`.
    pub tag: String,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hunk {
    pub old_start: usize,
    pub old_len: usize,
    pub new_start: usize,
    pub new_len: usize,
    pub lines: Vec<DiffLine>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalizationDiff {
    pub message_key: String,
    pub locale: String,
    pub change: Change,
    /// The unified diff, as `diff -u` prints it.
    pub unified: String,
    pub hunks: Vec<Hunk>,
}

fn count(text: &str, max: usize) -> String {
    format!("({}/{max})", text.chars().count())
}

/// The reviewable text of one localization, a field per line.
pub fn render_localization(l: &Localization, header_position: Option<&str>) -> String {
    let mut out = format!("header: {} {}\n", l.header, count(&l.header, MAX_HEADER));
    out.push_str(&format!("body: {} {}\n", l.body, count(&l.body, MAX_BODY)));
    if let Some(p) = header_position {
        out.push_str(&format!("headerPosition: {p}\n"));
    }
    if let Some(image) = &l.image {
        out.push_str(&format!("image: {}\n", image.image_ref));
        out.push_str(&format!(
            "image altText: {} {}\n",
            image.alt_text,
            count(&image.alt_text, MAX_ALT_TEXT)
        ));
    }
    for (i, b) in l.bullet_points.iter().flatten().enumerate() {
        let n = i + 1;
        out.push_str(&format!(
            "bullet {n}: {} {}\n",
            b.text,
            count(&b.text, MAX_BULLET_TEXT)
        ));
        out.push_str(&format!("bullet {n} image: {}\n", b.image));
        out.push_str(&format!(
            "bullet {n} altText: {} {}\n",
            b.alt_text,
            count(&b.alt_text, MAX_ALT_TEXT)
        ));
    }
    out
}

/// Diffs of every localization that was added, changed or removed from `base` to `head`.
pub fn localization_diffs(base: &Manifest, head: &Manifest) -> Vec<LocalizationDiff> {
    let text_of = |m: &Manifest, key: &str, locale: &str| -> Option<String> {
        let message = m.messages.get(key)?;
        let l = message.localizations.get(locale)?;
        Some(render_localization(
            l,
            message.header_position.map(|p| p.as_str()),
        ))
    };
    let pairs: BTreeSet<(String, String)> = [base, head]
        .iter()
        .flat_map(|m| {
            m.messages.iter().flat_map(|(k, msg)| {
                msg.localizations
                    .keys()
                    .map(move |l| (k.clone(), l.clone()))
            })
        })
        .collect();
    let mut out = vec![];
    for (key, locale) in pairs {
        let old = text_of(base, &key, &locale);
        let new = text_of(head, &key, &locale);
        let change = match (&old, &new) {
            (None, Some(_)) => Change::Added,
            (Some(_), None) => Change::Removed,
            (Some(a), Some(b)) if a != b => Change::Changed,
            _ => continue,
        };
        let (old, new) = (old.unwrap_or_default(), new.unwrap_or_default());
        let diff = TextDiff::from_lines(&old, &new);
        let name = format!("messages/{key}/{locale}");
        let unified = diff
            .unified_diff()
            .context_radius(3)
            .header(&format!("base/{name}"), &format!("head/{name}"))
            .to_string();
        let hunks = diff
            .unified_diff()
            .context_radius(3)
            .iter_hunks()
            .map(|hunk| {
                let ops = hunk.ops();
                let (first, last) = (ops.first(), ops.last());
                let old_start = first.map(|o| o.old_range().start).unwrap_or(0);
                let new_start = first.map(|o| o.new_range().start).unwrap_or(0);
                let old_end = last.map(|o| o.old_range().end).unwrap_or(0);
                let new_end = last.map(|o| o.new_range().end).unwrap_or(0);
                Hunk {
                    old_start: old_start + 1,
                    old_len: old_end - old_start,
                    new_start: new_start + 1,
                    new_len: new_end - new_start,
                    lines: hunk
                        .iter_changes()
                        .map(|c| DiffLine {
                            tag: match c.tag() {
                                ChangeTag::Equal => "equal",
                                ChangeTag::Insert => "insert",
                                ChangeTag::Delete => "delete",
                            }
                            .to_string(),
                            text: c.value().trim_end_matches('\n').to_string(),
                        })
                        .collect(),
                }
            })
            .collect();
        out.push(LocalizationDiff {
            message_key: key,
            locale,
            change,
            unified,
            hunks,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(header: &str, extra_locale: bool) -> Manifest {
        let mut yaml = format!(
            "apiVersion: retainctl/v1\napp: {{ bundleId: a.b, locales: [en-US, de-DE] }}\nmessages:\n  stay:\n    localizations:\n      en-US: {{ header: \"{header}\", body: Keep it. }}\n"
        );
        if extra_locale {
            yaml.push_str("      de-DE: { header: Bleib, body: Behalte es. }\n");
        }
        serde_yaml::from_str(&yaml).unwrap()
    }

    #[test]
    fn changed_added_and_removed_localizations() {
        let diffs = localization_diffs(&manifest("Stay", false), &manifest("Stay with us", true));
        assert_eq!(diffs.len(), 2);
        let de = &diffs[0];
        assert_eq!((de.locale.as_str(), de.change), ("de-DE", Change::Added));
        let en = &diffs[1];
        assert_eq!(en.change, Change::Changed);
        assert_eq!(
            en.unified,
            "--- base/messages/stay/en-US\n+++ head/messages/stay/en-US\n@@ -1,2 +1,2 @@\n-header: Stay (4/66)\n+header: Stay with us (12/66)\n body: Keep it. (8/144)\n"
        );
        assert_eq!(en.hunks[0].lines[0].tag, "delete");
        assert_eq!(en.hunks[0].lines[1].text, "header: Stay with us (12/66)");
        let back = localization_diffs(&manifest("Stay", true), &manifest("Stay", false));
        assert_eq!(back[0].change, Change::Removed);
        assert!(localization_diffs(&manifest("Same", true), &manifest("Same", true)).is_empty());
    }
}
