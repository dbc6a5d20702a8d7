//! The output log's model: the lines the element shows, bounded in lines and bytes, with an
//! exact count of the earlier lines it no longer keeps. Plain Rust, tested natively; `view.rs`
//! renders it into the shadow DOM in blocks of [`BLOCK_LINES`] lines, at most once per frame.
//!
//! Lines are numbered from the start of the run, so a line keeps its number while earlier ones
//! are dropped: the view knows which of its blocks changed by number alone.

use std::collections::VecDeque;

use python_runner_protocol::{OutputPart, PartKind};

/// The most characters of one output line that are shown. Browsers lay out a long wrapped line in
/// superlinear time (Chromium here: 10,000 characters 25 ms, 100,000 184 ms, 1,000,000 44 s), so
/// the rest of a longer line is counted in a marker instead of being shown.
pub const MAX_LINE_CHARS: usize = 10_000;

/// The most lines kept; earlier ones are dropped and counted. A flood can make the view draw the
/// whole log in one frame: 2,000 lines of alternating stdout/stderr (a span each) lay out in
/// about 13 ms in headless Chromium here, 5,000 in 30–75 ms.
pub const MAX_LINES: usize = 2_000;

/// The most bytes of text kept (about 25 full-length lines); earlier lines are dropped and
/// counted, but the last line always stays. Laying out 1 MB of wrapped text took 70–90 ms here.
pub const MAX_BYTES: usize = 256 << 10;

/// The most bytes of pictures kept: earlier lines are dropped (their pictures released) beyond it,
/// so a loop that shows a plot per step holds a bounded amount of memory.
pub const MAX_PICTURE_BYTES: usize = 32 << 20;

/// Lines per rendered block: each block is its own box for layout, so appending to the log
/// lays out the last block, not the whole log.
pub const BLOCK_LINES: u64 = 64;

/// One line of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// Output text.
    Text(TextLine),
    /// An element-level error message (Python could not start, the worker crashed).
    Error(String),
    /// A picture, on a line of its own.
    Picture(Picture),
}

/// A picture in the output: the object URL the view made of its bytes, and its alt text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Picture {
    /// Where the view shows it from (released once the line is dropped).
    pub url: String,
    /// Its alt text ("Figure 1: Sales").
    pub alt: String,
    /// Its size in bytes.
    pub size: usize,
}

/// A line of output text, possibly in several kinds (stdout, then stderr, …).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TextLine {
    /// The text shown, by kind, without the newline; neighbours differ in kind.
    pub segments: Vec<(PartKind, String)>,
    /// Characters written to this line beyond [`MAX_LINE_CHARS`], not shown.
    pub hidden: usize,
    /// The kind of the newline that ended the line; `None` while the line is open.
    pub newline: Option<PartKind>,
    chars: usize,
}

impl TextLine {
    fn bytes(&self) -> usize {
        self.segments.iter().map(|(_, text)| text.len()).sum()
    }
}

impl Line {
    fn bytes(&self) -> usize {
        match self {
            Line::Text(line) => line.bytes(),
            Line::Error(message) => message.len(),
            Line::Picture(picture) => picture.alt.len(),
        }
    }
}

/// The lines of the current run that are still shown.
#[derive(Debug, Default)]
pub struct OutputLog {
    lines: VecDeque<Line>,
    /// Number of `lines[0]`: how many earlier lines were dropped.
    first: u64,
    bytes: usize,
    /// Bytes of the pictures kept.
    picture_bytes: usize,
    /// URLs of pictures no longer kept, for the view to release.
    released: Vec<String>,
    /// The first line changed since [`OutputLog::take_changed`].
    changed: Option<u64>,
}

impl OutputLog {
    /// Appends output parts in order; text after a line's [`MAX_LINE_CHARS`] characters is
    /// counted, not kept.
    pub fn append(&mut self, parts: &[OutputPart]) {
        for part in parts {
            for piece in part.text.split_inclusive('\n') {
                let (text, newline) = match piece.strip_suffix('\n') {
                    Some(text) => (text, true),
                    None => (piece, false),
                };
                let number = self.open_line();
                let Some(Line::Text(line)) = self.lines.back_mut() else {
                    continue;
                };
                let room = MAX_LINE_CHARS.saturating_sub(line.chars);
                let (shown, hidden) = match text
                    .char_indices()
                    .nth(room)
                    .and_then(|(cut, _)| text.split_at_checked(cut))
                {
                    Some((shown, hidden)) => (shown, hidden.chars().count()),
                    None => (text, 0),
                };
                if !shown.is_empty() {
                    line.chars += shown.chars().count();
                    self.bytes += shown.len();
                    match line.segments.last_mut() {
                        Some((kind, last)) if *kind == part.kind => last.push_str(shown),
                        _ => line.segments.push((part.kind, shown.to_owned())),
                    }
                }
                line.hidden += hidden;
                if newline {
                    line.newline = Some(part.kind);
                }
                self.mark_changed(number);
            }
        }
        self.trim();
    }

