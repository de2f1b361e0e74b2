//! One worker's reading: the records of a unit, through the fast path or the
//! formats, folded into its aggregates.

use std::sync::Arc;

use anyhow::Result;
use indicatif::ProgressBar;

use super::aggregate::{Aggregates, Derived};
use super::fast::{FastPath, FastRead};
use super::filter::DenialFilter;
use super::seen::SeenObjects;
use super::timeline::Timeline;
use crate::ingest::record::fields::{FieldMap, Skip};
use crate::ingest::record::formats::{self, EnvelopeRecord, InputFormat};
use crate::ingest::record::template::Templater;
use crate::ingest::skip_unreadable;
use crate::ingest::source::decode::{ParquetSource, Record, RecordSource, SizeLimits};
use crate::ingest::source::input::InputFile;
use crate::ingest::source::open_source;
use crate::ingest::source::units::{Part, RangeReader, Unit};
use crate::model::{Event, Position, ACTION_METHOD};

/// Everything a worker needs to fold one unit of events into aggregates.
pub(crate) struct EventReader<'a> {
    pub(crate) files: &'a [InputFile],
    pub(crate) map: &'a FieldMap,
    pub(crate) progress: &'a ProgressBar,
    pub(crate) timeline: &'a Timeline,
    pub(crate) templater: &'a Templater,
    pub(crate) format: InputFormat,
    pub(crate) samples_per_group: usize,
    pub(crate) seen: &'a Arc<SeenObjects>,
    /// Allowed requests in canonical JSON Lines take [`FastPath`].
    pub(crate) fast_path: bool,
    /// Keep skipped records for `--quarantine`.
    pub(crate) quarantine: bool,
    /// Keep every used event.
    pub(crate) event_rows: bool,
    /// Map ranges of plain files into memory.
    pub(crate) mmap: bool,
    pub(crate) limits: SizeLimits,
    /// Which denials are reported.
    pub(crate) denials: &'a DenialFilter,
}

impl EventReader<'_> {
    /// Empty aggregates for one worker.
    pub(crate) fn aggregates(&self) -> Aggregates {
        let mut agg = Aggregates::new(self.samples_per_group, self.seen.clone());
        agg.quarantine = self.quarantine.then(Vec::new);
        agg.rows = self.event_rows.then(Vec::new);
        agg
    }

    fn ranges(&self) -> RangeReader<'_> {
        RangeReader {
            mmap: self.mmap,
            progress: self.progress,
            limits: self.limits,
        }
    }

    /// Folds the events of one unit into `agg`.
    pub(crate) fn read(&self, agg: &mut Aggregates, unit: Unit) -> Result<()> {
        let before = (agg.stats.used, agg.stats.skipped_total());
        let read = self.read_unit(agg, unit);
        // What each file yielded, to name the ones that yielded nothing.
        let file = agg.per_file.entry(unit.file).or_default();
        file.0 += agg.stats.used - before.0;
        file.1 += agg.stats.skipped_total() - before.1;
        read
    }

    fn read_unit(&self, agg: &mut Aggregates, unit: Unit) -> Result<()> {
        let input = &self.files[unit.file];
        let opened = match unit.part {
            Part::Whole => open_source(input, self.progress, self.limits)
                .map(|mut source| self.fold(agg, &mut *source, unit)),
            Part::Bytes(start, end) => self.ranges().json(input, start, end).map(|mut source| {
                self.fold(agg, &mut source, unit);
                agg.unit_lines
                    .insert((unit.file, unit.index), source.lines_read());
            }),
            Part::Lines { start, end, lines } => {
                self.ranges().csv(input, start, end).map(|mut source| {
                    self.fold(agg, &mut source, unit);
                    agg.unit_lines.insert((unit.file, unit.index), lines);
                })
            }
            Part::Rows(start, end) => {
                let path = input
                    .path
                    .clone()
                    .expect("row ranges are cut only from files");
                ParquetSource::new(path).map(|source| {
                    let mut source = source.with_rows(start, end);
                    self.fold(agg, &mut source, unit);
                    agg.unit_lines
                        .insert((unit.file, unit.index), (end - start) as u64);
                })
            }
        };
        if let Err(e) = opened {
            skip_unreadable(input, e, agg, Position::new(unit.file, unit.index, 0))?;
        }
        Ok(())
    }

    fn fold(&self, agg: &mut Aggregates, source: &mut dyn RecordSource, unit: Unit) {
        let mut fast = self.fast_path.then(|| FastPath::new(self.templater));
        loop {
            let next = match &mut fast {
                Some(fast) => {
                    let agg = &mut *agg;
                    source.next_record_or_text(&mut |line, text| {
                        let position = Position::new(unit.file, unit.index, line);
                        match fast.read(agg, text) {
                            FastRead::Counted => true,
                            FastRead::Event(event) => {
                                self.add(agg, Ok(*event), position);
                                true
                            }
                            FastRead::Declined => {
                                let Some(records) = formats::envelope_records(text, self.format)
                                else {
                                    return false;
                                };
                                for record in records {
                                    match record {
                                        EnvelopeRecord::Allowed(allowed) => {
                                            fast.count_action(agg, &allowed)
                                        }
                                        EnvelopeRecord::Event(event) => {
                                            self.add(agg, Ok(*event), position)
                                        }
                                    }
                                }
                                true
                            }
                        }
                    })
                }
                None => source
                    .next_record()
                    .map(|(line, r)| (line, r.map(Record::Tree))),
            };
            let Some((line, record)) = next else { break };
            let position = Position::new(unit.file, unit.index, line);
            let quarantining = agg.quarantine.is_some();
            // A record kept as text is read so where its format can; the full
            // path (no fast path) reads every record as a tree.
            let from_text = match &record {
                Ok(Record::Text(text)) => formats::event_from_text(text.get(), self.format),
                _ => None,
            };
            let event = match from_text {
                Some(event) => Ok(event),
                None => record.and_then(Record::into_tree).and_then(|r| {
                    formats::event_from_record(&r, self.map, self.format).map_err(|skip| {
                        // The record as read goes to the quarantine; no cost otherwise.
                        if quarantining {
                            skip.with_raw(r.to_string())
                        } else {
                            skip
                        }
                    })
                }),
            };
            self.add(agg, event, position);
        }
        agg.flush_seen();
    }

    /// Folds one event read (or the reason its record was skipped) into `agg`.
    fn add(&self, agg: &mut Aggregates, event: Result<Event, Skip>, position: Position) {
        match event {
            Ok(event) if event.is_denial() && !self.denials.keeps(&event) => {
                agg.add_filtered_denial();
            }
            Ok(event) => {
                let (template, path_object) = if event.method == ACTION_METHOD {
                    (event.path.clone(), None)
                } else {
                    self.templater.template(&event.path)
                };
                // Only denial groups are cut by the timeline: allowed requests skip the lookups.
                let denied = event.is_denial();
                let derived = Derived {
                    template,
                    path_object,
                    segment: if denied {
                        self.timeline.segment(&event.principal, event.ts)
                    } else {
                        0
                    },
                    after_token_expiry: denied
                        && self
                            .timeline
                            .after_expiry(event.token_id.as_deref(), event.ts),
                };
                agg.add_event(event, derived, position);
            }
            Err(skip) => agg.add_skip(position, skip),
        }
    }
}
