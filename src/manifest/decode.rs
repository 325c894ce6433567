//! Turns a located YAML tree into a [`Manifest`], collecting every structural problem
//! (unknown or missing keys, wrong types, unknown enum values) with its position, and
//! recording where each value stood in [`Locations`] for the semantic checks.
//!
//! Every structural problem is reported, not only the first: unknown keys are reported
//! and skipped; a value of the wrong shape is reported and its entry is left out of the
//! model, and its pointer is marked broken in [`Locations`]. Semantic checks then run on
//! everything that decoded and stay silent about broken parts (no follow-on errors such
//! as "image `hero` is not defined" when `hero` is there but has a bad `size`).

use std::collections::{BTreeMap, HashMap, HashSet};

use super::*;
use crate::diagnostics::FileDiagnostics;
use crate::yaml::{Node, NodeKind, Span};

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
#[derive(Debug, Clone, Default)]
pub struct Locations {
    map: HashMap<String, Loc>,
    /// Pointers of values that are present in the file but did not decode.
    broken: HashSet<String>,
}

/// Builds a pointer from path segments, escaping `~` and `/` as JSON Pointer does.
pub fn pointer(segments: &[&str]) -> String {
    let mut out = String::new();
    for s in segments {
        out.push('/');
        out.push_str(&escape(s));
    }
    out
}

impl Locations {
    fn insert(&mut self, ptr: String, key: Span, value: Span) {
        self.map.insert(ptr, Loc { key, value });
    }

