//! A fixed-size bitset over [`FeatureId`], the engine's representation of CPU data.
//!
//! Every map feature owns its own CPUID or MSR bit, so once raw registers are
//! converted, libvirt's set algebra on register data (`⊇`, `−`, `∩`, `∪`) is plain
//! word-wise bit arithmetic here: no allocation and no string compares.

/// Index of a feature: a map's features first (in map order), then libvirt's
/// internal ones (`data::CpuMap` gives them out).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FeatureId(u16);

impl FeatureId {
    pub fn index(self) -> usize {
        self.0 as usize
    }

    pub(crate) fn from_index(index: usize) -> Self {
        FeatureId(index as u16)
    }
}

/// Number of 64-bit words; the importer refuses maps with more features.
const WORDS: usize = 8;

/// Largest number of features (map plus internal) a [`FeatureSet`] can hold.
pub const FEATURE_CAPACITY: usize = WORDS * 64;

/// A set of features, iterated in id order (which is map order).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct FeatureSet {
    words: [u64; WORDS],
}

impl FeatureSet {
    pub const EMPTY: FeatureSet = FeatureSet { words: [0; WORDS] };

    pub fn new() -> Self {
        Self::EMPTY
    }

    pub fn single(id: FeatureId) -> Self {
        let mut set = Self::EMPTY;
        set.insert(id);
        set
    }

    // Inlined even where the build optimizes for size: a call costs more
    // than the bit test, and checks test thousands of features.
    #[inline]
    pub fn insert(&mut self, id: FeatureId) {
        let bit = id.index();
        self.words[bit / 64] |= 1 << (bit % 64);
    }

    #[inline]
    pub fn remove(&mut self, id: FeatureId) {
        let bit = id.index();
        self.words[bit / 64] &= !(1 << (bit % 64));
    }

    #[inline]
    pub fn contains(&self, id: FeatureId) -> bool {
        let bit = id.index();
        self.words[bit / 64] & (1 << (bit % 64)) != 0
    }

    pub fn is_empty(&self) -> bool {
        self.words.iter().all(|w| *w == 0)
    }

    pub fn len(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// True when every feature of `other` is in `self`.
    pub fn is_superset(&self, other: &FeatureSet) -> bool {
        self.words
            .iter()
            .zip(other.words.iter())
            .all(|(a, b)| a & b == *b)
    }

    pub fn union(&self, other: &FeatureSet) -> FeatureSet {
        self.zip_with(other, |a, b| a | b)
    }

    pub fn intersection(&self, other: &FeatureSet) -> FeatureSet {
        self.zip_with(other, |a, b| a & b)
    }

    pub fn difference(&self, other: &FeatureSet) -> FeatureSet {
        self.zip_with(other, |a, b| a & !b)
    }

    pub fn union_with(&mut self, other: &FeatureSet) {
        *self = self.union(other);
    }

    pub fn subtract(&mut self, other: &FeatureSet) {
        *self = self.difference(other);
    }

    pub fn intersect_with(&mut self, other: &FeatureSet) {
        *self = self.intersection(other);
    }

    /// The ids in the set, in ascending (map) order.
    pub fn iter(&self) -> impl Iterator<Item = FeatureId> + '_ {
        self.words
            .iter()
            .enumerate()
            .flat_map(|(word_index, word)| {
                let mut remaining = *word;
                std::iter::from_fn(move || {
                    if remaining == 0 {
                        return None;
                    }
                    let bit = remaining.trailing_zeros() as usize;
                    remaining &= remaining - 1;
                    Some(FeatureId::from_index(word_index * 64 + bit))
                })
            })
    }

    fn zip_with(&self, other: &FeatureSet, op: impl Fn(u64, u64) -> u64) -> FeatureSet {
        let mut words = [0; WORDS];
        for (i, word) in words.iter_mut().enumerate() {
            *word = op(self.words[i], other.words[i]);
        }
        FeatureSet { words }
    }
}

impl FromIterator<FeatureId> for FeatureSet {
    fn from_iter<I: IntoIterator<Item = FeatureId>>(iter: I) -> Self {
        let mut set = FeatureSet::EMPTY;
        for id in iter {
            set.insert(id);
        }
        set
    }
}

/// How two feature sets relate, as libvirt's model comparison reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetRelation {
    Equal,
    /// The first set has everything of the second and more.
    Superset,
    /// The second set has everything of the first and more.
    Subset,
    /// Each has something the other lacks.
    Unrelated,
}

impl FeatureSet {
    /// Compares `self` with `other` as libvirt's `modelCompare(self, other)`.
    pub fn relation(&self, other: &FeatureSet) -> SetRelation {
        let extra_here = !self.difference(other).is_empty();
        let extra_there = !other.difference(self).is_empty();
        match (extra_here, extra_there) {
            (false, false) => SetRelation::Equal,
            (true, false) => SetRelation::Superset,
            (false, true) => SetRelation::Subset,
            (true, true) => SetRelation::Unrelated,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(ids: &[usize]) -> FeatureSet {
        ids.iter().map(|i| FeatureId::from_index(*i)).collect()
    }

    #[test]
    fn algebra_and_iteration_order() {
        let a = set(&[1, 70, 300]);
        let b = set(&[70]);
        assert!(a.is_superset(&b));
        assert_eq!(a.difference(&b), set(&[1, 300]));
        assert_eq!(a.intersection(&b), b);
        let ids: Vec<usize> = a.iter().map(FeatureId::index).collect();
        assert_eq!(ids, vec![1, 70, 300]);
        assert_eq!(a.relation(&b), SetRelation::Superset);
        assert_eq!(b.relation(&a), SetRelation::Subset);
        assert_eq!(set(&[2]).relation(&b), SetRelation::Unrelated);
    }
}
