//! A YAML document as a tree of nodes that remember where they stand in the file.
//!
//! `serde_yaml` reports locations only for syntax errors, and loses duplicate keys.
//! The manifest needs `line:col` for every semantic error and must refuse duplicate
//! keys, so the file is parsed here with `yaml-rust2`'s event parser (maintained, gives
//! a marker for every event) into [`Node`]s that carry a [`Span`]. No I/O.

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// A 1-based line and column in a source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Span {
    pub line: usize,
    pub col: usize,
}

impl Span {
    fn from_marker(m: Marker) -> Self {
        // yaml-rust2 counts lines from 1 and columns from 0.
        Span {
            line: m.line(),
            col: m.col() + 1,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    /// A scalar's text; `plain` is false for quoted and block scalars, which are
    /// always strings (so `"null"` is text, `null` is not).
    Scalar {
        text: String,
        plain: bool,
    },
    Sequence(Vec<Node>),
    /// Entries in file order; duplicates are refused while parsing.
    Mapping(Vec<(Node, Node)>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub kind: NodeKind,
    pub span: Span,
}

impl Node {
    /// The text of a scalar that is not YAML's null.
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Scalar { text, plain } => {
                if *plain && matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL") {
                    None
                } else {
                    Some(text)
                }
            }
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(&self.kind, NodeKind::Scalar { plain: true, text } if matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    /// A short name of what this node is, for "expected X, found Y" messages.
    pub fn describe(&self) -> &'static str {
        match &self.kind {
            NodeKind::Scalar { .. } if self.is_null() => "nothing (null)",
            NodeKind::Scalar { .. } => "a scalar",
            NodeKind::Sequence(_) => "a list",
            NodeKind::Mapping(_) => "a mapping",
        }
    }
}

/// A YAML syntax or structure error with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct YamlError {
    pub span: Span,
    pub message: String,
    pub hint: Option<String>,
}

/// A parsed document and the problems that did not stop parsing: a duplicate key is
/// reported and its second entry left out, so the rest of the file is still checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    pub root: Option<Node>,
    pub problems: Vec<YamlError>,
}

/// Parses one YAML document. Duplicate keys, several documents and unresolved
/// aliases are errors. An empty file is an empty mapping's absence: `Ok(None)`.
pub fn parse(source: &str) -> Result<Option<Node>, Vec<YamlError>> {
    let parsed = parse_document(source)?;
    if parsed.problems.is_empty() {
        Ok(parsed.root)
    } else {
        Err(parsed.problems)
    }
}

/// Like [`parse`], but a duplicate key does not stop the document: it comes back in
/// [`Parsed::problems`] next to the tree (which keeps the first entry). Syntax errors,
/// several documents and alias bombs are still `Err`: there is no tree to check.
pub fn parse_document(source: &str) -> Result<Parsed, Vec<YamlError>> {
    // A UTF-8 byte order mark (editors on Windows add it) is not part of the text.
    let source = source.strip_prefix('\u{feff}').unwrap_or(source);
    if let Some(at) = source.find('\0') {
        return Err(vec![nul_error(source, at)]);
    }
    let mut builder = TreeBuilder::default();
    let mut parser = Parser::new_from_str(source);
    if let Err(e) = parser.load(&mut builder, true) {
        // The scanner may blame a tab on the scalar before it (a line or more earlier):
        // point at the tab itself.
        if e.info().contains("tab")
            && let Some(span) = first_tab_from(source, e.marker().index())
        {
            return Err(vec![YamlError {
                span,
                message: format!("YAML syntax error: {}", e.info()),
                hint: Some("indent with spaces: YAML does not allow tabs for indentation".into()),
            }]);
        }
        return Err(vec![YamlError {
            span: Span::from_marker(*e.marker()),
            message: format!("YAML syntax error: {}", e.info()),
            hint: Some("fix the YAML syntax at this position (indentation, quotes, colons)".into()),
        }]);
    }
    if builder.fatal {
        return Err(builder.errors);
    }
    let mut docs = builder.documents;
    if docs.len() > 1 {
        return Err(vec![YamlError {
            span: docs[1].span,
            message: "a manifest file holds exactly one YAML document".into(),
            hint: Some("put each app in a file of its own (remove the `---` separator)".into()),
        }]);
    }
    Ok(Parsed {
        root: docs.pop(),
        problems: builder.errors,
    })
}

