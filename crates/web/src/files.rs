//! Files the user gives as host dumps: their text, or why they hold none.
//!
//! A host dump is text; a file that holds none (empty, or binary such as a
//! screenshot picked by mistake) is refused with a [`FileProblem`] the page shows
//! next to the input and at the top, instead of garbled text. Pure code, tested
//! natively; `hooks/file_drop.rs` reads the bytes from the browser.

use std::fmt;
use std::rc::Rc;

/// A text file the user gave, with its name for display.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LoadedFile {
    pub name: Rc<str>,
    pub text: Rc<str>,
}

/// Why a file the user gave is not a text dump.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileProblem {
    Empty {
        name: Rc<str>,
    },
    /// Not UTF-8 text, or text with NUL bytes; `kind` names a recognised format.
    Binary {
        name: Rc<str>,
        kind: Option<&'static str>,
    },
    /// The browser could not read the file (removed, no permission).
    Unreadable {
        name: Rc<str>,
    },
}

impl FileProblem {
    /// The name of the file the problem is about.
    pub fn file_name(&self) -> &Rc<str> {
        match self {
            FileProblem::Empty { name }
            | FileProblem::Binary { name, .. }
            | FileProblem::Unreadable { name } => name,
        }
    }
}

impl fmt::Display for FileProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileProblem::Empty { name } => write!(f, "{name} is empty: it holds no host dump"),
            FileProblem::Binary { name, kind } => write!(
                f,
                "{name} is not a text file ({}): give a text dump such as `cpuid -1r` \
                 or `virsh capabilities`",
                kind.unwrap_or("not UTF-8")
            ),
            FileProblem::Unreadable { name } => write!(f, "{name} cannot be read"),
        }
    }
}

/// The text of file `name` with content `bytes`, or why it has none.
pub fn file_text(name: Rc<str>, bytes: &[u8]) -> Result<LoadedFile, FileProblem> {
    if bytes.is_empty() {
        return Err(FileProblem::Empty { name });
    }
    let kind = guestcpu_core::dump::binary_kind(bytes);
    match std::str::from_utf8(bytes) {
        Ok(text) if kind.is_none() && !text.contains('\0') => Ok(LoadedFile {
            name,
            text: text.into(),
        }),
        _ => Err(FileProblem::Binary { name, kind }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_files_are_read_and_others_say_why_not() {
        let loaded = file_text("host.txt".into(), b"CPU 0:\n").expect("text");
        assert_eq!(&*loaded.text, "CPU 0:\n");
        assert_eq!(
            file_text("empty.txt".into(), b""),
            Err(FileProblem::Empty {
                name: "empty.txt".into()
            })
        );
        let png = file_text("shot.png".into(), b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR")
            .expect_err("a PNG is not text");
        assert!(png.to_string().contains("a PNG image"), "{png}");
        assert_eq!(&**png.file_name(), "shot.png");
        assert_eq!(
            file_text("x.bin".into(), b"\xc3\x28 not UTF-8"),
            Err(FileProblem::Binary {
                name: "x.bin".into(),
                kind: None
            })
        );
        let nul = file_text("x.bin".into(), b"text\0with NUL").expect_err("NUL bytes are not text");
        assert!(nul.to_string().contains("NUL bytes"), "{nul}");
    }
}
