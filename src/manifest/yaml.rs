//! A YAML document as a tree of nodes that remember where they stand in the file.
//!
//! `serde_yaml` reports locations only for syntax errors, and loses duplicate keys.
//! The manifest needs `line:col` for every semantic error and must refuse duplicate
//! keys, so the file is parsed here with an event parser that gives a position for every
//! event, into [`Node`]s that carry a [`Span`]. No I/O.
//!
//! Two parsers of one lineage: `saphyr-parser` reads a `&str` directly (about twice as
//! fast as `yaml-rust2`, which reads it one `char` at a time through a queue) and parses
//! every file first; a file it refuses is parsed again with `yaml-rust2`, whose syntax
//! errors (wording and position) are the ones retainctl has always reported. A block
//! mapping's position is the one `yaml-rust2` gives: its first `:`.

use bumpalo::Bump;
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

/// What a node is. Its text and children live in the arena the document was parsed
/// into ([`parse_document`]): a 2,000-message file is some 100,000 nodes, freed at once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NodeKind<'a> {
    /// A scalar's text; `plain` is false for quoted and block scalars, which are
    /// always strings (so `"null"` is text, `null` is not).
    Scalar {
        text: &'a str,
        plain: bool,
    },
    Sequence(&'a [Node<'a>]),
    /// Entries in file order; duplicates are refused while parsing.
    Mapping(&'a [(Node<'a>, Node<'a>)]),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Node<'a> {
    pub kind: NodeKind<'a>,
    pub span: Span,
}

impl<'a> Node<'a> {
    /// The text of a scalar that is not YAML's null.
    pub fn as_str(&self) -> Option<&'a str> {
        match self.kind {
            NodeKind::Scalar { text, plain } => {
                if plain && matches!(text, "" | "~" | "null" | "Null" | "NULL") {
                    None
                } else {
                    Some(text)
                }
            }
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.kind, NodeKind::Scalar { plain: true, text } if matches!(text, "" | "~" | "null" | "Null" | "NULL"))
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
pub struct Parsed<'a> {
    pub root: Option<Node<'a>>,
    pub problems: Vec<YamlError>,
}

/// Parses one YAML document. Duplicate keys, several documents and unresolved
/// aliases are errors. An empty file is an empty mapping's absence: `Ok(None)`.
pub fn parse<'a>(arena: &'a Bump, source: &str) -> Result<Option<Node<'a>>, Vec<YamlError>> {
    let parsed = parse_document(arena, source)?;
    if parsed.problems.is_empty() {
        Ok(parsed.root)
    } else {
        Err(parsed.problems)
    }
}

/// Like [`parse`], but a duplicate key does not stop the document: it comes back in
/// [`Parsed::problems`] next to the tree (which keeps the first entry). Syntax errors,
/// several documents and alias bombs are still `Err`: there is no tree to check.
pub fn parse_document<'a>(arena: &'a Bump, source: &str) -> Result<Parsed<'a>, Vec<YamlError>> {
    // A UTF-8 byte order mark (editors on Windows add it) is not part of the text.
    let source = source.strip_prefix('\u{feff}').unwrap_or(source);
    if let Some(at) = source.find('\0') {
        return Err(vec![nul_error(source, at)]);
    }
    let mut fast = Fast {
        builder: TreeBuilder::new(arena),
        source,
        ascii: source.is_ascii(),
        cursor: (0, 0),
        flow: vec![],
    };
    let builder = match saphyr_parser::Parser::new_from_str(source).load(&mut fast, true) {
        Ok(()) => fast.builder,
        Err(_) => return parse_slowly(arena, source),
    };
    finish(builder)
}

/// [`parse_document`] with `yaml-rust2`, for a file `saphyr-parser` refused.
fn parse_slowly<'a>(arena: &'a Bump, source: &str) -> Result<Parsed<'a>, Vec<YamlError>> {
    let mut builder = TreeBuilder::new(arena);
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
    finish(builder)
}