/// The position of the first tab at or after the `from`-th character.
fn first_tab_from(source: &str, from: usize) -> Option<Span> {
    let (mut line, mut col) = (1, 1);
    for (i, c) in source.chars().enumerate() {
        if c == '\t' && i >= from {
            return Some(Span { line, col });
        }
        if c == '\n' {
            line += 1;
            col = 1;
        } else {
            col += 1;
        }
    }
    None
}

/// The YAML parser stops at a NUL as if the file ended there, which would report
/// whatever follows as missing: name the NUL itself instead.
fn nul_error(source: &str, at: usize) -> YamlError {
    let before = &source[..at];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    YamlError {
        span: Span {
            line: 1 + before.matches('\n').count(),
            col: 1 + before[line_start..].chars().count(),
        },
        message: "the file holds a NUL byte (\\0); a manifest is text".into(),
        hint: Some("remove the NUL byte (was a binary file saved under this name?)".into()),
    }
}

enum Frame {
    Sequence(Span, usize, Vec<Node>),
    Mapping(Span, usize, Vec<(Node, Node)>, Option<Node>, KeyIndex),
}

/// The hash of each scalar key's text → the first entry with that hash: finds a
/// duplicate key without comparing against every earlier key (a mapping of 2,000
/// messages would otherwise cost 2 million comparisons).
/// The hashes are keyed per parse ([`TreeBuilder::hasher`]), so a file cannot be
/// written to collide them.
type KeyIndex = std::collections::HashMap<u64, usize>;

/// More nodes than any real manifest has (2,000 messages with all their fields stay far
/// below): a guard against alias expansion bombs.
pub const MAX_NODES: usize = 2_000_000;

#[derive(Default)]
struct TreeBuilder {
    stack: Vec<Frame>,
    documents: Vec<Node>,
    /// Anchored nodes with their sizes in nodes.
    anchors: std::collections::HashMap<usize, (Node, usize)>,
    errors: Vec<YamlError>,
    /// Set by an error that leaves no usable tree (alias bomb, unknown anchor).
    fatal: bool,
    nodes: usize,
    too_large: bool,
    hasher: std::collections::hash_map::RandomState,
}

fn size(node: &Node) -> usize {
    1 + match &node.kind {
        NodeKind::Scalar { .. } => 0,
        NodeKind::Sequence(items) => items.iter().map(size).sum(),
        NodeKind::Mapping(entries) => entries.iter().map(|(k, v)| size(k) + size(v)).sum(),
    }
}

/// Mappings up to this many entries are searched for a duplicate key one by one.
const INDEX_FROM: usize = 16;

fn key_text_is(k: &Node, text: &str) -> bool {
    matches!(&k.kind, NodeKind::Scalar { text: t, .. } if t == text)
}

/// The position of the earlier entry whose key is `text`, if any; records `text` as the
/// key of the entry about to be pushed at `entries.len()` in large mappings' index.
fn earlier_key(
    entries: &[(Node, Node)],
    index: &mut KeyIndex,
    hasher: &std::collections::hash_map::RandomState,
    text: &str,
) -> Option<usize> {
    use std::hash::BuildHasher;
    if entries.len() < INDEX_FROM {
        return entries.iter().position(|(k, _)| key_text_is(k, text));
    }
    if index.is_empty() {
        for (i, (k, _)) in entries.iter().enumerate() {
            if let NodeKind::Scalar { text, .. } = &k.kind {
                index.entry(hasher.hash_one(text.as_str())).or_insert(i);
            }
        }
    }
    match index.get(&hasher.hash_one(text)) {
        None => {
            index.insert(hasher.hash_one(text), entries.len());
            None
        }
        Some(&i) if key_text_is(&entries[i].0, text) => Some(i),
        // Another text with the same hash: look the slow way.
        Some(_) => entries.iter().position(|(k, _)| key_text_is(k, text)),
    }
}

