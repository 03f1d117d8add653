//! A small read-only XML tree over `quick-xml`, shared by every XML input format.
//!
//! libvirt's formats (`<cpu>`, `<domain>`, `<cpudata>`, capabilities) are small
//! documents read in one piece, so a tree with byte offsets is simpler for the
//! parsers than streaming events. Every element and attribute remembers the byte
//! offset where it starts, so that errors can point at line and column. Document
//! type declarations are refused: libvirt's formats never need them, and entity
//! expansion is a classic way to make a parser hang or explode.

use std::fmt;

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

/// An error found while reading an XML document, with the byte offset of the problem.
pub type XmlError = crate::position::Positioned;

pub use crate::position::line_column;

/// One attribute of an element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    pub name: String,
    pub value: String,
    /// Byte offset of the attribute name in the input.
    pub offset: usize,
}

/// One element with its attributes, child elements and concatenated text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub name: String,
    pub attributes: Vec<Attribute>,
    pub children: Vec<Element>,
    /// The element's own text content (not that of its children), unescaped.
    pub text: String,
    /// Byte offset of the `<` that opens the element.
    pub offset: usize,
    /// Byte offset just past the element's end (its end tag, or `/>`).
    pub end: usize,
}

impl Element {
    /// The value of attribute `name`, if present.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attribute(name).map(|a| a.value.as_str())
    }

    /// The attribute `name` with its position, if present.
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }

    /// The first child element called `name`.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Every child element called `name`, in document order.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The element's text with surrounding whitespace removed.
    pub fn trimmed_text(&self) -> &str {
        self.text.trim()
    }

    /// Depth-first search for the first descendant (or self) called `name`.
    pub fn find(&self, name: &str) -> Option<&Element> {
        if self.name == name {
            return Some(self);
        }
        self.children.iter().find_map(|c| c.find(name))
    }
}

/// Deepest nesting accepted; libvirt's documents are a handful of levels deep.
const MAX_DEPTH: usize = 256;

/// Parses a whole document and returns its root element.
pub fn parse(text: &str) -> Result<Element, XmlError> {
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let event_start = reader.buffer_position() as usize;
        let event = reader.read_event().map_err(|e| {
            XmlError::new(
                reader.error_position() as usize,
                format!("malformed XML: {}", Described(&e)),
            )
        })?;
        match event {
            Event::Start(start) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(XmlError::new(event_start, "elements nested too deeply"));
                }
                ensure_single_root(&root, event_start)?;
                stack.push(element_from_start(&start, event_start)?);
            }
            Event::Empty(start) => {
                ensure_single_root(&root, event_start)?;
                let mut element = element_from_start(&start, event_start)?;
                element.end = reader.buffer_position() as usize;
                attach(&mut stack, &mut root, element);
            }
            Event::End(_) => {
                // quick-xml has already checked that the end name matches.
                if let Some(mut element) = stack.pop() {
                    element.end = reader.buffer_position() as usize;
                    attach(&mut stack, &mut root, element);
                }
            }
            Event::Text(text) => {
                let unescaped = text.unescape().map_err(|e| {
                    XmlError::new(
                        event_start,
                        format!("bad character or entity reference: {}", Described(&e)),
                    )
                })?;
                match stack.last_mut() {
                    Some(parent) => parent.text.push_str(&unescaped),
                    None if unescaped.trim().is_empty() => {}
                    None => {
                        return Err(XmlError::new(event_start, "text outside the root element"))
                    }
                }
            }
            Event::CData(data) => {
                let content = utf8(&data, event_start)?;
                match stack.last_mut() {
                    Some(parent) => parent.text.push_str(&content),
                    None => {
                        return Err(XmlError::new(event_start, "text outside the root element"))
                    }
                }
            }
            Event::DocType(_) => {
                return Err(XmlError::new(
                    event_start,
                    "document type declarations (`<!DOCTYPE`) are not accepted",
                ))
            }
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if let Some(open) = stack.last() {
        return Err(XmlError::new(
            text.len(),
            format!("expected `</{}>`, found end of input", open.name),
        ));
    }
    root.ok_or_else(|| XmlError::new(0, "no XML element found"))
}

fn ensure_single_root(root: &Option<Element>, offset: usize) -> Result<(), XmlError> {
    match root {
        Some(existing) => Err(XmlError::new(
            offset,
            format!("a second root element after `<{}>`", existing.name),
        )),
        None => Ok(()),
    }
}

fn attach(stack: &mut [Element], root: &mut Option<Element>, element: Element) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(element),
        None => *root = Some(element),
    }
}

