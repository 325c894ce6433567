//! Turns a located YAML tree into a [`Manifest`], collecting every structural problem
//! (unknown or missing keys, wrong types, unknown enum values) with its position, and
//! where each value stands ([`Locations`]) for the semantic checks.
//!
//! Every structural problem is reported, not only the first: unknown keys are reported
//! and skipped; a value of the wrong shape is reported and its entry is left out of the
//! model, and its pointer is marked broken in [`Locations`]. Semantic checks then run on
//! everything that decoded and stay silent about broken parts (no follow-on errors such
//! as "image `hero` is not defined" when `hero` is there but has a bad `size`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex};

use super::*;
use crate::manifest::yaml::{Node, NodeKind, Span};
use crate::validate::diagnostics::FileDiagnostics;

/// `realtime:` and the app fields it needs (a child module, to reuse this decoder).
#[path = "realtime.rs"]
pub mod realtime;

/// Where a value, and the key that names it, stand in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Loc {
    pub key: Span,
    pub value: Span,
}

/// Positions of decoded values by pointer (`/messages/stay/localizations/en-US/header`).
///
/// Pointers up to [`SHALLOW`] segments deep (an app keeps them, for where plans point)
/// are recorded while decoding: a manifest of 2,000 messages records some 8,000, so they
/// are kept without an allocation each: their text end to end in one string, and a hash
/// table of where each one is in it. A deeper value is looked up in the document itself
/// while it is checked (for a problem, so rarely), not recorded for every value.
#[derive(Debug, Clone, Default)]
pub struct Locations<'a> {
    /// Every recorded pointer, end to end (at most 4 GiB: a pointer past that is not
    /// recorded and answers with its nearest recorded ancestor's position).
    text: String,
    /// Where each pointer is in `text`, found by the hash of its text.
    table: hashbrown::HashTable<Recorded>,
    /// foldhash, seeded per process: a manifest's author never sees a hash, so the keys
    /// cannot be chosen to collide (its README: it defeats all but interactive attacks).
    hasher: hashbrown::DefaultHashBuilder,
    /// Pointers of values that are present in the file but did not decode.
    broken: HashSet<String>,
    /// The document, while it is decoded and checked: where deeper pointers are found.
    tree: Option<Tree<'a>>,
}

/// A parsed document, to find a pointer's value in when it is asked for.
#[derive(Clone)]
struct Tree<'a> {
    root: Node<'a>,
    /// The first entry of each key, for mappings of more than [`LINEAR_KEYS`] entries
    /// (by the address of their entries), made at the first lookup in one: a lookup per
    /// problem then stays O(1) in a hostile file of many keys with a problem each.
    keys: Arc<Mutex<KeyIndexes<'a>>>,
}

/// A mapping's entries (where they start, how many) → each key's first entry.
type KeyIndexes<'a> = HashMap<(usize, usize), HashMap<&'a str, usize>>;

/// Not the document: it may hold a secret pasted where a variable's name belongs.
impl std::fmt::Debug for Tree<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tree { .. }")
    }
}

/// Mappings up to this many entries are searched one key after another.
const LINEAR_KEYS: usize = 16;

impl<'a> Tree<'a> {
    /// The position of the deepest value on `ptr` that the document holds, with how
    /// many segments deep it is. A mapping entry stands at its key and value, a list
    /// item at itself, as decoding records them below [`SHALLOW`].
    fn find(&self, ptr: &str) -> Option<(usize, Loc)> {
        let mut node = &self.root;
        let mut found = None;
        for (depth, segment) in ptr.split('/').skip(1).enumerate() {
            let segment = unescape(segment);
            let next = match &node.kind {
                NodeKind::Mapping(entries) => self.position(entries, &segment).map(|i| {
                    (
                        Loc {
                            key: entries[i].0.span,
                            value: entries[i].1.span,
                        },
                        &entries[i].1,
                    )
                }),
                NodeKind::Sequence(items) => {
                    list_index(&segment).and_then(|i| items.get(i)).map(|item| {
                        (
                            Loc {
                                key: item.span,
                                value: item.span,
                            },
                            item,
                        )
                    })
                }
                NodeKind::Scalar { .. } => None,
            };
            let Some((loc, value)) = next else { break };
            found = Some((depth + 1, loc));
            node = value;
        }
        found
    }

    /// The index of the first entry whose key is the text `key`.
    fn position(&self, entries: &'a [(Node<'a>, Node<'a>)], key: &str) -> Option<usize> {
        if entries.len() <= LINEAR_KEYS {
            return entries.iter().position(|(k, _)| k.as_str() == Some(key));
        }
        let mut indexes = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        // An alias shares its anchor's entries, and so their index.
        let at = (entries.as_ptr() as usize, entries.len());
        let index = indexes.entry(at).or_insert_with(|| {
            let mut index = HashMap::with_capacity(entries.len());
            for (i, (k, _)) in entries.iter().enumerate() {
                if let Some(text) = k.as_str() {
                    index.entry(text).or_insert(i);
                }
            }
            index
        });
        index.get(key).copied()
    }
}

