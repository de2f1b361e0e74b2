//! A strict scanner of one JSON object: hands over each top-level key with its
//! value (a string borrowed from the line, a number's text, null, or the text of
//! anything else) and checks everything else is JSON as serde_json reads it.
//!
//! Why not serde: borrowing the fast path's fields with serde_json was half of
//! reading an allowed request, most of it in serde's visitor machinery and in
//! skipping keys the fast path does not want (a wide gateway line has 30 of
//! them, nested). This scanner finds string ends by a mask of 64 bytes at a time,
//! matches keys as bytes and skips values without building them.
//!
//! It is strict rather than complete: it declines (returns `false`) on any
//! string with an escape, on a number past f64's range (serde_json fails to
//! build it), on anything nested deeper than [`MAX_DEPTH`], and on anything
//! serde_json would reject, so a line it reads is a line serde_json reads alike
//! into a tree, and a declined line takes the full path. The line must already
//! be valid UTF-8 (it is a `&str`).
//!
//! [`Cursor`] is the scanner's step, for readers of nested records: its
//! [`Cursor::skip`] checks a value as serde_json checks one it ignores, strings
//! with escapes and numbers of any size allowed.

/// A top-level value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scanned<'a> {
    /// A string without escapes, its contents.
    Str(&'a str),
    /// A number, its text.
    Number(&'a str),
    Null,
    /// `true`, `false`, an array or an object: its text.
    Other(&'a str),
}

/// Containers nested deeper than this are declined (serde_json stops at 128).
const MAX_DEPTH: u32 = 64;

/// Scans `line`, one JSON object, calling `each` on every top-level key and
/// value in order; `false` when the line is declined, or `declines(key)` or
/// `each` returns `false`. `declines` is asked before the key's value is
/// scanned: a CloudTrail file's one line is declined at its `Records`.
pub fn scan<'a>(
    line: &'a str,
    declines: impl Fn(&str) -> bool,
    mut each: impl FnMut(&'a str, Scanned<'a>) -> bool,
) -> bool {
    let mut c = Cursor::new(line);
    c.space();
    if !c.eat(b'{') {
        return false;
    }
    c.space();
    if !c.eat(b'}') {
        loop {
            let Some(key) = c.string() else { return false };
            if declines(key) {
                return false;
            }
            c.space();
            if !c.eat(b':') {
                return false;
            }
            c.space();
            let start = c.at;
            let value = match c.peek() {
                Some(b'"') => c.string().map(Scanned::Str),
                Some(b'n') => c.word(b"null").then_some(Scanned::Null),
                Some(b'-' | b'0'..=b'9') => c
                    .number::<false>()
                    .then(|| Scanned::Number(&line[start..c.at])),
                _ => c
                    .value::<false>(1)
                    .then(|| Scanned::Other(&line[start..c.at])),
            };
            let Some(value) = value else { return false };
            if !each(key, value) {
                return false;
            }
            c.space();
            if c.eat(b'}') {
                break;
            }
            if !c.eat(b',') {
                return false;
            }
            c.space();
        }
    }
    c.space();
    c.at == line.len()
}

/// The strings of an array's text, as [`Scanned::Other`] gives it; `None`
/// unless every item is a string without escapes.
pub fn strings(array: &str) -> Option<Vec<&str>> {
    let mut c = Cursor::new(array);
    let mut out = Vec::new();
    if !c.eat(b'[') {
        return None;
    }
    c.space();
    if c.eat(b']') {
        return Some(out);
    }
    loop {
        out.push(c.string()?);
        c.space();
        if c.eat(b']') {
            return Some(out);
        }
        if !c.eat(b',') {
            return None;
        }
        c.space();
    }
}

/// The bytes a string's scan stops at (`"`, `\\` and control bytes) among
/// the first 64 of `bytes`, one bit each, the first byte lowest.
///
/// Why a mask of 64 bytes: the scanner asks where each string ends, a few
/// words on, and a search eight bytes at a time looped a different number of
/// times for each string; the mask is made once per 64 bytes without a branch
/// on the data, and each string's end is then one shift and `trailing_zeros`
/// (a 2 GB wide gateway log: 3.6% less time).
fn special_mask(bytes: &[u8]) -> u64 {
    match bytes.first_chunk::<64>() {
        Some(block) => special_mask_of_block(block),
        None => {
            // A space is not special, so the padding adds no bit.
            let mut block = [b' '; 64];
            block[..bytes.len()].copy_from_slice(bytes);
            special_mask_of_block(&block)
        }
    }
}

#[cfg(target_arch = "x86_64")]
fn special_mask_of_block(block: &[u8; 64]) -> u64 {
    use std::arch::x86_64::*;
    let mut mask = 0;
    // SAFETY: SSE2 is part of x86_64, so these intrinsics are always
    // available, and each load reads 16 bytes inside the 64 of `block`.
    unsafe {
        let quote = _mm_set1_epi8(b'"' as i8);
        let backslash = _mm_set1_epi8(b'\\' as i8);
        let last_control = _mm_set1_epi8(0x1f);
        for i in 0..4 {
            let v = _mm_loadu_si128(block.as_ptr().add(16 * i).cast::<__m128i>());
            // Unsigned `v <= 0x1f`: the smaller of the two is `v` itself.
            let control = _mm_cmpeq_epi8(_mm_min_epu8(v, last_control), v);
            let hits = _mm_or_si128(
                _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)),
                control,
            );
            mask |= u64::from(_mm_movemask_epi8(hits) as u16) << (16 * i);
        }
    }
    mask
}

