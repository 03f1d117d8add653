//! One stable sort for the whole crate.
//!
//! `slice::sort_by` is generic over the element type and the comparison, so
//! every call site with its own element type or closure compiles its own copy
//! of the standard library's sort, a few KB of WebAssembly each (the web app's
//! download has a budget). [`sort_by`] sorts the elements' positions instead,
//! with a single comparison type, so that sort is compiled once; then it moves
//! the elements into place. The result is what `slice::sort_by` gives: sorted
//! by `compare`, and equal elements keep their order (stable).

use std::cmp::Ordering;

/// Sorts `items` by `compare`, stably.
pub(crate) fn sort_by<T>(items: &mut [T], mut compare: impl FnMut(&T, &T) -> Ordering) {
    let order = sorted_positions(items.len(), &mut |a, b| compare(&items[a], &items[b]));
    permute(items, order);
}

/// Sorts `items` by `key`, stably (as `slice::sort_by_key`).
pub(crate) fn sort_by_key<T, K: Ord>(items: &mut [T], mut key: impl FnMut(&T) -> K) {
    sort_by(items, |a, b| key(a).cmp(&key(b)));
}

/// Sorts `items` in ascending order, stably (as `slice::sort`).
pub(crate) fn sort<T: Ord>(items: &mut [T]) {
    sort_by(items, T::cmp);
}

/// The positions `0..len` ordered by `compare` of the elements at them.
fn sorted_positions(len: usize, compare: &mut dyn FnMut(usize, usize) -> Ordering) -> Vec<usize> {
    let mut order: Vec<usize> = (0..len).collect();
    order.sort_by(|&a, &b| compare(a, b));
    order
}

/// Rearranges `items` so that position `i` holds the element that was at
/// `order[i]`, following each cycle of the permutation with swaps.
fn permute<T>(items: &mut [T], mut order: Vec<usize>) {
    for start in 0..items.len() {
        let mut current = start;
        loop {
            let source = order[current];
            order[current] = current;
            if source == start {
                break;
            }
            items.swap(current, source);
            current = source;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equals_the_standard_stable_sort() {
        // Pairs sorted by their first member only, so the second shows
        // whether equal elements kept their order.
        let mut state = 12345u32;
        for len in 0..40 {
            let items: Vec<(u32, usize)> = (0..len)
                .map(|i| {
                    state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    ((state >> 16) % 7, i)
                })
                .collect();
            let mut ours = items.clone();
            sort_by_key(&mut ours, |item| item.0);
            let mut standard = items.clone();
            standard.sort_by_key(|item| item.0);
            assert_eq!(ours, standard, "{items:?}");
        }
    }

    #[test]
    fn sorts_in_ascending_order() {
        let mut names = vec!["vmx", "avx", "sse", "avx", "aes"];
        sort(&mut names);
        assert_eq!(names, ["aes", "avx", "avx", "sse", "vmx"]);
    }
}