/// A list index as a pointer writes it: digits, without a leading zero or a sign.
fn list_index(segment: &str) -> Option<usize> {
    let digits = !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit());
    (digits && (segment == "0" || !segment.starts_with('0')))
        .then(|| segment.parse().ok())
        .flatten()
}

/// A JSON Pointer segment's text (`~1` is `/`, `~0` is `~`).
fn unescape(segment: &str) -> std::borrow::Cow<'_, str> {
    if segment.contains('~') {
        segment.replace("~1", "/").replace("~0", "~").into()
    } else {
        segment.into()
    }
}

/// How many segments deep the pointers are that decoding records and a loaded app keeps:
/// its app, images, defaults and message localizations
/// (`/messages/{key}/localizations/{locale}`), where plans point.
pub const SHALLOW: usize = 4;

/// One recorded pointer: its text as `text[start..end]`, and where its key and value
/// stand (a manifest is at most 64 MiB, so its lines and columns fit in `u32`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Recorded {
    start: u32,
    end: u32,
    key: [u32; 2],
    value: [u32; 2],
}

impl Recorded {
    fn loc(&self) -> Loc {
        let span = |[line, col]: [u32; 2]| Span {
            line: line as usize,
            col: col as usize,
        };
        Loc {
            key: span(self.key),
            value: span(self.value),
        }
    }
}

/// The text of `r` in `text` (a [`Locations`]'s).
fn text_of<'t>(text: &'t str, r: &Recorded) -> &'t str {
    &text[r.start as usize..r.end as usize]
}

fn packed(span: Span) -> [u32; 2] {
    let n = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
    [n(span.line), n(span.col)]
}

/// Builds a pointer from path segments, escaping `~` and `/` as JSON Pointer does.
pub fn pointer(segments: &[&str]) -> String {
    let mut out = String::new();
    for s in segments {
        push_segment(&mut out, s);
    }
    out
}

/// Appends `/segment`, escaped.
fn push_segment(out: &mut String, segment: &str) {
    out.push('/');
    if segment.contains(['~', '/']) {
        for c in segment.chars() {
            match c {
                '~' => out.push_str("~0"),
                '/' => out.push_str("~1"),
                c => out.push(c),
            }
        }
    } else {
        out.push_str(segment);
    }
}

fn depth(ptr: &str) -> usize {
    ptr.bytes().filter(|b| *b == b'/').count()
}

impl<'a> Locations<'a> {
    /// Room for `n` pointers, and the document deeper pointers are found in.
    fn with_capacity(n: usize, root: Option<&Node<'a>>) -> Self {
        Locations {
            text: String::with_capacity(n * 40),
            table: hashbrown::HashTable::with_capacity(n),
            tree: root.map(|root| Tree {
                root: *root,
                keys: Default::default(),
            }),
            ..Locations::default()
        }
    }

