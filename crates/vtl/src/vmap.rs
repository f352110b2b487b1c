//! The map behind VTL maps: insertion-ordered like Java's `LinkedHashMap`. Small maps (most
//! JSON objects) are a plain vector searched linearly, one allocation each; a hash index is
//! added once a map grows past [`INDEX_AT`] entries.

use crate::render::Val;
use std::collections::HashMap;
use std::sync::Arc;

const INDEX_AT: usize = 12;

type Index = HashMap<Arc<str>, usize, foldhash::fast::RandomState>;

#[derive(Default, Debug)]
pub(crate) struct VMap {
    entries: Vec<(Arc<str>, Val)>,
    index: Option<Index>,
}

impl VMap {
    pub(crate) fn with_capacity(n: usize) -> VMap {
        VMap {
            entries: Vec::with_capacity(n),
            index: None,
        }
    }

    /// An empty map on `buf`'s allocation.
    pub(crate) fn from_buffer(mut buf: Vec<(Arc<str>, Val)>) -> VMap {
        buf.clear();
        VMap {
            entries: buf,
            index: None,
        }
    }

    /// The entries' allocation, for [`VMap::from_buffer`].
    pub(crate) fn into_buffer(self) -> Vec<(Arc<str>, Val)> {
        self.entries
    }

    pub(crate) fn reserve(&mut self, n: usize) {
        self.entries.reserve(n);
    }

    fn position(&self, key: &str) -> Option<usize> {
        match &self.index {
            Some(ix) => ix.get(key).copied(),
            None => self.entries.iter().position(|(k, _)| &**k == key),
        }
    }

    fn reindex(&mut self) {
        self.index = (self.entries.len() > INDEX_AT).then(|| {
            self.entries
                .iter()
                .enumerate()
                .map(|(i, (k, _))| (k.clone(), i))
                .collect()
        });
    }

    pub(crate) fn get(&self, key: &str) -> Option<&Val> {
        self.position(key).map(|i| &self.entries[i].1)
    }

    pub(crate) fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_some()
    }

    /// Inserts or replaces; a replaced key keeps its position. Returns the old value.
    pub(crate) fn insert(&mut self, key: Arc<str>, v: Val) -> Option<Val> {
        if let Some(i) = self.position(&key) {
            return Some(std::mem::replace(&mut self.entries[i].1, v));
        }
        let i = self.entries.len();
        match &mut self.index {
            Some(ix) => {
                ix.insert(key.clone(), i);
            }
            None if i + 1 > INDEX_AT => {
                self.entries.push((key, v));
                self.reindex();
                return None;
            }
            None => {}
        }
        self.entries.push((key, v));
        None
    }

    pub(crate) fn shift_remove(&mut self, key: &str) -> Option<Val> {
        let i = self.position(key)?;
        let (_, v) = self.entries.remove(i);
        if self.index.is_some() {
            self.reindex();
        }
        Some(v)
    }

    pub(crate) fn clear(&mut self) {
        self.entries.clear();
        self.index = None;
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub(crate) fn get_index(&self, i: usize) -> Option<(&Arc<str>, &Val)> {
        self.entries.get(i).map(|(k, v)| (k, v))
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&Arc<str>, &Val)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    pub(crate) fn keys(&self) -> impl Iterator<Item = &Arc<str>> {
        self.entries.iter().map(|(k, _)| k)
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &Val> {
        self.entries.iter().map(|(_, v)| v)
    }
}

impl Extend<(Arc<str>, Val)> for VMap {
    fn extend<I: IntoIterator<Item = (Arc<str>, Val)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

impl FromIterator<(Arc<str>, Val)> for VMap {
    fn from_iter<I: IntoIterator<Item = (Arc<str>, Val)>>(iter: I) -> VMap {
        let mut m = VMap::default();
        m.extend(iter);
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_and_positions_across_the_index_threshold() {
        let mut m = VMap::default();
        for i in 0..40 {
            assert!(m.insert(Arc::from(format!("k{i}")), Val::Int(i)).is_none());
            assert_eq!(m.len(), i as usize + 1);
            for j in 0..=i {
                assert!(matches!(m.get(&format!("k{j}")), Some(Val::Int(v)) if *v == j));
            }
        }
        assert!(matches!(
            m.insert(Arc::from("k3"), Val::Null),
            Some(Val::Int(3))
        ));
        assert!(matches!(m.get_index(3), Some((k, Val::Null)) if &**k == "k3"));
        assert!(matches!(m.shift_remove("k0"), Some(Val::Int(0))));
        assert_eq!(m.keys().next().map(|k| &**k), Some("k1"));
        assert!(matches!(m.get("k39"), Some(Val::Int(39))));
        assert!(m.get("k0").is_none() && !m.contains_key("k0"));
        while m.len() > 2 {
            let k = m.keys().last().cloned().expect("non-empty");
            m.shift_remove(&k);
        }
        assert_eq!(
            m.keys().map(|k| k.to_string()).collect::<Vec<_>>(),
            ["k1", "k2"]
        );
        m.clear();
        assert!(m.is_empty());
    }
}