#[cfg(not(target_arch = "x86_64"))]
fn special_mask_of_block(block: &[u8; 64]) -> u64 {
    special_mask_by_words(block)
}

/// [`special_mask_of_block`] eight bytes at a time, in plain integers.
#[cfg(any(test, not(target_arch = "x86_64")))]
fn special_mask_by_words(block: &[u8; 64]) -> u64 {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const LOWS: u64 = u64::from_ne_bytes([0x7f; 8]);
    // The high bit of each zero byte of `x`, exactly (no borrow between bytes).
    let zeros = |x: u64| !(((x & LOWS) + LOWS) | x) & !LOWS;
    let mut mask = 0;
    for (i, word) in block.chunks_exact(8).enumerate() {
        let w = u64::from_le_bytes(word.try_into().expect("eight bytes"));
        let hits = zeros(w ^ (ONES * u64::from(b'"')))
            | zeros(w ^ (ONES * u64::from(b'\\')))
            | zeros(w & (ONES * 0xe0));
        // Byte j's high bit (bit 8j + 7) moves to bit 56 + j, then down.
        let bits = ((hits >> 7).wrapping_mul(0x0102_0408_1020_4080)) >> 56;
        mask |= bits << (8 * i);
    }
    mask
}

#[cfg(test)]
fn special_mask_by_byte(block: &[u8; 64]) -> u64 {
    block
        .iter()
        .enumerate()
        .filter(|&(_, &b)| b == b'"' || b == b'\\' || b < 0x20)
        .fold(0, |mask, (i, _)| mask | 1 << i)
}

/// Whether a number's text is within f64's range: near the limit serde_json
/// may round otherwise, so it is declined. Apart from the hot path: few
/// numbers get here.
#[cold]
#[inline(never)]
fn in_range(number: &str) -> bool {
    number.parse::<f64>().is_ok_and(|n| n.abs() < 1e300)
}