    /// The recorded positions, kept once the document is gone: a pointer deeper than
    /// [`SHALLOW`] then answers with its nearest recorded ancestor's position.
    pub fn without_tree(self) -> Locations<'static> {
        let mut broken = self.broken;
        broken.retain(|p| depth(p) <= SHALLOW);
        broken.shrink_to_fit();
        let mut text = self.text;
        text.shrink_to_fit();
        Locations {
            text,
            table: self.table,
            hasher: self.hasher,
            broken,
            tree: None,
        }
    }

    fn pointer_of(&self, r: &Recorded) -> &str {
        text_of(&self.text, r)
    }

    fn find(&self, ptr: &str) -> Option<&Recorded> {
        let hash = self.hasher.hash_one(ptr);
        self.table.find(hash, |r| self.pointer_of(r) == ptr)
    }

    #[allow(dead_code)] // for decoders that build their own pointer
    fn insert(&mut self, ptr: String, key: Span, value: Span) {
        self.insert_str(&ptr, key, value);
    }

    /// Records `ptr` (unless it is deeper than [`SHALLOW`]: those are found in the
    /// document); a pointer recorded again takes its new place.
    fn insert_str(&mut self, ptr: &str, key: Span, value: Span) {
        if depth(ptr) > SHALLOW {
            return;
        }
        let hash = self.hasher.hash_one(ptr);
        let Locations {
            text,
            table,
            hasher,
            ..
        } = self;
        if let Some(r) = table.find_mut(hash, |r| text_of(text, r) == ptr) {
            (r.key, r.value) = (packed(key), packed(value));
            return;
        }
        let (Ok(start), Ok(end)) = (
            u32::try_from(text.len()),
            u32::try_from(text.len() + ptr.len()),
        ) else {
            return;
        };
        text.push_str(ptr);
        let recorded = Recorded {
            start,
            end,
            key: packed(key),
            value: packed(value),
        };
        table.insert_unique(hash, recorded, |r| hasher.hash_one(text_of(text, r)));
    }

    /// Records `{parent}/{segment}`, the pointer built in `scratch`.
    fn insert_child(
        &mut self,
        scratch: &mut String,
        parent: &str,
        segment: &str,
        key: Span,
        value: Span,
    ) {
        if depth(parent) >= SHALLOW {
            return;
        }
        scratch.clear();
        scratch.push_str(parent);
        push_segment(scratch, segment);
        self.insert_str(scratch, key, value);
    }

    /// The location of `ptr`, or of its nearest ancestor found.
    pub fn get(&self, ptr: &str) -> Loc {
        if let Some(tree) = &self.tree
            && depth(ptr) > SHALLOW
            && let Some((found, loc)) = tree.find(ptr)
            && found > SHALLOW
        {
            return loc;
        }
        let mut p = ptr;
        loop {
            if let Some(r) = self.find(p) {
                return r.loc();
            }
            match p.rfind('/') {
                Some(i) => p = &p[..i],
                None => {
                    return Loc {
                        key: Span { line: 1, col: 1 },
                        value: Span { line: 1, col: 1 },
                    };
                }
            }
        }
    }

    /// Whether the value at `segments` is in the file but did not decode (so checks that
    /// need it must not report it as missing).
    pub fn is_broken(&self, segments: &[&str]) -> bool {
        !self.broken.is_empty() && self.broken.contains(&pointer(segments))
    }

    /// Whether the value at `segments`, or anything inside it, did not decode.
    pub fn is_broken_within(&self, segments: &[&str]) -> bool {
        if self.broken.is_empty() {
            return false;
        }
        let ptr = pointer(segments);
        let inside = format!("{ptr}/");
        self.broken
            .iter()
            .any(|b| *b == ptr || b.starts_with(&inside))
    }

    /// Whether anything did not decode.
    pub fn any_broken(&self) -> bool {
        !self.broken.is_empty()
    }

    pub fn value(&self, segments: &[&str]) -> Span {
        self.get(&pointer(segments)).value
    }

    pub fn key(&self, segments: &[&str]) -> Span {
        self.get(&pointer(segments)).key
    }
}

/// The decoded manifest, where things are, and whether every entry decoded.
pub struct Decoded<'a> {
    pub manifest: Option<Manifest>,
    pub locations: Locations<'a>,
    pub complete: bool,
}

/// Decodes a whole document. `None` input (an empty file) is an error.
pub fn decode<'a>(root: Option<&Node<'a>>, diags: &mut FileDiagnostics) -> Decoded<'a> {
    let mut cx = Cx {
        d: diags,
        locs: Locations::with_capacity(root.map_or(0, |r| entries_within(r, SHALLOW)), root),
        complete: true,
        scratch: String::new(),
    };
    let manifest = match root {
        None => {
            cx.d.error(
                Span { line: 1, col: 1 },
                "the file is empty",
                "start it with `apiVersion: retainctl/v1` and an `app:` section",
            );
            None
        }
        Some(root) => cx.manifest(root),
    };
    let complete = cx.complete && manifest.is_some() && !cx.locs.any_broken();
    Decoded {
        manifest,
        locations: cx.locs,
        complete,
    }
}

/// How many values (mapping entries and list items) a tree holds down to `depth`
/// segments: about how many pointers its decoding records.
fn entries_within(node: &Node, depth: usize) -> usize {
    if depth == 0 {
        return 0;
    }
    match &node.kind {
        NodeKind::Scalar { .. } => 0,
        NodeKind::Sequence(items) => {
            items.len()
                + items
                    .iter()
                    .map(|item| entries_within(item, depth - 1))
                    .sum::<usize>()
        }
        NodeKind::Mapping(entries) => {
            entries.len()
                + entries
                    .iter()
                    .map(|(_, v)| entries_within(v, depth - 1))
                    .sum::<usize>()
        }
    }
}

struct Cx<'a, 't> {
    d: &'a mut FileDiagnostics,
    locs: Locations<'t>,
    complete: bool,
    /// Where pointers are built before they are recorded.
    scratch: String,
}

/// The known fields present in a mapping, by name (a handful: kept inline).
#[derive(Default)]
struct Fields<'n>(smallvec::SmallVec<[(&'static str, &'n Node<'n>); 8]>);