    /// Appends an error message as a line of its own.
    pub fn push_error(&mut self, message: &str) {
        self.bytes += message.len();
        self.lines.push_back(Line::Error(message.to_owned()));
        self.mark_changed(self.end() - 1);
        self.trim();
    }

    /// Appends a picture as a line of its own.
    pub fn push_picture(&mut self, picture: Picture) {
        self.bytes += picture.alt.len();
        self.picture_bytes += picture.size;
        self.lines.push_back(Line::Picture(picture));
        self.mark_changed(self.end() - 1);
        self.trim();
    }

    /// Forgets every line, and the count of dropped ones (a new run); pictures go to
    /// [`OutputLog::take_released`].
    pub fn clear(&mut self) {
        let mut released = std::mem::take(&mut self.released);
        released.extend(self.lines.drain(..).filter_map(|line| match line {
            Line::Picture(picture) => Some(picture.url),
            _ => None,
        }));
        *self = Self {
            released,
            ..Self::default()
        };
    }

    /// The URLs of pictures dropped or cleared since the last call: the view releases them.
    pub fn take_released(&mut self) -> Vec<String> {
        std::mem::take(&mut self.released)
    }

    /// How many earlier lines are no longer kept; also the number of the first line kept.
    pub fn dropped(&self) -> u64 {
        self.first
    }

    /// The number after the last line.
    pub fn end(&self) -> u64 {
        self.first + self.lines.len() as u64
    }

    /// Line number `number`, if it is kept.
    pub fn line(&self, number: u64) -> Option<&Line> {
        let index = usize::try_from(number.checked_sub(self.first)?).ok()?;
        self.lines.get(index)
    }

    /// Whether lines changed since [`OutputLog::take_changed`].
    pub fn has_changes(&self) -> bool {
        self.changed.is_some()
    }

    /// The first line changed (or added) since the last call, if any: the view renders from the
    /// block that holds it. Dropped lines do not count as changed.
    pub fn take_changed(&mut self) -> Option<u64> {
        self.changed.take().map(|number| number.max(self.first))
    }

    /// The number of the line text goes to: the last line if it is open text, else a new one.
    fn open_line(&mut self) -> u64 {
        let open = matches!(self.lines.back(), Some(Line::Text(line)) if line.newline.is_none());
        if !open {
            self.lines.push_back(Line::Text(TextLine::default()));
        }
        self.end() - 1
    }

    fn mark_changed(&mut self, number: u64) {
        self.changed = Some(self.changed.map_or(number, |changed| changed.min(number)));
    }

    fn trim(&mut self) {
        while self.lines.len() > MAX_LINES
            || (self.lines.len() > 1
                && (self.bytes > MAX_BYTES || self.picture_bytes > MAX_PICTURE_BYTES))
        {
            if let Some(line) = self.lines.pop_front() {
                self.bytes -= line.bytes();
                self.first += 1;
                if let Line::Picture(picture) = line {
                    self.picture_bytes -= picture.size;
                    self.released.push(picture.url);
                }
            }
        }
    }
}

