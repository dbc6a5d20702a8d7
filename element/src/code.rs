//! Turning an element's text into Python source: strip blank edges and common indentation.
//!
//! HTML authors indent code to match the page; Python needs it flush left.

/// Removes leading and trailing blank lines, trailing whitespace at the end, and the
/// indentation common to all non-blank lines (like `textwrap.dedent`).
pub fn normalize(text: &str) -> String {
    let text = unix_newlines(text);
    let lines: Vec<&str> = text.lines().collect();
    let first = lines.iter().position(|line| !line.trim().is_empty());
    let last = lines.iter().rposition(|line| !line.trim().is_empty());
    let (Some(first), Some(last)) = (first, last) else {
        return String::new();
    };
    let lines = &lines[first..=last];
    let indent = lines
        .iter()
        .filter(|line| !line.trim().is_empty())
        .map(|line| leading_whitespace(line))
        .reduce(common_prefix)
        .unwrap_or("");
    let mut code = String::with_capacity(text.len());
    for line in lines {
        code.push_str(line.strip_prefix(indent).unwrap_or(line.trim_start()));
        code.push('\n');
    }
    code
}

/// `text` with every `\r\n` as `\n`. Not `str::replace`, whose string slicing brings in a panic
/// path with 1 KB of formatting code.
pub fn unix_newlines(text: &str) -> String {
    let mut unix = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\r' || chars.peek() != Some(&'\n') {
            unix.push(c);
        }
    }
    unix
}

fn leading_whitespace(line: &str) -> &str {
    let end = line.len() - line.trim_start_matches([' ', '\t']).len();
    // `get` instead of indexing: no panic path (and its formatting code) in the wasm.
    line.get(..end).unwrap_or("")
}

fn common_prefix<'a>(a: &'a str, b: &'a str) -> &'a str {
    let length = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
    a.get(..length).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::{normalize, unix_newlines};

    #[test]
    fn only_crlf_pairs_become_newlines() {
        assert_eq!(unix_newlines("a\r\nb\rc\n\r\r\né\r"), "a\nb\rc\n\r\né\r");
    }

    fn check(input: &str, expected: &str) {
        assert_eq!(normalize(input), expected, "input: {input:?}");
    }

    #[test]
    fn strips_blank_edges_and_common_indent() {
        check(
            "\n    for i in range(3):\n        print(i)\n    1/0\n  ",
            "for i in range(3):\n    print(i)\n1/0\n",
        );
        check("print(1)", "print(1)\n");
        check("", "");
        check("  \n\t\n", "");
        check("\r\n  a\r\n\r\n  b\r\n", "a\n\nb\n");
        check("\tif x:\n\t\ty()\n", "if x:\n\ty()\n");
    }

    #[test]
    fn keeps_inner_blank_lines_and_less_indented_lines() {
        check("  a\n\n    b\n", "a\n\n  b\n");
    }
}