impl<'n> Fields<'n> {
    fn new() -> Self {
        Fields::default()
    }

    fn get(&self, name: &str) -> Option<&&'n Node<'n>> {
        self.0.iter().find(|(k, _)| *k == name).map(|(_, v)| v)
    }

    fn contains_key(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    fn insert(&mut self, name: &'static str, node: &'n Node<'n>) {
        match self.0.iter_mut().find(|(k, _)| *k == name) {
            Some(entry) => entry.1 = node,
            None => self.0.push((name, node)),
        }
    }
}

impl Cx<'_, '_> {
    fn broken(
        &mut self,
        span: Span,
        message: String,
        hint: impl Into<crate::validate::diagnostics::Hint>,
    ) {
        self.complete = false;
        self.d.error(span, message, hint);
    }

    /// Where to report a problem with `node`: its own position, or for an empty value
    /// (which YAML places at the next token, often on a later line) its key's.
    fn span_of(&self, node: &Node, ptr: &str) -> Span {
        if node.is_null() && !ptr.is_empty() {
            self.locs.get(ptr).key
        } else {
            node.span
        }
    }

    /// Marks the value at `ptr` as present but not decoded.
    fn mark(&mut self, ptr: &str) {
        self.complete = false;
        self.locs.broken.insert(ptr.to_string());
    }

    /// A mapping with a fixed set of keys. Reports unknown keys (with the closest known
    /// one) and missing required keys; returns the known fields present (`None` only
    /// when it is not a mapping), so that the fields that are there are still checked.
    fn fields<'n>(
        &mut self,
        node: &'n Node<'n>,
        ptr: &str,
        what: &str,
        known: &[&'static str],
        required: &[&'static str],
    ) -> Option<Fields<'n>> {
        self.fields_named(node, ptr, || what.to_string(), known, required)
    }

    /// [`Cx::fields`] with the mapping's name written only for a problem.
    fn fields_named<'n>(
        &mut self,
        node: &'n Node<'n>,
        ptr: &str,
        what: impl Fn() -> String,
        known: &[&'static str],
        required: &[&'static str],
    ) -> Option<Fields<'n>> {
        let NodeKind::Mapping(entries) = &node.kind else {
            let what = what();
            self.broken(
                self.span_of(node, ptr),
                format!("{what} must be a mapping, found {}", node.describe()),
                format!(
                    "write {what} as `key: value` lines, allowed keys: {}",
                    known.join(", ")
                ),
            );
            return None;
        };
        let mut out = Fields::new();
        for (k, v) in entries.iter() {
            let Some(name) = k.as_str() else {
                self.broken(k.span, format!("{} has a key that is not text", what()), ());
                continue;
            };
            match known.iter().find(|known| **known == name) {
                Some(known_name) => {
                    self.locs
                        .insert_child(&mut self.scratch, ptr, name, k.span, v.span);
                    out.insert(known_name, v);
                }
                None => {
                    let what = what();
                    let hint = match closest(name, known) {
                        Some(s) => {
                            format!("did you mean `{s}`? allowed keys: {}", known.join(", "))
                        }
                        None => format!("allowed keys: {}", known.join(", ")),
                    };
                    self.d
                        .error(k.span, format!("unknown key `{name}` in {what}"), hint);
                }
            }
        }
        for r in required {
            if !out.contains_key(r) {
                // A missing key is reported at the key that names this mapping.
                let owner = if ptr.is_empty() {
                    node.span
                } else {
                    self.locs.get(ptr).key
                };
                self.broken(
                    owner,
                    format!("{} is missing the required key `{r}`", what()),
                    format!("add `{r}:`"),
                );
            }
        }
        Some(out)
    }

    /// Whether every key in `required` is present.
    fn has_all(f: &Fields<'_>, required: &[&str]) -> bool {
        required.iter().all(|r| f.contains_key(r))
    }

    /// A mapping with free keys (image keys, locales, product ids): its entries in order.
    fn entries<'n>(
        &mut self,
        node: &'n Node<'n>,
        ptr: &str,
        what: &str,
    ) -> Vec<(String, &'n Node<'n>)> {
        let NodeKind::Mapping(entries) = &node.kind else {
            if node.is_null() {
                return vec![];
            }
            self.broken(
                self.span_of(node, ptr),
                format!("{what} must be a mapping, found {}", node.describe()),
                (),
            );
            self.mark(ptr);
            return vec![];
        };
        let mut out = Vec::with_capacity(entries.len());
        for (k, v) in entries.iter() {
            match k.as_str() {
                Some(name) if !name.trim().is_empty() => {
                    self.locs
                        .insert_child(&mut self.scratch, ptr, name, k.span, v.span);
                    out.push((name.to_string(), v));
                }
                _ => self.broken(k.span, format!("{what} has an empty or non-text key"), ()),
            }
        }
        out
    }