    /// The location of `ptr`, or of its nearest recorded ancestor.
    pub fn get(&self, ptr: &str) -> Loc {
        let mut p = ptr;
        loop {
            if let Some(loc) = self.map.get(p) {
                return *loc;
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
        self.broken.contains(&pointer(segments))
    }

    /// Whether the value at `segments`, or anything inside it, did not decode.
    pub fn is_broken_within(&self, segments: &[&str]) -> bool {
        let ptr = pointer(segments);
        let inside = format!("{ptr}/");
        self.broken
            .iter()
            .any(|b| *b == ptr || b.starts_with(&inside))
    }

    /// Forgets the positions of pointers deeper than `segments` (an app keeps them while
    /// it is checked, then holds thousands of them while it is planned): a dropped
    /// pointer then answers with its nearest kept ancestor's position, as `get` does.
    pub fn keep_depth(&mut self, segments: usize) {
        let deep = |p: &str| p.bytes().filter(|b| *b == b'/').count() > segments;
        self.map.retain(|p, _| !deep(p));
        self.map.shrink_to_fit();
        self.broken.retain(|p| !deep(p));
        self.broken.shrink_to_fit();
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
pub struct Decoded {
    pub manifest: Option<Manifest>,
    pub locations: Locations,
    pub complete: bool,
}

/// Decodes a whole document. `None` input (an empty file) is an error.
pub fn decode(root: Option<&Node>, diags: &mut FileDiagnostics) -> Decoded {
    let mut cx = Cx {
        d: diags,
        locs: Locations::default(),
        complete: true,
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

struct Cx<'a> {
    d: &'a mut FileDiagnostics,
    locs: Locations,
    complete: bool,
}

type Fields<'n> = BTreeMap<&'static str, &'n Node>;

impl Cx<'_> {
    fn broken(&mut self, span: Span, message: String, hint: impl Into<crate::diagnostics::Hint>) {
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
        node: &'n Node,
        ptr: &str,
        what: &str,
        known: &[&'static str],
        required: &[&'static str],
    ) -> Option<Fields<'n>> {
        let NodeKind::Mapping(entries) = &node.kind else {
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
        for (k, v) in entries {
            let Some(name) = k.as_str() else {
                self.broken(k.span, format!("{what} has a key that is not text"), ());
                continue;
            };
            match known.iter().find(|known| **known == name) {
                Some(known_name) => {
                    self.locs
                        .insert(format!("{ptr}/{}", escape(name)), k.span, v.span);
                    out.insert(*known_name, v);
                }
                None => {
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
        // A missing key is reported at the key that names this mapping.
        let owner = if ptr.is_empty() {
            node.span
        } else {
            self.locs.get(ptr).key
        };
        for r in required {
            if !out.contains_key(r) {
                self.broken(
                    owner,
                    format!("{what} is missing the required key `{r}`"),
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
    fn entries<'n>(&mut self, node: &'n Node, ptr: &str, what: &str) -> Vec<(String, &'n Node)> {
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
        let mut out = vec![];
        for (k, v) in entries {
            match k.as_str() {
                Some(name) if !name.trim().is_empty() => {
                    self.locs
                        .insert(format!("{ptr}/{}", escape(name)), k.span, v.span);
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
            self.locs.insert(format!("{ptr}/{i}"), item.span, item.span);
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
                let c = self.credentials(n);
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

    fn credentials(&mut self, node: &Node) -> Option<Credentials> {
        let known = ["keyId", "issuerId", "privateKey", "privateKeyFile"];
        let f = self.fields(node, "/app/credentials", "`app.credentials`", &known, &[])?;
        let mut ok = true;
        let mut var = |key: &str| match f.get(key) {
            Some(n) => {
                let v = self.env_var_name(n, &format!("app.credentials.{key}"));
                ok &= v.is_some();
                v
            }
            None => None,
        };
        let c = Credentials {
            key_id: var("keyId"),
            issuer_id: var("issuerId"),
            private_key: var("privateKey"),
            private_key_file: var("privateKeyFile"),
        };
        ok.then_some(c)
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
            let what = format!("message `{key}`");
            let known = ["kind", "headerPosition", "localizations"];
            let Some(f) = self.fields(value, &ptr, &what, &known, &["localizations"]) else {
                self.mark(&ptr);
                continue;
            };
            let kind = match f.get("kind") {
                Some(n) => match self.choice(n, &format!("{what} kind"), &kinds) {
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
                    let p = self.choice(n, &format!("{what} headerPosition"), &positions);
                    if p.is_none() {
                        self.mark(&format!("{ptr}/headerPosition"));
                    }
                    p
                }
                None => None,
            };
            let mut localizations = BTreeMap::new();
            let loc_ptr = format!("{ptr}/localizations");
            match f.get("localizations") {
                Some(n) => {
                    for (locale, lnode) in self.entries(n, &loc_ptr, "`localizations`") {
                        let lptr = format!("{loc_ptr}/{}", escape(&locale));
                        match self.localization(lnode, &lptr, &key, &locale) {
                            Some(l) => {
                                localizations.insert(locale, Box::new(l));
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
        let what = format!("localization `{locale}` of message `{key}`");
        let known = ["header", "body", "image", "bulletPoints"];
        let f = self.fields(node, ptr, &what, &known, &["header", "body"])?;
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
                            self.locs.insert(iptr.clone(), item.span, item.span);
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
        let g = self.fields(
            item,
            ptr,
            &format!("bullet point {}", i + 1),
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
                            None => self.mark(&format!("{ptr}/{}", escape(&locale))),
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

fn escape(segment: &str) -> std::borrow::Cow<'_, str> {
    if segment.contains(['~', '/']) {
        segment.replace('~', "~0").replace('/', "~1").into()
    } else {
        segment.into()
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
    fn keep_depth_keeps_shallow_positions_and_answers_deeper_ones_with_an_ancestor() {
        let at = |line| Span { line, col: 1 };
        let mut locs = Locations::default();
        locs.insert(pointer(&["messages", "m"]), at(1), at(2));
        locs.insert(pointer(&["messages", "m", "localizations"]), at(3), at(4));
        locs.insert(
            pointer(&["messages", "m", "localizations", "a/b"]),
            at(5),
            at(6),
        );
        locs.insert(
            pointer(&["messages", "m", "localizations", "a/b", "header"]),
            at(7),
            at(8),
        );
        locs.keep_depth(4);
        assert_eq!(locs.map.len(), 3);
        assert_eq!(locs.key(&["messages", "m", "localizations", "a/b"]), at(5));
        assert_eq!(
            locs.key(&["messages", "m", "localizations", "a/b", "header"]),
            at(5)
        );
        assert_eq!(locs.key(&["messages", "m"]), at(1));
    }
}