/// The document a builder holds, or why there is none.
fn finish(builder: TreeBuilder<'_>) -> Result<Parsed<'_>, Vec<YamlError>> {
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

enum Frame<'a> {
    /// Its items are `TreeBuilder::items[start..]`.
    Sequence {
        span: Span,
        anchor: usize,
        start: usize,
    },
    /// Its entries are `TreeBuilder::entries[start..]`. `awaiting_colon` is true while a
    /// block mapping's position is still to be moved to its first `:` (see [`Fast`]).
    Mapping {
        span: Span,
        anchor: usize,
        start: usize,
        pending_key: Option<Node<'a>>,
        index: KeyIndex,
        awaiting_colon: bool,
    },
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

struct TreeBuilder<'a> {
    arena: &'a Bump,
    stack: Vec<Frame<'a>>,
    /// The items and entries of every open collection, innermost last: a collection is
    /// copied into the arena once, when it closes, instead of growing there.
    items: Vec<Node<'a>>,
    entries: Vec<(Node<'a>, Node<'a>)>,
    documents: Vec<Node<'a>>,
    /// Anchored nodes with their sizes in nodes.
    anchors: std::collections::HashMap<usize, (Node<'a>, usize)>,
    errors: Vec<YamlError>,
    /// Set by an error that leaves no usable tree (alias bomb, unknown anchor).
    fatal: bool,
    nodes: usize,
    too_large: bool,
    hasher: std::collections::hash_map::RandomState,
}

fn size(node: &Node<'_>) -> usize {
    1 + match &node.kind {
        NodeKind::Scalar { .. } => 0,
        NodeKind::Sequence(items) => items.iter().map(size).sum(),
        NodeKind::Mapping(entries) => entries.iter().map(|(k, v)| size(k) + size(v)).sum(),
    }
}

/// Mappings up to this many entries are searched for a duplicate key one by one.
const INDEX_FROM: usize = 16;

fn key_text_is(k: &Node<'_>, text: &str) -> bool {
    matches!(k.kind, NodeKind::Scalar { text: t, .. } if t == text)
}

/// The position of the earlier entry whose key is `text`, if any; records `text` as the
/// key of the entry about to be pushed at `entries.len()` in large mappings' index.
fn earlier_key(
    entries: &[(Node<'_>, Node<'_>)],
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
            if let NodeKind::Scalar { text, .. } = k.kind {
                index.entry(hasher.hash_one(text)).or_insert(i);
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

impl<'a> TreeBuilder<'a> {
    fn new(arena: &'a Bump) -> Self {
        TreeBuilder {
            arena,
            stack: vec![],
            items: vec![],
            entries: vec![],
            documents: vec![],
            anchors: Default::default(),
            errors: vec![],
            fatal: false,
            nodes: 0,
            too_large: false,
            hasher: Default::default(),
        }
    }

    fn push_node(&mut self, node: Node<'a>, anchor: usize) {
        if anchor != 0 {
            let n = size(&node);
            self.anchors.insert(anchor, (node, n));
        }
        match self.stack.last_mut() {
            None => self.documents.push(node),
            Some(Frame::Sequence { .. }) => self.items.push(node),
            Some(Frame::Mapping {
                start,
                pending_key,
                index,
                ..
            }) => {
                let entries = &mut self.entries;
                match pending_key.take() {
                    None => *pending_key = Some(node),
                    Some(key) => {
                        let mut node = node;
                        // A value written as nothing (`header:`) gets the position of the
                        // next token, often on a later line: place it at its key instead.
                        if matches!(node.kind, NodeKind::Scalar { text, plain: true } if text.is_empty())
                        {
                            node.span = key.span;
                        }
                        let earlier = match key.kind {
                            NodeKind::Scalar { text, .. } => {
                                earlier_key(&entries[*start..], index, &self.hasher, text)
                            }
                            _ => None,
                        };
                        if let (NodeKind::Scalar { text, .. }, Some(i)) = (key.kind, earlier) {
                            let first = &entries[*start + i].0;
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
                }
            }
        }
    }
}

/// The children of a closing collection, `scratch[start..]`, moved into the arena.
fn close<'a, T: Copy>(arena: &'a Bump, scratch: &mut Vec<T>, start: usize) -> &'a [T] {
    let children = arena.alloc_slice_copy(&scratch[start..]);
    scratch.truncate(start);
    children
}

/// A parser event as the [`TreeBuilder`] takes it, from either parser; a scalar's text
/// is borrowed, to be copied once, into the arena.
enum Step<'t> {
    Scalar {
        text: &'t str,
        plain: bool,
        anchor: usize,
    },
    SequenceStart(usize),
    MappingStart(usize),
    SequenceEnd,
    MappingEnd,
    Alias(usize),
}

impl MarkedEventReceiver for TreeBuilder<'_> {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let step = match &ev {
            Event::Scalar(text, style, anchor, _tag) => Step::Scalar {
                text,
                plain: matches!(style, TScalarStyle::Plain),
                anchor: *anchor,
            },
            Event::SequenceStart(anchor, _) => Step::SequenceStart(*anchor),
            Event::MappingStart(anchor, _) => Step::MappingStart(*anchor),
            Event::SequenceEnd => Step::SequenceEnd,
            Event::MappingEnd => Step::MappingEnd,
            Event::Alias(id) => Step::Alias(*id),
            _ => return,
        };
        self.event(step, Span::from_marker(mark));
    }
}