/// How many of the eight bytes of `word` (the first lowest) are ASCII
/// digits before the first that is not.
fn leading_digits(word: u64) -> usize {
    const LOWS: u64 = u64::from_ne_bytes([0x7f; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    // A digit is a byte whose `^ b'0'` is below 10. Adding 0x76 to its low
    // seven bits sets the high bit from 10 on, without a carry into the next
    // byte; a byte whose own high bit is set is not a digit either.
    let x = word ^ u64::from_ne_bytes([b'0'; 8]);
    let not_digits = (((x & LOWS) + u64::from_ne_bytes([0x76; 8])) | x) & HIGHS;
    (not_digits.trailing_zeros() / 8) as usize
}

/// A position in a JSON text, moved forward by checking what it steps over.
pub struct Cursor<'a> {
    line: &'a str,
    at: usize,
    /// [`special_mask`] of the 64 bytes from `block_at`, a multiple of 64 at
    /// or before `at`: the cursor only moves forward, so each block of the line
    /// is masked once.
    block_at: usize,
    block: u64,
}

impl<'a> Cursor<'a> {
    pub fn new(line: &'a str) -> Self {
        Cursor {
            line,
            at: 0,
            block_at: 0,
            block: special_mask(line.as_bytes()),
        }
    }

    /// Where the first special byte at or after `from` (at or after the
    /// current block) is.
    #[inline(always)]
    fn next_special(&mut self, from: usize) -> Option<usize> {
        let offset = from - self.block_at;
        if offset < 64 {
            let rest = self.block >> offset;
            if rest != 0 {
                return Some(from + rest.trailing_zeros() as usize);
            }
        }
        self.next_special_in_later_blocks(from)
    }

    /// [`Cursor::next_special`] past the current block.
    #[inline(never)]
    fn next_special_in_later_blocks(&mut self, mut from: usize) -> Option<usize> {
        loop {
            let offset = from - self.block_at;
            if offset < 64 {
                let rest = self.block >> offset;
                if rest != 0 {
                    return Some(from + rest.trailing_zeros() as usize);
                }
                from = self.block_at + 64;
            }
            if from >= self.line.len() {
                return None;
            }
            self.block_at = from & !63;
            self.block = special_mask(&self.bytes()[self.block_at..]);
        }
    }

    fn bytes(&self) -> &'a [u8] {
        self.line.as_bytes()
    }

    /// Where the cursor is, in bytes from the start of the text.
    pub fn position(&self) -> usize {
        self.at
    }

    /// The text from `start` to the cursor.
    pub fn since(&self, start: usize) -> &'a str {
        &self.line[start..self.at]
    }

    /// Whether only whitespace is left.
    pub fn at_end(&mut self) -> bool {
        self.space();
        self.at == self.line.len()
    }

    pub fn peek(&self) -> Option<u8> {
        self.bytes().get(self.at).copied()
    }

    /// Steps over `byte` if it is next. A branch, which the processor
    /// predicts and runs past: written as `at += usize::from(hit)`, every
    /// position after waited for the load of this byte (a 2 GB wide gateway
    /// log: 10% more time; `word` likewise).
    pub fn eat(&mut self, byte: u8) -> bool {
        if self.peek() != Some(byte) {
            return false;
        }
        self.at += 1;
        true
    }

    /// JSON's four whitespace bytes.
    pub fn space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn word(&mut self, word: &[u8]) -> bool {
        if !self.bytes()[self.at..].starts_with(word) {
            return false;
        }
        self.at += word.len();
        true
    }

    /// A string without escapes or control characters, its contents.
    #[inline(always)]
    pub fn string(&mut self) -> Option<&'a str> {
        if !self.eat(b'"') {
            return None;
        }
        let start = self.at;
        let end = self.next_special(start)?;
        if self.bytes()[end] != b'"' {
            return None;
        }
        self.at = end + 1;
        // The quotes are ASCII, so both ends are character boundaries.
        Some(&self.line[start..end])
    }

    /// A string, escapes allowed: `true` if it had none. An escape is checked
    /// as serde_json checks one in a string it ignores: `\u` wants four hex
    /// digits, whatever code point they make.
    pub fn string_with_escapes(&mut self) -> Option<bool> {
        if !self.eat(b'"') {
            return None;
        }
        let mut plain = true;
        let mut from = self.at;
        loop {
            let end = self.next_special(from)?;
            match self.bytes()[end] {
                b'"' => {
                    self.at = end + 1;
                    return Some(plain);
                }
                b'\\' => {
                    plain = false;
                    from = end
                        + 2
                        + match self.bytes().get(end + 1)? {
                            b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => 0,
                            b'u' => {
                                let hex = self.bytes().get(end + 2..end + 6)?;
                                if !hex.iter().all(u8::is_ascii_hexdigit) {
                                    return None;
                                }
                                4
                            }
                            _ => return None,
                        };
                }
                _ => return None,
            }
        }
    }

    /// Skips any value, checked as serde_json checks a value it ignores;
    /// `depth` is the value's own (a record's top-level values are at 2).
    pub fn skip(&mut self, depth: u32) -> bool {
        self.value::<true>(depth)
    }

    /// `-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?`, and unless `IGNORED`
    /// one serde_json builds: past f64's range (`1e999`, 400 digits) it fails
    /// there. Only a number with an exponent or of 20 bytes or more can be,
    /// and only such a number is parsed.
    fn number<const IGNORED: bool>(&mut self) -> bool {
        let start = self.at;
        self.eat(b'-');
        match self.peek() {
            Some(b'0') => self.at += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return false,
        }
        if self.eat(b'.') && !self.at_digit_then_digits() {
            return false;
        }
        let exponent = matches!(self.peek(), Some(b'e' | b'E'));
        if exponent {
            self.at += 1;
            if !self.eat(b'+') {
                self.eat(b'-');
            }
            if !self.at_digit_then_digits() {
                return false;
            }
        }
        // `01`, `1.5.2`: what follows a number must end it.
        if matches!(self.peek(), Some(b'0'..=b'9' | b'.' | b'e' | b'E')) {
            return false;
        }
        IGNORED || (!exponent && self.at - start < 20) || in_range(&self.line[start..self.at])
    }

    /// Steps over a run of digits, eight bytes at a time: a loop of one
    /// byte at a time ran a different number of times for each number.
    fn digits(&mut self) {
        while let Some(word) = self.bytes()[self.at..].first_chunk::<8>() {
            let run = leading_digits(u64::from_le_bytes(*word));
            self.at += run;
            if run < 8 {
                return;
            }
        }
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.at += 1;
        }
    }

    fn at_digit_then_digits(&mut self) -> bool {
        let digit = matches!(self.peek(), Some(b'0'..=b'9'));
        self.digits();
        digit
    }

    /// Skips any value, checked as serde_json checks one it builds, or one it
    /// ignores if `IGNORED`: escapes and numbers past f64's range allowed.
    fn value<const IGNORED: bool>(&mut self, depth: u32) -> bool {
        match self.peek() {
            Some(b'"') => self.any_string::<IGNORED>(),
            Some(b'-' | b'0'..=b'9') => self.number::<IGNORED>(),
            Some(b't') => self.word(b"true"),
            Some(b'f') => self.word(b"false"),
            Some(b'n') => self.word(b"null"),
            Some(open @ (b'{' | b'[')) if depth <= MAX_DEPTH => {
                self.at += 1;
                let close = if open == b'{' { b'}' } else { b']' };
                self.space();
                if self.eat(close) {
                    return true;
                }
                loop {
                    if open == b'{' {
                        if !self.any_string::<IGNORED>() {
                            return false;
                        }
                        self.space();
                        if !self.eat(b':') {
                            return false;
                        }
                        self.space();
                    }
                    if !self.value::<IGNORED>(depth + 1) {
                        return false;
                    }
                    self.space();
                    if self.eat(close) {
                        return true;
                    }
                    if !self.eat(b',') {
                        return false;
                    }
                    self.space();
                }
            }
            _ => false,
        }
    }

    #[inline(always)]
    fn any_string<const IGNORED: bool>(&mut self) -> bool {
        if IGNORED {
            self.string_with_escapes().is_some()
        } else {
            self.string().is_some()
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The scan of a line as a list, or `None` when declined.
    fn scanned(line: &str) -> Option<Vec<(&str, Scanned<'_>)>> {
        let mut out = Vec::new();
        scan(
            line,
            |_| false,
            |k, v| {
                out.push((k, v));
                true
            },
        )
        .then_some(out)
    }

    #[test]
    fn reads_flat_objects_and_skips_nested_values() {
        let line = r#" {"a":"x y","b":-1.5e+3,"c":null,"d":{"e":[1,{"f":"g"}],"h":true},"i":[]} "#;
        assert_eq!(
            scanned(line).unwrap(),
            vec![
                ("a", Scanned::Str("x y")),
                ("b", Scanned::Number("-1.5e+3")),
                ("c", Scanned::Null),
                ("d", Scanned::Other(r#"{"e":[1,{"f":"g"}],"h":true}"#)),
                ("i", Scanned::Other("[]")),
            ]
        );
        assert_eq!(scanned("{}").unwrap(), vec![]);
        assert_eq!(strings(r#"[ "a" ,"b"]"#), Some(vec!["a", "b"]));
        assert_eq!(strings(r#"["a",1]"#), None);
    }

    #[test]
    fn declines_what_serde_rejects_and_every_escape() {
        for line in [
            r#"{"a":"x\"y"}"#,
            r#"{"a\u0062":1}"#,
            "{\"a\":\"x\ty\"}",
            r#"{"a":01}"#,
            r#"{"a":1.}"#,
            r#"{"a":-}"#,
            r#"{"a":1e}"#,
            r#"{"a":tru}"#,
            r#"{"a":1,}"#,
            r#"{"a":1} x"#,
            r#"{"a":[1,]}"#,
            r#"{"a":{"b"}}"#,
            r#"{"a" 1}"#,
            r#"["a"]"#,
            r#"{"a":1"#,
            "{\"a\":1}\u{c}",
            r#"{"a":1e999}"#,
            r#"{"a":[-2.5E+400]}"#,
        ] {
            assert!(scanned(line).is_none(), "{line}");
            let object = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(line);
            let serde_rejects = object.is_err();
            assert!(serde_rejects || line.contains('\\'), "{line}");
        }
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(70), "]".repeat(70));
        assert!(scanned(&deep).is_none());
        let long = format!("{{\"a\":{}}}", "9".repeat(400));
        assert!(scanned(&long).is_none());
        assert!(serde_json::from_str::<serde_json::Value>(&long).is_err());
    }

    proptest! {
        #[test]
        fn the_mask_marks_what_a_byte_loop_marks(
            bytes in prop::collection::vec(prop_oneof![
                8 => 0x20u8..=0xff,
                1 => prop::sample::select(vec![b'"', b'\\', 0x00, 0x09, 0x1f, 0x20, 0x7f, 0x80]),
            ], 0..64),
        ) {
            // Mostly ordinary bytes, with the special ones and their
            // neighbours (0x1f, 0x20; 0x7f, 0x80 for a signed compare).
            let mut block = [b' '; 64];
            block[..bytes.len()].copy_from_slice(&bytes);
            let by_byte = special_mask_by_byte(&block);
            prop_assert_eq!(special_mask_of_block(&block), by_byte);
            prop_assert_eq!(special_mask_by_words(&block), by_byte);
            prop_assert_eq!(special_mask(&bytes), by_byte);
        }

        #[test]
        fn runs_of_digits_are_counted_as_a_byte_loop_counts_them(
            bytes in prop::array::uniform8(prop_oneof![
                4 => b'0'..=b'9',
                1 => any::<u8>(),
                1 => prop::sample::select(vec![b'/', b':', 0x80, 0xb0, 0xb9, 0xff]),
            ]),
        ) {
            let by_byte = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
            prop_assert_eq!(leading_digits(u64::from_le_bytes(bytes)), by_byte);
        }

        #[test]
        fn strings_end_where_they_end_across_blocks(
            lengths in prop::collection::vec(0usize..150, 1..6),
            padding in 0usize..70,
        ) {
            // Strings of any length from any offset, so their ends fall in the
            // block they start in, the next one, or one after.
            let values: Vec<String> = lengths.iter().map(|&n| "é".repeat(n / 2) + &"x".repeat(n % 2)).collect();
            let fields: Vec<String> = values.iter().enumerate().map(|(i, v)| format!("\"k{i}\":\"{v}\"")).collect();
            let line = format!("{}{{{}}}", " ".repeat(padding), fields.join(","));
            let pairs = scanned(&line).expect("a plain object");
            let expected: Vec<Scanned> = values.iter().map(|v| Scanned::Str(v)).collect();
            prop_assert_eq!(pairs.into_iter().map(|(_, v)| v).collect::<Vec<_>>(), expected);
        }
    }

    /// Lines from pieces that are often almost JSON.
    fn line() -> impl Strategy<Value = String> {
        let piece = prop::sample::select(vec![
            "{",
            "}",
            "[",
            "]",
            ",",
            ":",
            " ",
            "\"a\"",
            "\"b\"",
            "\"\\n\"",
            "1",
            "-0",
            "1.5",
            "2e3",
            "01",
            "true",
            "null",
            "nul",
            "\"x",
            "\t",
            "\u{1}",
            "é",
            r#""\u00e9""#,
            r#""\uD800\u""#,
            r#""a\/\b\f\r\t\"""#,
            r#""\x""#,
            "\\",
            "\\u12",
            "2e-3",
        ]);
        prop::collection::vec(piece, 0..24).prop_map(|p| p.concat())
    }

    #[test]
    fn reads_numbers_of_any_length_up_to_the_end_of_the_line() {
        for digits in 1..=20 {
            let number: String = "9876543210".repeat(2)[..digits].to_string();
            // A negative exponent: a positive one this long is past f64's range.
            for number in [number.clone(), format!("-{number}.{number}e-{number}")] {
                let line = format!(r#"{{"k":{number}}}"#);
                assert_eq!(
                    scanned(&line),
                    Some(vec![("k", Scanned::Number(&number))]),
                    "{line}"
                );
            }
        }
    }

    proptest! {
        #[test]
        fn what_it_reads_serde_reads_alike(body in line()) {
            let line = format!("{{\"k\":{body}}}");
            if let Some(pairs) = scanned(&line) {
                let value: serde_json::Value = serde_json::from_str(&line).expect("serde reads it");
                let object = value.as_object().unwrap();
                // serde keeps the last of a repeated key.
                let once = |key: &str| pairs.iter().filter(|(k, _)| *k == key).count() == 1;
                for &(key, v) in pairs.iter().filter(|(k, _)| once(k)) {
                    let theirs = &object[key];
                    match v {
                        Scanned::Str(s) => prop_assert_eq!(theirs.as_str(), Some(s)),
                        Scanned::Null => prop_assert!(theirs.is_null()),
                        Scanned::Number(n) | Scanned::Other(n) => {
                            let parsed: serde_json::Value = serde_json::from_str(n).unwrap();
                            prop_assert_eq!(&parsed, theirs);
                        }
                    }
                }
            }
            for line in [&body, &line] {
                if serde_json::from_str::<serde_json::Value>(line).is_err() {
                    prop_assert!(scanned(line).is_none(), "{}", line);
                }
            }
        }

        /// A value skipped with escapes allowed is one serde_json ignores
        /// without error, and the other way round.
        #[test]
        fn it_skips_what_serde_ignores(body in line()) {
            let mut c = Cursor::new(&body);
            c.space();
            let skipped = c.skip(1) && c.at_end();
            let ignored = serde_json::from_str::<serde::de::IgnoredAny>(&body).is_ok();
            prop_assert_eq!(skipped, ignored, "{}", body);
        }
    }
}