    fn string(&mut self, node: &Node, what: &str) -> Option<String> {
        match (&node.kind, node.as_str()) {
            (NodeKind::Scalar { .. }, Some(s)) => Some(s.to_string()),
            _ => {
                self.broken(
                    node.span,
                    format!("{what} must be text, found {}", node.describe()),
                    "quote the value if it should be text",
                );
                None
            }
        }
    }

    fn string_list(&mut self, node: &Node, ptr: &str, what: &str) -> Option<Vec<String>> {
        let NodeKind::Sequence(items) = &node.kind else {
            self.broken(
                self.span_of(node, ptr),
                format!("{what} must be a list, found {}", node.describe()),
                "write it as `[a, b]` or as `- a` lines",
            );
            return None;
        };
        let mut out = vec![];
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            self.locs
                .insert_child(&mut self.scratch, ptr, &i.to_string(), item.span, item.span);
            match self.string(item, what) {
                Some(s) => out.push(s),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn choice<T: Copy>(
        &mut self,
        node: &Node,
        what: &str,
        options: &[(&'static str, T)],
    ) -> Option<T> {
        let text = self.string(node, what)?;
        if let Some((_, v)) = options.iter().find(|(name, _)| *name == text) {
            return Some(*v);
        }
        let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
        let hint = match closest(&text, &names) {
            Some(s) => format!("did you mean `{s}`? one of: {}", names.join(", ")),
            None => format!("one of: {}", names.join(", ")),
        };
        self.broken(node.span, format!("{what} `{text}` is not valid"), hint);
        None
    }

    fn manifest(&mut self, root: &Node) -> Option<Manifest> {
        let known = [
            "apiVersion",
            "app",
            "environments",
            "images",
            "messages",
            "defaults",
            "realtime",
        ];
        let f = self.fields(root, "", "the manifest", &known, &["apiVersion", "app"])?;
        // Another apiVersion is another format: its keys mean other things, so stop here.
        let api_version = match f.get("apiVersion") {
            Some(n) => {
                let v = self.string(n, "apiVersion")?;
                if v != API_VERSION {
                    self.broken(
                        n.span,
                        format!("unsupported apiVersion `{v}`"),
                        format!("this retainctl reads `apiVersion: {API_VERSION}`"),
                    );
                    return None;
                }
                v
            }
            None => API_VERSION.to_string(),
        };
        let app = match f.get("app") {
            Some(n) => self.app(n),
            None => None,
        };
        let app = app.unwrap_or_else(|| {
            self.mark("/app");
            App {
                bundle_id: String::new(),
                locales: vec![],
                products: None,
                credentials: None,
                namespace: None,
                app_apple_id: None,
                offer_signing: None,
            }
        });
        let environments = f
            .get("environments")
            .map(|n| self.environments(n))
            .unwrap_or_default();
        let images = f.get("images").map(|n| self.images(n)).unwrap_or_default();
        let messages = f
            .get("messages")
            .map(|n| self.messages(n))
            .unwrap_or_default();
        let defaults = f
            .get("defaults")
            .map(|n| self.defaults(n))
            .unwrap_or_default();
        let realtime = f
            .get("realtime")
            .map(|n| self.realtime(n))
            .unwrap_or_default();
        Some(Manifest {
            api_version,
            app,
            environments,
            images,
            messages,
            defaults,
            realtime,
        })
    }

    /// `app`, with every field that decoded; a field that did not is marked broken.
    fn app(&mut self, node: &Node) -> Option<App> {
        let known = [
            "bundleId",
            "locales",
            "products",
            "credentials",
            "namespace",
            "appAppleId",
            "offerSigning",
        ];
        let f = self.fields(node, "/app", "`app`", &known, &["bundleId", "locales"])?;
        let bundle_id = match f.get("bundleId") {
            Some(n) => self.string(n, "app.bundleId"),
            None => None,
        };
        let bundle_id = bundle_id.unwrap_or_else(|| {
            self.mark("/app/bundleId");
            String::new()
        });
        let locales = match f.get("locales") {
            Some(n) => self.string_list(n, "/app/locales", "app.locales"),
            None => None,
        };
        let locales = locales.unwrap_or_else(|| {
            self.mark("/app/locales");
            vec![]
        });
        let products = match f.get("products") {
            Some(n) => {
                let list = self.string_list(n, "/app/products", "app.products");
                if list.is_none() {
                    self.mark("/app/products");
                }
                list
            }
            None => None,
        };
        let credentials = match f.get("credentials") {
            Some(n) => {
                let c = self.credential_names(n, "/app/credentials", "app.credentials", None);
                if c.is_none() {
                    self.mark("/app/credentials");
                }
                c
            }
            None => None,
        };
        let namespace = match f.get("namespace") {
            Some(n) => match self.string(n, "app.namespace") {
                Some(text) => match uuid::Uuid::parse_str(&text) {
                    Ok(u) => Some(u),
                    Err(_) => {
                        self.broken(
                            n.span,
                            format!("app.namespace `{text}` is not a UUID"),
                            "use a UUID such as be5f0cda-bbf4-44eb-b3cc-50a316937f20, or leave it out",
                        );
                        self.mark("/app/namespace");
                        None
                    }
                },
                None => {
                    self.mark("/app/namespace");
                    None
                }
            },
            None => None,
        };
        let realtime = self.app_realtime(&f);
        Some(App {
            bundle_id,
            locales,
            products,
            credentials,
            namespace,
            app_apple_id: realtime.app_apple_id,
            offer_signing: realtime.offer_signing,
        })
    }

    fn environments(&mut self, node: &Node) -> BTreeMap<EnvironmentName, EnvironmentSettings> {
        let mut out = BTreeMap::new();
        let names: Vec<(&'static str, EnvironmentName)> = EnvironmentName::ALL
            .iter()
            .map(|e| (e.as_str(), *e))
            .collect();
        for (name, value) in self.entries(node, "/environments", "`environments`") {
            let Some(env) = names.iter().find(|(n, _)| *n == name).map(|(_, e)| *e) else {
                let hint = match closest(&name, &["sandbox", "production", "local"]) {
                    Some(s) => format!("did you mean `{s}`? one of: sandbox, production, local"),
                    None => "one of: sandbox, production, local".to_string(),
                };
                self.d.error(
                    self.locs.key(&["environments", &name]),
                    format!("unknown environment `{name}`"),
                    hint,
                );
                continue;
            };
            let ptr = pointer(&["environments", &name]);
            if value.is_null() {
                out.insert(env, EnvironmentSettings::default());
                continue;
            }
            let Some(f) = self.fields(
                value,
                &ptr,
                &format!("`environments.{name}`"),
                &["realtimeUrl", "performanceTest"],
                &[],
            ) else {
                continue;
            };
            let realtime_url = match f.get("realtimeUrl") {
                Some(n) => match self.string(n, "realtimeUrl") {
                    Some(s) => Some(s),
                    None => continue,
                },
                None => None,
            };
            let performance_test = match f.get("performanceTest") {
                Some(n) => match self.performance_test(n, &name) {
                    Some(p) => Some(p),
                    None => continue,
                },
                None => None,
            };
            out.insert(
                env,
                EnvironmentSettings {
                    realtime_url,
                    performance_test,
                },
            );
        }
        out
    }

    /// `environments.NAME.performanceTest`: `originalTransactionId` (checked in validate).
    fn performance_test(&mut self, node: &Node, env: &str) -> Option<PerformanceTestSettings> {
        let f = self.fields(
            node,
            &pointer(&["environments", env, "performanceTest"]),
            &format!("`environments.{env}.performanceTest`"),
            &["originalTransactionId"],
            &["originalTransactionId"],
        )?;
        let original_transaction_id =
            self.string(f.get("originalTransactionId")?, "originalTransactionId")?;
        Some(PerformanceTestSettings {
            original_transaction_id,
        })
    }

    fn images(&mut self, node: &Node) -> BTreeMap<String, Image> {
        let sizes: Vec<(&'static str, ImageSize)> =
            ImageSize::ALL.iter().map(|s| (s.as_str(), *s)).collect();
        let mut out = BTreeMap::new();
        for (key, value) in self.entries(node, "/images", "`images`") {
            let ptr = pointer(&["images", &key]);
            let what = format!("image `{key}`");
            let Some(f) = self.fields(value, &ptr, &what, &["file", "size"], &["file", "size"])
            else {
                self.mark(&ptr);
                continue;
            };
            let file = f
                .get("file")
                .and_then(|n| self.string(n, &format!("{what} file")));
            let size = f
                .get("size")
                .and_then(|n| self.choice(n, &format!("{what} size"), &sizes));
            match (file, size) {
                (Some(file), Some(size)) => {
                    out.insert(key, Image { file, size });
                }
                _ => self.mark(&ptr),
            }
        }
        out
    }

    /// Messages with every localization that decoded. A message whose `kind` did not
    /// decode is kept as `text` with its kind marked broken, so its localizations are
    /// still checked but nothing is said about what its kind allows.
    fn messages(&mut self, node: &Node) -> BTreeMap<String, Message> {
        let kinds: Vec<(&'static str, MessageKind)> =
            MessageKind::ALL.iter().map(|k| (k.as_str(), *k)).collect();
        let positions: Vec<(&'static str, HeaderPosition)> = HeaderPosition::ALL
            .iter()
            .map(|p| (p.as_str(), *p))
            .collect();
        let mut out = BTreeMap::new();
        for (key, value) in self.entries(node, "/messages", "`messages`") {
            let ptr = pointer(&["messages", &key]);
            let what = || format!("message `{key}`");
            let known = ["kind", "headerPosition", "localizations"];
            let Some(f) = self.fields_named(value, &ptr, what, &known, &["localizations"]) else {
                self.mark(&ptr);
                continue;
            };
            let kind = match f.get("kind") {
                Some(n) => match self.choice(n, &format!("{} kind", what()), &kinds) {
                    Some(k) => k,
                    None => {
                        self.mark(&format!("{ptr}/kind"));
                        MessageKind::Text
                    }
                },
                None => MessageKind::Text,
            };
            let header_position = match f.get("headerPosition") {
                Some(n) => {
                    let p = self.choice(n, &format!("{} headerPosition", what()), &positions);
                    if p.is_none() {
                        self.mark(&format!("{ptr}/headerPosition"));
                    }
                    p
                }
                None => None,
            };
            let mut localizations = litemap::LiteMap::new();
            let mut loc_ptr = ptr;
            loc_ptr.push_str("/localizations");
            let mut lptr = String::with_capacity(loc_ptr.len() + 16);
            match f.get("localizations") {
                Some(n) => {
                    let entries = self.entries(n, &loc_ptr, "`localizations`");
                    localizations = litemap::LiteMap::with_capacity(entries.len());
                    for (locale, lnode) in entries {
                        lptr.clear();
                        lptr.push_str(&loc_ptr);
                        push_segment(&mut lptr, &locale);
                        match self.localization(lnode, &lptr, &key, &locale) {
                            Some(l) => {
                                localizations.insert(locale, l);
                            }
                            None => self.mark(&lptr),
                        }
                    }
                }
                None => self.mark(&loc_ptr),
            }
            out.insert(
                key,
                Message {
                    kind,
                    header_position,
                    localizations,
                },
            );
        }
        out
    }

    /// One localization, or `None` when its header or body did not decode. A broken
    /// `image` or bullet point is left out and marked broken.
    fn localization(
        &mut self,
        node: &Node,
        ptr: &str,
        key: &str,
        locale: &str,
    ) -> Option<Localization> {
        let what = || format!("localization `{locale}` of message `{key}`");
        let known = ["header", "body", "image", "bulletPoints"];
        let f = self.fields_named(node, ptr, what, &known, &["header", "body"])?;
        let header = f.get("header").and_then(|n| self.string(n, "header"));
        let body = f.get("body").and_then(|n| self.string(n, "body"));
        let image = match f.get("image") {
            Some(n) => {
                let iptr = format!("{ptr}/image");
                let required = ["ref", "altText"];
                let image = self
                    .fields(n, &iptr, "`image`", &required, &required)
                    .and_then(|g| {
                        let image_ref = g.get("ref").and_then(|n| self.string(n, "image ref"));
                        let alt_text = g.get("altText").and_then(|n| self.string(n, "altText"));
                        Some(ImageUse {
                            image_ref: image_ref?,
                            alt_text: alt_text?,
                        })
                    });
                if image.is_none() {
                    self.mark(&iptr);
                }
                image
            }
            None => None,
        };
        let bullet_points = match f.get("bulletPoints") {
            Some(n) => {
                let bptr = format!("{ptr}/bulletPoints");
                match &n.kind {
                    NodeKind::Sequence(items) => {
                        let mut out = vec![];
                        for (i, item) in items.iter().enumerate() {
                            let iptr = format!("{bptr}/{i}");
                            self.locs.insert_str(&iptr, item.span, item.span);
                            match self.bullet_point(item, &iptr, i) {
                                Some(b) => out.push(b),
                                None => self.mark(&iptr),
                            }
                        }
                        Some(out)
                    }
                    _ => {
                        self.broken(
                            n.span,
                            format!("bulletPoints must be a list, found {}", n.describe()),
                            "write each bullet point as `- { text: …, image: …, altText: … }`",
                        );
                        self.mark(&bptr);
                        None
                    }
                }
            }
            None => None,
        };
        Some(Localization {
            header: header?,
            body: body?,
            image,
            bullet_points,
        })
    }

    fn bullet_point(&mut self, item: &Node, ptr: &str, i: usize) -> Option<BulletPoint> {
        let known = ["text", "image", "altText"];
        let g = self.fields_named(
            item,
            ptr,
            || format!("bullet point {}", i + 1),
            &known,
            &known,
        )?;
        let text = g
            .get("text")
            .and_then(|n| self.string(n, "bullet point text"));
        let image = g
            .get("image")
            .and_then(|n| self.string(n, "bullet point image"));
        let alt_text = g
            .get("altText")
            .and_then(|n| self.string(n, "bullet point altText"));
        if !Self::has_all(&g, &known) {
            return None;
        }
        Some(BulletPoint {
            text: text?,
            image: image?,
            alt_text: alt_text?,
        })
    }

    fn defaults(&mut self, node: &Node) -> BTreeMap<String, DefaultTarget> {
        let mut out = BTreeMap::new();
        for (product, value) in self.entries(node, "/defaults", "`defaults`") {
            let ptr = pointer(&["defaults", &product]);
            let target = match &value.kind {
                NodeKind::Mapping(_) => {
                    let mut by_locale = BTreeMap::new();
                    for (locale, m) in
                        self.entries(value, &ptr, &format!("defaults of `{product}`"))
                    {
                        match self.string(m, "a default's message key") {
                            Some(message) => {
                                by_locale.insert(locale, message);
                            }
                            None => self.mark(&pointer(&["defaults", &product, &locale])),
                        }
                    }
                    DefaultTarget::PerLocale(by_locale)
                }
                _ => match self.string(value, &format!("the default of `{product}`")) {
                    Some(message) => DefaultTarget::AllLocales(message),
                    None => {
                        self.mark(&ptr);
                        continue;
                    }
                },
            };
            out.insert(product, target);
        }
        out
    }
}

/// The known name closest to a misspelt one, if it is close enough to be a typo.
pub fn closest<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| {
            (
                strsim::levenshtein(&name.to_lowercase(), &k.to_lowercase()),
                *k,
            )
        })
        .filter(|(d, k)| *d <= 2.max(k.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pointer_recorded_again_takes_its_new_place() {
        let at = |line| Span { line, col: 1 };
        let mut locs = Locations::default();
        for i in 0..100 {
            locs.insert(pointer(&["messages", &format!("m{i}")]), at(i), at(i));
        }
        locs.insert(pointer(&["messages", "m7"]), at(700), at(701));
        assert_eq!(locs.table.len(), 100);
        assert_eq!(locs.key(&["messages", "m7"]), at(700));
        assert_eq!(locs.value(&["messages", "m7", "kind"]), at(701));
        assert_eq!(locs.key(&["messages", "m99"]), at(99));
        assert_eq!(locs.key(&["nothing"]), at(1));
    }

    /// Pointers past SHALLOW are not recorded but found in the document while it is
    /// checked (in a mapping of many keys through its index), and answer with their
    /// nearest kept ancestor once the document is gone.
    #[test]
    fn deep_positions_are_found_in_the_document_then_answer_with_an_ancestor() {
        let mut yaml = String::from("apiVersion: retainctl/v1\nmessages:\n");
        for i in 0..40 {
            yaml.push_str(&format!(
                "  m{i}:\n    localizations:\n      a/b: {{ header: h{i}, body: b }}\n"
            ));
        }
        yaml.push_str("  last:\n    localizations:\n      en-US:\n        bulletPoints:\n          - { text: t }\n          - { text: u }\n");
        let arena = Box::leak(Box::new(bumpalo::Bump::new()));
        let root = crate::manifest::yaml::parse(arena, &yaml).unwrap().unwrap();
        let mut d = FileDiagnostics::new(std::path::Path::new("m.yaml"));
        let locs = decode(Some(&root), &mut d).locations;
        let at = |line, col| Span { line, col };
        assert!(
            locs.table
                .iter()
                .all(|r| depth(locs.pointer_of(r)) <= SHALLOW)
        );
        let header = ["messages", "m37", "localizations", "a/b", "header"];
        assert_eq!(locs.key(&header), at(116, 14));
        assert_eq!(locs.value(&header), at(116, 22));
        let in_bullets = |rest: &[&'static str]| {
            let list = ["messages", "last", "localizations", "en-US", "bulletPoints"];
            [&list[..], rest].concat()
        };
        assert_eq!(locs.key(&in_bullets(&["1", "text"])), at(128, 15));
        // Not in the file: its deepest part that is.
        assert_eq!(locs.key(&in_bullets(&["7"])), at(126, 9));
        // A pointer writes a list index as plain digits: `+1` and `01` are not item 1.
        for odd in ["+1", "01"] {
            assert_eq!(locs.key(&in_bullets(&[odd, "text"])), at(126, 9));
        }
        let kept = locs.without_tree();
        assert_eq!(kept.key(&header), at(116, 7));
        assert_eq!(kept.key(&["messages", "m37"]), at(114, 3));
    }
}
