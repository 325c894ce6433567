//! Turns a located YAML tree into a [`Manifest`], collecting every structural problem
//! (unknown or missing keys, wrong types, unknown enum values) with its position, and
//! recording where each value stood in [`Locations`] for the semantic checks.
//!
//! Unknown keys are reported and skipped; a value of the wrong shape drops the entry it
//! belongs to and marks the result `complete: false`, so semantic checks (which would
//! only repeat the damage) are skipped until the structure is fixed.

use std::collections::{BTreeMap, HashMap};

use super::*;
use crate::diagnostics::FileDiagnostics;
use crate::yaml::{Node, NodeKind, Span};

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
}

/// Builds a pointer from path segments, escaping `~` and `/` as JSON Pointer does.
pub fn pointer(segments: &[&str]) -> String {
    let mut out = String::new();
    for s in segments {
        out.push('/');
        out.push_str(&s.replace('~', "~0").replace('/', "~1"));
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
    let complete = cx.complete && manifest.is_some();
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

    /// A mapping with a fixed set of keys. Reports unknown keys (with the closest known
    /// one) and missing required keys; returns the known fields present.
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
                node.span,
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
        let mut missing = false;
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
                missing = true;
            }
        }
        if missing { None } else { Some(out) }
    }

    /// A mapping with free keys (image keys, locales, product ids): its entries in order.
    fn entries<'n>(&mut self, node: &'n Node, ptr: &str, what: &str) -> Vec<(String, &'n Node)> {
        let NodeKind::Mapping(entries) = &node.kind else {
            if node.is_null() {
                return vec![];
            }
            self.broken(
                node.span,
                format!("{what} must be a mapping, found {}", node.describe()),
                (),
            );
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
                node.span,
                format!("{what} must be a list, found {}", node.describe()),
                "write it as `[a, b]` or as `- a` lines",
            );
            return None;
        };
        let mut out = vec![];
        for (i, item) in items.iter().enumerate() {
            self.locs.insert(format!("{ptr}/{i}"), item.span, item.span);
            out.push(self.string(item, what)?);
        }
        Some(out)
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
        ];
        let f = self.fields(root, "", "the manifest", &known, &["apiVersion", "app"])?;
        let api_version = self.string(f["apiVersion"], "apiVersion")?;
        if api_version != API_VERSION {
            self.broken(
                f["apiVersion"].span,
                format!("unsupported apiVersion `{api_version}`"),
                format!("this retainctl reads `apiVersion: {API_VERSION}`"),
            );
            return None;
        }
        let app = self.app(f["app"]);
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
        Some(Manifest {
            api_version,
            app: app?,
            environments,
            images,
            messages,
            defaults,
        })
    }

    fn app(&mut self, node: &Node) -> Option<App> {
        let known = [
            "bundleId",
            "locales",
            "products",
            "credentials",
            "namespace",
        ];
        let f = self.fields(node, "/app", "`app`", &known, &["bundleId", "locales"])?;
        let bundle_id = self.string(f["bundleId"], "app.bundleId");
        let locales = self.string_list(f["locales"], "/app/locales", "app.locales");
        let products = match f.get("products") {
            Some(n) => Some(self.string_list(n, "/app/products", "app.products")?),
            None => None,
        };
        let credentials = match f.get("credentials") {
            Some(n) => Some(self.credentials(n)?),
            None => None,
        };
        let namespace = match f.get("namespace") {
            Some(n) => {
                let text = self.string(n, "app.namespace")?;
                match uuid::Uuid::parse_str(&text) {
                    Ok(u) => Some(u),
                    Err(_) => {
                        self.broken(
                            n.span,
                            format!("app.namespace `{text}` is not a UUID"),
                            "use a UUID such as be5f0cda-bbf4-44eb-b3cc-50a316937f20, or leave it out",
                        );
                        return None;
                    }
                }
            }
            None => None,
        };
        Some(App {
            bundle_id: bundle_id?,
            locales: locales?,
            products,
            credentials,
            namespace,
        })
    }

    fn credentials(&mut self, node: &Node) -> Option<Credentials> {
        let known = ["keyId", "issuerId", "privateKey", "privateKeyFile"];
        let f = self.fields(node, "/app/credentials", "`app.credentials`", &known, &[])?;
        let mut var = |key: &str| match f.get(key) {
            Some(n) => self.string(n, &format!("app.credentials.{key}")).map(Some),
            None => Some(None),
        };
        Some(Credentials {
            key_id: var("keyId")?,
            issuer_id: var("issuerId")?,
            private_key: var("privateKey")?,
            private_key_file: var("privateKeyFile")?,
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
                continue;
            };
            let file = self.string(f["file"], &format!("{what} file"));
            let size = self.choice(f["size"], &format!("{what} size"), &sizes);
            if let (Some(file), Some(size)) = (file, size) {
                out.insert(key, Image { file, size });
            }
        }
        out
    }

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
                continue;
            };
            let kind = match f.get("kind") {
                Some(n) => self.choice(n, &format!("{what} kind"), &kinds),
                None => Some(MessageKind::Text),
            };
            let header_position = match f.get("headerPosition") {
                Some(n) => self
                    .choice(n, &format!("{what} headerPosition"), &positions)
                    .map(Some),
                None => Some(None),
            };
            let mut localizations = BTreeMap::new();
            let loc_ptr = format!("{ptr}/localizations");
            let mut ok = true;
            for (locale, lnode) in self.entries(f["localizations"], &loc_ptr, "`localizations`") {
                match self.localization(
                    lnode,
                    &format!("{loc_ptr}/{}", escape(&locale)),
                    &key,
                    &locale,
                ) {
                    Some(l) => {
                        localizations.insert(locale, l);
                    }
                    None => ok = false,
                }
            }
            if let (Some(kind), Some(header_position), true) = (kind, header_position, ok) {
                out.insert(
                    key,
                    Message {
                        kind,
                        header_position,
                        localizations,
                    },
                );
            }
        }
        out
    }

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
        let header = self.string(f["header"], "header");
        let body = self.string(f["body"], "body");
        let image = match f.get("image") {
            Some(n) => {
                let g = self.fields(
                    n,
                    &format!("{ptr}/image"),
                    "`image`",
                    &["ref", "altText"],
                    &["ref", "altText"],
                )?;
                let image_ref = self.string(g["ref"], "image ref")?;
                let alt_text = self.string(g["altText"], "altText")?;
                Some(ImageUse {
                    image_ref,
                    alt_text,
                })
            }
            None => None,
        };
        let bullet_points = match f.get("bulletPoints") {
            Some(n) => {
                let NodeKind::Sequence(items) = &n.kind else {
                    self.broken(
                        n.span,
                        format!("bulletPoints must be a list, found {}", n.describe()),
                        "write each bullet point as `- { text: …, image: …, altText: … }`",
                    );
                    return None;
                };
                let mut out = vec![];
                for (i, item) in items.iter().enumerate() {
                    let bptr = format!("{ptr}/bulletPoints/{i}");
                    self.locs.insert(bptr.clone(), item.span, item.span);
                    let known = ["text", "image", "altText"];
                    let g = self.fields(
                        item,
                        &bptr,
                        &format!("bullet point {}", i + 1),
                        &known,
                        &known,
                    )?;
                    out.push(BulletPoint {
                        text: self.string(g["text"], "bullet point text")?,
                        image: self.string(g["image"], "bullet point image")?,
                        alt_text: self.string(g["altText"], "bullet point altText")?,
                    });
                }
                Some(out)
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
                        if let Some(message) = self.string(m, "a default's message key") {
                            by_locale.insert(locale, message);
                        }
                    }
                    DefaultTarget::PerLocale(by_locale)
                }
                _ => match self.string(value, &format!("the default of `{product}`")) {
                    Some(message) => DefaultTarget::AllLocales(message),
                    None => continue,
                },
            };
            out.insert(product, target);
        }
        out
    }
}

fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
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
