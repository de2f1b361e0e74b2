//! Message patterns: the signals read from error codes, messages and headers,
//! message masking and template mining, and secret redaction.
#![no_main]

use grantgap::internals::cluster::messages::{self, MessageTemplates};
use grantgap::internals::diagnose::messages::signals;
use grantgap::internals::model::DenialKey;
use grantgap::internals::ingest::redact;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut parts = text.splitn(3, '\n');
    let message = parts.next().unwrap_or_default();
    let code = parts.next();
    let header = parts.next();
    let key = DenialKey {
        message: Some(message.into()),
        error_code: code.map(Into::into),
        headers: header
            .map(|h| vec![("www-authenticate".to_string(), h.to_string())].into())
            .unwrap_or_default(),
        ..DenialKey::default()
    };
    let _ = signals(&key);
    let masked = messages::mask(message);
    assert_eq!(masked.len(), message.split_whitespace().count());
    let templates = MessageTemplates::mine(text.lines());
    for line in text.lines() {
        let template = templates.template(line);
        assert_eq!(
            template.split_whitespace().count(),
            line.split_whitespace().count(),
            "a template keeps the message's length"
        );
    }
    let _ = redact::redact(text);
});