impl TreeBuilder<'_> {
    fn event(&mut self, step: Step<'_>, span: Span) {
        if self.too_large {
            return;
        }
        self.nodes += 1;
        match step {
            Step::Scalar {
                text,
                plain,
                anchor,
            } => {
                let text = self.arena.alloc_str(text);
                self.push_node(
                    Node {
                        kind: NodeKind::Scalar { text, plain },
                        span,
                    },
                    anchor,
                );
            }
            Step::SequenceStart(anchor) => self.stack.push(Frame::Sequence {
                span,
                anchor,
                start: self.items.len(),
            }),
            Step::MappingStart(anchor) => self.stack.push(Frame::Mapping {
                span,
                anchor,
                start: self.entries.len(),
                pending_key: None,
                index: KeyIndex::new(),
                awaiting_colon: false,
            }),
            Step::SequenceEnd | Step::MappingEnd => {
                let (kind, span, anchor) = match self.stack.pop() {
                    Some(Frame::Sequence {
                        span,
                        anchor,
                        start,
                    }) => (
                        NodeKind::Sequence(close(self.arena, &mut self.items, start)),
                        span,
                        anchor,
                    ),
                    Some(Frame::Mapping {
                        span,
                        anchor,
                        start,
                        ..
                    }) => (
                        NodeKind::Mapping(close(self.arena, &mut self.entries, start)),
                        span,
                        anchor,
                    ),
                    None => return,
                };
                self.push_node(Node { kind, span }, anchor);
            }
            Step::Alias(id) => match self.anchors.get(&id) {
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
                    let mut node = *node;
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
        }
    }
}

/// Feeds `saphyr-parser`'s events to a [`TreeBuilder`] as `yaml-rust2`'s, and gives a
/// block mapping the position `yaml-rust2` gives it: the `:` after its first key, where
/// `saphyr-parser` gives the key's (or the anchor's or tag's before it).
struct Fast<'s, 'a> {
    builder: TreeBuilder<'a>,
    source: &'s str,
    /// Character and byte offsets are the same.
    ascii: bool,
    /// A character offset and its byte offset, moved forward as events come.
    cursor: (usize, usize),
    /// For each open collection, whether it is written in flow style (`[…]`, `{…}`).
    flow: Vec<bool>,
}