/// quick-xml's message for an error, word for word as its `Display` writes
/// it but for two kinds this reader never gives: I/O errors (it reads a
/// string) and namespace errors (it resolves no namespaces). Its `Display`
/// would link their texts, std's for every I/O error kind among them, into
/// the web app's module for those cases alone.
struct Described<'e>(&'e quick_xml::Error);

impl fmt::Display for Described<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use quick_xml::Error;
        match self.0 {
            Error::Io(_) => f.write_str("I/O error"),
            Error::Syntax(e) => write!(f, "syntax error: {e}"),
            Error::IllFormed(e) => write!(f, "ill-formed document: {e}"),
            Error::InvalidAttr(e) => write!(f, "error while parsing attribute: {e}"),
            Error::Encoding(e) => e.fmt(f),
            Error::Escape(e) => e.fmt(f),
            Error::Namespace(_) => f.write_str("namespace error"),
        }
    }
}

/// A name or CDATA section as text. The document is a `&str` and quick-xml
/// cuts it only at ASCII delimiters, so this never fails; were it to, the
/// error says where.
fn utf8(bytes: &[u8], offset: usize) -> Result<String, XmlError> {
    std::str::from_utf8(bytes)
        .map(str::to_owned)
        .map_err(|_| XmlError::new(offset, "not UTF-8"))
}

fn element_from_start(start: &BytesStart<'_>, offset: usize) -> Result<Element, XmlError> {
    let name = utf8(start.name().as_ref(), offset)?;
    let mut attributes = Vec::new();
    for attr in start.attributes().with_checks(true) {
        let attr =
            attr.map_err(|e| XmlError::new(offset, format!("bad attribute in `<{name}>`: {e}")))?;
        let attr_name = utf8(attr.key.as_ref(), offset)?;
        let value = attr
            .unescape_value()
            .map_err(|e| {
                let e = Described(&e);
                XmlError::new(offset, format!("bad value of attribute `{attr_name}`: {e}"))
            })?
            .into_owned();
        let attribute_offset = offset + 1 + attribute_position(start.as_ref(), attr.key.as_ref());
        attributes.push(Attribute {
            name: attr_name,
            value,
            offset: attribute_offset,
        });
    }
    Ok(Element {
        name,
        attributes,
        children: Vec::new(),
        text: String::new(),
        offset,
        end: offset,
    })
}

/// Where attribute `key` starts inside the raw tag `raw` (the bytes after `<`):
/// the first occurrence preceded by whitespace and followed by `=`.
fn attribute_position(raw: &[u8], key: &[u8]) -> usize {
    (1..raw.len())
        .find(|&i| {
            raw[i - 1].is_ascii_whitespace()
                && raw[i..].starts_with(key)
                && raw[i + key.len()..]
                    .iter()
                    .find(|b| !b.is_ascii_whitespace())
                    == Some(&b'=')
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nested_elements_with_offsets() {
        let doc = "<!-- c -->\n<cpu mode='custom'>\n  <model>Haswell</model>\n  <feature name='vmx'/>\n</cpu>";
        let root = parse(doc).expect("valid document");
        assert_eq!(root.name, "cpu");
        assert_eq!(root.attr("mode"), Some("custom"));
        assert_eq!(
            root.child("model").map(Element::trimmed_text),
            Some("Haswell")
        );
        let feature = root.child("feature").expect("feature child");
        assert_eq!(line_column(doc, feature.offset), (4, 3));
        assert_eq!(&doc[feature.offset..feature.end], "<feature name='vmx'/>");
        let model = root.child("model").expect("model child");
        assert_eq!(&doc[model.offset..model.end], "<model>Haswell</model>");
    }

    #[test]
    fn mismatched_end_tag_reports_position() {
        let doc = "<cpu>\n  <model>x</cpu>";
        let err = parse(doc).expect_err("mismatched end tag");
        assert!(err.message.contains("malformed XML"), "{}", err.message);
        assert_eq!(line_column(doc, err.offset).0, 2);
    }

    #[test]
    fn doctype_is_refused() {
        let doc = "<?xml version='1.0'?>\n<!DOCTYPE lol [<!ENTITY a 'aaaa'>]>\n<cpu>&a;</cpu>";
        let err = parse(doc).expect_err("doctype");
        assert!(err.message.contains("DOCTYPE"));
        assert_eq!(line_column(doc, err.offset), (2, 1));
    }

    #[test]
    fn unterminated_document_is_an_error() {
        let err = parse("<cpu><model>").expect_err("unterminated");
        assert!(err.message.contains("end of input") || err.message.contains("malformed"));
    }

    #[test]
    fn empty_input_is_an_error() {
        assert_eq!(
            parse("  ").expect_err("empty").message,
            "no XML element found"
        );
    }
}
