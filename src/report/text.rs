//! Text from the logs, made inert for each output format.
//!
//! Principal names, methods, paths, messages, role names and object ids come
//! from audit logs an attacker can write to, and the outputs are read in
//! terminals, spreadsheets and Markdown renderers. Each format has its
//! neutraliser here, applied to every interpolated text: JSON needs none (serde
//! escapes it), HTML has maud's escaping, and Parquet keeps the raw data.

use std::borrow::Cow;
use std::fmt::Write as _;

use polars::prelude::{
    ChunkApply, DataFrame, DataType, IntoColumn, IntoSeries, PolarsResult, Series,
};

/// Whether a character is shown escaped rather than written: controls (C0,
/// DEL, C1), which move the cursor, end lines or start terminal escapes; bidi
/// controls, which reorder what is shown (Trojan Source); the line and
/// paragraph separators; and the invisible characters that make two names
/// look alike.
fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00ad}'
                | '\u{061c}'
                | '\u{200b}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2060}'..='\u{2069}'
                | '\u{feff}'
                | '\u{e0000}'..='\u{e007f}'
        )
}

/// For terminals and plain-text tables: hidden characters written as escapes
/// (`\n`, `\x1b`, `\u{202e}`), so one value stays one visible cell on one line.
/// A backslash is kept as it is, so `DOMAIN\account` stays legible; the exact
/// value is in the JSON report.
pub fn terminal(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_hidden) {
        return Cow::Borrowed(text);
    }
    let mut shown = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => shown.push_str("\\n"),
            '\r' => shown.push_str("\\r"),
            '\t' => shown.push_str("\\t"),
            c if c.is_ascii() && is_hidden(c) => {
                let _ = write!(shown, "\\x{:02x}", u32::from(c));
            }
            c if is_hidden(c) => {
                let _ = write!(shown, "\\u{{{:x}}}", u32::from(c));
            }
            c => shown.push(c),
        }
    }
    Cow::Owned(shown)
}

/// For a CSV cell (OWASP's rule against formula injection): a cell starting
/// with `=`, `+`, `-`, `@`, TAB or CR gets a leading `'`, so a spreadsheet
/// shows it as text instead of evaluating it. That includes cells starting with
/// `-`: `-cmd|…` is a formula to Excel and a name cannot be told from an attack.
/// Numbers are left alone: [`frame`] passes no numeric column, and the CSV
/// report's numbers are counts, never negative.
pub fn csv_cell(text: &str) -> Cow<'_, str> {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{text}"))
    } else {
        Cow::Borrowed(text)
    }
}

/// For Markdown (text, headings, bullets and table cells alike): hidden
/// characters escaped as for [`terminal`], so no value can start a line;
/// `<`, `>` and `&` as entities, so no HTML, autolink or entity forms; and the
/// punctuation that makes links, images, emphasis, code, tables, headings,
/// strikethrough and math backslash-escaped. Never use it inside a code span,
/// where backslashes are literal.
pub fn markdown(text: &str) -> String {
    let text = terminal(text);
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '&' => escaped.push_str("&amp;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '(' | ')' | '!' | '|' | '#' | '~' | '$' => {
                escaped.push('\\');
                escaped.push(c);
            }
            c => escaped.push(c),
        }
    }
    escaped
}

/// The table with `neutralise` applied to every string, lists of strings
/// included; other columns (numbers, times) are kept as they are.
pub fn frame(df: &DataFrame, neutralise: fn(&str) -> Cow<'_, str>) -> PolarsResult<DataFrame> {
    let columns = df.try_apply_columns(|column| {
        Ok(series(column.as_materialized_series(), neutralise)?.into_column())
    })?;
    DataFrame::new(df.height(), columns)
}

fn series(s: &Series, neutralise: fn(&str) -> Cow<'_, str>) -> PolarsResult<Series> {
    match s.dtype() {
        DataType::String => Ok(s.str()?.apply_values(neutralise).into_series()),
        DataType::List(_) => Ok(s
            .list()?
            .apply_to_inner(&|inner| series(&inner, neutralise))?
            .into_series()),
        _ => Ok(s.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use polars::prelude::{df, NamedFrom};

    #[test]
    fn terminal_text_escapes_every_hidden_character() {
        assert_eq!(terminal("svc-a"), "svc-a");
        assert!(matches!(terminal("DOMAIN\\svc"), Cow::Borrowed(_)));
        assert_eq!(terminal("a\nb\r\tc"), "a\\nb\\r\\tc");
        assert_eq!(
            terminal("\x1b]8;;http://x\x1b\\link"),
            "\\x1b]8;;http://x\\x1b\\link"
        );
        assert_eq!(terminal("\x00\x7f\u{85}\u{9b}"), "\\x00\\x7f\\u{85}\\u{9b}");
        assert_eq!(
            terminal("abc\u{202e}fed\u{2066}\u{2028}"),
            "abc\\u{202e}fed\\u{2066}\\u{2028}"
        );
        assert_eq!(terminal("ad\u{200b}min"), "ad\\u{200b}min");
        // Letters of every script stay as they are.
        assert_eq!(terminal("svc-café-日本"), "svc-café-日本");
    }

    #[test]
    fn csv_cells_never_start_a_formula() {
        for formula in [
            "=HYPERLINK(\"http://x\",\"click\")",
            "+1+1",
            "-2+3",
            "@SUM(A1)",
            "\t=1",
            "\r=1",
        ] {
            assert_eq!(csv_cell(formula), format!("'{formula}"));
        }
        for plain in ["svc-a", "a=b", "2026-11-16T00:00:00Z", "12", "'=1", ""] {
            assert_eq!(csv_cell(plain), plain);
        }
    }

    #[test]
    fn markdown_text_forms_no_markup() {
        assert_eq!(markdown("svc-a.b"), "svc-a.b");
        assert_eq!(
            markdown("<script>alert(1)</script>"),
            "&lt;script&gt;alert\\(1\\)&lt;/script&gt;"
        );
        assert_eq!(
            markdown("![x](javascript:alert(1))"),
            "\\!\\[x\\]\\(javascript:alert\\(1\\)\\)"
        );
        assert_eq!(
            markdown("a|b *c* _d_ `e` ~f~ #g $h$ &amp;"),
            "a\\|b \\*c\\* \\_d\\_ \\`e\\` \\~f\\~ \\#g \\$h\\$ &amp;amp;"
        );
        assert_eq!(markdown("a\\|b"), "a\\\\\\|b");
        assert_eq!(markdown("a\n# b"), "a\\\\n\\# b");
    }

    #[test]
    fn frames_are_neutralised_in_their_text_only() {
        let lists = [
            Series::new("".into(), ["a\nb"]),
            Series::new("".into(), ["c"]),
        ];
        let table = df! {
            "principal" => ["a\nb", "svc"],
            "principals" => lists,
            "count" => [-1i64, 2],
        }
        .unwrap();
        let shown = frame(&table, terminal).unwrap();
        let principal = shown.column("principal").unwrap().str().unwrap().get(0);
        assert_eq!(principal, Some("a\\nb"));
        let listed = shown
            .column("principals")
            .unwrap()
            .list()
            .unwrap()
            .get_as_series(0);
        assert_eq!(listed.unwrap().str().unwrap().get(0), Some("a\\nb"));
        assert_eq!(
            shown.column("count").unwrap(),
            table.column("count").unwrap()
        );
        let cells = frame(&table, csv_cell).unwrap();
        assert_eq!(
            cells.column("count").unwrap(),
            table.column("count").unwrap()
        );
    }
}