impl<'a> Fast<'_, 'a> {
    /// The byte offset of the `index`-th character.
    fn byte_at(&mut self, index: usize) -> usize {
        if self.ascii {
            return index;
        }
        // Events come in file order, a node's end just before the next one's start: the
        // cursor moves a little, either way.
        let (mut chars, mut bytes) = self.cursor;
        if index < chars {
            for c in self.source[..bytes].chars().rev() {
                if chars == index {
                    break;
                }
                chars -= 1;
                bytes -= c.len_utf8();
            }
        }
        for c in self.source[bytes..].chars() {
            if chars == index {
                break;
            }
            chars += 1;
            bytes += c.len_utf8();
        }
        self.cursor = (chars, bytes);
        bytes
    }

    /// The `:` that follows a mapping's first key ending at `end`, on its line.
    fn colon_after(&mut self, end: saphyr_parser::Marker) -> Option<Span> {
        let at = self.byte_at(end.index());
        let rest = self.source.get(at..)?;
        let spaces = rest.bytes().take_while(|b| *b == b' ').count();
        (rest.as_bytes().get(spaces) == Some(&b':')).then_some(Span {
            line: end.line(),
            col: end.col() + spaces + 1,
        })
    }

    /// Where a node's content starts, past its anchor and tag (`&a !!str text`), as a
    /// position and a byte offset: `yaml-rust2` places a node there, `saphyr-parser` at
    /// its anchor or tag.
    fn content_start(&mut self, start: saphyr_parser::Marker) -> (Span, usize) {
        let at = self.byte_at(start.index());
        let mut span = span_of(start);
        let rest = self.source.get(at..).unwrap_or("");
        if !rest.starts_with(['&', '!']) {
            return (span, at);
        }
        let mut chars = rest.char_indices().peekable();
        let mut offset = rest.len();
        'properties: while let Some(&(_, c)) = chars.peek() {
            if c != '&' && c != '!' {
                break;
            }
            // The anchor or tag, then blanks, line breaks and comments.
            while let Some(&(_, c)) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                chars.next();
                span.col += 1;
            }
            let mut comment = false;
            while let Some(&(i, c)) = chars.peek() {
                match c {
                    '\n' => {
                        span.line += 1;
                        span.col = 1;
                        comment = false;
                    }
                    '#' if !comment => comment = true,
                    c if comment || c.is_whitespace() => span.col += 1,
                    _ => {
                        offset = i;
                        continue 'properties;
                    }
                }
                chars.next();
            }
        }
        if let Some(&(i, _)) = chars.peek() {
            offset = i;
        }
        (span, at + offset)
    }

    /// The block mapping being filled, if its first key is being read.
    fn awaiting_first_key(&mut self) -> Option<&mut Frame<'a>> {
        match self.builder.stack.last_mut() {
            Some(
                frame @ Frame::Mapping {
                    pending_key: None,
                    awaiting_colon: true,
                    ..
                },
            ) => Some(frame),
            _ => None,
        }
    }
}

fn span_of(m: saphyr_parser::Marker) -> Span {
    // Lines from 1 and columns from 0, as in yaml-rust2.
    Span {
        line: m.line(),
        col: m.col() + 1,
    }
}

impl<'input> saphyr_parser::SpannedEventReceiver<'input> for Fast<'_, '_> {
    fn on_event(&mut self, ev: saphyr_parser::Event<'input>, at: saphyr_parser::Span) {
        use saphyr_parser::{Event as E, ScalarStyle};
        let (mark, content) = match ev {
            E::Scalar(..) | E::SequenceStart(..) | E::MappingStart(..) => {
                self.content_start(at.start)
            }
            _ => (span_of(at.start), 0),
        };
        let opens = self.source.as_bytes().get(content).copied();
        let first_key = matches!(ev, E::Scalar(..)) && self.awaiting_first_key().is_some();
        let colon = if first_key {
            self.colon_after(at.end)
        } else {
            None
        };
        if let Some(Frame::Mapping {
            span,
            awaiting_colon,
            ..
        }) = self.awaiting_first_key()
        {
            // Only a text key is followed by a `:` to point at; others keep the start.
            if let Some(colon) = colon {
                *span = colon;
            }
            *awaiting_colon = false;
        }
        let step = match &ev {
            E::Scalar(text, style, anchor, _) => Step::Scalar {
                text,
                plain: matches!(style, ScalarStyle::Plain),
                anchor: *anchor,
            },
            E::SequenceStart(anchor, _) => {
                let flow = self.flow.last() == Some(&true) || opens == Some(b'[');
                self.flow.push(flow);
                Step::SequenceStart(*anchor)
            }
            E::SequenceEnd => {
                self.flow.pop();
                Step::SequenceEnd
            }
            E::MappingEnd => {
                self.flow.pop();
                Step::MappingEnd
            }
            E::MappingStart(anchor, _) => {
                let flow = self.flow.last() == Some(&true) || opens == Some(b'{');
                self.flow.push(flow);
                let block = !flow && opens != Some(b'?');
                self.builder.event(Step::MappingStart(*anchor), mark);
                if let Some(Frame::Mapping { awaiting_colon, .. }) = self.builder.stack.last_mut() {
                    *awaiting_colon = block;
                }
                return;
            }
            E::Alias(id) => Step::Alias(*id),
            _ => return,
        };
        self.builder.event(step, mark);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Each parsed test document keeps its arena for the rest of the test run.
    fn arena() -> &'static Bump {
        Box::leak(Box::new(Bump::new()))
    }