impl TreeBuilder {
    fn push_node(&mut self, node: Node, anchor: usize) {
        if anchor != 0 {
            let n = size(&node);
            self.anchors.insert(anchor, (node.clone(), n));
        }
        match self.stack.last_mut() {
            None => self.documents.push(node),
            Some(Frame::Sequence(_, _, items)) => items.push(node),
            Some(Frame::Mapping(_, _, entries, pending_key, index)) => match pending_key.take() {
                None => *pending_key = Some(node),
                Some(key) => {
                    let mut node = node;
                    // A value written as nothing (`header:`) gets the position of the
                    // next token, often on a later line: place it at its key instead.
                    if matches!(&node.kind, NodeKind::Scalar { text, plain: true } if text.is_empty())
                    {
                        node.span = key.span;
                    }
                    let earlier = match &key.kind {
                        NodeKind::Scalar { text, .. } => {
                            earlier_key(entries, index, &self.hasher, text)
                        }
                        _ => None,
                    };
                    if let (NodeKind::Scalar { text, .. }, Some(i)) = (&key.kind, earlier) {
                        let first = &entries[i].0;
                        self.errors.push(YamlError {
                            span: key.span,
                            message: format!(
                                "duplicate key `{text}` (first defined at line {})",
                                first.span.line
                            ),
                            hint: Some("remove one of the two entries or rename it".into()),
                        });
                        // Keep the first entry: the later one is reported, not read.
                        return;
                    }
                    entries.push((key, node));
                }
            },
        }
    }
}