/// The notice above the log when earlier lines were dropped: "12,345 earlier lines not shown".
pub fn dropped_notice(dropped: u64) -> String {
    let digits = dropped.to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    let lines = if dropped == 1 { "line" } else { "lines" };
    format!("{grouped} earlier {lines} not shown")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(kind: PartKind, text: &str) -> OutputPart {
        OutputPart::new(kind, text)
    }

    fn text(log: &OutputLog, number: u64) -> String {
        match log.line(number) {
            Some(Line::Text(line)) => line
                .segments
                .iter()
                .map(|(_, text)| text.as_str())
                .collect(),
            other => panic!("line {number} is {other:?}"),
        }
    }

    #[test]
    fn lines_are_split_merged_by_kind_and_numbered() {
        let mut log = OutputLog::default();
        log.append(&[part(PartKind::Stdout, "a\nb")]);
        log.append(&[part(PartKind::Stdout, "c"), part(PartKind::Stderr, "!\n")]);
        assert_eq!((log.dropped(), log.end()), (0, 2));
        assert_eq!(text(&log, 0), "a");
        let Some(Line::Text(line)) = log.line(1) else {
            panic!("no line 1")
        };
        assert_eq!(
            line.segments,
            vec![
                (PartKind::Stdout, "bc".to_string()),
                (PartKind::Stderr, "!".to_string())
            ]
        );
        assert_eq!(line.newline, Some(PartKind::Stderr));
        assert_eq!(log.take_changed(), Some(0));
        assert_eq!(log.take_changed(), None);
        log.append(&[part(PartKind::Stdout, "d")]);
        assert_eq!(log.take_changed(), Some(2));
    }

    #[test]
    fn a_long_line_is_cut_and_the_rest_counted_across_writes() {
        let mut log = OutputLog::default();
        log.append(&[part(PartKind::Stdout, &"é".repeat(MAX_LINE_CHARS - 1))]);
        log.append(&[part(PartKind::Stdout, "xyz\nnext")]);
        let Some(Line::Text(line)) = log.line(0) else {
            panic!("no line 0")
        };
        assert_eq!(line.hidden, 2);
        assert!(text(&log, 0).ends_with("éx"));
        assert_eq!(text(&log, 1), "next");
    }

    #[test]
    fn earlier_lines_are_dropped_and_counted_exactly() {
        let mut log = OutputLog::default();
        let flood: String = (0..12_345 + MAX_LINES).map(|i| format!("{i}\n")).collect();
        log.append(&[part(PartKind::Stdout, &flood)]);
        log.append(&[part(PartKind::Stdout, "open")]);
        // The open last line is kept too.
        assert_eq!(log.dropped(), 12_346);
        assert_eq!(text(&log, 12_346), "12346");
        assert_eq!(text(&log, log.end() - 1), "open");
        assert_eq!(log.take_changed(), Some(12_346));
        assert_eq!(
            dropped_notice(log.dropped()),
            "12,346 earlier lines not shown"
        );
        assert_eq!(dropped_notice(1), "1 earlier line not shown");
        assert_eq!(dropped_notice(999), "999 earlier lines not shown");
        assert_eq!(
            dropped_notice(1_000_000),
            "1,000,000 earlier lines not shown"
        );
    }

    #[test]
    fn bytes_are_bounded_but_the_last_line_stays() {
        let mut log = OutputLog::default();
        let line = "x".repeat(MAX_LINE_CHARS);
        for _ in 0..MAX_BYTES / MAX_LINE_CHARS + 10 {
            log.append(&[part(PartKind::Stdout, &line), part(PartKind::Stderr, "\n")]);
        }
        assert!(log.bytes <= MAX_BYTES);
        assert_eq!(
            log.end() - log.dropped(),
            (MAX_BYTES / MAX_LINE_CHARS) as u64
        );
        let mut log = OutputLog::default();
        log.append(&[part(PartKind::Stdout, &"y".repeat(3 * MAX_LINE_CHARS))]);
        assert_eq!((log.dropped(), log.end()), (0, 1));
    }

    #[test]
    fn errors_are_lines_of_their_own() {
        let mut log = OutputLog::default();
        log.append(&[part(PartKind::Stdout, "half")]);
        log.push_error("boom");
        log.append(&[part(PartKind::Stdout, "after\n")]);
        assert_eq!(log.line(1), Some(&Line::Error("boom".into())));
        assert_eq!(text(&log, 2), "after");
        log.clear();
        assert_eq!((log.dropped(), log.end()), (0, 0));
    }

    fn picture(url: &str, size: usize) -> Picture {
        Picture {
            url: url.into(),
            alt: format!("alt of {url}"),
            size,
        }
    }

    #[test]
    fn pictures_are_lines_whose_urls_are_released_when_dropped_or_cleared() {
        let mut log = OutputLog::default();
        log.append(&[part(PartKind::Stdout, "before")]);
        log.push_picture(picture("blob:1", 10));
        log.append(&[part(PartKind::Stdout, "after\n")]);
        assert_eq!(log.line(1), Some(&Line::Picture(picture("blob:1", 10))));
        assert_eq!(
            (text(&log, 0), text(&log, 2)),
            ("before".into(), "after".into())
        );
        assert!(log.take_released().is_empty());
        // Pictures beyond MAX_PICTURE_BYTES push out the earliest lines; the last always stays.
        log.push_picture(picture("blob:2", MAX_PICTURE_BYTES - 5));
        assert_eq!(log.take_released(), vec!["blob:1".to_string()]);
        assert_eq!(log.dropped(), 2);
        log.push_picture(picture("blob:3", MAX_PICTURE_BYTES + 1));
        assert_eq!(log.take_released(), vec!["blob:2".to_string()]);
        assert_eq!((log.dropped(), log.end()), (4, 5));
        log.clear();
        assert_eq!(log.take_released(), vec!["blob:3".to_string()]);
        assert_eq!(log.take_released(), Vec::<String>::new());
    }
}