    fn parse(source: &str) -> Result<Option<Node<'static>>, Vec<YamlError>> {
        super::parse(arena(), source)
    }

    fn parse_document(source: &str) -> Result<Parsed<'static>, Vec<YamlError>> {
        super::parse_document(arena(), source)
    }

    fn parse_slowly(source: &str) -> Result<Parsed<'static>, Vec<YamlError>> {
        super::parse_slowly(arena(), source)
    }

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

    /// Each problem's line and message.
    fn lines_and_messages<'p>(parsed: &'p Parsed<'_>) -> Vec<(usize, &'p str)> {
        parsed
            .problems
            .iter()
            .map(|e| (e.span.line, e.message.as_str()))
            .collect()
    }

    #[test]
    fn duplicate_keys_are_found_in_large_mappings() {
        let mut doc: String = (0..40).map(|i| format!("k{i}: {i}\n")).collect();
        doc.push_str("k7: again\n\"k39\": again\nk40: new\n");
        let parsed = parse_document(&doc).unwrap();
        let found = lines_and_messages(&parsed);
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

    /// A large mapping nested after other entries: its index counts from its own first
    /// entry, not from the first entry of the document.
    #[test]
    fn duplicate_keys_are_found_in_a_large_nested_mapping() {
        let mut doc = String::from("a: 1\nb: [x, {c: 2}]\nd:\n");
        doc.extend((0..20).map(|i| format!("  k{i}: {i}\n")));
        doc.push_str("  k3: again\ne: 5\n");
        let parsed = parse_document(&doc).unwrap();
        let found = lines_and_messages(&parsed);
        assert_eq!(
            found,
            [(24, "duplicate key `k3` (first defined at line 7)")]
        );
        let NodeKind::Mapping(root) = parsed.root.unwrap().kind else {
            panic!()
        };
        assert_eq!(root.len(), 4);
        let NodeKind::Mapping(nested) = root[2].1.kind else {
            panic!()
        };
        assert_eq!(nested.len(), 20);
        assert_eq!(nested[3].1.as_str(), Some("3"));
        assert_eq!(root[3].1.as_str(), Some("5"));
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

    /// Documents whose nodes `saphyr-parser` places elsewhere than `yaml-rust2` unless
    /// corrected: block mappings (at their first `:`), anchors and tags before a node,
    /// comments after them, flow collections, explicit keys, non-ASCII text before all.
    /// Still placed differently, and left out here: a `key: value` pair written alone
    /// inside a flow list (`[a: 1]`, a mapping to YAML), and an anchored list whose `-`
    /// stands at its key's indentation (`k: &a` then `- x` below `k`); `yaml-rust2`
    /// places these somewhere around their `:` or first item.
    const PLACED: &[&str] = &[
        "a: 1\nbb:\n  c: x\n",
        "# c\napiVersion:    retainctl/v1\nappx: 1\n",
        "a:\n  b:\n    \"k\" :   1\n  c: [x]\n",
        "a:\n  b: &x\n    k: 1\n  c: *x\n",
        "a:\n  b: &x {k: 1}\n  c: [{k: 1}, d: 2]\n",
        "a:\n  b: !!map &x # c\n    k: 1\n  c: &y\n    - d: 2\n      e: 1\n  f: [[{g: 1}]]\n",
        "é:\n  ü: &é\n    ö: 1\n  ä: é\n  l:\n    ß : 1\n    - x\n",
        "m: { n: { &ak: txt, l: { en: { h: h, !b: b } } } }\n",
        "!t k: v\n? q\n: r\n",
        "a:\n- b: 1\n  c: 2\n- &s [1, 2]\n- !!str x\n",
        "a: &a ~\nb: *a\nc:\nd: 'é' # ü\n",
    ];

    #[test]
    fn both_parsers_place_every_node_alike() {
        for doc in PLACED {
            assert_eq!(parse_document(doc), parse_slowly(doc), "{doc}");
        }
    }

    #[test]
    fn a_syntax_error_is_worded_and_placed_by_yaml_rust2() {
        let doc = "a:\n  b: 1\n  c: ]\n";
        let errs = parse(doc).unwrap_err();
        assert_eq!(Err(errs.clone()), parse_slowly(doc));
        assert!(
            errs[0]
                .message
                .starts_with("YAML syntax error: while parsing"),
            "{errs:?}"
        );
    }
}
