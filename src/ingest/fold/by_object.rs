//! A denial group's requests per object while ingest reads: which objects may
//! share a group is known only once every event is read.

use compact_str::CompactString;
use hashbrown::HashMap;

use crate::model::{DenialGroup, Sample};

/// The denials of one object of one group while ingest reads. Most objects are
/// denied once (1.6 million objects, 2.0 million denials at 10 GB), and one
/// denial needs no counts, minutes or list of samples: it is its own sample.
#[derive(Debug, Clone)]
pub(super) enum ObjectDenials {
    Once(Sample),
    More(Box<DenialGroup>),
}

impl ObjectDenials {
    fn merge(&mut self, other: ObjectDenials, limit: usize) {
        if let ObjectDenials::Once(first) = self {
            let first = std::mem::take(first);
            *self = ObjectDenials::More(Box::new(DenialGroup::first(first, limit)));
        }
        let ObjectDenials::More(group) = self else {
            unreachable!("made a group above")
        };
        match other {
            ObjectDenials::Once(sample) => group.add(sample, limit),
            ObjectDenials::More(other) => group.merge(*other, limit),
        }
    }

    pub(super) fn into_group(self, limit: usize) -> DenialGroup {
        match self {
            ObjectDenials::Once(sample) => DenialGroup::first(sample, limit),
            ObjectDenials::More(group) => *group,
        }
    }
}

/// One denial group's requests while ingest reads, per object (`None`: no object
/// named). Which objects may share a group is known only at the end.
///
/// A few objects are a list searched in order, more a hash map: most groups
/// name an object or two, and a hash map costs hundreds of bytes before its
/// first entry (there are about as many groups as denials in sparse logs).
#[derive(Debug, Clone)]
pub(super) enum ByObject {
    Few(Vec<(Option<CompactString>, ObjectDenials)>),
    Many(HashMap<Option<CompactString>, ObjectDenials>),
}

impl ByObject {
    /// Past this many objects a group's list becomes a hash map.
    const FEW: usize = 16;

    pub(super) fn new() -> Self {
        ByObject::Few(Vec::with_capacity(1))
    }

    /// Folds in the denials of `object`.
    pub(super) fn add(
        &mut self,
        object: Option<CompactString>,
        denials: ObjectDenials,
        limit: usize,
    ) {
        match self {
            ByObject::Few(list) => {
                if let Some((_, mine)) = list.iter_mut().find(|(o, _)| *o == object) {
                    mine.merge(denials, limit);
                } else if list.len() < Self::FEW {
                    // Grown one at a time: a list of two would otherwise hold
                    // room for four, and most lists stay short.
                    list.reserve_exact(1);
                    list.push((object, denials));
                } else {
                    let mut map: HashMap<_, _> = std::mem::take(list).into_iter().collect();
                    map.insert(object, denials);
                    *self = ByObject::Many(map);
                }
            }
            ByObject::Many(map) => match map.get_mut(&object) {
                Some(mine) => mine.merge(denials, limit),
                None => {
                    map.insert(object, denials);
                }
            },
        }
    }

    pub(super) fn len(&self) -> usize {
        match self {
            ByObject::Few(list) => list.len(),
            ByObject::Many(map) => map.len(),
        }
    }

    /// The objects and their denials, in the order of [`ByObject::into_vec`].
    pub(super) fn iter(&self) -> impl Iterator<Item = (Option<&CompactString>, &ObjectDenials)> {
        let (few, many) = match self {
            ByObject::Few(list) => (Some(list.iter().map(|(id, d)| (id, d))), None),
            ByObject::Many(map) => (None, Some(map.iter())),
        };
        let all = few.into_iter().flatten().chain(many.into_iter().flatten());
        all.map(|(id, d)| (id.as_ref(), d))
    }

    /// The objects, in the order of [`ByObject::into_vec`].
    /// The first and last time any of its objects was denied.
    pub(super) fn span(&self) -> Option<(crate::model::Millis, crate::model::Millis)> {
        self.iter()
            .map(|(_, denials)| match denials {
                ObjectDenials::Once(sample) => (sample.ts, sample.ts),
                ObjectDenials::More(group) => (group.first_ts, group.last_ts),
            })
            .reduce(|a, b| (a.0.min(b.0), a.1.max(b.1)))
    }

    pub(super) fn ids(&self) -> impl Iterator<Item = Option<&str>> {
        self.iter().map(|(id, _)| id.map(CompactString::as_str))
    }

    pub(super) fn into_vec(self) -> Vec<(Option<CompactString>, ObjectDenials)> {
        match self {
            ByObject::Few(list) => list,
            ByObject::Many(map) => map.into_iter().collect(),
        }
    }
}