impl MarkedEventReceiver for TreeBuilder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let span = Span::from_marker(mark);
        if self.too_large {
            return;
        }
        self.nodes += 1;
        match ev {
            Event::Scalar(text, style, anchor, _tag) => {
                let plain = matches!(style, TScalarStyle::Plain);
                self.push_node(
                    Node {
                        kind: NodeKind::Scalar { text, plain },
                        span,
                    },
                    anchor,
                );
            }
            Event::SequenceStart(anchor, _) => {
                self.stack.push(Frame::Sequence(span, anchor, vec![]))
            }
            Event::MappingStart(anchor, _) => {
                self.stack
                    .push(Frame::Mapping(span, anchor, vec![], None, KeyIndex::new()))
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, anchor) = match self.stack.pop() {
                    Some(Frame::Sequence(span, anchor, items)) => (
                        Node {
                            kind: NodeKind::Sequence(items),
                            span,
                        },
                        anchor,
                    ),
                    Some(Frame::Mapping(span, anchor, entries, _, _)) => (
                        Node {
                            kind: NodeKind::Mapping(entries),
                            span,
                        },
                        anchor,
                    ),
                    None => return,
                };
                self.push_node(node, anchor);
            }
            Event::Alias(id) => match self.anchors.get(&id) {
                Some((node, n)) => {
                    self.nodes += n;
                    if self.nodes > MAX_NODES {
                        if !self.too_large {
                            self.too_large = true;
                            self.fatal = true;
                            self.errors.push(YamlError {
                                span,
                                message: format!("the document expands to more than {MAX_NODES} nodes through aliases"),
                                hint: Some("write the content out instead of nesting aliases".into()),
                            });
                        }
                        return;
                    }
                    let mut node = node.clone();
                    node.span = span;
                    self.push_node(node, 0);
                }
                None => {
                    self.fatal = true;
                    self.errors.push(YamlError {
                        span,
                        message: "alias refers to an unknown anchor".into(),
                        hint: None,
                    })
                }
            },
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_are_one_based() {
        let node = parse("a: 1\nbb:\n  c: x\n").unwrap().unwrap();
        let NodeKind::Mapping(entries) = node.kind else {
            panic!("not a mapping")
        };
        assert_eq!(entries[0].0.span, Span { line: 1, col: 1 });
        assert_eq!(entries[1].0.span, Span { line: 2, col: 1 });
        let NodeKind::Mapping(inner) = &entries[1].1.kind else {
            panic!("not a mapping")
        };
        assert_eq!(inner[0].0.span, Span { line: 3, col: 3 });
        assert_eq!(inner[0].1.span, Span { line: 3, col: 6 });
    }

    #[test]
    fn duplicate_keys_are_refused_with_both_lines() {
        let errs = parse("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].span, Span { line: 3, col: 1 });
        assert_eq!(
            errs[0].message,
            "duplicate key `a` (first defined at line 1)"
        );
    }

    #[test]
    fn duplicate_keys_are_found_in_large_mappings() {
        let mut doc: String = (0..40).map(|i| format!("k{i}: {i}\n")).collect();
        doc.push_str("k7: again\n\"k39\": again\nk40: new\n");
        let parsed = parse_document(&doc).unwrap();
        let found: Vec<_> = parsed
            .problems
            .iter()
            .map(|e| (e.span.line, e.message.as_str()))
            .collect();
        assert_eq!(
            found,
            [
                (41, "duplicate key `k7` (first defined at line 8)"),
                (42, "duplicate key `k39` (first defined at line 40)"),
            ]
        );
        let NodeKind::Mapping(entries) = parsed.root.unwrap().kind else {
            panic!()
        };
        assert_eq!(entries.len(), 41);
        assert_eq!(entries[7].1.as_str(), Some("7"));
    }

    #[test]
    fn quoted_null_is_text() {
        let node = parse("a: 'null'\nb: null\n").unwrap().unwrap();
        let NodeKind::Mapping(entries) = node.kind else {
            panic!()
        };
        assert_eq!(entries[0].1.as_str(), Some("null"));
        assert_eq!(entries[1].1.as_str(), None);
    }

    #[test]
    fn syntax_errors_have_positions() {
        let errs = parse("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(errs[0].message.starts_with("YAML syntax error"));
        assert!(errs[0].span.line >= 2);
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut doc = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..9 {
            let prev = format!("*a{}", i - 1);
            doc.push_str(&format!("a{i}: &a{i} [{}]\n", vec![prev; 10].join(", ")));
        }
        let errs = parse(&doc).unwrap_err();
        assert!(
            errs[0].message.contains("expands to more than"),
            "{:?}",
            errs[0]
        );
    }

    #[test]
    fn a_byte_order_mark_is_not_part_of_the_first_key() {
        let node = parse("\u{feff}apiVersion: x\n").unwrap().unwrap();
        let NodeKind::Mapping(entries) = node.kind else {
            panic!()
        };
        assert_eq!(entries[0].0.as_str(), Some("apiVersion"));
        assert_eq!(entries[0].0.span, Span { line: 1, col: 1 });
    }

    #[test]
    fn a_nul_byte_is_an_error_at_its_position() {
        let errs = parse("a: 1\nbé: x\0y\n").unwrap_err();
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].span, Span { line: 2, col: 6 });
        assert_eq!(
            errs[0].message,
            "the file holds a NUL byte (\\0); a manifest is text"
        );
    }

    #[test]
    fn a_tab_is_blamed_on_its_own_line() {
        let errs = parse("a: 1\nb: x\n\tc: 2\n").unwrap_err();
        assert_eq!(errs[0].span, Span { line: 3, col: 1 }, "{errs:?}");
        let errs = parse("a:\n  b: com.example\n  c: 1\n\td: [x]\n").unwrap_err();
        assert_eq!(errs[0].span, Span { line: 4, col: 1 }, "{errs:?}");
    }

    #[test]
    fn a_value_written_as_nothing_stands_at_its_key() {
        let node = parse("a:\n  b:\n  c: 1\n").unwrap().unwrap();
        let NodeKind::Mapping(entries) = node.kind else {
            panic!()
        };
        let NodeKind::Mapping(inner) = &entries[0].1.kind else {
            panic!()
        };
        assert!(inner[0].1.is_null());
        assert_eq!(inner[0].1.span, Span { line: 2, col: 3 });
    }

    #[test]
    fn duplicate_keys_leave_a_tree_with_the_first_entry() {
        let parsed = parse_document("a: 1\nb: 2\na: 3\n").unwrap();
        assert_eq!(parsed.problems.len(), 1);
        let NodeKind::Mapping(entries) = parsed.root.unwrap().kind else {
            panic!()
        };
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].1.as_str(), Some("1"));
    }

    #[test]
    fn aliases_resolve() {
        let node = parse("a: &x {k: v}\nb: *x\n").unwrap().unwrap();
        let NodeKind::Mapping(entries) = node.kind else {
            panic!()
        };
        assert!(matches!(entries[1].1.kind, NodeKind::Mapping(_)));
    }
}
