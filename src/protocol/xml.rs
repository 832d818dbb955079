//! A small XML writer for query-protocol responses. Responses are shallow and their element
//! order matters to SDK parsers, so writing them directly beats a serializer framework.

use std::fmt::Write;

/// Builds one XML document in a string.
pub struct XmlWriter {
    buf: String,
}

impl XmlWriter {
    pub fn new() -> Self {
        let mut buf = String::with_capacity(512);
        buf.push_str("<?xml version=\"1.0\"?>");
        XmlWriter { buf }
    }

    pub fn open(&mut self, tag: &str) -> &mut Self {
        let _ = write!(self.buf, "<{tag}>");
        self
    }

    pub fn open_ns(&mut self, tag: &str, namespace: &str) -> &mut Self {
        let _ = write!(self.buf, "<{tag} xmlns=\"{namespace}\">");
        self
    }

    /// Closes `tag`; an element closed right after it was opened is written self-closing
    /// (`<ReceiveMessageResult/>`), as AWS writes empty results and lists.
    pub fn close(&mut self, tag: &str) -> &mut Self {
        let opened = format!("<{tag}>");
        if self.buf.ends_with(&opened) {
            self.buf.truncate(self.buf.len() - opened.len());
            let _ = write!(self.buf, "<{tag}/>");
        } else {
            let _ = write!(self.buf, "</{tag}>");
        }
        self
    }

    pub fn empty(&mut self, tag: &str) -> &mut Self {
        let _ = write!(self.buf, "<{tag}/>");
        self
    }

    /// `<tag>text</tag>`, escaped.
    pub fn text(&mut self, tag: &str, text: &str) -> &mut Self {
        let _ = write!(self.buf, "<{tag}>");
        escape_into(&mut self.buf, text);
        let _ = write!(self.buf, "</{tag}>");
        self
    }

    pub fn opt_text(&mut self, tag: &str, text: Option<&str>) -> &mut Self {
        if let Some(text) = text {
            self.text(tag, text);
        }
        self
    }

    /// `<ResponseMetadata><RequestId>…</RequestId></ResponseMetadata>`
    pub fn response_metadata(&mut self, request_id: &str) -> &mut Self {
        self.open("ResponseMetadata")
            .text("RequestId", request_id)
            .close("ResponseMetadata")
    }

    pub fn finish(self) -> String {
        self.buf
    }
}

impl Default for XmlWriter {
    fn default() -> Self {
        Self::new()
    }
}

/// Escapes text as AWS does: the XML specials via quick-xml, plus carriage return as `&#xD;`,
/// which XML parsers would otherwise normalise to a line feed and so corrupt message bodies.
fn escape_into(buf: &mut String, text: &str) {
    let escaped = quick_xml::escape::escape(text);
    if escaped.contains('\r') {
        buf.push_str(&escaped.replace('\r', "&#xD;"));
    } else {
        buf.push_str(&escaped);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_specials_and_carriage_return() {
        let mut w = XmlWriter::new();
        w.text("Body", "a<b>&\"c'\r\n");
        assert!(w
            .finish()
            .ends_with("<Body>a&lt;b&gt;&amp;&quot;c&apos;&#xD;\n</Body>"));
    }
}
